"""The guard in front of the service, on a stand-in ASGI app (the real service: test_service)."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from juice.adapters.asgi_guard import JSON, MULTIPART, Guard, complete_openapi

LIMIT = 1000


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"method": request.method, "bytes": len(body)})


@pytest.fixture
def client() -> TestClient:
    app = Starlette(routes=[Route(p, echo, methods=["POST"]) for p in ("/up", "/j", "/card")])
    routes = {"/up": MULTIPART, "/j": JSON, "/card": None}
    return TestClient(Guard(app, routes=routes, token="t", max_upload_bytes=LIMIT))


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
    assert "1000 bytes" in response.json()["error"]


def test_a_chunked_upload_over_the_limit_is_refused(client):
    def chunks():
        yield b"--b\r\nContent-Disposition: form-data; name=file; filename=e.csv\r\n\r\n"
        for _ in range(20):
            yield b"x" * 100

    headers = {**AUTH, "Content-Type": "multipart/form-data; boundary=b"}
    response = client.post("/up", content=chunks(), headers=headers)
    assert response.status_code == 413


def test_wrong_content_types_and_malformed_uploads_are_client_errors(client):
    assert client.post("/j", content=b"{}", headers=AUTH).status_code == 415
    headers = {**AUTH, "Content-Type": "multipart/form-data; boundary=b"}
    assert client.post("/up", content=b"not multipart", headers=headers).status_code == 400


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
    done = complete_openapi(document, routes)
    assert (
        done["components"]["schemas"]["InvalidArgument"]["properties"]["detail"]["type"] == "array"
    )
    get = done["paths"]["/model"]["get"]
    assert "requestBody" not in get
    assert get["operationId"] == "svc__model_get"
    statuses = {path: set(done["paths"][path]["post"]["responses"]) for path in routes}
    assert statuses == {
        "/predict": {"401", "415"},
        "/predict_csv": {"401", "413", "415"},
        "/model": {"200", "401"},
    }
