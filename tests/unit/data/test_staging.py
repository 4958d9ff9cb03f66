"""Staging areas: what killed processes left is removed, what a live one holds is not."""

from __future__ import annotations

from commands import hold_staging_area

from juice.data.staging import staging_area


def test_a_killed_process_area_is_removed_and_a_live_one_kept(workspace):
    staging = workspace.workspace.staging
    live, held = hold_staging_area(workspace.home)
    killed, left = hold_staging_area(workspace.home)
    older = staging / "0123abcd"  # left by a build from before areas were locked
    older.mkdir()
    (older / "part.parquet").write_bytes(b"x")
    try:
        killed.kill()
        killed.wait()
        assert left.is_dir()
        with staging_area(workspace.workspace) as mine:
            assert mine.is_dir()
            assert held.is_dir()
            assert not left.exists()
            assert not older.exists()
        assert not mine.exists()
        assert sorted(path.name for path in staging.iterdir()) == [held.name, f"{held.name}.lock"]
    finally:
        live.kill()
        live.wait()
