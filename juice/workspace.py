"""Every path of the workspace (JUICE_HOME): the one place that spells them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]  # the code, its pipeline and bento recipe


@dataclass(frozen=True)
class Workspace:
    """All mutable state lives under `home`: data, stores, logs, framework homes."""

    home: Path

    # Data (relative to `home` where DVC names them) ----------------------------

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def landing(self) -> Path:
        """Raw exports exactly as received; files are never changed once landed."""
        return self.data / "landing"

    @property
    def dataset(self) -> Path:
        """The published training dataset: one Parquet file per valid batch."""
        return self.data / "dataset"

    @property
    def quarantine(self) -> Path:
        return self.data / "quarantine"

    @property
    def reports(self) -> Path:
        return self.data / "reports"

    @property
    def snapshots(self) -> Path:
        """Each dataset a model was trained on, kept under its content hash."""
        return self.data / "snapshots"

    @property
    def drift_reports(self) -> Path:
        """One JSON report per drift check."""
        return self.data / "drift"

    @property
    def drift_loop(self) -> Path:
        """The drift loop's state: the current or last incident, the last export judged."""
        return self.drift_reports / "loop.json"

    @property
    def build_summary(self) -> Path:
        """The last build's counts (a DVC metric)."""
        return self.data / "build-dataset.json"

    @property
    def train_outcome(self) -> Path:
        """The last training's outcome (a DVC metric)."""
        return self.data / "train.json"

    def relative(self, path: Path) -> str:
        """`path` as the workspace names it (DVC's outputs, reports' links)."""
        return path.relative_to(self.home).as_posix()

    # Configuration and DVC ----------------------------------------------------

    @property
    def params_file(self) -> Path:
        return self.home / "params.yaml"

    @property
    def pipeline_file(self) -> Path:
        return self.home / "dvc.yaml"

    @property
    def pipeline_lock(self) -> Path:
        """DVC's record of the pipeline's last state (`dvc.lock`)."""
        return self.home / "dvc.lock"

    @property
    def dvc_dir(self) -> Path:
        return self.home / ".dvc"

    @property
    def git_dir(self) -> Path:
        return self.home / ".git"

    @property
    def dvc_remote(self) -> Path:
        """The default DVC remote: a folder in the workspace."""
        return self.home / "dvc-remote"

    # Stores and logs ------------------------------------------------------------

    @property
    def mlflow_db(self) -> Path:
        return self.home / "mlflow.db"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.home / "mlartifacts"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def registry_log(self) -> Path:
        """Every promotion and rollback, one JSON line each."""
        return self.logs / "registry.jsonl"

    @property
    def prediction_log(self) -> Path:
        """Every scored visit, as Parquet files."""
        return self.logs / "predictions"

    @property
    def alert_log(self) -> Path:
        """Every alert Alertmanager delivered (firing and resolved), one JSON line each."""
        return self.logs / "alerts.jsonl"

    # Monitoring: configurations rendered for this machine's ports, and their stores ----

    @property
    def monitoring_dir(self) -> Path:
        return self.home / "monitoring"

    @property
    def prometheus_config(self) -> Path:
        return self.monitoring_dir / "prometheus.yml"

    @property
    def prometheus_rules(self) -> Path:
        """A copy of the alerting rules beside the configuration that names them."""
        return self.monitoring_dir / "rules.yml"

    @property
    def alertmanager_config(self) -> Path:
        return self.monitoring_dir / "alertmanager.yml"

    @property
    def monitoring_web_config(self) -> Path:
        """Alertmanager's and the Pushgateway's web configuration (their basic auth)."""
        return self.monitoring_dir / "web.yml"

    @property
    def prometheus_data(self) -> Path:
        """Prometheus' time-series database."""
        return self.monitoring_dir / "prometheus"

    @property
    def pushgateway_data(self) -> Path:
        """What the Pushgateway holds, kept across its restarts (Debian's default file is
        /var/lib/prometheus/pushgateway.data, shared by every Pushgateway on the machine)."""
        return self.monitoring_dir / "pushgateway.data"

    @property
    def alertmanager_data(self) -> Path:
        """Alertmanager's silences and notification log."""
        return self.monitoring_dir / "alertmanager"

    # Framework homes and transient state ------------------------------------------

    @property
    def prefect_home(self) -> Path:
        return self.home / ".prefect"

    @property
    def bentoml_home(self) -> Path:
        return self.home / "bentoml"

    @property
    def work(self) -> Path:
        """Transient working state: staging areas and locks."""
        return self.home / ".juice"

    @property
    def ui_scratch(self) -> Path:
        """The web app's uploads and scored files (Gradio's and ours), per process."""
        return self.work / "ui"

    @property
    def staging(self) -> Path:
        return self.work / "staging"

    def memo(self, name: str) -> Path:
        """An answer of the model store remembered while the store is unchanged (`champion`,
        `versions`): commands that only read need not open it."""
        return self.work / "memo" / f"{name}.pkl"

    @property
    def export_cache(self) -> Path:
        """Each export's parse and validation results, by content and parameters."""
        return self.work / "exports"

    def secret(self, name: str) -> Path:
        """A secret the stack's own processes share (readable by this user only)."""
        return self.work / "secrets" / name

    def lock(self, name: str) -> Path:
        """The lock file that serialises one kind of step (`publish`, `dvc`, ...)."""
        return self.work / f"{name}.lock"


def prune(folder: Path, days: float, pattern: str = "*") -> int:
    """Deletes the files in `folder` matching `pattern` last modified more than `days`
    ago (retention); how many it deleted."""
    oldest = time.time() - days * 86_400
    old = [path for path in folder.glob(pattern) if path.stat().st_mtime < oldest]
    for path in old:
        path.unlink(missing_ok=True)
    return len(old)


# The project's own files, found beside the code.
PROJECT_PARAMS = PROJECT_ROOT / "params.yaml"
PROJECT_PIPELINE = PROJECT_ROOT / "dvc.yaml"
BENTOFILE = PROJECT_ROOT / "bentofile.yaml"
PROMETHEUS_DEPLOYMENT = PROJECT_ROOT / "deployments" / "prometheus"  # templates and rules
