"""Who may open the web app: loopback freely, anything wider only with a login."""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any
from urllib.parse import parse_qs

from starlette.responses import JSONResponse

from juice.settings import is_loopback

__all__ = ["LoginThrottle", "check_binding", "is_loopback", "parse_users"]


def parse_users(entries: list[str]) -> list[tuple[str, str]]:
    """`user:password` entries as (user, password) pairs.

    Raises:
        ValueError: an entry without a user or a password.
    """
    users = []
    for entry in entries:
        user, _, password = entry.partition(":")
        if not user or not password:
            raise ValueError("each user of the web app is given as user:password, neither empty")
        users.append((user, password))
    return users


def check_binding(host: str, users: list[tuple[str, str]]) -> None:
    """Refuses to serve beyond loopback without a login.

    Raises:
        ValueError: `host` is not loopback and there are no users.
    """
    if not is_loopback(host) and not users:
        raise ValueError(
            f"the web app would listen on {host}, beyond this machine, without a login: "
            "give its users (user:password) or bind it to 127.0.0.1"
        )


KEPT_PAIRS = 10_000  # (address, user) pairs remembered before the expired ones are pruned


class LoginThrottle:
    """Slows password guessing at the app's login: after `failures` failed sign-ins of one
    user from one address within `window` seconds, that pair's next attempts are answered
    429 (with Retry-After, right password or not) until the oldest failure is `window`
    old. Keyed by user and address together: one guesser locks out only the name it
    guesses, not everyone behind the same proxy."""

    def __init__(self, app: Any, failures: int = 5, window: float = 60.0) -> None:
        self.app, self.failures, self.window = app, failures, window
        self.recent: dict[tuple[str, str], deque[float]] = {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"].rstrip("/") != "/login"
        ):
            await self.app(scope, receive, send)
            return
        body, replay = await _read_body(receive)
        user = parse_qs(body.decode("utf-8", "replace")).get("username", [""])[0].strip()
        key = ((scope.get("client") or ("?",))[0], user)
        now = time.monotonic()
        failed = self.recent.setdefault(key, deque())
        while failed and now - failed[0] > self.window:
            failed.popleft()
        if len(failed) >= self.failures:
            wait = math.ceil(self.window - (now - failed[0]))
            words = f"Too many failed sign-ins for {user or 'this user'}: try again in {wait} s."
            refusal = JSONResponse({"detail": words}, 429, headers={"Retry-After": str(wait)})
            await refusal(scope, replay, send)
            return
        status = 0

        async def watched(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, replay, watched)
        if status >= 400:
            failed.append(now)
        if not failed:
            self.recent.pop(key, None)  # a success leaves nothing behind
        if len(self.recent) > KEPT_PAIRS:  # guesses of many names: forget the expired ones
            self.recent = {k: v for k, v in self.recent.items() if now - v[-1] <= self.window}


async def _read_body(receive: Any) -> tuple[bytes, Any]:
    """The request's body (a login form is small), and a `receive` that gives it again."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body, sent = b"".join(chunks), False

    async def replay() -> dict:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay
