"""params.yaml: typed, frozen, and a wrong key or value is one line naming it."""

from __future__ import annotations

import pytest
import yaml

from juice.errors import JuiceError
from juice.params import Params, load_params
from juice.workspace import PROJECT_PARAMS


def test_the_projects_params_file_is_valid():
    params = load_params(PROJECT_PARAMS)
    assert params.train.search.grid
    assert params.build_dataset.max_seconds > 0


def test_a_missing_file_means_the_defaults(tmp_path):
    assert load_params(tmp_path / "params.yaml") == Params()


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"depth": [3]}, ["train.search.grid.0.depth", "Extra inputs"]),
        ({"watch": ["cubic"]}, ["train.search.grid.0.watch.0", "not a watch encoding"]),
        ({"watch": ["log+log"]}, ["train.search.grid.0.watch.0", "not a watch encoding"]),
        ({"age": ["quadratic"]}, ["train.search.grid.0.age.0", "'linear' or 'decades'"]),
        ({"penalty": ["l3"]}, ["train.search.grid.0.penalty.0", "'l2' or 'l1'"]),
        ({"C": [0]}, ["train.search.grid.0.C.0", "greater than 0"]),
    ],
)
def test_a_bad_grid_entry_is_one_line_naming_it(tmp_path, entry, words):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"train": {"search": {"grid": [entry]}}}))
    with pytest.raises(JuiceError) as error:
        load_params(path)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    for word in words:
        assert word in message


def test_flat_names_every_parameter_by_its_path():
    flat = Params().train.flat()
    assert flat["search.cv_folds"] == 3
    assert flat["gate.margin"] == 0.01
    assert all(not isinstance(value, dict) for value in flat.values())
