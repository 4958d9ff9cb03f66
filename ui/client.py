"""The prediction service's HTTP API for the web app: every failure one sentence to act on."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from juice.schema import AGE, SEX

DEFAULT_API_URL = "http://127.0.0.1:3000"
MAX_REJECTED_SHOWN = 50  # the service lists at most this many rejected lines
SHOWN_DETAILS = 3  # of a refusal's details (field and rule, or line and reason)
BOUND_SECONDS = 60.0  # how long the service's bounds are taken as read (they change on restart)


class ServiceError(Exception):
    """A call to the prediction service failed; the message is one sentence for people."""


@dataclass(frozen=True)
class ScoredFile:
    """An export scored by the service: the good rows scored, the broken ones listed."""

    path: Path  # the scored CSV, written exactly as the service answered
    rows_scored: int
    rows_rejected: int
    rejected_lines: list[tuple[int, str]]  # (line, reason), the first ones only
    model_version: str | None


class ServiceClient:
    """Calls the BentoML service at `base_url`, with `Authorization: Bearer <token>` when a
    token is given. Holds no connection: each call opens its own, so a service that
    restarts is simply reached again on the next call.

    Args:
        base_url: where the service listens, e.g. http://127.0.0.1:3000.
        token: the service's API token (JUICE_API_TOKEN), or None.
        timeout: seconds to wait for a JSON answer.
        upload_timeout: seconds to wait for a scored file (large exports take a while).
        transport: an httpx transport to use instead of the network (tests).
    """

    def __init__(
        self,
        base_url: str = DEFAULT_API_URL,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        upload_timeout: float = 300.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.upload_timeout = upload_timeout
        self.transport = transport
        self._bound: tuple[float, int | None] | None = None  # (when read, seconds bound)

    def predict(self, visit: dict[str, Any]) -> dict[str, Any]:
        """`/predict` for one visit: probability, will_buy, threshold, model_version."""
        return self._one(self._json("POST", "/predict", "visit", json={"visits": [visit]}))

    def explain(self, visit: dict[str, Any]) -> dict[str, Any]:
        """`/explain` for one visit: the /predict fields plus baseline and contributions."""
        return self._one(self._json("POST", "/explain", "visit", json={"visits": [visit]}))

    def model_card(self) -> dict[str, Any]:
        """`/model`: the serving model's card."""
        card = self._json("GET", "/model", "request")
        if not isinstance(card, dict):
            raise ServiceError(f"{self._service} answered /model with something not a card.")
        return card

    def record(self) -> dict[str, Any]:
        """`/record`: how the serving model is doing since it began serving."""
        record = self._json("GET", "/record", "request")
        if not isinstance(record, dict):
            raise ServiceError(f"{self._service} answered /record with something not a record.")
        return record

    def seconds_bound(self) -> int | None:
        """The most seconds of one ad the service takes, from its OpenAPI document (read
        again after BOUND_SECONDS); None when the document does not say."""
        now = time.monotonic()
        if self._bound is None or now - self._bound[0] > BOUND_SECONDS:
            self._bound = (now, _seconds_bound(self._json("GET", "/docs.json", "request")))
        return self._bound[1]

    def score_file(self, path: Path, target: Path) -> ScoredFile:
        """`/predict_csv` with `broken_lines=skip`: the good rows scored into `target`
        (streamed to disk, never whole in memory), the broken listed."""
        with path.open("rb") as stream:
            response, lines = self._send(
                "POST",
                "/predict_csv",
                f"file {path.name}",
                files={"file": (path.name, stream, "text/csv")},
                data={"broken_lines": "skip"},
                timeout=self.upload_timeout,
                into=target,
            )
        rejected = _rejected_lines(response.headers.get("x-rejected-lines"))
        return ScoredFile(
            path=target,
            rows_scored=_count(response.headers.get("x-rows-scored"), lines),
            rows_rejected=_count(response.headers.get("x-rows-rejected"), len(rejected)),
            rejected_lines=rejected,
            model_version=response.headers.get("x-model-version"),
        )

    @property
    def _service(self) -> str:
        return f"The prediction service at {self.base_url}"

    def _json(self, method: str, route: str, what: str, **request: Any) -> Any:
        response, _ = self._send(method, route, what, **request)
        try:
            return response.json()
        except ValueError:
            raise ServiceError(
                f"{self._service} answered {route} with something not JSON."
            ) from None

    def _one(self, answers: Any) -> dict[str, Any]:
        if not isinstance(answers, list) or len(answers) != 1 or not isinstance(answers[0], dict):
            raise ServiceError(f"{self._service} did not answer with one result for one visit.")
        return answers[0]

    def _send(
        self, method: str, route: str, what: str, into: Path | None = None, **request: Any
    ) -> tuple[httpx.Response, int]:
        """The answer, read whole; with `into`, a successful answer's body is streamed into
        that file instead and its data lines (the header line aside) are counted."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        timeout = request.pop("timeout", self.timeout)
        lines = 0
        try:
            with (
                httpx.Client(transport=self.transport, timeout=timeout) as http,
                http.stream(method, self.base_url + route, headers=headers, **request) as response,
            ):
                if into is None or not response.is_success:
                    response.read()
                else:
                    lines = _stream_into(response, into)
        except httpx.TimeoutException:
            raise ServiceError(
                f"{self._service} did not answer within {timeout:g} seconds; try again in a moment."
            ) from None
        except (httpx.TransportError, httpx.InvalidURL, httpx.UnsupportedProtocol):
            raise ServiceError(
                f"{self._service} cannot be reached; it may be stopped or restarting: "
                "try again in a moment, or ask the data team to start it."
            ) from None
        if response.is_success:
            return response, lines
        raise ServiceError(self._refusal(response, route, what))

    def _refusal(self, response: httpx.Response, route: str, what: str) -> str:
        """The sentence for a non-2xx answer."""
        status = response.status_code
        if status == 401:
            if self.token:
                return (
                    f"{self._service} refused the access token; "
                    "ask the data team for the current one."
                )
            return (
                f"{self._service} requires an access token; set JUICE_API_TOKEN where the app runs."
            )
        if status == 404:
            return (
                f"{self._service} does not offer {route}; it may need an update "
                "(ask the data team)."
            )
        if status == 503:
            return f"{self._service} is busy or starting; try again in a few seconds."
        if status >= 500:
            return (
                f"{self._service} failed on this request (HTTP {status}); try again, "
                "and tell the data team if it keeps happening."
            )
        words = _service_words(response, what.split()[0])
        return f"The service refused the {what}: {words}."


def _service_words(response: httpx.Response, field: str) -> str:
    """The service's own words for a 4xx, without the `field: ` its errors start with (a
    reason without a subject gets one: "it is over the limit of 512 MiB")."""
    try:
        body = response.json()
    except ValueError:
        body = None
    reason, details = "", []
    if isinstance(body, dict):
        reason = str(body.get("error") or "")
        detail = body.get("detail")
        if isinstance(detail, list):
            details = [_detail(item) for item in detail[:SHOWN_DETAILS] if isinstance(item, dict)]
    if not reason and details:
        return "; ".join(details)
    reason = reason or response.reason_phrase or f"HTTP {response.status_code}"
    reason = re.sub(rf"^{re.escape(field)}: ", "", reason.strip()).rstrip(".")
    reason = re.sub(r"^(is|was|has) ", r"it \1 ", reason)
    specific = [item for item in details if item and item not in reason]
    return f"{reason} ({'; '.join(specific)})" if specific else reason


def _detail(item: dict[str, Any]) -> str:
    """One `{loc, msg}` of the service's error as `where: rule` (`line 7: age: ...`)."""
    loc = [str(part) for part in item.get("loc") or [] if part not in ("visits", "file", 0)]
    where = " ".join(loc)
    return f"{where}: {item.get('msg', '')}" if where else str(item.get("msg", ""))


