"""ASGI middleware in front of the service, for what BentoML does not do itself.

The bearer token; content types; bodies bounded in size and in the time a client takes
to send them; load beyond a worker's capacity shed with 503 and Retry-After; one metrics
label for every unknown path; the card route as a GET (BentoML routes are POST); and an
OpenAPI document completed to say all of that.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from juice.serving.config import Limits
from juice.sizes import mebibytes

JSON = "application/json"
MULTIPART = "multipart/form-data"
UNKNOWN_PATH = "/{unknown}"  # the one path, and metrics label, of every unknown route
RETRY_AFTER_SECONDS = 1
BEARER_SCHEME = "bearer"  # the OpenAPI security scheme of the token

logger = logging.getLogger(__name__)


def error_response(
    status: int, field: str, rule: str, detail: list[dict[str, Any]] | None = None
) -> JSONResponse:
    """An error in BentoML's shape: `error` for people, `detail` for programs (by default
    the one rule at `field`)."""
    detail = detail if detail is not None else [{"loc": [field], "msg": rule}]
    return JSONResponse({"error": f"{field}: {rule}", "detail": detail}, status_code=status)


class BodyRefused(Exception):
    """A body too large or too slow to arrive: answered with `response`, logged not."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class Guard:
    """Checks requests to the guarded routes before BentoML sees them.

    Args:
        routes: each guarded path and the content type it takes; None for a route that
            takes no input (answered on GET and POST).
        token: the bearer token the guarded routes require, or None for no token.
        limits: capacity and body bounds, per worker.
        documented: OpenAPI path items of routes BentoML does not document itself.
    """

    def __init__(
        self,
        app: Any,
        routes: dict[str, str | None],
        token: str | None = None,
        limits: Limits | None = None,
        documented: dict[str, Any] | None = None,
    ) -> None:
        self.app = app
        self.routes = routes
        self.token = token
        self.limits = limits or Limits()
        self.documented = documented or {}
        self.in_progress = 0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            _route_unknown_paths_to_one(scope.get("app"))
            await self.app(scope, receive, send)
        elif scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["path"] == "/docs.json":
            await self._document(scope, receive, send)
        elif scope["path"] in self.routes:
            if self.in_progress >= self.limits.capacity:
                await self._shed(scope, receive, send)
                return
            self.in_progress += 1
            try:
                # Scoring runs without awaiting, so requests would be counted one at a
                # time: yield once, and every request the loop already holds is counted
                # before any of them runs.
                await asyncio.sleep(0)
                await self._guard(scope, receive, send)
            finally:
                self.in_progress -= 1
        else:
            await self.app(scope, receive, send)

    async def _shed(self, scope: dict, receive: Any, send: Any) -> None:
        capacity = self.limits.capacity
        logger.warning(
            "shed %s %s: %d requests in progress, the capacity (JUICE_API_CAPACITY) is %d",
            scope["method"], scope["path"], self.in_progress, capacity,
        )  # fmt: skip
        rule = f"the service is at its capacity ({capacity} requests per worker): retry later"
        answer = error_response(503, "capacity", rule)
        answer.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        await answer(scope, receive, send)

    async def _guard(self, scope: dict, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        expected = self.routes[scope["path"]]
        refusal = self._refusal(request, expected)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if expected is None:  # no input: a GET is answered as the POST it stands for
            if scope["method"] in ("GET", "POST"):
                scope, receive = _as_empty_post(scope), _replay(b"{}")
        elif scope["method"] == "POST":
            body = self._body(receive, expected)
            if expected == MULTIPART:  # streamed to its route, which answers BodyRefused
                receive = body.receive
            else:  # a JSON body is read here, whole
                try:
                    receive = _replay(await body.read())
                except BodyRefused as refused:
                    await refused.response(scope, receive, send)
                    return
                except ClientDisconnect:  # nobody reads it, but BentoML's timeout middleware
                    # holds the request until an answer starts (60 s, and a shutdown waits)
                    await Response(status_code=400)(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    def _refusal(self, request: Request, expected: str | None) -> Response | None:
        """What is wrong before the body is read: the token, the content type, a declared
        length over the limit."""
        if self.token and not _bearer_matches(request.headers.get("authorization", ""), self.token):
            rule = "a valid `Authorization: Bearer <token>` header is required"
            refused = error_response(401, "authorization", rule)
            refused.headers["WWW-Authenticate"] = 'Bearer realm="poljuice"'
            return refused
        if expected is None or request.method != "POST":
            return None
        if _media_type(request.headers.get("content-type")) != expected:
            return error_response(415, "content-type", f"must be {expected}")
        declared, limit = request.headers.get("content-length", ""), self._limit(expected)
        if declared.isdigit() and int(declared) > limit:
            return _too_large(_field(expected), limit)
        return None

    def _limit(self, content_type: str) -> int:
        upload = content_type == MULTIPART
        return self.limits.max_upload_bytes if upload else self.limits.max_body_bytes

    def _body(self, receive: Any, content_type: str) -> BoundedBody:
        limit = self._limit(content_type)
        return BoundedBody(receive, limit, self.limits.body_seconds, _field(content_type))

    async def _document(self, scope: dict, receive: Any, send: Any) -> None:
        """Serves BentoML's OpenAPI document completed with what the guard adds."""
        parts: list[bytes] = []
        started: dict = {}

        async def keep(message: dict) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
            else:
                parts.append(message.get("body", b""))

        await self.app(scope, receive, keep)
        if started.get("status") != 200:
            await Response(b"".join(parts), status_code=started.get("status", 500))(
                scope, receive, send
            )
            return
        document = json.loads(b"".join(parts))
        document.setdefault("paths", {}).update(self.documented)
        completed = complete_openapi(document, self.routes, bearer=self.token is not None)
        await JSONResponse(completed)(scope, receive, send)


class BoundedBody:
    """A request body read through `receive`, refused (BodyRefused) past `limit` bytes or
    when it takes more than `seconds` to arrive (a client trickling it holds a connection
    and a request slot, so it gets a deadline). Once the body is complete, `receive`
    passes messages through: the server's `http.disconnect` (sent when the client leaves,
    or once the response is complete) is what a streaming response listens for."""

    def __init__(self, receive: Any, limit: int, seconds: float, field: str = "body") -> None:
        self._receive = receive
        self.limit = limit
        self.field = field
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds
        self.size = 0
        self.complete = False

    async def receive(self) -> dict:
        if self.complete:  # the bounds were for the body; what follows is the server's
            return await self._receive()
        try:
            async with asyncio.timeout(self.deadline - time.monotonic()):
                message = await self._receive()
        except TimeoutError:
            rule = f"the body did not arrive within {self.seconds:g} s"
            raise BodyRefused(error_response(408, self.field, rule)) from None
        if message["type"] == "http.disconnect":
            raise ClientDisconnect  # a partial body is no body: nothing to answer
        self.size += len(message.get("body", b""))
        if self.size > self.limit:
            raise BodyRefused(_too_large(self.field, self.limit))
        self.complete = not message.get("more_body", False)
        return message

    async def read(self) -> bytes:
        chunks = []
        while True:
            message = await self.receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)


def _field(content_type: str) -> str:
    return "file" if content_type == MULTIPART else "body"


def _too_large(field: str, limit: int) -> Response:
    return error_response(413, field, f"is over the limit of {mebibytes(limit)}")


def _route_unknown_paths_to_one(app: Any) -> None:
    """Puts `KnownPaths` in front of the whole app (at start-up, once its middleware stack
    is built): BentoML's request metrics sit outside every user middleware and label each
    request by its raw path, so random paths would each grow a new series."""
    stack = getattr(app, "middleware_stack", None)
    if isinstance(app, Starlette) and stack is not None and not isinstance(stack, KnownPaths):
        app.middleware_stack = KnownPaths(stack, app.routes)


class KnownPaths:
    """Sends a request for a path no route serves to UNKNOWN_PATH, which the router answers
    404 as before and the metrics count under that one label."""

    def __init__(self, app: ASGIApp, routes: list[BaseRoute]) -> None:
        self.app = app
        self.routes = routes
        self.served: set[str] = set()  # paths found served: a set lookup on the hot path
        # (bounded by the routes and static files; unknown paths are never kept)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self.served:
            if _served(scope, self.routes):
                self.served.add(scope["path"])
            else:
                scope = {**scope, "path": UNKNOWN_PATH, "raw_path": UNKNOWN_PATH.encode()}
        await self.app(scope, receive, send)


def _served(scope: Scope, routes: list[BaseRoute]) -> bool:
    """Whether a route serves this path (any method: a wrong one is a 405, not unknown);
    under a static folder, only a file that exists."""
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.NONE:
            continue
        if isinstance(route, Mount) and isinstance(route.app, StaticFiles):
            _, found = route.app.lookup_path(route.app.get_path({**scope, **child}))
            return found is not None
        return True
    return False


def _bearer_matches(header: str, token: str) -> bool:
    """`Bearer <token>` with the scheme in any case (RFC 9110); the token's bytes as sent
    (headers arrive decoded as Latin-1) against its UTF-8 bytes, in constant time."""
    scheme, _, given = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("latin-1"), token.encode())


