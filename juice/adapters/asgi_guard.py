"""ASGI middleware in front of the service, for what BentoML does not do itself.

The bearer token, content types, well-formed uploads (BentoML answers a malformed
multipart body with a 500), the card route as a GET (BentoML routes are POST), and an
OpenAPI document completed to say all of that.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

JSON = "application/json"
MULTIPART = "multipart/form-data"


def client_error(
    status: int, field: str, rule: str, detail: list[dict[str, Any]] | None = None
) -> JSONResponse:
    """A 4xx in BentoML's error shape: `error` for people, `detail` for programs (by
    default the one rule at `field`)."""
    detail = detail if detail is not None else [{"loc": [field], "msg": rule}]
    return JSONResponse({"error": f"{field}: {rule}", "detail": detail}, status_code=status)


class Guard:
    """Checks requests to the guarded routes before BentoML sees them.

    Args:
        routes: each guarded path and the content type it takes; None for a route that
            takes no input (answered on GET and POST).
        token: the bearer token the guarded routes require, or None for no token.
        max_upload_bytes: the largest multipart body accepted.
        form_fields: the fields an upload may carry; `file` exactly once.
    """

    def __init__(
        self,
        app: Any,
        routes: dict[str, str | None],
        token: str | None = None,
        max_upload_bytes: int = 200 * 2**20,
        form_fields: set[str] | frozenset[str] = frozenset({"file"}),
    ) -> None:
        self.app = app
        self.routes = routes
        self.token = token
        self.max_upload_bytes = max_upload_bytes
        self.form_fields = form_fields

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["path"] == "/docs.json":
            await self._document(scope, receive, send)
        elif scope["path"] in self.routes:
            await self._guard(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _guard(self, scope: dict, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        expected = self.routes[scope["path"]]
        if self.token and not _bearer_matches(request.headers.get("authorization", ""), self.token):
            rule = "a valid `Authorization: Bearer <token>` header is required"
            refused = client_error(401, "authorization", rule)
            refused.headers["WWW-Authenticate"] = 'Bearer realm="poljuice"'
            await refused(scope, receive, send)
            return
        if expected is None:
            if scope["method"] in ("GET", "POST"):
                headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
                scope = {
                    **scope,
                    "method": "POST",
                    "headers": [*headers, (b"content-type", b"application/json")],
                }
                receive = _replay(b"{}")
            await self.app(scope, receive, send)
            return
        if (
            scope["method"] == "POST"
            and _media_type(request.headers.get("content-type")) != expected
        ):
            await client_error(415, "content-type", f"must be {expected}")(scope, receive, send)
            return
        if expected == MULTIPART and scope["method"] == "POST":
            body = await self._read_upload(request, receive)
            problem = await self._upload_problem(scope, body)
            if problem is not None or body is None:
                await (problem or self._too_large())(scope, receive, send)
                return
            receive = _replay(body)
        await self.app(scope, receive, send)

    async def _read_upload(self, request: Request, receive: Any) -> bytes | None:
        """The body, or None as soon as it is known to exceed the limit (a declared
        Content-Length is refused unread; a chunked body is read up to the limit)."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_upload_bytes:
            return None
        chunks, size = [], 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_upload_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _upload_problem(self, scope: dict, body: bytes | None) -> Response | None:
        if body is None:
            return self._too_large()
        try:
            form = await Request(scope, _replay(body)).form()
            files = form.getlist("file")
            valid = (
                set(form.keys()) <= self.form_fields
                and len(files) == 1
                and hasattr(files[0], "read")
            )
            await form.close()
        except Exception:
            valid = False
        if valid:
            return None
        others = ", ".join(f"`{name}`" for name in sorted(self.form_fields - {"file"}))
        rule = "send the export as one field `file` of a multipart/form-data body" + (
            f" (other fields: {others})" if others else ""
        )
        return client_error(400, "file", rule)

    def _too_large(self) -> Response:
        return client_error(413, "file", f"uploads are limited to {self.max_upload_bytes} bytes")

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
        document = complete_openapi(json.loads(b"".join(parts)), self.routes)
        await JSONResponse(document)(scope, receive, send)


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


def complete_openapi(document: dict[str, Any], routes: dict[str, str | None]) -> dict[str, Any]:
    """BentoML's OpenAPI document, completed with what the guard answers for `routes`.

    Error bodies carry `detail` as a list of `{loc, msg}`; every guarded route may answer
    401, a route with a content type 415, an upload route 413; a route without input
    is also a GET.
    """
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
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
        statuses = {"401": "Unauthorized"}
        if content_type is not None:
            statuses["415"] = "Unsupported Media Type"
        if content_type == MULTIPART:
            statuses["413"] = "Payload Too Large"
        for status, description in statuses.items():
            post["responses"][status] = {"description": description, **error}
        if content_type is None and "get" not in paths[path]:
            get = {key: value for key, value in post.items() if key != "requestBody"}
            paths[path]["get"] = get | {"operationId": f"{post['operationId']}_get"}
    return document