def _seconds_bound(document: Any) -> int | None:
    """The smallest `maximum` of the seconds fields of the OpenAPI document's Visit."""
    try:
        fields = document["components"]["schemas"]["Visit"]["properties"]
        bounds = [field["maximum"] for name, field in fields.items() if name not in (SEX, AGE)]
    except (KeyError, TypeError):
        return None
    return min(bounds) if bounds and all(isinstance(b, int) for b in bounds) else None


def _rejected_lines(header: str | None) -> list[tuple[int, str]]:
    """`X-Rejected-Lines`: a JSON list of [line, reason] pairs."""
    if not header:
        return []
    try:
        pairs = json.loads(header)
        return [(int(line), str(reason)) for line, reason in pairs]
    except (ValueError, TypeError):
        return []


def _count(header: str | None, fallback: int) -> int:
    return int(header) if header and header.isdigit() else fallback


def _stream_into(response: httpx.Response, target: Path) -> int:
    """Writes the body into `target` chunk by chunk; its rows (the header line aside), for
    a service that sends no count."""
    newlines, last = 0, b""
    with target.open("wb") as out:
        for chunk in response.iter_bytes(1 << 20):
            out.write(chunk)
            newlines += chunk.count(b"\n")
            last = chunk or last
    if not last:
        return 0
    return max(newlines + (not last.endswith(b"\n")) - 1, 0)
