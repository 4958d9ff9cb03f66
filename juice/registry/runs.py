"""The registry's runs: one MLflow run per training (its model registered as a version),
one per check of the champion; runs of killed trainings marked, old check runs pruned."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from filelock import FileLock

from juice.locks import release_and_remove, try_acquire
from juice.model.card import CARD_FILE, ModelCard, card_for
from juice.model.matrix import MODEL_COLUMNS
from juice.registry import tags
from juice.registry.store import CHECKS_EXPERIMENT, EXPERIMENT, Registry
from juice.workspace import PROJECT_ROOT

if TYPE_CHECKING:  # an annotation only: importing it would import scikit-learn
    from juice.model.training import TrainedModel

KILLED = "its training stopped before it finished (the process was killed)"
RUN_ARTIFACTS = (CARD_FILE, "plots", "cv_results.csv")  # what a complete training logged


def git_commit() -> str | None:
    """The code's commit, for lineage (None outside a git checkout, or without git, as in
    the project's image)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    return done.stdout.strip() or None


def log_training(
    registry: Registry,
    trained: TrainedModel,
    lineage: dict[str, str | None],
    params: dict[str, Any],
) -> ModelCard:
    """Logs one training as a run, registers its model as a new version; returns its card."""
    import mlflow
    import mlflow.sklearn

    mlflow.set_tracking_uri(registry.settings.tracking_uri)
    experiment = registry.experiment_id(EXPERIMENT)
    registry.ensure_model()
    with _held_run(registry, experiment) as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tags({key: value for key, value in lineage.items() if value is not None})
        mlflow.log_params(params | {f"best.{k}": v for k, v in trained.best_params.items()})
        mlflow.log_metrics(_training_metrics(trained))
        folder = Path(tmp)
        _log_files(trained, folder)
        info = mlflow.sklearn.log_model(
            trained.pipeline,
            name="model",
            signature=_signature(trained),
            input_example=_example(trained),
            pip_requirements=_requirements(),
            pyfunc_predict_fn="predict_proba",
            serialization_format="cloudpickle",
        )
        version = registry.client.create_model_version(  # a tracking server needs the id
            registry.name, info.model_uri, run_id=run.info.run_id, model_id=info.model_id
        ).version
        card = card_for(
            trained,
            name=registry.name,
            version=str(version),
            run_id=run.info.run_id,
            dataset_version=lineage.get(tags.DATASET_VERSION),
            data_hash=lineage.get(tags.DATA_HASH),
        )
        (folder / CARD_FILE).write_text(card.to_json())
        mlflow.log_artifact(str(folder / CARD_FILE))
    for key, value in {tags.DATASET_VERSION: card.dataset_version,
                       tags.DATA_HASH: card.data_hash}.items():  # fmt: skip
        if value is not None:
            registry.client.set_model_version_tag(registry.name, card.version, key, value)
    return card


def _training_metrics(trained: TrainedModel) -> dict[str, float]:
    """The run's metrics: every test metric, the threshold and the search's figures."""
    return {f"{tags.TEST_METRIC_PREFIX}{k}": v for k, v in trained.evaluation.metrics().items()} | {
        "cv_best_score": trained.cv_best_score,
        tags.THRESHOLD_METRIC: trained.threshold.threshold,
        "validation_fbeta": trained.threshold.fbeta,
        "search_seconds": trained.search_seconds,
    }


def _log_files(trained: TrainedModel, folder: Path) -> None:
    """The plots and the search's results, as the run's artifacts."""
    import mlflow

    from juice.model.evaluation import write_plots

    write_plots(trained.split.y_test, trained.test_probability, trained.threshold.threshold,
                trained.evaluation, trained.effects, folder / "plots")  # fmt: skip
    trained.cv_results.write_csv(folder / "cv_results.csv")
    mlflow.log_artifacts(str(folder / "plots"), "plots")
    mlflow.log_artifact(str(folder / "cv_results.csv"))


