"""The champion remembered for offline scoring: the registry's model, without the registry."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from factories import small_train_params

from juice.data.simulator import simulate
from juice.model.training import train_model
from juice.registry import memo, promotion, runs
from juice.registry.listing import list_versions
from juice.registry.store import Registry

HEAVY = ("mlflow", "sklearn", "prefect", "great_expectations", "bentoml", "scipy")


@pytest.fixture(scope="module")
def trained():
    return train_model(simulate(2000, seed=9), small_train_params(scale=["standard"]))


@pytest.fixture
def registry(workspace, trained):
    registry = Registry(workspace, create=True)
    for _ in range(2):
        runs.log_training(registry, trained, {}, {})
    promotion.promote(registry, "1", "first")
    return registry


def test_the_remembered_copy_scores_as_the_registered_model_and_follows_the_champion(
    workspace, registry, trained
):
    expected = trained.pipeline.predict_proba(trained.split.x_test)[:, 1]
    fresh = memo.champion(workspace)  # asks the registry, keeps a copy
    assert workspace.workspace.memo("champion").exists()
    kept = memo.champion(workspace)  # from the copy
    assert fresh.card == kept.card
    assert fresh.version == "1"
    for model in (fresh, kept):
        np.testing.assert_allclose(model.probabilities(trained.split.x_test), expected, rtol=1e-12)

    promotion.promote(registry, "2", "second")  # the store changed: the copy is stale
    assert memo.champion(workspace).version == "2"


def test_the_remembered_listing_is_the_registrys_and_follows_every_change(workspace, registry):
    assert memo.versions(workspace) == list_versions(registry)
    assert memo.versions(workspace)[-1].status == "champion"  # v1, from the copy
    promotion.promote(registry, "2", "second")
    listed = memo.versions(workspace)
    assert [(v.version, v.status) for v in listed] == [("2", "champion"), ("1", "promoted earlier")]


def test_reading_the_remembered_copies_imports_no_heavy_library(workspace, registry):
    memo.champion(workspace)
    memo.versions(workspace)
    code = (
        "import sys; from juice.registry import memo; "
        "from juice.settings import Settings; import numpy as np; "
        "memo.champion(Settings()).score(np.zeros((3, 25))); "
        "memo.versions(Settings()); "
        f"print(sorted(name for name in {HEAVY!r} if name in sys.modules))"
    )
    env = {**os.environ, "JUICE_HOME": str(workspace.home)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
