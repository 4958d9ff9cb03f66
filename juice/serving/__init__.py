"""Serving without a framework: API models, the served champion, metrics, the prediction log."""