def _example(trained: TrainedModel) -> Any:
    return pl.DataFrame(trained.split.x_test[:5], schema=list(MODEL_COLUMNS)).to_pandas()


def _signature(trained: TrainedModel) -> Any:
    from mlflow.models import infer_signature

    example = _example(trained)
    return infer_signature(example, trained.pipeline.predict_proba(example))


@contextmanager
def _held_run(registry: Registry, experiment: str) -> Iterator[Any]:
    """A training's MLflow run, held by this process (a lock named by the run) until it
    ends, so that a clean-up tells a killed training's run from a live one."""
    import mlflow

    with registry.locked():  # no clean-up sees the run before its lock is held
        run = mlflow.start_run(experiment_id=experiment)
        held = _run_lock(registry, run.info.run_id)
        held.acquire()
    status = "FAILED"
    try:
        yield run
        status = "FINISHED"
    finally:
        with registry.locked():
            mlflow.end_run(status)
            release_and_remove(held)


def fail_abandoned(registry: Registry) -> list[str]:
    """Marks FAILED the training runs left RUNNING by a killed process, and their
    versions; a run whose process lives holds its lock and is never touched. Returns
    the runs marked."""
    client = registry.client
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return []
    marked = []
    with registry.locked():
        running = client.search_runs([experiment.experiment_id], "attributes.status = 'RUNNING'")
        for run in running:
            held = _run_lock(registry, run.info.run_id)
            if not try_acquire(held):
                continue  # a live training
            client.set_terminated(run.info.run_id, "FAILED")
            for version in client.search_model_versions(f"run_id='{run.info.run_id}'"):
                client.set_model_version_tag(registry.name, version.version, tags.GATE, tags.FAILED)
                client.set_model_version_tag(
                    registry.name, version.version, tags.GATE_REASON, KILLED
                )
            release_and_remove(held)
            marked.append(run.info.run_id)
    return marked


def _run_lock(registry: Registry, run_id: str) -> FileLock:
    return FileLock(registry.settings.workspace.lock(f"run-{run_id}"))


def log_check(
    registry: Registry, name: str, run_tags: dict[str, str], metrics: dict[str, float],
    report: Path,
) -> str:  # fmt: skip
    """Keeps one check of the champion (a drift check, say) as a run of its own:
    tags, metrics and the report file; returns the run id."""
    import mlflow

    mlflow.set_tracking_uri(registry.settings.tracking_uri)
    experiment = registry.experiment_id(CHECKS_EXPERIMENT)
    with mlflow.start_run(experiment_id=experiment, run_name=name) as run:
        mlflow.set_tags(run_tags)
        mlflow.log_metrics(metrics)
        mlflow.log_artifact(str(report))
    return str(run.info.run_id)


def prune_checks(registry: Registry, days: float) -> int:
    """Deletes the check runs started more than `days` ago (retention: one a drift
    check an hour would otherwise grow the store forever); how many. On the
    workspace's own store they are removed for good (`mlflow gc`, MLflow's own clean-up:
    no API does it in process); a tracking server keeps deleted runs until its own gc."""
    client, settings = registry.client, registry.settings
    experiment = client.get_experiment_by_name(CHECKS_EXPERIMENT)
    if experiment is None:
        return 0
    oldest = int((datetime.now(UTC).timestamp() - days * 86_400) * 1000)
    old = client.search_runs(
        [experiment.experiment_id], f"attributes.start_time < {oldest}", max_results=1000
    )
    for run in old:
        client.delete_run(run.info.run_id)
    if old and settings.mlflow_tracking_uri is None:
        mlflow = str(Path(sys.executable).parent / "mlflow")
        ids = ",".join(run.info.run_id for run in old)
        subprocess.run([mlflow, "gc", "--backend-store-uri", settings.tracking_uri,
                        "--run-ids", ids], check=True, capture_output=True)  # fmt: skip
    return len(old)


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("scikit-learn", "numpy", "poljuice")]
