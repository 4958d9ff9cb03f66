"""Runtime settings: the environment (prefix JUICE_), validated once and frozen."""

from __future__ import annotations

import ipaddress
import os
from functools import cached_property
from pathlib import Path

from pydantic import ByteSize, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from juice.secrets import MONITORING_USER, shared_secret
from juice.workspace import PROJECT_ROOT, Workspace

_NOT_SETTINGS = {"JUICE_DEBUG"}  # read by the command line itself
LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def _default_home() -> Path:
    # An editable install runs from the checkout: its root is the workspace.
    return PROJECT_ROOT if (PROJECT_ROOT / "pyproject.toml").exists() else Path.cwd()


class Settings(BaseSettings):
    """Everything a deployment may change, validated when read; a typo fails at start-up."""

    model_config = SettingsConfigDict(env_prefix="JUICE_", extra="forbid", frozen=True)

    home: Path = Field(default_factory=_default_home)
    api_port: int = Field(3000, ge=1, le=65535)
    ui_port: int = Field(7860, ge=1, le=65535)
    prefect_port: int = Field(4200, ge=1, le=65535)
    mlflow_port: int = Field(5000, ge=1, le=65535)
    prometheus_port: int = Field(9090, ge=1, le=65535)
    pushgateway_port: int = Field(9091, ge=1, le=65535)
    alertmanager_port: int = Field(9093, ge=1, le=65535)
    alert_receiver_port: int = Field(9095, ge=1, le=65535)  # Alertmanager's webhook: our log
    api_url: str | None = None  # where the app and the drift loop find the service
    pushgateway_url: str | None = None  # where drift checks push their verdicts (none: no push)
    ui_host: str = "127.0.0.1"  # beyond loopback the app asks for a login
    ui_users: SecretStr | None = None  # the app's logins: "user:password,user2:password2"
    api_workers: int = Field(2, ge=1)
    reload_seconds: float = Field(2.0, gt=0)  # how often the service checks for a new champion
    smoke_seconds: float = Field(30.0, gt=0)  # how long a promotion waits for the service to switch
    # How often a running flow tells the Prefect server it lives (Prefect's minimum is 30):
    # a run silent for half as long again is marked CRASHED (a killed process).
    flow_heartbeat_seconds: int = Field(30, ge=30)
    api_token: SecretStr | None = None
    # Beyond loopback without a token `juice serve` refuses to start; true serves anyone.
    api_allow_anonymous: bool = False
    # Where the service listens: `juice serve --host` sets it for its server, the bento's
    # image says 0.0.0.0; the service itself refuses to start beyond loopback without the
    # token (JUICE_API_TOKEN) or JUICE_API_ALLOW_ANONYMOUS.
    api_host: str = "127.0.0.1"
    # The service under load and hostile clients (per worker): requests in progress beyond
    # which it sheds with 503 and Retry-After, the largest JSON body and upload, and the
    # time a client has to send its whole body.
    api_capacity: int = Field(256, ge=1)
    api_max_body_bytes: int = Field(32 << 20, ge=1024)
    api_max_upload_bytes: int = Field(512 << 20, ge=1024)
    api_body_seconds: float = Field(30.0, gt=0)
    api_access_log: bool = False  # a log line per request: off, it would cost the tail
    # How long a stopping service lets the requests in progress finish, then closes them.
    api_shutdown_seconds: int = Field(30, ge=1)
    # How long the stack keeps prediction logs, drift reports, Prometheus' data and the
    # drift checks' MLflow runs (training runs and registered models are kept).
    retention_days: int = Field(30, ge=1)
    mlflow_tracking_uri: str | None = None
    model_name: str = Field("poljuice", pattern=r"^[A-Za-z0-9_.-]+$")
    dvc_remote: str | None = None
    # The file holding the secret Prometheus and the drift checks give Alertmanager, the
    # Pushgateway and the alert receiver; made in the workspace when not set.
    monitoring_secret_path: Path | None = None
    drift_cron: str = "0 * * * *"  # when the scheduled drift check runs (hourly)
    ingest_cron: str = "55 * * * *"  # when the next exports are pulled (before each check)
    sim_rows: int = Field(20_000, ge=1)
    sim_scenario: str = "stable"
    sim_seed: int = Field(0, ge=0)
    http_timeout_seconds: float = Field(30.0, gt=0)
    http_attempts: int = Field(4, ge=1)
    # The most one landed export may hold (decompressed, for a gzip; downloaded, for a URL).
    ingest_max_size: ByteSize = Field(ByteSize(2 << 30), gt=0)
    ingest_deadline_seconds: float = Field(600.0, gt=0)  # one URL's download, retries included

    @field_validator("api_token", "ui_users")
    @classmethod
    def _not_empty(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("is set but empty: unset it, or give a value")
        return value

    @field_validator("drift_cron", "ingest_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(f"{value!r} is not a cron schedule (five fields: m h dom mon dow)")
        return value

    @field_validator("home")
    @classmethod
    def _absolute(cls, home: Path) -> Path:
        return home.expanduser().resolve()

    @model_validator(mode="after")
    def _no_unknown_variables(self) -> Settings:
        known = {f"JUICE_{name.upper()}" for name in type(self).model_fields} | _NOT_SETTINGS
        unknown = sorted(
            name for name in os.environ if name.startswith("JUICE_") and name not in known
        )
        if unknown:
            raise ValueError(f"unknown setting {', '.join(unknown)} (a typo?)")
        return self

    @cached_property
    def workspace(self) -> Workspace:
        return Workspace(self.home)

    @property
    def token(self) -> str | None:
        """The API token as text, or None: no token (an empty one was refused)."""
        return self.api_token.get_secret_value() if self.api_token else None

    @cached_property
    def service_url(self) -> str:
        """The BentoML service's base URL: JUICE_API_URL, or this machine's API port."""
        return (self.api_url or f"http://127.0.0.1:{self.api_port}").rstrip("/")

    def ui_logins(self) -> list[str]:
        """The app's `user:password` entries (none by default)."""
        users = self.ui_users.get_secret_value() if self.ui_users else ""
        return [entry.strip() for entry in users.split(",") if entry.strip()]

    @cached_property
    def pushgateway_local_url(self) -> str:
        """The Pushgateway `make run` starts on this machine."""
        return f"http://127.0.0.1:{self.pushgateway_port}"

    @cached_property
    def prefect_api_url(self) -> str:
        """The Prefect server `make run` starts on this machine."""
        return f"http://127.0.0.1:{self.prefect_port}/api"

    @cached_property
    def dvc_remote_url(self) -> str:
        """JUICE_DVC_REMOTE, or the workspace's own remote named relative to the workspace
        (DVC keeps it relative), so a moved or copied workspace pushes into itself."""
        return self.dvc_remote or self.workspace.relative(self.workspace.dvc_remote)

    @property
    def monitoring_secret_file(self) -> Path:
        """The secret Prometheus and the drift checks give Alertmanager, the Pushgateway
        and the alert receiver (nothing from a web page of another origin knows it)."""
        return self.monitoring_secret_path or self.workspace.secret("monitoring")

    def monitoring_auth(self) -> tuple[str, str]:
        """(user, password) for Alertmanager and the Pushgateway (made once)."""
        return MONITORING_USER, shared_secret(self.monitoring_secret_file)

    @cached_property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.workspace.mlflow_db}"
