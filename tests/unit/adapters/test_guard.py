"""The guard in front of the service, on a stand-in ASGI app (the real service: test_service)."""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar
from unittest.mock import ANY

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from waiting import run_async

from juice.adapters.asgi_guard import (
    JSON,
    MULTIPART,
    UNKNOWN_PATH,
    BodyRefused,
    Guard,
    complete_openapi,
)
from juice.serving.config import Limits

LIMIT = 1000


async def echo(request: Request) -> Response:
    try:  # as the upload route does: the guard's bounds raise while the body streams
        body = await request.body()
    except BodyRefused as refused:
        return refused.response
    return JSONResponse({"method": request.method, "bytes": len(body)})


ROUTES = {"/up": MULTIPART, "/j": JSON, "/card": None}


def guarded(limits: Limits) -> Guard:
    app = Starlette(routes=[Route(p, echo, methods=["POST"]) for p in ROUTES])
    return Guard(app, routes=ROUTES, token="t", limits=limits)


@pytest.fixture
def client() -> TestClient:
    return TestClient(guarded(Limits(max_upload_bytes=LIMIT, max_body_bytes=LIMIT)))


AUTH = {"Authorization": "Bearer t"}


def test_the_token_is_required_on_guarded_routes(client):
    assert client.post("/j", json={}).status_code == 401
    assert client.post("/j", json={}, headers={"Authorization": "Bearer x"}).status_code == 401
    assert client.post("/j", json={}, headers=AUTH).status_code == 200


def test_the_bearer_scheme_is_case_insensitive_and_a_refusal_says_how(client):
    refused = client.post("/j", json={})
    assert refused.headers["www-authenticate"].startswith("Bearer")
    for header in ("bearer t", "BEARER t", "Bearer  t "):
        assert client.post("/j", json={}, headers={"Authorization": header}).status_code == 200
    for header in ("Basic t", "Bearer", "Bearert", "t"):
        assert client.post("/j", json={}, headers={"Authorization": header}).status_code == 401


def test_a_non_ascii_token_is_compared_as_its_utf8_bytes():
    from juice.adapters.asgi_guard import _bearer_matches

    # Header values reach the app decoded as Latin-1, whatever bytes were sent.
    sent_as_utf8 = "Bearer " + "sécret".encode().decode("latin-1")
    sent_as_latin1 = "Bearer sécret"
    assert _bearer_matches(sent_as_utf8, "sécret")
    assert not _bearer_matches(sent_as_latin1, "sécret")


@pytest.mark.parametrize(
    ("content_type", "status"),
    [("application/json", 200), ("Application/JSON; charset=utf-8", 200),
     ("application/jsonx", 415), ("application/json-patch+json", 415), ("", 415)],
)  # fmt: skip
def test_the_media_type_must_match_exactly(client, content_type, status):
    headers = AUTH | {"content-type": content_type}
    assert client.post("/j", content=b"{}", headers=headers).status_code == status


def test_an_upload_within_the_limit_reaches_the_app_whole(client):
    response = client.post("/up", files={"file": ("e.csv", b"x" * 500)}, headers=AUTH)
    assert response.status_code == 200
    assert response.json()["bytes"] > 500


def test_an_upload_over_the_limit_is_refused_unread(client):
    response = client.post("/up", files={"file": ("e.csv", b"x" * LIMIT)}, headers=AUTH)
    assert response.status_code == 413
    assert "1,000 bytes" in response.json()["error"]


def test_a_chunked_upload_over_the_limit_is_refused(client):
    def chunks():
        yield b"--b\r\nContent-Disposition: form-data; name=file; filename=e.csv\r\n\r\n"
        for _ in range(20):
            yield b"x" * 100

    headers = {**AUTH, "Content-Type": "multipart/form-data; boundary=b"}
    response = client.post("/up", content=chunks(), headers=headers)
    assert response.status_code == 413


def test_a_json_body_over_the_limit_is_refused(client):
    headers = {**AUTH, "Content-Type": "application/json"}
    assert (
        client.post("/j", content=b"[" + b"1," * LIMIT + b"1]", headers=headers).status_code == 413
    )

    def chunks():
        for _ in range(20):
            yield b"1" * 100

    assert client.post("/j", content=chunks(), headers=headers).status_code == 413


def test_a_wrong_content_type_is_a_415(client):
    assert client.post("/j", content=b"{}", headers=AUTH).status_code == 415
    headers = {**AUTH, "Content-Type": "text/csv"}
    assert client.post("/up", content=b"M,30", headers=headers).status_code == 415


