"""What the pages say: probabilities, decisions, explanations and the model card in words."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from juice.schema import AGE, FEMALE_CODE, MALE_CODE, OUTSIDE_JUICE, SEX

SEX_WORDS = {MALE_CODE: "man", FEMALE_CODE: "woman"}  # the form's order


def sex_info() -> str:
    """What the sex codes mean, for the form: `M: man, F: woman`."""
    return ", ".join(f"{code}: {word}" for code, word in SEX_WORDS.items())


TOP_CONTRIBUTIONS = 5  # sentences under the chart; the chart shows every one


def plain(text: str) -> str:
    """`text` shown as written in a Markdown component: the service's words may hold
    characters Markdown would act on (`file`, max_seconds, <binary>)."""
    return re.sub(r"([\\`*_\[\]<>#|~])", r"\\\1", text)


def percentage(share: float | None, digits: int = 1) -> str:
    """A share in [0, 1] as `63.4%`; `–` when there is none (e.g. nobody reached)."""
    if share is None or not math.isfinite(share):
        return "–"
    return f"{share * 100:.{digits}f}%"


def decision_sentence(will_buy: bool, threshold: float) -> str:
    """The decision in words, at the served threshold."""
    if will_buy:
        return f"**Likely to buy**: at or above the service's threshold of {percentage(threshold)}"
    return f"**Unlikely to buy**: below the service's threshold of {percentage(threshold)}"


def prediction_markdown(prediction: dict[str, Any]) -> str:
    """The One visitor result: the probability, the decision, the model that made it."""
    return (
        f"## {percentage(prediction['probability'])} chance of buying\n\n"
        f"{decision_sentence(prediction['will_buy'], prediction['threshold'])} "
        f"(model v{prediction['model_version']})."
    )


def describe_visitor(sex: str, age: int) -> str:
    """`a man aged 34`."""
    return f"a {SEX_WORDS.get(sex, 'visitor')} aged {age}"


def reference_phrase(reference: dict[str, Any] | None) -> str:
    """Who the explanations compare with: `a man aged 34 who watched no ad`."""
    if not reference or SEX not in reference or AGE not in reference:
        return "the model's reference visitor, who watched no ad"
    return f"{describe_visitor(reference[SEX], reference[AGE])} who watched no ad"


def odds_effect(contribution: float) -> str:
    """A log-odds contribution as what it does to the odds: `raised the odds of buying by 35%`."""
    factor = math.exp(contribution)
    if factor >= 2:
        return f"multiplied the odds of buying by {factor:.1f}"
    change = round(abs(factor - 1) * 100)
    if change == 0:
        return "hardly changed the odds of buying"
    verb = "raised" if factor > 1 else "lowered"
    return f"{verb} the odds of buying by {change}%"


def top_contributions(contributions: dict[str, float], limit: int | None = None) -> list[str]:
    """The fields that moved this visitor's odds, largest absolute contribution first; the
    ones that contributed nothing (ads not watched) are left out."""
    moved = [field for field, value in contributions.items() if value != 0]
    moved.sort(key=lambda field: abs(contributions[field]), reverse=True)
    return moved[:limit]


def contribution_label(field: str, visit: dict[str, Any]) -> str:
    """A bar's label: `Mango ad, 120 s`, `Woman`, `Age 52`."""
    if field == SEX:
        return SEX_WORDS.get(visit.get(SEX, ""), "sex").capitalize()
    if field == AGE:
        return f"Age {visit.get(AGE)}"
    return f"{field.capitalize()} ad, {visit.get(field, 0)} s"


def contribution_sentence(
    field: str, contribution: float, visit: dict[str, Any], reference: dict[str, Any] | None
) -> str:
    """One field's contribution in a marketer's words, e.g.
    `Watching Mango for 120 s raised the odds of buying by 35%`."""
    effect = odds_effect(contribution)
    reference = reference or {}
    if field == SEX:
        sex = SEX_WORDS.get(visit.get(SEX, ""), "visitor")
        other = SEX_WORDS.get(reference.get(SEX, ""))
        return f"Being a {sex}" + (f" rather than a {other}" if other else "") + f" {effect}"
    if field == AGE:
        than = f" rather than {reference[AGE]}" if AGE in reference else ""
        return f"Being {visit.get(AGE)}{than} {effect}"
    seconds = visit.get(field, 0)
    if seconds:
        return f"Watching {field.capitalize()} for {seconds} s {effect}"
    return f"Not watching {field.capitalize()} {effect}"


def explanation_markdown(
    explanation: dict[str, Any], visit: dict[str, Any], reference: dict[str, Any] | None
) -> str:
    """Why this probability: the reference visitor, then a sentence per top contribution."""
    contributions = explanation["contributions"]
    base = percentage(_sigmoid(explanation["baseline"]))
    lines = [f"Compared with {reference_phrase(reference)} ({base} chance of buying):", ""]
    fields = top_contributions(contributions, TOP_CONTRIBUTIONS)
    lines += [f"- {contribution_sentence(f, contributions[f], visit, reference)}." for f in fields]
    if not fields:
        lines.append("- this visitor is the reference visitor: nothing moved the odds.")
    hidden = len(top_contributions(contributions)) - len(fields)
    if hidden > 0:
        lines += ["", f"{hidden} smaller effects are in the chart."]
    return "\n".join(lines)


