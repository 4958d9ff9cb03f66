"""Fixtures of the end-to-end tests: workspaces with a champion."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import land, small_train_params, write_params

from juice.data.simulator import simulate
from juice.registry.seed import seed_champion
from juice.settings import Settings


@pytest.fixture
def built(workspace, tmp_path, prefect_harness):
    """A workspace with a published (unversioned) dataset and a small training grid."""
    from flows.dataset import build_dataset

    write_params(workspace)
    land(workspace, tmp_path, "e", 3000, seed=11)
    build_dataset(versioned=False)
    return workspace


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


@pytest.fixture(scope="module")
def champion_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace whose registry has a champion (v1), trained on simulated data (one
    per test module, for the servers it starts)."""
    home = tmp_path_factory.mktemp("champion")
    seed_champion(simulate(3000, seed=21), small_train_params(), Settings(home=home), "test")
    return home


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's images, built once per session by its own script (make-images.sh), the
    bento's (containers.BENTO_IMAGE) carrying a champion of its own; returns the workspace
    of that champion (what `juice predict` compares against)."""
    from containers import build_images, require_podman

    require_podman()
    home = tmp_path_factory.mktemp("image-champion")
    seed_champion(simulate(3000, seed=23), small_train_params(), Settings(home=home), "image")
    build_images(home)
    return home
