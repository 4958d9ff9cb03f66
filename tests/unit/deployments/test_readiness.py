"""What the compose stack's containers run before their command: the wait for the stores
(deployments/wait.py) and the monitoring secret (deployments/monitoring_secrets.py)."""

from __future__ import annotations

import socket
import stat
import subprocess
import sys

import bcrypt
import yaml

from deployments.monitoring_secrets import make_secrets
from deployments.wait import answers, wait
from juice.adapters.processes import free_port, http_server
from juice.workspace import PROJECT_ROOT


def test_a_listening_port_answers_and_a_closed_one_does_not():
    with socket.create_server(("127.0.0.1", 0)) as server:
        assert answers(f"tcp://127.0.0.1:{server.getsockname()[1]}")
    assert not answers(f"tcp://127.0.0.1:{free_port()}")
    assert not answers(f"http://127.0.0.1:{free_port()}/health")


def test_a_file_answers_once_it_is_there_and_not_empty(tmp_path):
    made = tmp_path / "web.yml"
    assert not answers(f"file://{made}")
    made.write_text("")
    assert not answers(f"file://{made}")  # being written
    made.write_text("basic_auth_users: {}\n")
    assert answers(f"file://{made}")


def test_an_http_server_answers_below_500():
    port = free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    with http_server(command, f"http://127.0.0.1:{port}/"):
        assert answers(f"http://127.0.0.1:{port}/")
        assert answers(f"http://127.0.0.1:{port}/missing")  # 404: it answers


def test_waiting_names_what_never_answered_by_the_deadline():
    silent = f"tcp://127.0.0.1:{free_port()}"
    with socket.create_server(("127.0.0.1", 0)) as server:
        listening = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        assert wait([listening, silent], deadline_seconds=1.0) == [silent]


def test_the_command_runs_only_once_every_address_answers(tmp_path):
    made = tmp_path / "made"
    with socket.create_server(("127.0.0.1", 0)) as server:
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        command = [sys.executable, "-m", "deployments.wait", address, "--", "touch", str(made)]
        done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert made.exists()
    silent = f"tcp://127.0.0.1:{free_port()}"
    command[3] = silent
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=30,
                          env={"WAIT_SECONDS": "1", "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert done.returncode == 1
    assert f"no answer after 1 s from {silent}" in done.stderr


def test_the_command_line_waits_for_a_file(tmp_path):
    wanted, made = tmp_path / "web.yml", tmp_path / "made"
    wanted.write_text("basic_auth_users: {}\n")
    command = [
        sys.executable,
        "-m",
        "deployments.wait",
        f"file://{wanted}",
        "--",
        "touch",
        str(made),
    ]
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert made.exists()


def test_a_malformed_address_is_a_usage_error():
    command = [sys.executable, "-m", "deployments.wait", "postgres:5432", "--", "true"]
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert "usage: python -m deployments.wait" in done.stderr


def test_the_monitoring_secret_is_made_once_and_its_web_config_matches_it(tmp_path):
    secret, web_config = make_secrets(tmp_path)
    password = secret.read_text().strip()
    assert len(password) >= 32
    hashed = yaml.safe_load(web_config.read_text())["basic_auth_users"]["juice"]
    assert bcrypt.checkpw(password.encode(), hashed.encode())
    for path in (secret, web_config):  # read by the monitoring images' own users
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    written = web_config.read_text()
    assert make_secrets(tmp_path) == (secret, web_config)  # run again by each dependant
    assert secret.read_text().strip() == password
    assert web_config.read_text() == written  # not rewritten: a Pushgateway may be reading it
    assert not [path.name for path in tmp_path.iterdir() if path.name.startswith(".")]


def test_a_lost_web_config_is_made_again_for_the_same_secret(tmp_path):
    secret, web_config = make_secrets(tmp_path)
    web_config.unlink()
    make_secrets(tmp_path)
    hashed = yaml.safe_load(web_config.read_text())["basic_auth_users"]["juice"]
    assert bcrypt.checkpw(secret.read_text().strip().encode(), hashed.encode())
