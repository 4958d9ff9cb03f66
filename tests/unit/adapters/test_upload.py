"""The upload route's reader on a stand-in route (the real service: tests/e2e)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from juice.adapters.asgi_guard import BodyRefused
from juice.adapters.upload import receive_upload

CHOICES = {"mode": ("strict", "lenient")}


@pytest.fixture
def client(tmp_path) -> TestClient:
    async def route(request: Request) -> Response:
        try:
            upload = await receive_upload(request, tmp_path, CHOICES)
        except BodyRefused as refused:
            return refused.response
        return JSONResponse(
            {"name": upload.path.name, "bytes": upload.path.read_bytes().decode(),
             "options": upload.options}
        )  # fmt: skip

    return TestClient(Starlette(routes=[Route("/up", route, methods=["POST"])]))


def test_the_file_is_kept_byte_for_byte_under_a_generated_name(client):
    content = "M,30,=HYPERLINK(1)\r\n\x00é"
    answer = client.post("/up", files={"file": ("a" * 300 + "/../x.csv", content.encode())})
    assert answer.status_code == 200
    assert answer.json() == {"name": "upload.csv", "bytes": content, "options": {"mode": "strict"}}


def test_an_option_is_read_when_sent(client):
    answer = client.post("/up", files={"file": ("e.csv", b"x")}, data={"mode": "lenient"})
    assert answer.json()["options"] == {"mode": "lenient"}


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        ({"files": [("file", ("a.csv", b"1")), ("file", ("b.csv", b"2"))]}, "file"),
        ({"files": {"file": ("e.csv", b"x")}, "data": {"extra": "1"}}, "extra"),
        ({"data": {"file": "M,30"}}, "file"),
        ({"files": {"other": ("e.csv", b"x")}}, "other"),
        ({"files": {"file": ("e.csv", b"x")}, "data": {"mode": "maybe"}}, "mode"),
        ({"content": b"--b\r\ngarbage", "headers": {"content-type": "multipart/form-data"}},
         "file"),
    ],
)  # fmt: skip
def test_anything_but_one_file_and_known_options_is_a_400_naming_the_field(
    client, tmp_path: Path, request_, field
):
    answer = client.post("/up", **request_)
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"][0]["loc"] == [field]
    assert json.dumps(answer.json()["error"]).startswith(f'"{field}: ')
