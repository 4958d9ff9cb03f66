"""Adapters to frameworks (Starlette, BentoML, process helpers): juice's only framework code."""
