"""MLflow adapter: one run per training, a registered version per model, the champion alias.

The serving model is the version with the alias `champion`. The alias moves only
to a complete version (model, card, artifacts, finished run), under the registry's
lock, so a crash mid-training leaves the champion as it was and concurrent trainings
are each judged against the champion of their moment. Every promotion is kept as
version tags and as a line in the workspace's registry log.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from filelock import FileLock

from juice.errors import JuiceError
from juice.locks import release_and_remove, try_acquire
from juice.model.card import CARD_FILE, ModelCard, card_for
from juice.model.evaluation import SUMMARY_METRICS
from juice.model.matrix import MODEL_COLUMNS
from juice.registry.gate import GateDecision
from juice.registry.promotions import Promotion, record_promotion
from juice.settings import Settings
from juice.workspace import PROJECT_ROOT

if TYPE_CHECKING:  # an annotation only: importing it would import scikit-learn
    from juice.model.training import TrainedModel

CHAMPION = "champion"
EXPERIMENT = "poljuice-training"
CHECKS_EXPERIMENT = "poljuice-checks"  # drift checks and other verdicts on the champion


NO_CHAMPION = "no champion model yet: run `juice train` first"
KILLED = "its training stopped before it finished (the process was killed)"
_VERSION = re.compile(r"v?0*([1-9][0-9]*)", re.IGNORECASE)


class RegistryError(JuiceError):
    """The registry has no such model, version or champion."""


def store_stamp(settings: Settings) -> tuple[int, ...] | None:
    """A cheap token that changes whenever the workspace's own store is written (its
    file's and its journal's size and time); None behind a tracking server, where only
    asking tells. Pollers ask the registry only when it changed: a query holds the GIL
    of a serving worker for tens of milliseconds."""
    if settings.mlflow_tracking_uri is not None:
        return None
    database = settings.workspace.mlflow_db
    stamp: list[int] = []
    for path in (database, database.with_name(f"{database.name}-wal")):
        with contextlib.suppress(FileNotFoundError):
            found = path.stat()
            stamp += [found.st_mtime_ns, found.st_size]
    return tuple(stamp)


@dataclass(frozen=True)
class VersionSummary:
    version: str
    aliases: list[str]
    metrics: dict[str, float]
    threshold: float | None
    status: str  # champion | promoted earlier | rejected | failed | pending
    reason: str | None
    dataset_version: str | None
    created_at: str


def parse_version(text: str) -> str:
    """A version as the registry names it (`3` for "3", " 3", "03" or "v3"); anything else
    is refused, so the log never records a version in a form of its own."""
    found = _VERSION.fullmatch(text.strip())
    if found is None:
        raise RegistryError(f"{text!r} is not a model version (a number such as 3)")
    return found.group(1)


def git_commit() -> str | None:
    """The code's commit, for lineage (None outside a git checkout)."""
    done = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or None


