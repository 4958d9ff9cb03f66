"""The `juice` command as a user runs it: counts printed, --json for scripts, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from factories import export, write_params

JUICE = [sys.executable, "-m", "juice.cli"]


def juice(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*JUICE, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("juice: error:"), done.stderr
    for word in words:
        assert word in lines[0]


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
    assert payload["rows"] == 40 and payload["scenario"] == "campaign"
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
    [("JUICE_API_PORT", "abc", ["api_port"]), ("JUICE_HOMME", "/tmp", ["JUICE_HOMME"])],
)
def test_a_bad_setting_fails_at_start_up(workspace, variable, value, words):
    assert_one_line_error(juice("ingest", env={variable: value}), *words)


def test_ingest_reports_landed_then_skipped(workspace, tmp_path):
    source = export(tmp_path / "e.csv", rows=20)
    first = json.loads(juice("ingest", str(source), "--json").stdout)
    second = json.loads(juice("ingest", str(source), "--json").stdout)
    assert len(first["files"]) == 1 and Path(first["files"][0]).parent == workspace.landing_dir
    assert second == {"files": [], "skipped": ["e.csv"]}
    human = juice("ingest")
    assert human.returncode == 0 and "1 landed, 0 skipped" in human.stdout


@pytest.mark.e2e
def test_build_dataset_against_a_running_prefect_server(workspace, tmp_path, prefect_harness):
    env = {"PREFECT_API_URL": prefect_harness}
    assert_one_line_error(juice("build-dataset", env=env), "no export")

    juice("ingest", str(export(tmp_path / "e.csv", rows=800)))
    done = juice("build-dataset", "--json", env=env)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["rows_read"] == payload["rows_accepted"] == 800
    assert payload["valid"] is True and len(payload["dataset_version"]) == 32

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
    assert any(run.state.is_completed() for run in runs)


@pytest.mark.e2e
def test_train_models_predict(workspace, tmp_path, prefect_harness):
    from flows.dataset import build_dataset

    env = {"PREFECT_API_URL": prefect_harness}
    write_params(workspace)
    source = export(tmp_path / "score.csv", rows=50, seed=4)
    juice("ingest", str(export(tmp_path / "e.csv", rows=2500, seed=3)))
    build_dataset(versioned=False)

    trained = json.loads(juice("train", "--json", env=env).stdout)
    assert trained["model_version"] == "1" and trained["promoted"] is True
    assert set(trained["metrics"]) == {
        "roc_auc",
        "average_precision",
        "precision",
        "recall",
        "fbeta",
    }
    assert 0 < trained["threshold"] < 1 and trained["reason"]

    listed = json.loads(juice("models", "--json").stdout)["versions"]
    assert [(v["version"], v["aliases"]) for v in listed] == [("1", ["champion"])]
    assert listed[0]["threshold"] == pytest.approx(trained["threshold"])

    done = juice("predict", str(source), "--out", str(tmp_path / "scored.csv"), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) | {"output": None} == {
        "rows_scored": 50, "rows_rejected": 0, "output": None, "rejected": None,
        "model_version": "1", "threshold": trained["threshold"],
    }  # fmt: skip
    assert_one_line_error(juice("predict", "missing.csv", "--out", "o.csv"), "no such file")
