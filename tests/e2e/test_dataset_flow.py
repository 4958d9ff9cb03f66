"""The dataset flow end to end: a real Prefect server, real DVC with a local remote."""

from __future__ import annotations

import json

import polars as pl
import pytest
import yaml
from factories import append_lines, export, row

from juice.data import versioning
from juice.data.ingest import SimulatorSource, ingest
from juice.data.simulator import simulate, write_export
from juice.data.versioning import DATASET_STAGE
from juice.schema import FLAVOURS

pytestmark = pytest.mark.e2e


@pytest.fixture
def landed(workspace, tmp_path):
    """A good export with a few bad lines, and a corrupt one whose ads are all zero."""
    good = export(tmp_path / "good.csv", rows=3000, seed=11)
    append_lines(good, row(sex="X"), b"", row(apple="-1"))
    corrupt = simulate(1000, 12).with_columns(pl.lit(0, pl.Int32).alias(f) for f in FLAVOURS)
    write_export(corrupt, tmp_path / "corrupt.csv")
    sim = SimulatorSource(rows=10, scenario="stable", seed=0)
    ingest([str(good), str(tmp_path / "corrupt.csv")], workspace.workspace.landing, sim)
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
