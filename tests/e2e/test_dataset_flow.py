"""The dataset flow end to end: a real Prefect server, real DVC with a local remote."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import time

import polars as pl
import pytest
import yaml
from commands import JUICE, assert_one_line_error, hold_staging_area, juice
from factories import append_lines, export, row

from juice.data import versioning
from juice.data.ingest import SimulatorSource, ingest
from juice.data.simulator import simulate, write_export
from juice.data.versioning import DATASET_STAGE
from juice.schema import FLAVOURS
from juice.workspace import PROJECT_PARAMS

pytestmark = pytest.mark.e2e
SIM = SimulatorSource(rows=10, scenario="stable", seed=0)


@pytest.fixture
def landed(workspace, tmp_path):
    """A good export with a few bad lines, and a corrupt one whose ads are all zero."""
    good = export(tmp_path / "good.csv", rows=3000, seed=11)
    append_lines(good, row(sex="X"), b"", row(apple="-1"))
    corrupt = simulate(1000, 12).with_columns(pl.lit(0, pl.Int32).alias(f) for f in FLAVOURS)
    write_export(corrupt, tmp_path / "corrupt.csv")
    ingest([str(good), str(tmp_path / "corrupt.csv")], workspace.workspace, SIM)
    return workspace


def test_flow_publishes_valid_batches_versions_them_and_dvc_repro_rebuilds(landed, prefect_harness):
    from flows.dataset import build_dataset

    summary = build_dataset()
    settings = landed

    assert (summary.rows_read, summary.rows_quarantined) == (4003, 3)
    assert summary.rows_accepted == 4000
    assert summary.dataset_rows == 3000
    assert not summary.valid
    [rejected] = summary.rejected
    assert rejected.export.startswith("corrupt-")
    assert "ads_per_visit" in rejected.verdict

    # Only the valid batch reaches the dataset; the corrupt export stays landed.
    dataset = pl.read_parquet(settings.workspace.dataset)
    assert len(dataset) == 3000
    assert dataset["source"].str.starts_with("good-").all()
    assert len(list(settings.workspace.landing.glob("*.csv"))) == 2
    reports = {
        p.name.split("-")[0]: json.loads(p.read_text())
        for p in settings.workspace.reports.iterdir()
    }
    assert reports["good"]["success"]
    assert not reports["corrupt"]["success"]
    quarantine = pl.read_csv(next(settings.workspace.quarantine.glob("good-*.csv")))
    assert quarantine["line"].to_list() == [3001, 3002, 3003]

    # DVC recorded the dataset and pushed it to the local remote.
    assert summary.dataset_version == versioning.dataset_version(settings)
    pushed = settings.home / "dvc-remote" / "files" / "md5"
    version = summary.dataset_version
    assert (pushed / version[:2] / f"{version[2:]}.dir").exists()
    assert "up to date" in versioning.dvc(settings, "status", DATASET_STAGE)

    # A stricter bound on seconds changes the stage's params: `dvc repro` rebuilds, from
    # the versioned exports, in a process of its own (Prefect's ephemeral server).
    params = yaml.safe_load(settings.workspace.params_file.read_text())
    params["build_dataset"]["max_seconds"] = 60
    settings.workspace.params_file.write_text(yaml.safe_dump(params))
    output = versioning.reproduce(settings)

    assert "Running stage 'build_dataset'" in output
    after = json.loads(settings.workspace.build_summary.read_text())
    assert after["rows_quarantined"] > summary.rows_quarantined
    assert after["rows_read"] == summary.rows_read
    assert versioning.dataset_version(settings) != summary.dataset_version
    assert "Running stage" not in versioning.reproduce(settings)


def test_unreadable_landed_files_are_rejected_whole_and_the_rest_still_builds(
    workspace, tmp_path, prefect_harness
):
    landing = workspace.workspace.landing
    ingest([str(export(tmp_path / "good.csv", rows=1500, seed=5))], workspace.workspace, SIM)
    # Files landed before ingest sniffed what it lands, or put there by hand.
    (landing / "empty-0.csv").write_bytes(b"")
    (landing / "noise-0.csv").write_bytes(os.urandom(50_000))
    with gzip.open(landing / "big-0.csv", "wb", compresslevel=1) as stream:
        stream.write(os.urandom(17 << 20))  # over one parsing block: "unexpected end of file"
    env = {"PREFECT_API_URL": prefect_harness}

    for _ in range(2):  # and again: nothing blocks the next build
        done = juice("build-dataset", "--json", "--no-version", env=env)
        assert done.returncode == 0, done.stderr
        payload = json.loads(done.stdout)
        assert payload["rows_read"] == payload["rows_accepted"] == payload["dataset_rows"] == 1500
        verdicts = {batch["export"]: batch for batch in payload["batches"] if not batch["valid"]}
        assert sorted(verdicts) == ["big-0.csv", "empty-0.csv", "noise-0.csv"]
        assert "the file is empty" in verdicts["empty-0.csv"]["verdict"]
        assert "binary data" in verdicts["noise-0.csv"]["verdict"]
        assert "gzip-compressed" in verdicts["big-0.csv"]["verdict"]
        assert "3 export(s) rejected" in done.stderr

    assert len(list(landing.glob("*.csv"))) == 4  # kept in the landing zone
    report = json.loads((workspace.workspace.reports / "noise-0.json").read_text())
    assert not report["success"]
    assert report["outcomes"][0]["error"].startswith("binary data")
    assert len(pl.read_parquet(workspace.workspace.dataset)) == 1500
    strict = juice("build-dataset", "--strict", "--no-version", env=env)
    assert_one_line_error(strict, "3 export(s) rejected", "noise-0.csv")


def test_a_killed_build_leaves_no_staging_behind_and_a_live_one_is_untouched(
    workspace, tmp_path, prefect_harness
):
    ingest([str(export(tmp_path / "e.csv", rows=3000, seed=6))], workspace.workspace, SIM)
    staging = workspace.workspace.staging
    live, held = hold_staging_area(workspace.home)  # a concurrent build, alive throughout
    try:
        env = {**os.environ, "PREFECT_API_URL": prefect_harness}
        build = subprocess.Popen([*JUICE, "build-dataset", "--no-version"], env=env)
        deadline = time.monotonic() + 120
        while not (left := [p for p in staging.iterdir() if p.is_dir() and p != held]):
            assert build.poll() is None, "the build ended before it staged anything"
            assert time.monotonic() < deadline, "no staging area seen"
            time.sleep(0.05)
        build.kill()  # mid-build, as the OOM killer or a power cut would
        build.wait()
        assert left[0].is_dir()

        done = juice("build-dataset", "--no-version", env={"PREFECT_API_URL": prefect_harness})
        assert done.returncode == 0, done.stderr
        assert not left[0].exists()
        assert held.is_dir()
    finally:
        live.kill()
        live.wait()


def outputs(settings) -> dict[str, bytes]:
    """Every file a build publishes, by path."""
    workspace = settings.workspace
    folders = (workspace.dataset, workspace.quarantine, workspace.reports)
    files = [path for folder in folders for path in sorted(folder.iterdir())]
    return {
        workspace.relative(path): path.read_bytes() for path in [*files, workspace.build_summary]
    }


def test_a_build_reuses_kept_results_and_publishes_the_bytes_of_a_fresh_build(
    landed, tmp_path, prefect_harness
):
    from flows.dataset import build_dataset

    settings = landed
    assert build_dataset(versioned=False).reused == 0
    ingest([str(export(tmp_path / "new.csv", rows=500, seed=13))], settings.workspace, SIM)

    summary = build_dataset(versioned=False)
    assert summary.reused == 2  # only the new export was parsed and validated
    assert (summary.rows_read, summary.dataset_rows) == (4503, 3500)
    incremental = outputs(settings)

    shutil.rmtree(settings.workspace.export_cache)
    assert build_dataset(versioned=False).reused == 0
    assert outputs(settings) == incremental

    # A parameter that shapes the results reprocesses every export; the old results go.
    params = yaml.safe_load(PROJECT_PARAMS.read_text())
    params["build_dataset"]["max_seconds"] = 60
    settings.workspace.params_file.write_text(yaml.safe_dump(params))
    stricter = build_dataset(versioned=False)
    assert stricter.reused == 0
    assert stricter.rows_quarantined > summary.rows_quarantined
    assert build_dataset(versioned=False).reused == 3
    assert len(list(settings.workspace.export_cache.iterdir())) == 3
