"""The registry behind a real MLflow tracking server, as in compose.yaml and Kubernetes:
the flows' workspace trains and promotes, artifacts go to the server's artifact store
(created there by deployments/experiments.py), and another workspace (an API container)
loads the champion through the server alone. (A version registered without its logged
model's id is accepted by MLflow's local store and refused by a server: the fixture's
training fails if the registry forgets it.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import polars as pl
import pytest
from factories import small_train_params

from deployments.experiments import create_experiments
from juice.adapters.processes import tracking_server
from juice.data.simulator import simulate
from juice.model.matrix import MODEL_COLUMNS, to_matrix
from juice.registry.reconcile import reconcile
from juice.registry.seed import seed_champion
from juice.registry.store import CHECKS_EXPERIMENT, EXPERIMENT, Registry
from juice.schema import OUTSIDE_JUICE
from juice.serving.champion import Champion
from juice.settings import Settings

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`mlflow server` serving its artifacts from a folder (S3 in a cluster); yields its
    URL and that folder."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    server, url = tracking_server(folder)
    with server:
        yield url, folder / "artifacts"


@pytest.fixture(scope="module")
def trained(server, tmp_path_factory) -> Settings:
    """The flows' workspace: experiments created on the server first, then a champion."""
    url, _ = server
    locations = create_experiments(url)
    assert set(locations) == {EXPERIMENT, CHECKS_EXPERIMENT}
    assert all(location.startswith("mlflow-artifacts:") for location in locations.values())
    assert create_experiments(url) == locations  # a second run changes nothing
    flows = Settings(home=tmp_path_factory.mktemp("flows"), mlflow_tracking_uri=url)
    seed_champion(simulate(2000, seed=4), small_train_params(), flows, "test")
    return flows


def test_the_artifacts_live_in_the_servers_store_not_the_workspace(server, trained):
    _, artifacts = server
    assert list(artifacts.rglob("MLmodel")), "no model in the server's artifact store"
    assert list(artifacts.rglob("model_card.json"))
    local = trained.workspace.mlflow_artifacts
    assert not local.exists() or not any(local.iterdir())


def test_another_workspace_serves_the_champion_through_the_server_alone(server, trained):
    url, _ = server
    api = Settings(home=trained.home.parent / "api", mlflow_tracking_uri=url)
    champion = Champion(Registry(api))
    assert champion.refresh()
    assert champion.current.card.version == "1"
    visits = simulate(5, seed=1)
    matrix = to_matrix(visits)
    frame = pl.DataFrame(matrix, schema=list(MODEL_COLUMNS)).to_pandas()
    local = Registry(trained).load()[0].predict_proba(frame)[:, 1]
    served = champion.current.probabilities(matrix)
    assert served == pytest.approx(local)  # the same model, reached through the server


def test_an_alias_moved_through_the_servers_api_is_served_shown_and_logged(server, trained):
    """A data scientist moves the alias through the server's REST API (as the MLflow UI
    does): the API's workspace, which sees only the server, serves it and says no gate
    judged it; the flows' next start logs it as a move made outside juice."""
    url, _ = server
    seed_champion(simulate(1500, seed=6), small_train_params(), trained, "test")  # v2 champion
    api = Champion(Registry(Settings(home=trained.home.parent / "api-2", mlflow_tracking_uri=url)))
    api.refresh()
    assert api.promotion is not None
    assert (api.current.card.version, api.promotion.by) == ("2", "seed")
    alias = {"name": trained.model_name, "alias": "champion", "version": "1"}
    moved = httpx.post(f"{url}/api/2.0/mlflow/registered-models/alias", json=alias)
    assert moved.status_code == 200, moved.text
    assert api.refresh()
    assert (api.current.card.version, api.promotion.by) == ("1", OUTSIDE_JUICE)
    assert "no gate judged it" in api.promotion.reason

    recorded = reconcile(Registry(trained))  # what the flows' next start does
    assert recorded is not None
    last = json.loads(trained.workspace.registry_log.read_text().splitlines()[-1])
    assert (last["champion"], last["previous"], last["by"]) == ("1", "2", OUTSIDE_JUICE)
    api.refresh()
    assert api.promotion == recorded
