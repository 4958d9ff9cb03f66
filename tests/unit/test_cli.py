"""The `juice` command as a user runs it: counts printed, --json for scripts, one-line errors."""

from __future__ import annotations

import gzip
import json
import subprocess
import time
from pathlib import Path

import pytest
from commands import JUICE, assert_one_line_error, juice
from factories import export


def test_simulate_writes_an_export(tmp_path):
    out = tmp_path / "e.csv"
    done = juice(
        "simulate",
        "--rows",
        "40",
        "--seed",
        "2",
        "--scenario",
        "campaign",
        "--out",
        str(out),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["rows"] == 40
    assert payload["scenario"] == "campaign"
    assert len(out.read_text().splitlines()) == 40


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["simulate", "--rows", "5"], ["out"]),
        (["simulate", "--rows", "x", "--out", "x.csv"], ["integer"]),
        (["nosuch"], ["nosuch"]),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args, words):
    done = juice(*args)
    assert done.returncode == 2
    assert_one_line_error(done, *words)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["simulate", "--out", "x.csv", "--scenario", "winter"], ["unknown scenario"]),
        (["ingest", "no/such/file.csv"], ["no such file"]),
    ],
)
def test_bad_input_is_one_line_and_non_zero(workspace, args, words):
    assert_one_line_error(juice(*args), *words)


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("JUICE_API_PORT", "abc", ["api_port"]),
        ("JUICE_HOMME", "/tmp", ["JUICE_HOMME"]),
        ("JUICE_INGEST_MAX_SIZE", "lots", ["ingest_max_size"]),
        ("JUICE_INGEST_MAX_SIZE", "0", ["ingest_max_size"]),
        ("JUICE_INGEST_DEADLINE_SECONDS", "-1", ["ingest_deadline_seconds"]),
    ],
)
def test_a_bad_setting_fails_at_start_up(workspace, variable, value, words):
    assert_one_line_error(juice("ingest", env={variable: value}), *words)


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"JUICE_UI_HOST": "0.0.0.0"}, ["0.0.0.0", "without a login"]),
        ({"JUICE_UI_HOST": "0.0.0.0", "JUICE_UI_USERS": "ana"}, ["user:password"]),
        ({"JUICE_API_TOKEN": ""}, ["api_token", "empty"]),
    ],
)
def test_the_app_refuses_an_unsafe_start_in_one_line(workspace, env, words):
    assert_one_line_error(juice("ui", "--port", "1", env=env), *words)


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "shop.example"])
def test_the_api_refuses_to_listen_beyond_loopback_without_a_token_in_one_line(workspace, host):
    done = juice("serve", "--host", host, "--port", "1")
    assert_one_line_error(done, host, "without a token", "JUICE_API_ALLOW_ANONYMOUS")
    assert_one_line_error(juice("serve", "--host", host, env={"JUICE_API_TOKEN": ""}), "empty")


def test_the_app_says_its_port_is_taken(workspace):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        assert_one_line_error(juice("ui", "--port", port), "cannot listen", port)


def test_the_app_starts_on_a_port_its_last_run_just_left(workspace):
    """The last run's closed connections wait in TIME_WAIT: a restart at once still listens."""
    import socket

    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            served, _ = server.accept()
            served.close()  # the server closes first: its side waits in TIME_WAIT
            client.recv(1)
    app = subprocess.Popen([*JUICE, "ui", "--port", str(port)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert app.stdout is not None
        first = app.stdout.readline()
    finally:
        app.kill()
        _, errors = app.communicate()
    assert first.startswith(f"marketers' app on http://127.0.0.1:{port}"), errors


def test_ingest_reports_landed_then_skipped(workspace, tmp_path):
    source = export(tmp_path / "e.csv", rows=20)
    first = json.loads(juice("ingest", str(source), "--json").stdout)
    second = json.loads(juice("ingest", str(source), "--json").stdout)
    assert len(first["files"]) == 1
    assert Path(first["files"][0]).parent == workspace.workspace.landing
    assert second == {"files": [], "skipped": ["e.csv"], "refused": [], "decompressed": []}
    human = juice("ingest")
    assert human.returncode == 0
    assert "1 landed, 0 skipped, 0 refused" in human.stdout


def test_ingest_lands_a_gzip_decompressed_refuses_noise_and_says_so(workspace, tmp_path):
    packed = tmp_path / "day.csv.gz"
    packed.write_bytes(gzip.compress(export(tmp_path / "day.csv", rows=20).read_bytes()))
    # Binary noise: every byte value, NUL included (1,000 random bytes hold none 2% of
    # the time, and are then refused for another reason).
    (tmp_path / "noise.csv").write_bytes(bytes(range(256)) * 4)
    done = juice("ingest", str(packed), str(tmp_path / "noise.csv"), "--json")
    assert_one_line_error(done, "1 source(s) refused", "noise.csv", "binary data")
    payload = json.loads(done.stdout)
    assert payload["decompressed"] == payload["files"]
    assert Path(payload["files"][0]).read_bytes() == (tmp_path / "day.csv").read_bytes()
    assert [refused["source"] for refused in payload["refused"]] == ["noise.csv"]
    human = juice("ingest", str(tmp_path / "noise.csv"))
    assert "refused noise.csv: binary data" in human.stdout


def test_ingest_caps_come_from_the_settings(workspace, tmp_path, export_server):
    packed = tmp_path / "day.csv.gz"
    packed.write_bytes(gzip.compress(export(tmp_path / "day.csv", rows=3000).read_bytes()))
    capped = juice("ingest", str(packed), env={"JUICE_INGEST_MAX_SIZE": "100KiB"})
    assert_one_line_error(capped, "day.csv.gz: decompresses to more than", "JUICE_INGEST_MAX_SIZE")

    started = time.monotonic()
    slow = juice(
        "ingest", f"{export_server.url}/trickle.csv", env={"JUICE_INGEST_DEADLINE_SECONDS": "2"}
    )
    assert_one_line_error(slow, "took longer than 2 s", "JUICE_INGEST_DEADLINE_SECONDS")
    assert time.monotonic() - started < 15  # the command's start-up included
    assert not any(workspace.workspace.landing.iterdir())


def _read_only(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`juice ARGS` with the workspace mounted read-only (a mount namespace of its own)."""
    mount = 'mount --bind -o ro "$0" "$0" && exec "$@"'
    command = ["unshare", "--mount", "sh", "-c", mount, str(home), *JUICE, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=90)


@pytest.mark.parametrize("args", [["ingest"], ["build-dataset"], ["train"]])
def test_a_read_only_workspace_is_said_in_one_line_before_anything_starts(workspace, args):
    assert juice("ingest").returncode == 0  # a workspace with an export in it
    if _read_only(workspace.home, "--help").returncode != 0:
        pytest.skip("no mount namespaces here (unshare --mount)")
    started = time.monotonic()
    done = _read_only(workspace.home, *args)
    assert_one_line_error(done, f"the workspace is read-only: {workspace.home}")
    assert time.monotonic() - started < 20