class Registry:
    """The model registry of record (MLflow tracking + model registry)."""

    def __init__(self, settings: Settings, *, create: bool = False) -> None:
        """Opens the registry. The workspace's own store must exist unless `create` (the
        first training creates it): a deleted store is reported, never recreated empty."""
        from mlflow import MlflowClient

        self.settings = settings
        self.name = settings.model_name
        self._lock = FileLock(settings.workspace.lock("registry"))
        database = settings.workspace.mlflow_db
        new = Registry.missing(settings)
        if new and not create:
            raise RegistryError(
                f"the model registry is missing: expected {database} "
                "(`juice train` creates a new one)"
            )
        if settings.mlflow_tracking_uri is None and not new:
            self._follow_move(database)
        # One process creates the tables; a training (`create`) waits even when the file
        # exists: another may have created the file and be creating its tables.
        with self.locked() if new or create else nullcontext():
            self.client = MlflowClient(tracking_uri=settings.tracking_uri)

    @staticmethod
    def missing(settings: Settings) -> bool:
        """Whether the workspace's own store (no tracking server set) does not exist yet."""
        return settings.mlflow_tracking_uri is None and not settings.workspace.mlflow_db.exists()

    def stamp(self) -> tuple[int, ...] | None:
        """See `store_stamp`."""
        return store_stamp(self.settings)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Holds the registry's lock (reentrant): one change of champion at a time in
        this workspace, so each is a compare-and-set against the champion of its moment."""
        self.settings.workspace.work.mkdir(parents=True, exist_ok=True)
        with self._lock:
            yield

    def _follow_move(self, database: Path) -> None:
        """A workspace moved or copied as a folder keeps a store whose locations name the
        old place (experiments, runs, logged models, versions): points them at this
        workspace's artifact folder, so the copy reads and writes only itself."""
        here = self.settings.workspace.mlflow_artifacts.resolve().as_uri()
        query = "SELECT DISTINCT artifact_location FROM experiments WHERE name IN (?, ?)"
        try:
            with closing(sqlite3.connect(database)) as store:
                found = {row[0] for row in store.execute(query, (EXPERIMENT, CHECKS_EXPERIMENT))}
        except sqlite3.DatabaseError:  # not an MLflow store (yet): MLflow says what it is
            return
        if found <= {here}:
            return
        with self.locked(), closing(sqlite3.connect(database)) as store, store:
            for old in found - {here}:
                for table, column in _LOCATIONS:
                    store.execute(
                        f"UPDATE {table} SET {column} = ? || substr({column}, ?) "
                        f"WHERE {column} = ? OR substr({column}, 1, ?) = ?",
                        (here, len(old) + 1, old, len(old) + 1, f"{old}/"),
                    )

    # Training runs ------------------------------------------------------------

    def log_training(
        self, trained: TrainedModel, lineage: dict[str, str | None], params: dict[str, Any]
    ) -> ModelCard:
        """Logs one training as a run, registers its model as a new version; returns its card."""
        import mlflow
        import mlflow.sklearn
        from mlflow.models import infer_signature

        from juice.model.evaluation import write_plots

        mlflow.set_tracking_uri(self.settings.tracking_uri)
        experiment = self._experiment_id(EXPERIMENT)
        self._ensure_model()
        example = pl.DataFrame(trained.split.x_test[:5], schema=list(MODEL_COLUMNS)).to_pandas()
        with self._held_run(experiment) as run, tempfile.TemporaryDirectory() as tmp:
            mlflow.set_tags({key: value for key, value in lineage.items() if value is not None})
            mlflow.log_params(params | {f"best.{k}": v for k, v in trained.best_params.items()})
            mlflow.log_metrics(
                {f"test_{k}": v for k, v in trained.evaluation.metrics().items()}
                | {
                    "cv_best_score": trained.cv_best_score,
                    "threshold": trained.threshold.threshold,
                    "validation_fbeta": trained.threshold.fbeta,
                    "search_seconds": trained.search_seconds,
                }
            )
            folder = Path(tmp)
            write_plots(
                trained.split.y_test,
                trained.test_probability,
                trained.threshold.threshold,
                trained.evaluation,
                trained.effects,
                folder / "plots",
            )
            trained.cv_results.write_csv(folder / "cv_results.csv")
            mlflow.log_artifacts(str(folder / "plots"), "plots")
            mlflow.log_artifact(str(folder / "cv_results.csv"))
            info = mlflow.sklearn.log_model(
                trained.pipeline,
                name="model",
                signature=infer_signature(example, trained.pipeline.predict_proba(example)),
                input_example=example,
                pip_requirements=_requirements(),
                pyfunc_predict_fn="predict_proba",
                serialization_format="cloudpickle",
            )
            version = self.client.create_model_version(  # a tracking server needs the id
                self.name, info.model_uri, run_id=run.info.run_id, model_id=info.model_id
            ).version
            card = card_for(
                trained,
                name=self.name,
                version=str(version),
                run_id=run.info.run_id,
                dataset_version=lineage.get("dataset_version"),
                data_hash=lineage.get("data_hash"),
            )
            (folder / CARD_FILE).write_text(card.to_json())
            mlflow.log_artifact(str(folder / CARD_FILE))
        for key, value in {
            "threshold": card.threshold,
            "dataset_version": card.dataset_version,
            "data_hash": card.data_hash,
            "run_id": card.run_id,
            **{f"metric.{m}": card.metrics[m] for m in SUMMARY_METRICS},
        }.items():
            if value is not None:
                self.client.set_model_version_tag(self.name, card.version, key, str(value))
        return card

    @contextmanager
    def _held_run(self, experiment: str) -> Iterator[Any]:
        """A training's MLflow run, held by this process (a lock named by the run) until it
        ends, so that a clean-up tells a killed training's run from a live one."""
        import mlflow

        with self.locked():  # no clean-up sees the run before its lock is held
            run = mlflow.start_run(experiment_id=experiment)
            held = self._run_lock(run.info.run_id)
            held.acquire()
        status = "FAILED"
        try:
            yield run
            status = "FINISHED"
        finally:
            with self.locked():
                mlflow.end_run(status)
                release_and_remove(held)

    def fail_abandoned(self) -> list[str]:
        """Marks FAILED the training runs left RUNNING by a killed process, and their
        versions; a run whose process lives holds its lock and is never touched. Returns
        the runs marked."""
        experiment = self.client.get_experiment_by_name(EXPERIMENT)
        if experiment is None:
            return []
        marked = []
        with self.locked():
            running = self.client.search_runs(
                [experiment.experiment_id], "attributes.status = 'RUNNING'"
            )
            for run in running:
                held = self._run_lock(run.info.run_id)
                if not try_acquire(held):
                    continue  # a live training
                self.client.set_terminated(run.info.run_id, "FAILED")
                for version in self.client.search_model_versions(f"run_id='{run.info.run_id}'"):
                    self.client.set_model_version_tag(self.name, version.version, "gate", "failed")
                    self.client.set_model_version_tag(
                        self.name, version.version, "gate_reason", KILLED
                    )
                release_and_remove(held)
                marked.append(run.info.run_id)
        return marked

    def _run_lock(self, run_id: str) -> FileLock:
        return FileLock(self.settings.workspace.lock(f"run-{run_id}"))

    def log_check(
        self, name: str, tags: dict[str, str], metrics: dict[str, float], report: Path
    ) -> str:
        """Keeps one check of the champion (a drift check, say) as a run of its own:
        tags, metrics and the report file; returns the run id."""
        import mlflow

        mlflow.set_tracking_uri(self.settings.tracking_uri)
        experiment = self._experiment_id(CHECKS_EXPERIMENT)
        with mlflow.start_run(experiment_id=experiment, run_name=name) as run:
            mlflow.set_tags(tags)
            mlflow.log_metrics(metrics)
            mlflow.log_artifact(str(report))
        return str(run.info.run_id)

    def prune_checks(self, days: float) -> int:
        """Deletes the check runs started more than `days` ago (retention: one a drift
        check an hour would otherwise grow the store forever); how many. On the
        workspace's own store they are removed for good (`mlflow gc`); a tracking server
        keeps deleted runs until its own gc."""
        experiment = self.client.get_experiment_by_name(CHECKS_EXPERIMENT)
        if experiment is None:
            return 0
        oldest = int((datetime.now(UTC).timestamp() - days * 86_400) * 1000)
        old = self.client.search_runs(
            [experiment.experiment_id], f"attributes.start_time < {oldest}", max_results=1000
        )
        for run in old:
            self.client.delete_run(run.info.run_id)
        if old and self.settings.mlflow_tracking_uri is None:
            mlflow = str(Path(sys.executable).parent / "mlflow")
            ids = ",".join(run.info.run_id for run in old)
            subprocess.run([mlflow, "gc", "--backend-store-uri", self.settings.tracking_uri,
                            "--run-ids", ids], check=True, capture_output=True)  # fmt: skip
        return len(old)

    def _experiment_id(self, name: str) -> str:
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        artifacts = self.settings.workspace.mlflow_artifacts.resolve().as_uri()
        return self.client.create_experiment(name, artifact_location=artifacts)

    def _ensure_model(self) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(self.name)
        except MlflowException:
            self.client.create_registered_model(self.name)

    # The champion -------------------------------------------------------------

    def champion_version(self) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client.get_model_version_by_alias(self.name, CHAMPION).version)
        except MlflowException:
            return None

    def require_champion(self) -> str:
        """The champion's version; a clear error when there is none yet."""
        version = self.champion_version()
        if version is None:
            raise RegistryError(NO_CHAMPION)
        return version

    def load(self, version: str | None = None) -> tuple[Any, ModelCard]:
        """The pipeline and card of a version (the champion by default)."""
        version = version or self.require_champion()
        return self.model(version), self.card(version)

    def model(self, version: str) -> Any:
        """The version's fitted pipeline."""
        import mlflow.sklearn

        self._version(version)
        mlflow.set_tracking_uri(self.settings.tracking_uri)
        return mlflow.sklearn.load_model(f"models:/{self.name}/{version}")

    def card(self, version: str) -> ModelCard:
        import mlflow.artifacts

        with tempfile.TemporaryDirectory() as tmp:
            path = mlflow.artifacts.download_artifacts(
                run_id=self._version(version).run_id,
                artifact_path=CARD_FILE,
                dst_path=tmp,
                tracking_uri=self.settings.tracking_uri,
            )
            return ModelCard.from_json(Path(path).read_text())

    def download(self, version: str, folder: Path) -> Path:
        """The version's MLflow model files, copied into `folder`."""
        import mlflow.artifacts

        self._version(version)
        return Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{self.name}/{version}",
                dst_path=str(folder),
                tracking_uri=self.settings.tracking_uri,
                registry_uri=self.settings.tracking_uri,
            )
        )

    def record_decision(self, version: str, decision: GateDecision) -> None:
        """Keeps the gate's verdict on the version, promoted or not."""
        status = "promoted" if decision.promote else "rejected"
        self.client.set_model_version_tag(self.name, version, "gate", status)
        self.client.set_model_version_tag(self.name, version, "gate_reason", decision.reason)

    def promote(self, version: str, reason: str, actor: str = "gate") -> Promotion | None:
        """Makes a complete `version` the champion and records what it replaced; None when
        it already is the champion (nothing to do, nothing recorded). Callers that judged
        it against the champion hold `locked()` from judging to here."""
        version = parse_version(version)
        with self.locked():
            previous = self.champion_version()
            if previous == version:
                return None
            self._require_complete(version)
            when = datetime.now(UTC).isoformat(timespec="seconds")
            promotion = Promotion(at=when, model=self.name, champion=version, previous=previous,
                                  by=actor, reason=reason)  # fmt: skip
            self.client.set_registered_model_alias(self.name, CHAMPION, version)
            self.client.set_model_version_tag(self.name, version, "promoted_at", when)
            self.client.set_model_version_tag(self.name, version, "promoted_by", actor)
            self.client.set_model_version_tag(self.name, version, "promotion_reason", reason)
            record_promotion(self.settings.workspace.registry_log, promotion)
        return promotion

    def roll_back(self, failed: str, to: str, reason: str, actor: str) -> Promotion | None:
        """Makes `to` the champion again if `failed` still is; None if a later promotion
        replaced it meanwhile (that one stands)."""
        with self.locked():
            if self.champion_version() != parse_version(failed):
                return None
            return self.promote(to, reason, actor)

    def _require_complete(self, version: str) -> None:
        """Refuses a version that could not serve: one whose training did not finish, or
        whose model, card or artifacts are missing or unreadable."""
        item = self._version(version)
        run = self.client.get_run(item.run_id)
        logged = {artifact.path for artifact in self.client.list_artifacts(item.run_id)}
        missing = [name for name in (CARD_FILE, "plots", "cv_results.csv") if name not in logged]
        if item.status != "READY" or run.info.status != "FINISHED":
            problem = f"its training did not finish (run {run.info.status.lower()})"
        elif missing:
            problem = f"missing {', '.join(missing)}"
        else:
            try:
                _, card = self.load(version)
            except Exception as error:  # whatever is missing or broken, it cannot serve
                problem = f"its model cannot be loaded ({type(error).__name__}: {error})"
            else:
                problem = "" if card.version == version else f"its card is v{card.version}'s"
        if problem:
            raise RegistryError(f"v{version} is incomplete, so it cannot be promoted: {problem}")

    # Listing ------------------------------------------------------------------

    def versions(self) -> list[VersionSummary]:
        """Every registered version, newest first."""
        from mlflow.exceptions import MlflowException

        try:
            aliases = self.client.get_registered_model(self.name).aliases
        except MlflowException:
            return []
        by_version: dict[str, list[str]] = {}
        for alias, version in aliases.items():
            by_version.setdefault(str(version), []).append(alias)
        found = self.client.search_model_versions(f"name='{self.name}'")
        summaries = []
        for item in sorted(found, key=lambda v: int(v.version), reverse=True):
            tags = item.tags or {}
            version = str(item.version)
            if CHAMPION in by_version.get(version, []):
                status = CHAMPION
            elif "promoted_at" in tags:
                status = "promoted earlier"
            else:
                status = tags.get("gate", "pending")
            summaries.append(
                VersionSummary(
                    version=version,
                    aliases=sorted(by_version.get(version, [])),
                    metrics={
                        m: float(tags[f"metric.{m}"])
                        for m in SUMMARY_METRICS
                        if f"metric.{m}" in tags
                    },
                    threshold=float(tags["threshold"]) if "threshold" in tags else None,
                    status=status,
                    reason=tags.get("promotion_reason") or tags.get("gate_reason"),
                    dataset_version=tags.get("dataset_version"),
                    created_at=datetime.fromtimestamp(
                        item.creation_timestamp / 1000, UTC
                    ).isoformat(timespec="seconds"),
                )
            )
        return summaries

    def _version(self, version: str) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_model_version(self.name, str(version))
        except MlflowException as error:
            raise RegistryError(f"model {self.name} has no version {version}") from error


# Every place an MLflow SQLite store names an artifact location (MLflow 3.17's schema).
_LOCATIONS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "storage_location"),
    ("model_versions", "source"),
)


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("scikit-learn", "numpy", "poljuice")]
