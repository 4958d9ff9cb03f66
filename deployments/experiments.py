"""The registry's experiments created on an MLflow tracking server, in its artifact store.

On one machine the registry creates its experiments with their artifacts in the
workspace's `mlartifacts/` folder. Past one machine, flows and API replicas each have a
workspace of their own, so the artifacts must live where every one of them reaches: the
server's artifact store (`mlflow server --serve-artifacts --artifacts-destination
s3://...`), proxied by the server (`mlflow-artifacts:/` locations), so that no client needs
storage credentials. The registry uses an experiment that exists as it is: creating them
here first, before any training, is all it takes.

    JUICE_MLFLOW_TRACKING_URI=http://mlflow:5000 python -m deployments.experiments
"""

from __future__ import annotations

import sys

from juice.registry.store import CHECKS_EXPERIMENT, EXPERIMENT
from juice.settings import Settings


def create_experiments(tracking_uri: str) -> dict[str, str]:
    """Creates the training and checks experiments where the server puts artifacts by
    default (an experiment that exists is left as it is); returns name -> artifact location."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    locations = {}
    for name in (EXPERIMENT, CHECKS_EXPERIMENT):
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            experiment = client.get_experiment(client.create_experiment(name))
        locations[name] = experiment.artifact_location
    return locations


def main() -> None:  # pragma: no cover - the command line of create_experiments
    tracking_uri = Settings().mlflow_tracking_uri
    if not tracking_uri or not tracking_uri.startswith(("http://", "https://")):
        sys.exit("JUICE_MLFLOW_TRACKING_URI must name an MLflow tracking server (http[s]://)")
    for name, location in create_experiments(tracking_uri).items():
        print(f"{name}: artifacts in {location}")


if __name__ == "__main__":
    main()
