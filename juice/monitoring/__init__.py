"""Watching the served model's world: drift of visits and of what makes them buy."""
