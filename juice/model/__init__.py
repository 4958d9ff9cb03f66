"""The model: features, training, thresholds, evaluation, scoring and its card."""
