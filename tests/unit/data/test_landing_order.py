"""The exports a build reads: landing order, and the retraining policy's recent window."""

from __future__ import annotations

import os

from juice.data.dataset import landed_exports


def test_exports_come_in_landing_order_and_the_policy_keeps_the_newest(workspace):
    landing = workspace.workspace.landing
    landing.mkdir(parents=True)
    for when, name in enumerate(["c-1.csv", "a-2.csv", "b-3.csv"]):  # landed c, a, b
        path = landing / name
        path.write_text("M,30\n")
        os.utime(path, (1_000_000 + when, 1_000_000 + when))
    assert [p.name for p in landed_exports(workspace)] == ["c-1.csv", "a-2.csv", "b-3.csv"]
    assert [p.name for p in landed_exports(workspace, recent=2)] == ["a-2.csv", "b-3.csv"]
    assert len(landed_exports(workspace, recent=10)) == 3
