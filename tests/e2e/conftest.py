"""Fixtures of the end-to-end tests: a workspace with a champion and its exports."""

from __future__ import annotations

import pytest
from factories import land, write_params


@pytest.fixture
def trained(workspace, tmp_path, prefect_harness):
    """A champion trained on one stable export of 3,000 visits."""
    from flows.dataset import build_dataset
    from flows.training import train

    write_params(workspace)
    land(workspace, tmp_path, "first", 3000, seed=1)
    build_dataset(versioned=False)
    assert train().promoted
    return workspace
