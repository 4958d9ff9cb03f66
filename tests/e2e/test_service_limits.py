"""The service's limits against a real `bentoml serve` with small ones: load shed with 503
and Retry-After, bounded bodies and /metrics, deadlines for slow clients, no traceback
for what a client did (the server's log is read)."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from trickling import trickle
from waiting import eventually

from juice.adapters.processes import bento_server

pytestmark = pytest.mark.e2e

CAPACITY = 2
BODY_SECONDS = 2
MAX_BYTES = 200_000
VISIT = {"sex": "F", "age": 40, "apple": 3}


@pytest.fixture(scope="module")
def limited(champion_home, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """The service with small limits, one worker; yields its URL and its log."""
    log = tmp_path_factory.mktemp("limited") / "server.log"
    server, url = bento_server(
        "service:PolJuice", champion_home, log=log, JUICE_API_WORKERS="1",
        JUICE_API_CAPACITY=str(CAPACITY), JUICE_API_BODY_SECONDS=str(BODY_SECONDS),
        JUICE_API_MAX_BODY_BYTES=str(MAX_BYTES), JUICE_API_MAX_UPLOAD_BYTES=str(MAX_BYTES),
    )  # fmt: skip
    with server:
        yield url, log


def test_beyond_capacity_load_is_shed_with_retry_after_and_one_log_line(limited):
    """Two requests whose bodies are still arriving fill a capacity of 2 (deterministic:
    a request in progress is one the worker holds); the next is shed."""
    url, log = limited
    host, port = url.removeprefix("http://").split(":")
    head = "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    holders = [socket.create_connection((host, int(port))) for _ in range(CAPACITY)]
    try:
        for holder in holders:
            holder.sendall(f"{head}Content-Length: 1000\r\n\r\n".encode() + b'{"visits": [')
        time.sleep(0.5)
        shed = httpx.post(f"{url}/predict", json={"visits": [VISIT]})
    finally:
        for holder in holders:
            holder.close()
    assert shed.status_code == 503
    assert int(shed.headers["retry-after"]) >= 1
    assert "capacity" in shed.json()["error"]
    text = log.read_text()
    assert len(re.findall(r"shed POST /predict", text)) == 1
    assert "Traceback" not in text
    answered = eventually(lambda: _answered(url), "an answer once the holders left", 10)
    assert answered.status_code == 200


def _answered(url: str) -> httpx.Response | None:
    answer = httpx.post(f"{url}/predict", json={"visits": [VISIT] * 2000})
    return answer if answer.status_code == 200 else None


def test_random_paths_do_not_grow_metrics(limited):
    url, _ = limited
    httpx.get(f"{url}/no-such-route")
    before = _series(httpx.get(f"{url}/metrics").text)
    for number in range(300):
        answer = httpx.get(f"{url}/r{number}/%00x/{'y' * number}")
        assert answer.status_code == 404
    after = httpx.get(f"{url}/metrics").text
    assert _series(after) == before
    assert 'endpoint="/{unknown}",http_response_code="404"' in after
    assert "%00" not in after
    assert httpx.get(f"{url}/docs.json").status_code == 200  # known routes still served


def _series(metrics: str) -> set[str]:
    """The series names with their labels, values left out."""
    return {line.rsplit(" ", 1)[0] for line in metrics.splitlines() if not line.startswith("#")}


def test_a_json_body_over_the_limit_is_refused(limited):
    url, _ = limited
    big = {"visits": [VISIT] * 8000}  # about 300 KB
    assert httpx.post(f"{url}/predict", json=big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"visits": ['
        for _ in range(8000):
            yield b'{"sex": "F", "age": 40, "apple": 3},'

    headers = {"content-type": "application/json"}
    refused = httpx.post(f"{url}/predict", content=chunks(), headers=headers)
    assert refused.status_code == 413
    assert f"{MAX_BYTES:,} bytes" in refused.json()["error"]


def test_an_upload_over_the_limit_is_refused_while_it_streams(limited):
    url, log = limited

    def chunks() -> Iterator[bytes]:
        yield b"--b\r\nContent-Disposition: form-data; name=file; filename=e.csv\r\n\r\n"
        for _ in range(6000):  # about 320 KB
            yield b"M,30" + b",0" * 23 + b",N\n"

    headers = {"content-type": "multipart/form-data; boundary=b"}
    refused = httpx.post(f"{url}/predict_csv", content=chunks(), headers=headers)
    assert refused.status_code == 413, refused.text
    assert "Traceback" not in log.read_text()


@pytest.mark.parametrize(
    ("path", "content_type", "start"),
    [
        ("/predict", "application/json", b'{"visits": ['),
        ("/predict_csv", "multipart/form-data; boundary=b",
         b"--b\r\nContent-Disposition: form-data; name=file; filename=e.csv\r\n\r\n"),
    ],
)  # fmt: skip
def test_a_trickled_body_gets_408_at_its_deadline(limited, path, content_type, start):
    url, log = limited
    answer, waited = trickle(url, path, {"Content-Type": content_type}, start, BODY_SECONDS)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert BODY_SECONDS - 0.5 < waited < BODY_SECONDS + 2
    assert "Traceback" not in log.read_text()


def test_clients_trickling_headers_do_not_starve_the_others(limited):
    """uvicorn has no header deadline (see the README): a trickle holds a socket, not a
    worker, and every other client is still answered."""
    url, _ = limited
    host, port = url.removeprefix("http://").split(":")
    sockets = [socket.create_connection((host, int(port))) for _ in range(20)]
    try:
        for trickler in sockets:
            trickler.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        for _ in range(5):
            answer = httpx.post(f"{url}/predict", json={"visits": [VISIT]}, timeout=5)
            assert answer.status_code == 200
    finally:
        for trickler in sockets:
            trickler.close()


def test_a_client_mistake_is_one_log_line_not_a_traceback(limited):
    url, log = limited
    before = log.read_text().count("answered 400")
    for body in ({"visits": [{"sex": "X", "age": 30}]}, {"visits": []}, {"visitz": 1}):
        assert httpx.post(f"{url}/predict", json=body).status_code == 400
    text = log.read_text()
    assert text.count("answered 400") == before + 3
    assert "Traceback" not in text
