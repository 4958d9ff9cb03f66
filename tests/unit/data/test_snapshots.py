"""A dataset a model saw is kept by content, whatever later builds publish."""

from __future__ import annotations

import pytest

from juice.data.simulator import simulate
from juice.data.snapshots import find_snapshot, snapshot_dataset
from juice.errors import JuiceError


def publish(settings, **exports: int) -> None:
    """Stands in for a build: the dataset folder swapped for these exports' rows."""
    folder = settings.workspace.dataset
    if folder.exists():
        for old in folder.iterdir():
            old.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    for name, seed in exports.items():
        simulate(50, seed=seed).write_parquet(folder / f"{name}.parquet")


def test_a_snapshot_survives_the_next_build(workspace):
    publish(workspace, first=1)
    before = snapshot_dataset(workspace)
    frame = before.read()
    publish(workspace, first=2, second=3)
    after = snapshot_dataset(workspace)
    assert after.data_hash != before.data_hash
    kept = find_snapshot(workspace, before.data_hash)
    assert kept.read().equals(frame)
    assert kept.sources == ["first.csv"]
    assert after.sources == ["first.csv", "second.csv"]


def test_the_same_content_is_the_same_snapshot(workspace):
    publish(workspace, a=1)
    first = snapshot_dataset(workspace)
    publish(workspace, a=1)
    assert snapshot_dataset(workspace) == first
    assert len(list(workspace.workspace.snapshots.iterdir())) == 1


def test_no_dataset_or_an_unknown_snapshot_is_a_clear_error(workspace):
    with pytest.raises(JuiceError, match="build-dataset"):
        snapshot_dataset(workspace)
    with pytest.raises(JuiceError, match="not kept"):
        find_snapshot(workspace, "0" * 64)


@pytest.fixture
def kept(workspace):
    publish(workspace, first=1, second=2)
    return snapshot_dataset(workspace)


def test_a_snapshot_that_lost_a_file_is_refused_naming_it(workspace, kept):
    (kept.folder / "second.parquet").unlink()
    with pytest.raises(JuiceError, match=r"not the data it was kept as: second.parquet is missing"):
        find_snapshot(workspace, kept.data_hash)


def test_a_truncated_file_is_named_when_found_and_when_read(workspace, kept):
    file = kept.folder / "first.parquet"
    content = file.read_bytes()
    file.unlink()  # a hard link to the published file: replaced, not written through
    file.write_bytes(content[: len(content) // 2])
    with pytest.raises(JuiceError, match=r"first.parquet was changed"):
        find_snapshot(workspace, kept.data_hash)
    with pytest.raises(JuiceError, match=rf"{file}: cannot be read as Parquet"):
        kept.read()


def test_a_file_added_to_a_snapshot_is_refused(workspace, kept):
    simulate(5, seed=9).write_parquet(kept.folder / "third.parquet")
    with pytest.raises(JuiceError, match=r"third.parquet is not one of its files"):
        find_snapshot(workspace, kept.data_hash)
