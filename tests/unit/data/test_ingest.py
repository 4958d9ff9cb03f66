"""Ingest: exports land once, unchanged, from files, folders, URLs or the simulator."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import export

from juice.data.ingest import IngestError, SimulatorSource, ingest

SIM = SimulatorSource(rows=100, scenario="stable", seed=0)


def land(sources, landing: Path, **kwargs):
    return ingest(sources, landing, SIM, **kwargs)


def test_a_file_lands_unchanged_and_read_only(tmp_path):
    source = export(tmp_path / "visits.csv", rows=20)
    result = land([str(source)], tmp_path / "landing")
    [landed] = result.files
    assert landed.read_bytes() == source.read_bytes()
    assert landed.name.startswith("visits-")
    assert not landed.stat().st_mode & 0o222


def test_the_same_content_twice_is_skipped(tmp_path):
    source = export(tmp_path / "a.csv", rows=20)
    copy = tmp_path / "b.csv"
    copy.write_bytes(source.read_bytes())
    first = land([str(source)], tmp_path / "landing")
    second = land([str(source), str(copy)], tmp_path / "landing")
    assert len(first.files) == 1
    assert second.files == []
    assert second.skipped == ["a.csv", "b.csv"]
    assert len(list((tmp_path / "landing").iterdir())) == 1


def test_a_folder_lands_each_csv(tmp_path):
    folder = tmp_path / "drop"
    export(folder / "one.csv", seed=1, rows=10)
    export(folder / "two.CSV", seed=2, rows=10)
    (folder / "notes.txt").write_text("not an export")
    result = land([str(folder)], tmp_path / "landing")
    assert sorted(p.name.split("-")[0] for p in result.files) == ["one", "two"]


def test_no_source_pulls_the_next_simulated_export(tmp_path):
    landing = tmp_path / "landing"
    first, second = land([], landing), land([], landing)
    assert first.files[0].name.startswith("sim-stable-seed0-")
    assert second.files[0].name.startswith("sim-stable-seed1-")
    assert len(first.files[0].read_text().splitlines()) == 100


@pytest.mark.parametrize("source", ["missing.csv", "ftp://example.org/e.csv"])
def test_an_unknown_source_is_a_clear_error(tmp_path, source):
    with pytest.raises(IngestError, match="no such file"):
        land([source], tmp_path / "landing")


def test_an_empty_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(IngestError, match=r"holds no \.csv"):
        land([str(tmp_path / "empty")], tmp_path / "landing")


class _Exports(http.server.BaseHTTPRequestHandler):
    """Serves `body`; answers 503 to the first `failures` requests."""

    body = b""
    failures = 0
    requests = 0

    def do_GET(self) -> None:
        type(self).requests += 1
        if type(self).requests <= type(self).failures:
            self.send_error(503)
            return
        if self.path.endswith("/missing.csv"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(tmp_path) -> Iterator[type[_Exports]]:
    handler = type(
        "Handler", (_Exports,), {"body": export(tmp_path / "src.csv", rows=30).read_bytes()}
    )
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{httpd.server_port}"
    yield handler
    httpd.shutdown()
    httpd.server_close()


def test_a_url_is_streamed_into_the_landing_zone(tmp_path, server):
    result = land([f"{server.url}/exports/day1.csv"], tmp_path / "landing")
    [landed] = result.files
    assert landed.name.startswith("day1-")
    assert landed.read_bytes() == server.body


def test_a_flaky_server_is_retried(tmp_path, server):
    server.failures = 2
    result = land([f"{server.url}/day.csv"], tmp_path / "landing", attempts=3)
    assert len(result.files) == 1
    assert server.requests == 3


def test_a_failing_server_gives_up_with_a_clear_error(tmp_path, server):
    server.failures = 99
    with pytest.raises(IngestError, match="answered 503"):
        land([f"{server.url}/day.csv"], tmp_path / "landing", attempts=2)
    assert server.requests == 2
    assert not any(p.suffix == ".csv" for p in (tmp_path / "landing").iterdir())


def test_a_missing_export_is_not_retried(tmp_path, server):
    with pytest.raises(IngestError, match="answered 404"):
        land([f"{server.url}/missing.csv"], tmp_path / "landing")
    assert server.requests == 1


def test_an_unreachable_server_is_a_clear_error(tmp_path):
    with pytest.raises(IngestError, match="download failed"):
        land(["http://127.0.0.1:9/e.csv"], tmp_path / "landing", attempts=1, timeout=2)
