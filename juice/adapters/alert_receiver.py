"""Alertmanager's webhook receiver: a small Starlette app that logs every alert it is sent.

    python -m juice.adapters.alert_receiver   # 127.0.0.1:JUICE_ALERT_RECEIVER_PORT (9095)

POST /alerts takes Alertmanager's notification and appends each alert to the
workspace's logs/alerts.jsonl (400 for a body that is not one); GET /healthz answers ok.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from juice.monitoring.alerts import (
    ALERTS_PATH,
    InvalidNotification,
    append_alerts,
    read_notification,
)
from juice.monitoring.prometheus import LOOPBACK
from juice.settings import Settings

MAX_BODY_BYTES = 4 * 2**20  # a notification of hundreds of alerts is well under this


def alert_receiver(log: Path, max_body_bytes: int = MAX_BODY_BYTES) -> Starlette:
    """The receiver's app, appending to `log`."""

    async def receive(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body_bytes:
                return _error(413, f"a notification is at most {max_body_bytes} bytes")
        try:
            records = read_notification(bytes(body))
        except InvalidNotification as error:
            return _error(400, str(error))
        # Written here, in the event loop's one thread, not in a thread pool: appends of
        # two notifications never interleave, and a few lines take microseconds.
        append_alerts(log, records)
        return JSONResponse({"logged": len(records)})

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[Route(ALERTS_PATH, receive, methods=["POST"]), Route("/healthz", healthz)]
    )


def _error(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status)


def serve_alert_receiver(settings: Settings) -> None:  # pragma: no cover - a server, e2e
    """Runs the receiver on JUICE_ALERT_RECEIVER_PORT until stopped."""
    import uvicorn

    app = alert_receiver(settings.workspace.alert_log)
    uvicorn.run(app, host=LOOPBACK, port=settings.alert_receiver_port, log_level="warning")
