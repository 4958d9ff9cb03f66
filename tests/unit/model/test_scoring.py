"""Batch scoring: valid rows scored by the model, bad rows reported and not lost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from factories import append_lines, export, row, served, small_train_params

from juice.data import parsing
from juice.data.simulator import simulate, write_export
from juice.errors import JuiceError
from juice.model import scoring
from juice.model.encoding import AGE_ENCODINGS, WATCH_ENCODINGS, Encoding
from juice.model.linear import LinearForm
from juice.model.matrix import to_counts, to_matrix
from juice.model.scoring import score_export
from juice.model.training import train_model
from juice.schema import RAW_COLUMNS


@pytest.fixture(scope="module")
def model():
    return served(train_model(simulate(3000, seed=2), small_train_params()), threshold=0.3)


def score(model, source, out):
    return score_export(source, out, model, max_seconds=3600)


def test_scores_equal_the_models_own_probabilities(tmp_path, model):
    visits = simulate(300, seed=5)
    source = write_export(visits, tmp_path / "in.csv")
    result = score(model, source, tmp_path / "out.csv")
    scored = pl.read_csv(result.output)
    assert result.rows_scored == 300
    assert result.rows_rejected == 0
    assert result.rejected is None
    assert scored.columns == [*RAW_COLUMNS, "probability", "will_buy"]
    expected = model.model.predict_proba(to_matrix(visits))[:, 1]
    np.testing.assert_allclose(scored["probability"], expected, atol=1e-6)
    assert scored["will_buy"].to_list() == list(expected >= 0.3)


@pytest.mark.parametrize("age", AGE_ENCODINGS)
@pytest.mark.parametrize("watch", ["seconds", "log", "watched", "+".join(WATCH_ENCODINGS)])
def test_looked_up_shares_give_the_model_matrix_probabilities(age, watch):
    """Batch scoring adds one looked-up share per column; the service multiplies the
    model matrix. Both must give the same probability, at the edges of every range."""
    visits = simulate(4000, seed=4).with_columns(
        pl.when(pl.int_range(pl.len()) % 7 == 0).then(3600).otherwise(pl.col("apple"))
        .cast(pl.Int32).alias("apple"),
        pl.when(pl.int_range(pl.len()) % 5 == 0).then(100).otherwise(pl.col("age"))
        .cast(pl.Int16).alias("age"),
    )  # fmt: skip
    encoding = Encoding(watch, age)
    width = len(encoding.names())
    rng = np.random.default_rng(1)
    form = LinearForm(encoding, rng.normal(size=width), rng.uniform(0.5, 2, width),
                      rng.normal(size=width), 0.4)  # fmt: skip
    assert visits["apple"].max() < len(visits)  # so the shares are tabled
    np.testing.assert_allclose(
        form.probabilities_of_counts(to_counts(visits)), form(to_matrix(visits)),
        rtol=1e-12, atol=1e-15,
    )  # fmt: skip


def test_a_value_past_the_visits_count_is_scored_without_a_table(monkeypatch):
    """Seconds may be allowed up to any maximum: a table as long as the largest value
    would cost more than the visits (and, at a billion, all the memory)."""
    visits = simulate(50, seed=4).with_columns(pl.lit(999_999_999, pl.Int32).alias("apple"))
    form = LinearForm(Encoding("seconds+log", "linear"), 0.0, 1.0, np.full(48, 1e-9), -1.0)
    monkeypatch.setattr(LinearForm, "shares", None)  # any table would fail the call
    np.testing.assert_allclose(
        form.probabilities_of_counts(to_counts(visits)), form(to_matrix(visits)), rtol=1e-12
    )


def test_unlabelled_export_with_header_and_bad_rows(tmp_path, model):
    source = tmp_path / "in.csv"
    unlabelled = row()[: row().rindex(",")]
    append_lines(
        source, ",".join(RAW_COLUMNS[:-1]), unlabelled, "F,200,1", unlabelled.replace("M", "X", 1)
    )
    result = score(model, source, tmp_path / "out.csv")
    assert (result.rows_scored, result.rows_rejected) == (1, 2)
    assert pl.read_csv(result.output).columns == [*RAW_COLUMNS[:-1], "probability", "will_buy"]
    rejected = pl.read_csv(result.rejected)
    assert rejected["line"].to_list() == [3, 4]
    assert rejected["reason"].str.contains("fields|sex").all()


def test_a_file_with_no_valid_row_still_answers(tmp_path, model):
    source = tmp_path / "in.csv"
    append_lines(source, "garbage")
    result = score(model, source, tmp_path / "out.csv")
    assert (result.rows_scored, result.rows_rejected) == (0, 1)
    assert pl.read_csv(result.output).height == 0


def test_a_rescore_clears_a_stale_rejection_file(tmp_path, model):
    source = export(tmp_path / "in.csv", rows=10)
    (tmp_path / "out.csv.rejected.csv").write_text("stale")
    assert score(model, source, tmp_path / "out.csv").rejected is None
    assert not (tmp_path / "out.csv.rejected.csv").exists()


def test_a_file_is_scored_in_chunks_with_the_same_result(tmp_path, model, monkeypatch):
    source = write_export(simulate(250, seed=7), tmp_path / "in.csv", header=True)
    whole = score(model, source, tmp_path / "whole.csv")
    monkeypatch.setattr(scoring, "CHUNK_ROWS", 100)
    seen: list[int] = []
    chunked = scoring.score_file(
        source, tmp_path / "chunked.csv", model, max_seconds=3600,
        observe=lambda matrix, *_: seen.append(len(matrix)),
    )  # fmt: skip
    assert seen == [100, 100, 50]
    assert chunked.rows_scored == whole.rows_scored == 250
    assert (tmp_path / "chunked.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()


def two_step(model, source, out):
    """The file scored through the Parquet hand-off (an observer asks for it)."""
    return scoring.score_file(
        source, out, model, max_seconds=3600,
        observe=lambda *_: None, rejected=out.with_name(f"{out.name}.rejected.csv"),
    )  # fmt: skip


def test_scoring_each_block_as_it_is_parsed_gives_the_two_step_result(tmp_path, model, monkeypatch):
    monkeypatch.setattr(parsing, "_BLOCK_BYTES", 4096)  # some 60 blocks
    source = write_export(simulate(3000, seed=8), tmp_path / "in.csv")
    append_lines(source, "F,200,1", "", row().replace("M", "X", 1), row())
    streamed = score(model, source, tmp_path / "streamed.csv")
    stepped = two_step(model, source, tmp_path / "stepped.csv")
    assert streamed.rows_scored == stepped.rows_scored == 3001
    assert (tmp_path / "streamed.csv").read_bytes() == (tmp_path / "stepped.csv").read_bytes()
    assert streamed.rejected is not None
    assert (
        Path(streamed.rejected).read_bytes() == (tmp_path / "stepped.csv.rejected.csv").read_bytes()
    )


def test_labels_first_seen_in_a_later_block_keep_the_label_column(tmp_path, model, monkeypatch):
    """The streamed output's columns come from the first block; a later label starts over."""
    monkeypatch.setattr(parsing, "_BLOCK_BYTES", 4096)
    unlabelled = simulate(500, seed=9).drop(RAW_COLUMNS[-1])
    source = write_export(unlabelled, tmp_path / "in.csv")
    append_lines(source, row())  # labelled, hundreds of lines after the first block
    streamed = score(model, source, tmp_path / "streamed.csv")
    two_step(model, source, tmp_path / "stepped.csv")
    scored = pl.read_csv(tmp_path / "streamed.csv")
    assert scored.columns == [*RAW_COLUMNS, "probability", "will_buy"]
    assert scored[RAW_COLUMNS[-1]].drop_nulls().to_list() == [row().rsplit(",", 1)[1]]
    assert streamed.rows_scored == 501
    assert (tmp_path / "streamed.csv").read_bytes() == (tmp_path / "stepped.csv").read_bytes()


