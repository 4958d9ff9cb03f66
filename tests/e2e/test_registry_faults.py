"""The registry under faults: concurrent trainings, a killed training, a copied workspace
(real processes, a real MLflow store, real DVC)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from commands import finish, juice, start_juice
from factories import export, land, small_train_params, write_params

from juice.data import versioning
from juice.data.simulator import simulate
from juice.registry.listing import list_versions
from juice.registry.reconcile import champion_promotion
from juice.registry.runs import KILLED
from juice.registry.seed import seed_champion
from juice.registry.store import Registry
from juice.settings import Settings

pytestmark = pytest.mark.e2e

# Each training waits, once registered, until `count` trainings are: all are judged at once.
REGISTERED_TOGETHER = """
import os, time
from pathlib import Path
from juice.registry import runs
barrier, log_training = Path({barrier!r}), runs.log_training
def registered(*args, **kwargs):
    card = log_training(*args, **kwargs)
    (barrier / str(os.getpid())).touch()
    deadline = time.monotonic() + 120
    while len(list(barrier.iterdir())) < {count} and time.monotonic() < deadline:
        time.sleep(0.05)
    return card
runs.log_training = registered
"""

# The training hangs once its version is registered, before its card is written.
HANGS_AFTER_REGISTERING = """
import time
from juice.registry import runs
runs.card_for = lambda *args, **kwargs: time.sleep(600)
"""

# The promotion is killed once the alias moved, before anything records it.
KILLED_AFTER_THE_ALIAS_MOVED = """
import os, signal
from juice.registry import promotion
promotion.complete = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
"""


def test_concurrent_trainings_are_each_judged_against_the_champion_of_their_moment(
    built, tmp_path, prefect_harness
):
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    patch = REGISTERED_TOGETHER.format(barrier=str(barrier), count=2)
    env = {"PREFECT_API_URL": prefect_harness}
    runs = [start_juice("train", "--json", patch=patch, env=env) for _ in range(2)]
    outcomes = [json.loads(finish(run)) for run in runs]

    first, second = sorted(outcomes, key=lambda outcome: "prior" not in outcome["reason"])
    assert first["promoted"], first["reason"]
    assert "purchase-rate prior" in first["reason"]
    assert f"champion v{first['model_version']}" in second["reason"]  # judged after the first
    log = built.workspace.registry_log.read_text().splitlines()
    promotions = [(event["champion"], event["previous"]) for event in map(json.loads, log)]
    assert promotions == [(first["model_version"], None)] + (
        [(second["model_version"], first["model_version"])] if second["promoted"] else []
    )
    assert Registry(built).champion_version() == promotions[-1][0]


def test_a_killed_training_is_marked_failed_later_and_a_live_one_is_left_alone(
    built, prefect_harness
):
    env = {"PREFECT_API_URL": prefect_harness}
    killed = start_juice("train", patch=HANGS_AFTER_REGISTERING, env=env)
    _wait_for_versions(built, 1, killed)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    live = start_juice("train", patch=HANGS_AFTER_REGISTERING, env=env)
    try:
        _wait_for_versions(built, 2, live)
        done = juice("train", "--json", env=env)  # a later training cleans up
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["promoted"]

        registry = Registry(built)
        status = {
            version: (registry.client.get_run(registry.model_version(version).run_id).info.status)
            for version in ("1", "2", "3")
        }
        assert status == {"1": "FAILED", "2": "RUNNING", "3": "FINISHED"}
        listed = {summary.version: summary for summary in list_versions(registry)}
        assert (listed["1"].status, listed["1"].reason) == ("failed", KILLED)
        assert listed["2"].status == "pending"
        assert listed["3"].status == "champion"
    finally:
        os.killpg(live.pid, signal.SIGKILL)
        live.wait()


def test_a_copied_workspace_works_on_its_own_and_writes_only_into_itself(
    workspace, tmp_path, prefect_harness, monkeypatch
):
    from flows.dataset import build_dataset
    from flows.training import train

    write_params(workspace)
    land(workspace, tmp_path, "first", 3000, seed=1)
    build_dataset()  # versioned: a DVC project with its remote
    assert train().promoted
    original, copy = workspace.home, tmp_path / "copy"
    subprocess.run(["cp", "-a", str(original), str(copy)], check=True)
    before = _listing(original)

    monkeypatch.setenv("JUICE_HOME", str(copy))
    moved = Settings()
    land(moved, tmp_path, "second", 3000, seed=2)
    versioning.dvc(moved, "add", "--quiet", "data/landing")  # DVC as a user runs it
    versioning.dvc(moved, "push", "--quiet")
    done = juice("train", "--json", env={"PREFECT_API_URL": prefect_harness})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["model_version"] == "2"

    assert _listing(original) == before  # nothing written into the original
    shutil.rmtree(original)  # the copy stands alone
    champion = Registry(moved).require_champion()
    scored = juice("predict", str(export(tmp_path / "v.csv", rows=20)), "--out",
                   str(tmp_path / "scored.csv"), "--json")  # fmt: skip
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["model_version"] == champion


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder` with its size and modification time."""
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _wait_for_versions(settings: Settings, count: int, process: subprocess.Popen[str]) -> None:
    """Waits until the store holds `count` model versions (read without MLflow, which
    would create its tables while the training process does)."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            with sqlite3.connect(
                f"{settings.workspace.mlflow_db.as_uri()}?mode=ro", uri=True
            ) as db:
                if db.execute("SELECT count(*) FROM model_versions").fetchone()[0] >= count:
                    return
        except sqlite3.OperationalError:  # not created yet
            pass
        time.sleep(0.2)
    raise AssertionError(f"no {count} model versions within 180 s")


def test_a_promotion_killed_after_the_alias_moved_is_recorded_at_the_next_start(workspace):
    for seed in (1, 2):  # v1, then v2 the champion
        seed_champion(simulate(1500, seed=seed), small_train_params(), workspace)
    killed = start_juice("models", "promote", "1", "--reason", "v2 misbehaves",
                         patch=KILLED_AFTER_THE_ALIAS_MOVED)  # fmt: skip
    killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL
    registry = Registry(workspace)
    log = workspace.workspace.registry_log
    assert registry.champion_version() == "1"  # serving already, unrecorded: the crash
    assert [json.loads(line)["champion"] for line in log.open()] == ["1", "2"]
    shown = champion_promotion(registry)  # what the service shows meanwhile
    assert shown is not None
    assert (shown.champion, shown.reason) == ("1", "v2 misbehaves")

    listed = juice("models", "--json")  # the next start of juice finishes it
    assert listed.returncode == 0, listed.stderr
    champion = next(v for v in json.loads(listed.stdout)["versions"] if v["status"] == "champion")
    assert (champion["version"], champion["reason"], champion["promoted_by"]) == (
        "1", "v2 misbehaves", "cli")  # fmt: skip
    lines = [json.loads(line) for line in log.open()]
    assert [(p["champion"], p["previous"], p["reason"]) for p in lines[2:]] == [
        ("1", "2", "v2 misbehaves")]  # fmt: skip
    assert juice("models").returncode == 0
    assert len(log.read_text().splitlines()) == 3  # once
