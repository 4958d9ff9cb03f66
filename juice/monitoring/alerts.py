"""Alertmanager's webhook notifications kept as a log: each alert one JSON line."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from juice.logfiles import LOG_BYTES, rotate_past

ALERTS_PATH = "/alerts"  # where the receiver listens; alertmanager.yml's webhook URL ends so


class InvalidNotification(ValueError):
    """A body that is not an Alertmanager webhook notification; the message is one line."""


class _Alert(BaseModel):
    # Alertmanager adds fields over versions: ignore what we do not keep.
    model_config = ConfigDict(extra="ignore", frozen=True)

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = {}
    starts_at: str = Field(alias="startsAt")
    ends_at: str | None = Field(None, alias="endsAt")
    generator_url: str = Field("", alias="generatorURL")
    fingerprint: str = ""


class _Notification(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    receiver: str
    status: Literal["firing", "resolved"]
    alerts: list[_Alert]


@dataclass(frozen=True)
class AlertRecord:
    """One alert as delivered, and when it arrived: a line of the alert log."""

    received_at: str
    receiver: str
    status: str  # firing or resolved
    alertname: str
    severity: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str
    ends_at: str | None
    generator_url: str
    fingerprint: str


def read_notification(body: bytes, received_at: datetime | None = None) -> list[AlertRecord]:
    """The alerts of one webhook notification (Alertmanager's payload, version 4).

    Raises:
        InvalidNotification: the body is not JSON, or not such a notification.
    """
    try:
        notification = _Notification.model_validate_json(body)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidNotification(
            f"not an Alertmanager notification: {where + ': ' if where else ''}{first['msg']}"
        ) from None
    when = (received_at or datetime.now(UTC)).isoformat(timespec="seconds")
    return [
        AlertRecord(
            received_at=when,
            receiver=notification.receiver,
            status=alert.status,
            alertname=alert.labels.get("alertname", ""),
            severity=alert.labels.get("severity"),
            labels=alert.labels,
            annotations=alert.annotations,
            starts_at=alert.starts_at,
            ends_at=alert.ends_at,
            generator_url=alert.generator_url,
            fingerprint=alert.fingerprint,
        )
        for alert in notification.alerts
    ]


def append_alerts(log: Path, records: list[AlertRecord], max_bytes: int = LOG_BYTES) -> None:
    """Appends one JSON line per alert to `log`, in a single write; past `max_bytes` the
    log becomes `alerts.jsonl.1` first (one previous file kept, as for every log)."""
    if not records:
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(asdict(record)) + "\n" for record in records)
    if log.exists():
        rotate_past(log, log.stat().st_size + len(lines), max_bytes)
    with log.open("a") as stream:
        stream.write(lines)


def read_alert_log(log: Path) -> list[AlertRecord]:
    """Every alert logged so far, oldest first (none when there is no log yet)."""
    if not log.exists():
        return []
    return [AlertRecord(**json.loads(line)) for line in log.read_text().splitlines() if line]
