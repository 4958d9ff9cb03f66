"""Monitoring: drift of the data and of the model's quality."""
