"""The model registry's store (MLflow tracking and model registry): opened or created, and
read: the versions, their models and cards, the champion alias.

The serving model is the version with the alias `champion`. What writes to the store
lives beside it, by job: `runs` (trainings and checks), `promotion` (the gate's verdict,
the alias moved under the registry's lock), `relocation` (a moved workspace), with one
vocabulary of tag names (`tags`).
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from filelock import FileLock

from juice.errors import JuiceError
from juice.model.card import CARD_FILE, ModelCard
from juice.registry.relocation import follow_move
from juice.settings import Settings

CHAMPION = "champion"
EXPERIMENT = "poljuice-training"
CHECKS_EXPERIMENT = "poljuice-checks"  # drift checks and other verdicts on the champion


NO_CHAMPION = "no champion model yet: run `juice train` first"
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


def parse_version(text: str) -> str:
    """A version as the registry names it (`3` for "3", " 3", "03" or "v3"); anything else
    is refused, so the log never records a version in a form of its own."""
    found = _VERSION.fullmatch(text.strip())
    if found is None:
        raise RegistryError(f"{text!r} is not a model version (a number such as 3)")
    return found.group(1)


class Registry:
    """The model registry of record, opened: its client, its lock, its versions."""

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
            experiments = (EXPERIMENT, CHECKS_EXPERIMENT)
            follow_move(database, settings.workspace.mlflow_artifacts, experiments, self.locked())
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

    def experiment_id(self, name: str) -> str:
        """The experiment's id, created (its artifacts in the workspace) if it is new."""
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        artifacts = self.settings.workspace.mlflow_artifacts.resolve().as_uri()
        return self.client.create_experiment(name, artifact_location=artifacts)

    def ensure_model(self) -> None:
        """The registered model exists (created by the first training)."""
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

        self.model_version(version)
        mlflow.set_tracking_uri(self.settings.tracking_uri)
        return mlflow.sklearn.load_model(f"models:/{self.name}/{version}")

    def card(self, version: str) -> ModelCard:
        import mlflow.artifacts

        with tempfile.TemporaryDirectory() as tmp:
            path = mlflow.artifacts.download_artifacts(
                run_id=self.model_version(version).run_id,
                artifact_path=CARD_FILE,
                dst_path=tmp,
                tracking_uri=self.settings.tracking_uri,
            )
            return ModelCard.from_json(Path(path).read_text())

    def download(self, version: str, folder: Path) -> Path:
        """The version's MLflow model files, copied into `folder`."""
        import mlflow.artifacts

        self.model_version(version)
        return Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{self.name}/{version}",
                dst_path=str(folder),
                tracking_uri=self.settings.tracking_uri,
                registry_uri=self.settings.tracking_uri,
            )
        )

    def model_version(self, version: str) -> Any:
        """MLflow's record of a registered version; a clear error when there is none."""
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_model_version(self.name, str(version))
        except MlflowException as error:
            raise RegistryError(f"model {self.name} has no version {version}") from error
