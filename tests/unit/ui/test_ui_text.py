"""The web app's plain helpers: wording, the visitor form, targeting, scored-file reports."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pytest

from juice.schema import FLAVOURS, OUTSIDE_JUICE
from ui import charts
from ui.access import check_binding, is_loopback, parse_users
from ui.client import ScoredFile
from ui.form import ad_groups, flavour_label, visit_from_form
from ui.report import file_report, report_markdown, scored_file_name
from ui.targeting import (
    TargetingRow,
    campaign,
    campaign_markdown,
    nearest_reach,
    nearest_threshold,
    targeting_rows,
)
from ui.text import (
    contribution_sentence,
    effects_markdown,
    explanation_markdown,
    model_markdown,
    odds_effect,
    percentage,
    plain,
    prediction_markdown,
    reference_phrase,
    top_contributions,
    trained_at_text,
)

REFERENCE = {"sex": "M", "age": 34}


@pytest.mark.parametrize(
    ("share", "text"),
    [(0.634, "63.4%"), (0.63449, "63.4%"), (0.00049, "0.0%"), (1.0, "100.0%"), (0, "0.0%"),
     (None, "–"), (math.nan, "–")],
)  # fmt: skip
def test_percentages_have_one_decimal(share, text):
    assert percentage(share) == text


def test_the_prediction_reads_as_a_percentage_and_a_decision():
    prediction = {"probability": 0.6342, "will_buy": True, "threshold": 0.5, "model_version": "3"}
    text = prediction_markdown(prediction)
    assert "63.4% chance of buying" in text
    assert "Likely to buy" in text
    assert "50.0%" in text
    assert "v3" in text
    below = prediction_markdown(prediction | {"probability": 0.2, "will_buy": False})
    assert "20.0%" in below
    assert "Unlikely to buy" in below


@pytest.mark.parametrize(
    ("factor", "words"),
    [(1.35, "raised the odds of buying by 35%"), (0.8, "lowered the odds of buying by 20%"),
     (3.14, "multiplied the odds of buying by 3.1"), (1.001, "hardly changed the odds of buying"),
     (0.05, "lowered the odds of buying by 95%")],
)  # fmt: skip
def test_a_contribution_is_said_as_what_it_does_to_the_odds(factor, words):
    assert odds_effect(math.log(factor)) == words


def test_contribution_sentences_name_the_ad_the_seconds_and_the_reference():
    visit = {"sex": "F", "age": 52, "mango": 120}
    assert (
        contribution_sentence("mango", math.log(1.35), visit, REFERENCE)
        == "Watching Mango for 120 s raised the odds of buying by 35%"
    )
    assert (
        contribution_sentence("sex", math.log(1.2), visit, REFERENCE)
        == "Being a woman rather than a man raised the odds of buying by 20%"
    )
    assert (
        contribution_sentence("age", math.log(0.9), visit, REFERENCE)
        == "Being 52 rather than 34 lowered the odds of buying by 10%"
    )
    assert contribution_sentence("age", math.log(0.9), visit, None).startswith("Being 52 lowered")


def test_top_contributions_are_the_largest_in_absolute_value_without_the_zeros():
    contributions = {"sex": 0.1, "age": -0.5, "mango": 0.3, "apple": 0.0, "lime": -0.05}
    assert top_contributions(contributions) == ["age", "mango", "sex", "lime"]
    assert top_contributions(contributions, 2) == ["age", "mango"]


def test_the_explanation_says_who_the_reference_visitor_is():
    contributions = dict.fromkeys(("sex", "age", *FLAVOURS), 0.0)
    contributions |= {"mango": math.log(1.35), "age": math.log(0.9)}
    explanation = {"baseline": 0.0, "contributions": contributions}
    text = explanation_markdown(explanation, {"sex": "M", "age": 52, "mango": 120}, REFERENCE)
    assert text.startswith("Compared with a man aged 34 who watched no ad (50.0% chance")
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert lines == [
        "- Watching Mango for 120 s raised the odds of buying by 35%.",
        "- Being 52 rather than 34 lowered the odds of buying by 10%.",
    ]
    assert reference_phrase(None) == "the model's reference visitor, who watched no ad"


def test_only_the_top_five_contributions_get_a_sentence():
    contributions = {flavour: 0.1 * (i + 1) for i, flavour in enumerate(FLAVOURS[:8])}
    visit = {"sex": "F", "age": 30} | dict.fromkeys(FLAVOURS[:8], 10)
    text = explanation_markdown({"baseline": -1, "contributions": contributions}, visit, REFERENCE)
    assert text.count("\n- ") == 5
    assert "3 smaller effects" in text
    assert "Watching Banana" not in text
    assert "Watching Cantaloupe" in text


def test_the_model_card_in_words():
    card = {
        "version": "7", "threshold": 0.42, "beta": 0.3, "dataset_version": "abc123",
        "trained_at": "2026-11-30T03:15:56+00:00", "rows": {"test": 609},
        "metrics": {"roc_auc": 0.81234, "average_precision": 0.5, "precision": 0.7619,
                    "recall": 0.1322, "fbeta": 0.55},
    }  # fmt: skip
    text = model_markdown(card)
    for words in ("Model v7", "2026-11-30 03:15 UTC", "`abc123`", "42.0%", "609 test visitors",
                  "| 0.812 |", "| 76.2% |", "| 13.2% |", "β = 0.3"):  # fmt: skip
        assert words in text
    assert trained_at_text("yesterday") == "yesterday"


def test_the_ads_that_move_purchases_most_are_named_first():
    uplifts = {"peach": -0.05, "mango": 0.13, "lime": 0.0, "lychee": 0.35}
    effects = [{"flavour": f, "seconds": 30, "uplift": u} for f, u in uplifts.items()]
    text = effects_markdown(effects)
    assert "Lychee (+35.0 points), Mango (+13.0 points)." in text
    assert "lower them: Peach (-5.0 points)." in text
    assert "Lime" not in text
    assert effects_markdown([]).startswith("This model's card lists no")


def test_the_services_words_are_shown_as_written_not_as_markdown():
    words = "send `file`, not max_seconds_x or *this* <here> [a](b) # | ~ \\"
    assert plain(words) == (
        "send \\`file\\`, not max\\_seconds\\_x or \\*this\\* \\<here\\> \\[a\\](b) "
        "\\# \\| \\~ \\\\"
    )


# The visitor form.


def test_each_flavour_has_one_control_labelled_with_its_name_in_some_accordion():
    groups = ad_groups()
    assert [f for _, flavours in groups for f in flavours] == list(FLAVOURS)
    assert [title for title, _ in groups] == ["Ads A–B", "Ads C–L", "Ads M–P", "Ads Q–Z"]
    assert flavour_label("apple") == "Apple"
    assert flavour_label("strawberries") == "Strawberries"


def test_the_form_gives_the_visit_with_the_ads_watched_only():
    seconds = dict.fromkeys(FLAVOURS, 0) | {"mango": 120.0, "lime": None}
    assert visit_from_form("F", 41.0, seconds) == {"sex": "F", "age": 41, "mango": 120}


@pytest.mark.parametrize(
    ("sex", "age", "seconds", "words"),
    [(None, 40, {}, "Choose the visitor's sex"),
     ("M", 17, {}, "Age must be a whole number between 18 and 100; it is 17"),
     ("M", 30.5, {}, "Age must be a whole number"), ("M", None, {}, "Age must be"),
     ("M", 30, {"mango": -1}, "Mango must be a whole number of at least 0"),
     ("M", 30, {"lime": math.inf}, "Lime must be a whole number")],
)  # fmt: skip
def test_the_form_refuses_what_the_service_would_with_a_sentence(sex, age, seconds, words):
    with pytest.raises(ValueError, match=words):
        visit_from_form(sex, age, seconds)


def test_the_form_applies_the_services_seconds_bound_when_it_knows_it():
    assert visit_from_form("F", 41, {"mango": 3600}, max_seconds=3600)["mango"] == 3600
    assert visit_from_form("F", 41, {"mango": 10**12})["mango"] == 10**12  # the service judges
    bound = "Mango must be a whole number between 0 and 3,600; it is 1,000,000,000,000"
    with pytest.raises(ValueError, match=bound):
        visit_from_form("F", 41, {"mango": 10**12}, max_seconds=3600)


# Targeting.

ROWS = [
    TargetingRow(0.1, 0.3, 0.95, 0.6),
    TargetingRow(0.3, 0.5, 0.7, 0.3),
    TargetingRow(0.5, 0.7, 0.4, 0.1),
    TargetingRow(0.7, None, 0.0, 0.0),
]


def test_targeting_rows_come_sorted_and_are_none_for_an_old_card():
    table = [{"threshold": 0.5, "precision": 0.7, "recall": 0.4, "reach": 0.1},
             {"threshold": 0.1, "precision": 0.3, "recall": 0.95, "reach": 0.6}]  # fmt: skip
    assert [row.threshold for row in targeting_rows({"targeting": table})] == [0.1, 0.5]
    assert targeting_rows({"version": "1"}) is None
    assert targeting_rows({"targeting": []}) is None


@pytest.mark.parametrize(
    ("threshold", "expected"), [(0.0, 0.1), (0.39, 0.3), (0.41, 0.5), (0.9, 0.7)]
)
def test_a_threshold_moves_to_the_nearest_row(threshold, expected):
    assert nearest_threshold(ROWS, threshold).threshold == expected


@pytest.mark.parametrize(("reach", "expected"), [(1.0, 0.1), (0.2, 0.3), (0.19, 0.5), (0.0, 0.7)])
def test_a_reach_moves_to_the_nearest_row_the_higher_threshold_on_a_tie(reach, expected):
    assert nearest_reach(ROWS, reach).threshold == expected


def test_a_campaign_of_n_visitors():
    plan = campaign(ROWS[1], 10_000)
    assert (plan.reached, plan.buyers) == (3000, 1500)
    assert campaign(ROWS[3], 10_000).buyers is None
    text = campaign_markdown(ROWS[1], ROWS[2], 10_000, served_threshold=0.5)
    assert "**3,000 of 10,000** visitors (30.0%)" in text
    assert "about 1,500 buyers" in text
    assert "| **Your choice** | 30.0% | 3,000 (30.0%) | 50.0% | 70.0% | 1,500 |" in text
    assert "| Served now | 50.0% | 1,000 (10.0%) | 70.0% | 40.0% | 700 |" in text
    nearest = campaign_markdown(ROWS[1], ROWS[2], 10_000, served_threshold=0.512)
    assert "| Served now (at 51.2%; nearest measured row) | 50.0% |" in nearest


# A scored file.

HEADER = b"sex,age,apple,purchased,probability,will_buy\n"


def _scored(body: bytes, rejected: list[tuple[int, str]] = ()) -> ScoredFile:  # type: ignore[assignment]
    path = Path(tempfile.mkdtemp()) / "scored.csv"
    path.write_bytes(body)
    return ScoredFile(path, body.count(b"\n") - 1, len(rejected), list(rejected), "1")


def test_a_labelled_file_gets_precision_and_recall():
    body = (
        HEADER + b"M,30,0,Y,0.9,true\nF,40,0,N,0.8,true\nM,50,0,Y,0.2,false\nF,60,0,N,0.1,false\n"
    )
    report = file_report(_scored(body, [(7, "age: not a number")]))
    assert (report.rows_scored, report.rows_rejected, report.targeted) == (4, 1, 2)
    assert (report.precision, report.recall, report.buyers) == (0.5, 0.5, 2)
    np.testing.assert_allclose(report.probabilities, [0.9, 0.8, 0.2, 0.1])
    text = report_markdown(report)
    assert "**4** rows scored · **1** rejected · **2** would be targeted (50.0%" in text
    assert "precision **50.0%**" in text
    assert "recall **50.0%**" in text
    assert "rejected lines are listed below" in text


def test_a_file_without_labels_gets_no_precision():
    body = b"sex,age,apple,probability,will_buy\nM,30,0,0.9,true\n"
    report = file_report(_scored(body))
    assert not report.labelled
    assert report.precision is None
    assert "precision" not in report_markdown(report)


def test_nobody_targeted_means_no_precision_rather_than_a_division_by_zero():
    report = file_report(_scored(HEADER + b"M,30,0,Y,0.1,false\n"))
    assert report.precision is None
    assert report.recall == 0
    assert "nobody would be targeted" in report_markdown(report)


def test_the_scored_file_is_named_after_the_upload():
    assert scored_file_name("visits.csv") == "visits-scored.csv"
    assert scored_file_name("/tmp/x/export") == "export-scored.csv"


# Who may open the app.


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("192.168.1.5", False), ("::", False), ("example.com", False)],
)  # fmt: skip
def test_loopback_addresses(host, loopback):
    assert is_loopback(host) is loopback


def test_beyond_loopback_a_login_is_required():
    check_binding("127.0.0.1", [])
    check_binding("0.0.0.0", [("ann", "secret")])
    with pytest.raises(ValueError, match=r"0\.0\.0\.0.*without a login"):
        check_binding("0.0.0.0", [])


def test_users_are_given_as_user_colon_password():
    assert parse_users(["ann:s3:cret", "bob:pw"]) == [("ann", "s3:cret"), ("bob", "pw")]
    for bad in (["ann"], ["ann:"], [":pw"]):
        with pytest.raises(ValueError, match="user:password"):
            parse_users(bad)


# Charts.


def _bar_labels(figure) -> list[str]:
    return [label.get_text() for label in figure.axes[0].get_yticklabels()]


def test_the_contributions_chart_puts_the_largest_on_top():
    figure = charts.contributions_figure([("Mango ad, 120 s", 0.9), ("Age 52", -0.3)])
    assert _bar_labels(figure) == ["Age 52", "Mango ad, 120 s"]  # drawn bottom to top
    assert len(figure.axes[0].patches) == 2


def test_the_effects_chart_has_a_bar_per_ad_sorted_by_effect():
    effects = [
        {"flavour": f, "seconds": 30.0, "uplift": (i - 11) / 100} for i, f in enumerate(FLAVOURS)
    ]
    figure = charts.effects_figure(effects)
    assert len(figure.axes[0].patches) == len(FLAVOURS)
    assert _bar_labels(figure)[-1] == "Strawberries (30 s)"


def test_the_histogram_colours_the_targeted_rows():
    figure = charts.probability_histogram(np.array([0.1, 0.15, 0.8]), threshold=0.5)
    colours = {tuple(bar.get_facecolor()) for bar in figure.axes[0].patches if bar.get_height()}
    assert len(colours) == 2


# A campaign plan carried over to a scored file.


def scored_csv(path, probabilities):
    lines = ["sex,age,probability,will_buy"]
    lines += [f"F,{30 + n},{p:.6f},{str(p >= 0.5).lower()}" for n, p in enumerate(probabilities)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_plan_by_threshold_or_by_reach_marks_the_file_and_keeps_its_columns(tmp_path):
    from ui.targeting import Plan, plan_file, planned_markdown

    source = scored_csv(tmp_path / "scored.csv", [0.9, 0.1, 0.45, 0.7, 0.3, 0.5])
    by_threshold = plan_file(source, tmp_path / "t.csv", Plan("threshold", 0.45, 0.5, 100))
    assert (by_threshold.rows, by_threshold.targeted) == (6, 4)
    assert by_threshold.expected_precision == pytest.approx((0.9 + 0.45 + 0.7 + 0.5) / 4)
    assert by_threshold.expected_buyers == pytest.approx(2.55)
    written = (tmp_path / "t.csv").read_text().splitlines()
    assert written[0] == "sex,age,probability,will_buy,targeted"
    original = source.read_text().splitlines()
    assert [line.rsplit(",", 1)[0] for line in written] == original  # as the service gave them
    by_reach = plan_file(source, tmp_path / "r.csv", Plan("reach", 0.9, 0.5, 100))
    marked = [line.rsplit(",", 1)[1] for line in (tmp_path / "r.csv").read_text().splitlines()[1:]]
    assert marked == ["true", "false", "false", "true", "false", "true"]  # the top half
    assert "targets **3 of 6** visitors" in planned_markdown(Plan("reach", 0.9, 0.5, 100), by_reach)
    nobody = plan_file(source, tmp_path / "n.csv", Plan("threshold", 0.99, 0.0, 100))
    assert "targets nobody" in planned_markdown(Plan("threshold", 0.99, 0.0, 100), nobody)


def test_the_model_tab_says_how_the_model_became_the_champion():
    card = {"version": "3", "threshold": 0.6, "metrics": {}}
    by_gate = {"at": "2026-12-05T10:00:00+00:00", "by": "gate", "reason": "beats v2"}
    assert "Champion since" in model_markdown(card | {"promotion": by_gate})
    assert "beats v2" in model_markdown(card | {"promotion": by_gate})
    by_hand = {"at": "", "by": OUTSIDE_JUICE, "reason": "the alias was moved: no gate judged it"}
    text = model_markdown(card | {"promotion": by_hand})
    assert "**Made the champion outside juice**: the alias was moved: no gate judged it." in text
    assert "Champion since" not in model_markdown(card | {"promotion": None})
