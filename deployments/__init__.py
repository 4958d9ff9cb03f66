"""How the product runs beyond one command: Prefect deployments, monitoring configuration."""
