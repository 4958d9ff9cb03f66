"""The model registry: the MLflow store, the promotion gate and the promotion log."""