def test_a_body_that_does_not_arrive_in_time_is_a_408():
    guard = guarded(Limits(body_seconds=0.2))
    sent: list[dict] = []

    async def trickle() -> dict:
        await asyncio.sleep(0.15)
        return {"type": "http.request", "body": b" ", "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    headers = [(b"authorization", b"Bearer t"), (b"content-type", b"application/json")]
    scope = {"type": "http", "method": "POST", "path": "/j", "headers": headers}
    started = time.monotonic()
    run_async(guard(scope, trickle, send))
    assert sent[0]["status"] == 408
    assert time.monotonic() - started < 1


def test_a_client_gone_before_its_body_is_answered_at_once():
    """Its request ends: BentoML's timeout middleware would hold it for a minute, and a
    shutdown waited for it (a `make run` stopped right after its first prediction)."""
    sent: list[dict] = []

    async def gone() -> dict:
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    headers = [(b"authorization", b"Bearer t"), (b"content-type", b"application/json")]
    scope = {"type": "http", "method": "POST", "path": "/j", "headers": headers}
    run_async(guarded(Limits())(scope, gone, send))
    assert sent[0]["status"] == 400


def test_a_complete_upload_passes_the_servers_disconnect_through():
    """A streaming response listens for `http.disconnect`, which the server also sends
    once the response is complete: raising it broke every keep-alive connection after
    /predict_csv (ClientDisconnect logged, the connection closed)."""
    messages = iter([
        {"type": "http.request", "body": b"M,30", "more_body": False},
        {"type": "http.disconnect"},
    ])  # fmt: skip

    async def receive() -> dict:
        return next(messages)

    async def stream(request: Request) -> Response:
        await request.body()
        return StreamingResponse(iter([b"a", b"b"]))

    guard = Guard(Starlette(routes=[Route("/up", stream, methods=["POST"])]), routes=ROUTES)
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    headers = [(b"content-type", MULTIPART.encode())]
    scope = {"type": "http", "method": "POST", "path": "/up", "headers": headers}
    run_async(guard(scope, receive, send))  # raised ClientDisconnect before the fix
    assert sent[0]["status"] == 200


def test_requests_beyond_capacity_are_shed_with_retry_after():
    run_async(_shedding())


async def _shedding() -> None:
    release = asyncio.Event()

    async def slow(request: Request) -> JSONResponse:
        await release.wait()
        return JSONResponse({})

    app = Starlette(routes=[Route("/j", slow, methods=["POST"])])
    guard = Guard(app, routes={"/j": JSON}, limits=Limits(capacity=3))
    transport = httpx.ASGITransport(app=guard)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        calls = [asyncio.create_task(client.post("/j", json={})) for _ in range(5)]
        await asyncio.sleep(0.2)
        release.set()
        answers = await asyncio.gather(*calls)
        later = await client.post("/j", json={})
    assert sorted(answer.status_code for answer in answers) == [200, 200, 200, 503, 503]
    assert {a.headers.get("retry-after") for a in answers if a.status_code == 503} == {"1"}
    assert later.status_code == 200  # the count went back down


class PathSpy:
    """Stands for BentoML's metrics middleware, which labels each request by its path."""

    seen: ClassVar[list[str]] = []

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            self.seen.append(scope["path"])
        await self.app(scope, receive, send)


def test_unknown_paths_reach_the_whole_app_as_one_path():
    async def path(request: Request) -> JSONResponse:
        return JSONResponse({"path": request.url.path})

    app = Starlette(
        routes=[Route("/j", path, methods=["POST"])],
        middleware=[Middleware(PathSpy), Middleware(Guard, routes={})],
    )
    with TestClient(app) as client:  # its lifespan puts KnownPaths in front of the stack
        assert client.post("/j").json() == {"path": "/j"}
        assert client.get("/j").status_code == 405  # a known path, another method
        assert client.get("/nope/%00").status_code == 404
    assert PathSpy.seen[-3:] == ["/j", "/j", UNKNOWN_PATH]


def test_a_route_without_input_answers_get_and_post(client):
    assert client.get("/card", headers=AUTH).json() == {"method": "POST", "bytes": 2}
    assert client.post("/card", headers=AUTH).status_code == 200


def test_openapi_document_is_completed():
    error = {
        "type": "object",
        "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
    }
    post = {"responses": {"200": {}}, "requestBody": {}, "operationId": "svc__model"}
    document = {
        "components": {"schemas": {"InvalidArgument": error}},
        "paths": {"/model": {"post": post}, "/predict": {"post": {"responses": {}}},
                  "/predict_csv": {"post": {"responses": {}}}},
    }  # fmt: skip
    routes = {"/predict": JSON, "/predict_csv": MULTIPART, "/model": None}
    done = complete_openapi(document, routes, bearer=True)
    assert (
        done["components"]["schemas"]["InvalidArgument"]["properties"]["detail"]["type"] == "array"
    )
    get = done["paths"]["/model"]["get"]
    assert "requestBody" not in get
    assert get["operationId"] == "svc__model_get"
    statuses = {path: set(done["paths"][path]["post"]["responses"]) for path in routes}
    body = {"401", "408", "413", "415", "503"}
    assert statuses == {"/predict": body, "/predict_csv": body, "/model": {"200", "401", "503"}}
    assert done["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer", "description": ANY}
    }
    assert all(
        operation["security"] == [{"bearer": []}]
        for path in routes
        for operation in done["paths"][path].values()
    )


def test_openapi_document_declares_no_security_without_a_token():
    document = {"paths": {"/predict": {"post": {"responses": {}}}}}
    done = complete_openapi(document, {"/predict": JSON})
    assert "securitySchemes" not in done["components"]
    assert "security" not in done["paths"]["/predict"]["post"]
    assert "401" not in done["paths"]["/predict"]["post"]["responses"]
