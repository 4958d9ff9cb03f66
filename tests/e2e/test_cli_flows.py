"""The `juice` flow commands against a real Prefect server: build, train, list, predict."""

from __future__ import annotations

import json

import pytest
from commands import assert_one_line_error, juice
from factories import export, write_params

pytestmark = pytest.mark.e2e


def test_build_dataset_against_a_running_prefect_server(workspace, tmp_path, prefect_harness):
    env = {"PREFECT_API_URL": prefect_harness}
    assert_one_line_error(juice("build-dataset", env=env), "no export")

    juice("ingest", str(export(tmp_path / "e.csv", rows=800)))
    done = juice("build-dataset", "--json", env=env)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["rows_read"] == payload["rows_accepted"] == 800
    assert payload["valid"] is True
    assert len(payload["dataset_version"]) == 32

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
    assert any(run.state.is_completed() for run in runs)


def test_train_models_predict(workspace, tmp_path, prefect_harness):
    from flows.dataset import build_dataset

    env = {"PREFECT_API_URL": prefect_harness}
    write_params(workspace)
    source = export(tmp_path / "score.csv", rows=50, seed=4)
    juice("ingest", str(export(tmp_path / "e.csv", rows=2500, seed=3)))
    build_dataset(versioned=False)

    trained = json.loads(juice("train", "--json", env=env).stdout)
    assert trained["model_version"] == "1"
    assert trained["promoted"] is True
    assert set(trained["metrics"]) == {
        "roc_auc",
        "average_precision",
        "precision",
        "recall",
        "fbeta",
    }
    assert 0 < trained["threshold"] < 1
    assert trained["reason"]

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


def test_predict_refuses_to_overwrite_its_input(tmp_path, champion_home):
    source = export(tmp_path / "visits.csv", rows=30)
    out = tmp_path / "scored.csv"
    out.symlink_to(source)
    content = source.read_bytes()
    done = juice("predict", str(source), "--out", str(out), env={"JUICE_HOME": str(champion_home)})
    assert_one_line_error(done, f"{out} is the input {source}")
    assert source.read_bytes() == content
