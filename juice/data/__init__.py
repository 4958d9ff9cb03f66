"""Data: the simulated source, ingest, parsing, validation, the dataset and its versions."""
