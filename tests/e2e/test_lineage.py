"""Lineage: each model records the exact data it saw, and dvc.lock only what is on disk
(real Prefect, real DVC, real MLflow store)."""

from __future__ import annotations

import contextlib
import json
import subprocess

import pytest
from commands import finish, start_juice
from factories import export, land, write_params

from juice.data import dataset, versioning
from juice.data.snapshots import find_snapshot
from juice.registry.store import Registry

pytestmark = pytest.mark.e2e


def test_a_model_records_the_data_it_saw_when_dvc_did_not_record_it(
    workspace, tmp_path, prefect_harness, monkeypatch
):
    from flows.dataset import build_dataset
    from flows.training import train

    write_params(workspace)
    land(workspace, tmp_path, "first", 3000, seed=1)
    assert build_dataset().dataset_version  # DVC records the first dataset
    # A build without versioning
    land(workspace, tmp_path, "second", 3000, seed=2)
    build_dataset(versioned=False)
    unversioned = train()
    # A build whose versioning crashes in `dvc add`
    land(workspace, tmp_path, "third", 3000, seed=3)
    dvc = versioning.dvc

    def crashing(settings, *args):
        if args[0] == "add":
            raise versioning.VersioningError("dvc add failed: killed")
        return dvc(settings, *args)

    monkeypatch.setattr(versioning, "dvc", crashing)
    with pytest.raises(versioning.VersioningError):
        build_dataset()
    monkeypatch.setattr(versioning, "dvc", dvc)
    after_crash = train()

    registry = Registry(workspace)
    for outcome, exports in ((unversioned, 2), (after_crash, 3)):
        assert outcome.dataset_version is None  # not the version DVC recorded earlier
        card = registry.card(outcome.model_version)
        assert card.dataset_version is None
        tags = registry.client.get_run(card.run_id).data.tags
        assert tags["data_hash"] == card.data_hash
        assert "dataset_version" not in tags
        # its exact data is kept by content, whatever was built after it
        assert len(find_snapshot(workspace, card.data_hash or "").sources) == exports


def test_an_export_landing_during_a_build_waits_so_dvc_lock_never_claims_it(
    workspace, tmp_path, prefect_harness, monkeypatch
):
    from flows.dataset import build_dataset

    land(workspace, tmp_path, "first", 1000, seed=1)
    late = export(tmp_path / "late.csv", rows=1000, seed=2)
    publish, arrivals = dataset.publish, []

    def publish_while_an_export_arrives(batches, settings):
        arrivals.append(start_juice("ingest", str(late), "--json"))
        with contextlib.suppress(subprocess.TimeoutExpired):
            arrivals[0].wait(timeout=10)  # it lands now, unless the build holds it back
        return publish(batches, settings)

    monkeypatch.setattr(dataset, "publish", publish_while_an_export_arrives)
    summary = build_dataset()
    assert len(json.loads(finish(arrivals[0]))["files"]) == 1  # it landed after the build

    assert [batch.export.split("-")[0] for batch in summary.batches] == ["first"]
    status = json.loads(versioning.dvc(workspace, "status", "--json", versioning.DATASET_STAGE))
    # dvc.lock records the landing zone the dataset was built from: the late export is new
    assert {"changed deps": {"data/landing": "modified"}} in status[versioning.DATASET_STAGE]
    assert versioning.dataset_version(workspace) == summary.dataset_version
