"""PolJuice purchase prediction."""
