"""Alertmanager's webhook receiver: a small Starlette app that logs every alert it is sent.

    juice monitor alerts   # 127.0.0.1:JUICE_ALERT_RECEIVER_PORT (9095)

POST /alerts takes Alertmanager's notification and appends each alert to the
workspace's logs/alerts.jsonl (400 for a body that is not one); GET /healthz answers ok.
Behind the service's guard: only `application/json` (a web page sends text/plain to
another origin without asking), only with the workspace's secret as bearer token
(Alertmanager sends it), a body bounded in size and in the time it takes to arrive.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from juice.adapters.asgi_guard import JSON, Guard
from juice.logfiles import LOG_BYTES
from juice.monitoring.alerts import (
    ALERTS_PATH,
    InvalidNotification,
    append_alerts,
    read_notification,
)
from juice.monitoring.prometheus import LOOPBACK
from juice.serving.config import Limits
from juice.settings import Settings

MAX_BODY_BYTES = 4 * 2**20  # a notification of hundreds of alerts is well under this


def alert_receiver(
    log: Path, token: str | None, limits: Limits | None = None, log_bytes: int = LOG_BYTES
) -> Guard:
    """The receiver's app, appending to `log` (rotated past `log_bytes`), behind the guard
    (`token`, `limits`: the body's size and deadline)."""
    limits = limits or Limits(max_body_bytes=MAX_BODY_BYTES)

    async def receive(request: Request) -> Response:
        try:
            records = read_notification(await request.body())
        except InvalidNotification as error:
            return _error(400, str(error))
        # Written here, in the event loop's one thread, not in a thread pool: appends of
        # two notifications never interleave, and a few lines take microseconds.
        append_alerts(log, records, log_bytes)
        return JSONResponse({"logged": len(records)})

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[Route(ALERTS_PATH, receive, methods=["POST"]), Route("/healthz", healthz)]
    )
    return Guard(app, {ALERTS_PATH: JSON}, token=token, limits=limits)


def _error(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status)


def serve_alert_receiver(settings: Settings) -> None:  # pragma: no cover - a server, e2e
    """Runs the receiver on JUICE_ALERT_RECEIVER_PORT until stopped."""
    import uvicorn

    _, secret = settings.monitoring_auth()
    limits = Limits(max_body_bytes=MAX_BODY_BYTES, body_seconds=settings.api_body_seconds)
    app = alert_receiver(settings.workspace.alert_log, secret, limits)
    uvicorn.run(app, host=LOOPBACK, port=settings.alert_receiver_port, log_level="warning")
