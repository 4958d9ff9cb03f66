"""The API models: bounds from the schema, the model matrix, the completed OpenAPI document."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from juice.data.simulator import simulate
from juice.model.matrix import to_matrix
from juice.serving.api import (
    predictions,
    request_visits,
    visit_model,
    visits_matrix,
)


def test_visits_matrix_equals_the_training_matrix():
    frame = simulate(30, seed=6)
    # As clients send them: only the watched flavours, keys in any order.
    sent = [dict(reversed(visit.items())) for visit in request_visits(frame)]
    visits = TypeAdapter(list[visit_model()]).validate_json(json.dumps(sent))
    np.testing.assert_array_equal(visits_matrix(visits), to_matrix(frame))


@pytest.mark.parametrize(
    "visit",
    [
        {"sex": "M"},
        {"sex": "M", "age": 101},
        {"sex": "M", "age": 30, "apple": 61},
        {"sex": "M", "age": True},
        {"sex": "M", "age": 30.0},
        {"sex": "M", "age": 30, "kiwi": 1},
        {"sex": "M", "age": 30, "apple": None},
    ],
)
def test_visit_bounds_come_from_the_schema_and_params(visit):
    with pytest.raises(ValidationError):
        TypeAdapter(visit_model(max_seconds=60)).validate_python(visit)


def test_predictions_keep_order_and_types():
    out = predictions(np.array([0.2, 0.9]), np.array([False, True]), 0.5, "3")
    assert [(p["probability"], p["will_buy"], p["model_version"]) for p in out] == [
        (0.2, False, "3"),
        (0.9, True, "3"),
    ]


def test_prediction_log_writes_every_visit_with_its_call(tmp_path):
    import time

    import polars as pl

    from juice.model.matrix import MODEL_COLUMNS
    from juice.serving.predictionlog import PredictionLog

    log = PredictionLog(tmp_path, every_seconds=0.2)
    first = log.record(
        np.ones((3, 25)), np.array([0.1, 0.2, 0.9]), np.array([False, False, True]), "1"
    )
    second = log.record(np.zeros((2, 25)), np.array([0.3, 0.4]), np.array([False, False]), "2")
    deadline = time.monotonic() + 10
    logged = pl.DataFrame()
    while time.monotonic() < deadline and logged.height < 5:
        time.sleep(0.1)
        files = sorted(tmp_path.glob("*.parquet"))
        logged = pl.read_parquet(files) if files else logged
    assert logged.height == 5
    assert set(MODEL_COLUMNS) <= set(logged.columns)
    assert logged["request_id"].to_list() == [first] * 3 + [second] * 2
    assert logged["model_version"].to_list() == ["1"] * 3 + ["2"] * 2
    assert logged["will_buy"].to_list() == [False, False, True, False, False]


def test_the_prediction_log_deletes_files_past_its_retention(tmp_path):
    import os
    import time

    from juice.serving.predictionlog import PredictionLog

    old, recent = tmp_path / "old.parquet", tmp_path / "recent.parquet"
    for path, days in ((old, 31), (recent, 29)):
        path.write_bytes(b"x")
        os.utime(path, (time.time() - days * 86_400,) * 2)
    PredictionLog(tmp_path, every_seconds=0.1, keep_days=30)
    deadline = time.monotonic() + 10
    while old.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not old.exists()
    assert recent.exists()


@pytest.mark.parametrize("scale", ["standard", "none"])
def test_linear_scorer_equals_the_pipelines_predict_proba(scale):
    from factories import small_train_params

    from juice.model.linear import linear_scorer
    from juice.model.training import train_model

    trained = train_model(
        simulate(1500, seed=3), small_train_params(scale=[scale], age=["decades"])
    )
    matrix = trained.split.x_test
    expected = trained.pipeline.predict_proba(matrix)[:, 1]
    np.testing.assert_allclose(linear_scorer(trained.pipeline)(matrix), expected, rtol=1e-12)
    np.testing.assert_allclose(
        linear_scorer(trained.pipeline)(matrix[:1]), expected[:1], rtol=1e-12
    )


def test_other_pipeline_shapes_keep_sklearns_predict_proba():
    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import Pipeline

    from juice.model.linear import linear_scorer

    x = to_matrix(simulate(50, seed=1))
    pipeline = Pipeline([("model", DummyClassifier(strategy="prior"))]).fit(
        x, np.arange(50) % 4 == 0
    )
    np.testing.assert_allclose(linear_scorer(pipeline)(x), pipeline.predict_proba(x)[:, 1])


def test_the_rejected_lines_header_stays_small_and_valid():
    from juice.serving.api import REJECTED_HEADER_BYTES, rejected_lines_header

    problems = [(line, "age: must be an integer between 18 and 100; " * 30) for line in range(80)]
    header = rejected_lines_header(problems)
    kept = json.loads(header)
    assert len(header) <= REJECTED_HEADER_BYTES
    assert header.isascii()
    assert [line for line, _ in kept] == list(range(len(kept)))
    assert 5 < len(kept) < 80
    assert all(len(reason) <= 200 for _, reason in kept)
    assert json.loads(rejected_lines_header([(3, "short")])) == [[3, "short"]]
