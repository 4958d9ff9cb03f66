"""Prometheus and Alertmanager configured for this machine's ports.

`deployments/prometheus/` holds templates: Prometheus 2.42 and Alertmanager 0.25 do not
expand environment variables, so the targets are filled in here from the settings and
the results written under the workspace (`monitoring/`), beside a copy of the rules.
`juice monitor prometheus` (or `alertmanager`, `pushgateway`) writes them, then runs the
server (its command line: `juice.adapters.commands`).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from juice.errors import JuiceError
from juice.monitoring.alerts import ALERTS_PATH
from juice.secrets import MONITORING_USER
from juice.settings import Settings
from juice.workspace import PROMETHEUS_DEPLOYMENT

PROMETHEUS_TEMPLATE = PROMETHEUS_DEPLOYMENT / "prometheus.yml"
ALERTMANAGER_TEMPLATE = PROMETHEUS_DEPLOYMENT / "alertmanager.yml"
RULES = PROMETHEUS_DEPLOYMENT / "rules.yml"
LOOPBACK = "127.0.0.1"  # Prometheus, Alertmanager and the receiver listen on this machine only

_DURATION = re.compile(r"(\d+(ms|s|m|h|d|w|y))+")  # Prometheus' duration syntax: 1m30s


@dataclass(frozen=True)
class Intervals:
    """How often Prometheus scrapes and evaluates rules, and how Alertmanager batches
    notifications. The defaults are Prometheus' and Alertmanager's own; tests shorten them."""

    scrape: str = "15s"
    evaluation: str = "15s"
    group_wait: str = "30s"  # before the first notification of a new group of alerts
    group_interval: str = "5m"  # before telling a group's changes (new alerts, resolved)
    repeat: str = "4h"  # before reminding of an alert still firing

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not _DURATION.fullmatch(value):
                raise ValueError(f"{field.name}: {value!r} is not a duration such as 15s or 5m")


def render_prometheus_config(settings: Settings, intervals: Intervals | None = None) -> str:
    """prometheus.yml for these settings: the service at JUICE_API_URL (or the API port
    on loopback), the Pushgateway drift checks push to (JUICE_PUSHGATEWAY_URL, or its
    port on loopback), the Alertmanager on its port."""
    intervals = intervals or Intervals()
    service = _endpoint(settings.service_url, "JUICE_API_URL")
    pushgateway = _endpoint(
        settings.pushgateway_url or settings.pushgateway_local_url,
        "JUICE_PUSHGATEWAY_URL",
    )
    return _render(
        PROMETHEUS_TEMPLATE,
        scrape_interval=intervals.scrape,
        evaluation_interval=intervals.evaluation,
        alertmanager_target=_quoted(f"{LOOPBACK}:{settings.alertmanager_port}"),
        service_scheme=_quoted(service.scheme),
        service_metrics_path=_quoted(service.path.rstrip("/") + "/metrics"),
        service_target=_quoted(service.target),
        pushgateway_scheme=_quoted(pushgateway.scheme),
        pushgateway_target=_quoted(pushgateway.target),
        monitoring_user=_quoted(MONITORING_USER),
        secret_file=_quoted(str(settings.monitoring_secret_file)),
    )


def render_alertmanager_config(settings: Settings, intervals: Intervals | None = None) -> str:
    """alertmanager.yml for these settings: every alert to the receiver's port."""
    intervals = intervals or Intervals()
    return _render(
        ALERTMANAGER_TEMPLATE,
        group_wait=intervals.group_wait,
        group_interval=intervals.group_interval,
        repeat_interval=intervals.repeat,
        receiver_url=_quoted(f"http://{LOOPBACK}:{settings.alert_receiver_port}{ALERTS_PATH}"),
        secret_file=_quoted(str(settings.monitoring_secret_file)),
    )


def render_web_config(settings: Settings) -> str:
    """The web configuration Alertmanager and the Pushgateway read: basic auth, the
    workspace's secret for `juice` (bcrypt, as the exporter toolkit wants it)."""
    import bcrypt

    user, password = settings.monitoring_auth()
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()
    return f"basic_auth_users:\n  {user}: {_quoted(hashed)}\n"


def write_monitoring_configs(settings: Settings, intervals: Intervals | None = None) -> None:
    """Writes prometheus.yml, rules.yml and alertmanager.yml to the workspace's
    `monitoring/` folder: a folder that works on its own, wherever the code is."""
    workspace = settings.workspace
    _write(workspace.prometheus_config, render_prometheus_config(settings, intervals))
    _write(workspace.prometheus_rules, RULES.read_text())
    _write(workspace.alertmanager_config, render_alertmanager_config(settings, intervals))
    _write(workspace.monitoring_web_config, render_web_config(settings))


@dataclass(frozen=True)
class _Endpoint:
    scheme: str
    target: str  # host:port, as Prometheus' static_configs want it
    path: str


def _endpoint(url: str, setting: str) -> _Endpoint:
    parts = urlsplit(url)
    target = parts.netloc.rpartition("@")[2]  # never credentials in a target
    if parts.scheme not in ("http", "https") or not target:
        raise JuiceError(f"{setting}={url} is not an http(s) URL with a host")
    return _Endpoint(parts.scheme, target, parts.path)


def _quoted(value: str) -> str:
    # A JSON string is a YAML double-quoted scalar: no setting can break the file.
    return json.dumps(value)


def _render(template: Path, **values: str) -> str:
    return Template(template.read_text()).substitute(values)


def _write(path: Path, text: str) -> None:
    # Whole or not at all: a server reloading its configuration never reads half a file.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text)
    partial.replace(path)