def test_a_file_with_a_broken_line_can_be_refused_whole(tmp_path, model):
    source = export(tmp_path / "in.csv", rows=10)
    append_lines(source, "F,200,1")
    refused = scoring.score_file(
        source, tmp_path / "out.csv", model, max_seconds=3600,
        refuse_broken=True,
    )  # fmt: skip
    assert (refused.refused, refused.rows_scored, refused.lines_broken) == (True, 0, 1)
    assert refused.problems[0][0] == 11  # ten visits, no header: the eleventh line
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize(
    "how", ["same path", "another spelling", "symlink", "hard link", "rejected"]
)
def test_scoring_never_overwrites_its_own_input(tmp_path, model, how):
    source = write_export(simulate(20, seed=5), tmp_path / "in.csv")
    content = source.read_bytes()
    out = {
        "same path": source,
        "another spelling": tmp_path / "." / ".." / tmp_path.name / "in.csv",
        "symlink": tmp_path / "link.csv",
        "hard link": tmp_path / "hard.csv",
        "rejected": tmp_path / "in",  # its rejected lines would go to in.rejected.csv...
    }[how]
    if how == "symlink":
        out.symlink_to(source)
    elif how == "hard link":
        out.hardlink_to(source)
    elif how == "rejected":
        source = source.rename(tmp_path / "in.rejected.csv")  # ... which is the input
    with pytest.raises(JuiceError, match="is the input"):
        score(model, source, out)
    assert source.read_bytes() == content


def test_rejected_lines_are_inert_in_a_spreadsheet(tmp_path, model):
    source = write_export(simulate(5, seed=5), tmp_path / "in.csv")
    append_lines(source, '=HYPERLINK("http://evil.example","x")')
    result = score(model, source, tmp_path / "out.csv")
    rejected = pl.read_csv(result.rejected)
    assert rejected["raw"].to_list() == ['\'=HYPERLINK("http://evil.example","x")']