def _media_type(content_type: str | None) -> str:
    """`multipart/form-data; boundary=x` -> `multipart/form-data`: the type alone, in lower
    case (parameters such as charset or boundary allowed, prefixes like jsonx not)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def _as_empty_post(scope: dict) -> dict:
    headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
    return {**scope, "method": "POST", "headers": [*headers, (b"content-type", JSON.encode())]}


def _replay(body: bytes) -> Any:
    """An ASGI `receive` that hands over `body` once (after it was read to be checked)."""
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def complete_openapi(
    document: dict[str, Any], routes: dict[str, str | None], bearer: bool = False
) -> dict[str, Any]:
    """BentoML's OpenAPI document, completed with what the guard answers for `routes`.

    Error bodies carry `detail` as a list of `{loc, msg}`; every guarded route may answer
    503, a route with a body 408, 413 and 415; a route without input is also a GET. With
    `bearer` (a token is set), the guarded routes require the `bearer` security scheme
    and may answer 401.
    """
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    if bearer:
        components.setdefault("securitySchemes", {})[BEARER_SCHEME] = {
            "type": "http",
            "scheme": "bearer",
            "description": "The service's token (JUICE_API_TOKEN): `Authorization: Bearer <token>`",
        }
    detail = {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"loc": {"type": "array"}, "msg": {"type": "string"}},
        },
    }
    for name in ("InvalidArgument", "NotFound", "InternalServerError"):
        if name in schemas:
            schemas[name]["properties"]["detail"] = detail
    error = {"content": {JSON: {"schema": {"$ref": "#/components/schemas/InvalidArgument"}}}}
    paths = document.get("paths", {})
    for path, content_type in routes.items():
        if path not in paths:
            continue
        post = paths[path]["post"]
        statuses = {"503": "At capacity: retry after Retry-After s"}
        if bearer:
            post["security"] = [{BEARER_SCHEME: []}]
            statuses["401"] = "Unauthorized: a valid bearer token is required"
        if content_type is not None:
            statuses |= {"408": "Request Timeout", "413": "Too Large", "415": "Wrong Type"}
        for status, description in statuses.items():
            post["responses"][status] = {"description": description, **error}
        if content_type is None and "get" not in paths[path]:
            get = {key: value for key, value in post.items() if key != "requestBody"}
            paths[path]["get"] = get | {"operationId": f"{post['operationId']}_get"}
    return document