def _sigmoid(log_odds: float) -> float:
    return 1 / (1 + math.exp(-log_odds))


# The model card.

METRIC_NAMES = {
    "roc_auc": "Ranking quality (ROC AUC, 0.5 = chance)",
    "average_precision": "Average precision",
    "precision": "Precision at the threshold (share of targeted who buy)",
    "recall": "Recall at the threshold (share of buyers targeted)",
    "fbeta": "F-beta",
}
PERCENT_METRICS = {"precision", "recall"}


def trained_at_text(trained_at: str | None) -> str:
    """`2026-11-30 03:15 UTC` from the card's ISO time (as given when it is not one)."""
    if not trained_at:
        return "an unknown time"
    try:
        moment = datetime.fromisoformat(trained_at)
    except ValueError:
        return trained_at
    text = moment.strftime("%Y-%m-%d %H:%M")
    if moment.utcoffset() is None:
        return text
    return f"{text} UTC" if not moment.utcoffset() else f"{text} (UTC{moment:%z})"


def metrics_rows(card: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, value) of the card's test metrics a marketer can read, in a fixed order."""
    metrics = card.get("metrics") or {}
    rows = []
    for key, name in METRIC_NAMES.items():
        if key not in metrics:
            continue
        if key == "fbeta" and card.get("beta") is not None:
            name = f"F-beta (β = {card['beta']:g}, weighs precision over recall)"
        value = metrics[key]
        rows.append((name, percentage(value) if key in PERCENT_METRICS else f"{value:.3f}"))
    return rows


def model_markdown(card: dict[str, Any]) -> str:
    """The Model tab's text: version, when, which data, the decision rule and test metrics."""
    tested = (card.get("rows") or {}).get("test") or (card.get("metrics") or {}).get("rows")
    lines = [
        f"### Model v{card.get('version', '?')}",
        "",
        (
            f"Trained on {trained_at_text(card.get('trained_at'))} from data version "
            f"`{card.get('dataset_version') or 'unknown'}`. It calls a visitor likely to buy "
            f"from a probability of {percentage(card.get('threshold'))}."
        ),
        "",
        *promotion_lines(card.get("promotion")),
        f"| Measured on {f'{int(tested):,} ' if tested else 'its '}test visitors | |",
        "| --- | --- |",
        *[f"| {name} | {value} |" for name, value in metrics_rows(card)],
    ]
    return "\n".join(lines)


def promotion_lines(promotion: dict[str, Any] | None) -> list[str]:
    """How the model became the champion; a warning when no gate judged it."""
    if not promotion:
        return []
    if promotion.get("by") == OUTSIDE_JUICE:
        return [f"**Made the champion outside juice**: {promotion.get('reason')}.", ""]
    when = trained_at_text(promotion["at"]) if promotion.get("at") else "an unknown time"
    return [f"Champion since {when}: {promotion.get('reason') or 'no reason kept'}.", ""]


def record_markdown(record: dict[str, Any]) -> str:
    """The Model tab's record: realised against promised, the expectation on visits
    not labelled yet, and the timeline of drift incidents and changes of champion."""
    exports = record.get("exports") or []
    since = trained_at_text(record.get("serving_since")) if record.get("serving_since") else None
    lines = [
        "### How it is doing",
        "",
        f"Serving since {since}." if since else "",
        "",
        "| | Precision | Recall |",
        "| --- | --- | --- |",
        (
            f"| Promised (its test visitors) | {percentage(record.get('promised_precision'))} | "
            f"{percentage(record.get('promised_recall'))} |"
        ),
        (
            f"| Realised on {len(exports)} labelled export(s) since | "
            f"{percentage(record.get('realised_precision'))} | "
            f"{percentage(record.get('realised_recall'))} |"
        ),
        (
            f"| Expected of the {record.get('traffic_targeted', 0):,} visitors it targeted, no "
            f"labels yet | {percentage(record.get('expected_precision'))} | – |"
        ),
    ]
    timeline = record.get("timeline") or []
    lines += ["", "### Drift incidents and model changes", ""]
    events = [f"- {trained_at_text(event.get('at'))}: {plain(str(event.get('words', '')))}"
              for event in timeline]  # fmt: skip
    lines += events or ["Nothing yet: no drift incident, no change of model."]
    return "\n".join(lines)


def effects_markdown(effects: list[dict[str, Any]], shown: int = 3) -> str:
    """The ads that move purchases most, up and down, in one paragraph."""
    if not effects:
        return "This model's card lists no per-ad effects."
    ranked = sorted(effects, key=lambda effect: effect["uplift"], reverse=True)
    up = [e for e in ranked if e["uplift"] > 0][:shown]
    down = [e for e in ranked[::-1] if e["uplift"] < 0][:shown]
    parts = []
    if up:
        parts.append("Ads that raise purchases most: " + ", ".join(map(_effect_phrase, up)) + ".")
    if down:
        parts.append("Ads that lower them: " + ", ".join(map(_effect_phrase, down)) + ".")
    parts.append(
        "Each figure is the average change in the probability of buying, in percentage points, "
        "when a visitor watches that ad for its typical time instead of not at all."
    )
    return " ".join(parts)


def _effect_phrase(effect: dict[str, Any]) -> str:
    return f"{effect['flavour'].capitalize()} ({effect['uplift'] * 100:+.1f} points)"
