"""Context notes as a whole: robust against any history, manual notes first and verbatim, the
generated ones by severity and capped, and every rule and threshold described in the docs.
The rules one by one are in tests/test_notes_targets.py, test_notes_changes.py and
test_notes_combinations.py; the manual notes file in tests/test_notes_manual.py."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest

from scorecards.contract.kpi_catalog import ALL_TEAMS, KPI_IDS
from scorecards.notes import rows as notes_rows
from scorecards.notes import rules as notes_rules
from scorecards.notes import select as notes_select
from scorecards.notes.rows import RULE_KPIS
from scorecards.notes.rules import SEVERITY, Note
from scorecards.notes.select import MAX_GENERATED, context_notes, generated_notes
from scorecards.warehouse.schema import KPI_COLUMNS
from tests.notes_env import MONTH, REPO, TEAM, gen, row, rules, streak, table

# --- robustness -------------------------------------------------------------------------------


@pytest.mark.parametrize("kpi", ["at_risk_customers", "made_up_kpi"])
def test_kpis_the_rules_do_not_know_are_ignored(kpi: str) -> None:
    # rows that would give a target note and a change note to any KPI the rules judge
    rows = [row(kpi, 90, prev=10, sig=True, target=5, back=b) for b in range(4)]
    rows += [row(kpi, 90, n=5, back=4)]
    assert kpi not in RULE_KPIS
    assert gen(*rows) == []


def test_churn_and_detractor_share_are_judged_like_any_kpi() -> None:
    # Enterprise, November 2026: detractor share 13.7 % → 31.1 %, significant
    det = row("detractor_share", 31.1, prev=13.7, sig=True)
    (de,) = gen(det)
    assert de.rule == "change_significant" and de.kpis == ("detractor_share",)
    assert de.text.startswith(
        "Kritiker-Anteil +17,4\u00a0Pp. gegenüber Vormonat (jetzt 31,1\u00a0%)"
    )
    assert "echte Verschlechterung" in de.text
    (en,) = gen(det, locale="en")
    assert en.text.startswith("Detractor share +17.4\u00a0pp vs last month")
    risk = streak("at_risk_share", [9.0, 8.5, 8.2], 5.0)
    assert "Anteil mit hohem Abwanderungsrisiko liegt seit 3 Monaten" in gen(*risk)[0].text


def test_other_teams_and_later_months_are_ignored() -> None:
    rows = [r | {"team": "billing"} for r in streak("csat", [1, 2, 3], 80)]
    rows += [row("csat", 50, prev=90, sig=True, team=ALL_TEAMS)]
    rows += [row("csat", 50, prev=90, sig=True, back=-1)]  # next month: not yet
    assert gen(*rows) == []


def test_empty_and_all_missing_history() -> None:
    assert context_notes(pd.DataFrame(), TEAM, MONTH, "de") == []
    assert context_notes(pd.DataFrame(columns=list(KPI_COLUMNS)), TEAM, MONTH, "en") == []
    blank = [
        row(k, None, back=b, n=None, prev=None, target=None, sig=None)
        for k in KPI_IDS
        for b in range(4)
    ]
    with_na = [
        r | {"value": pd.NA, "change_significant": pd.NA, "low_sample": pd.NA} for r in blank
    ]
    assert gen(*blank) == [] and gen(*with_na) == []


def test_flags_read_from_csv_text() -> None:
    fcr = row("first_contact_resolution", 78.2, prev=81.3) | {
        "change_significant": "true",
        "low_sample": "false",
    }
    assert rules(gen(fcr)) == ["change_significant"]


@pytest.mark.parametrize("seed", range(20))
def test_random_histories_give_plain_complete_sentences(seed: int) -> None:
    """Any mix of gaps, NaNs, flags and unknown KPIs: no crash, no missing value printed."""
    rng = np.random.default_rng(seed)
    kpis = [*KPI_IDS, "at_risk_share", "detractor_share", "made_up_kpi"]
    rows = []
    for back in range(13):
        for kpi in kpis:
            if rng.random() < 0.1:
                continue

            def maybe(x: float) -> float | None:
                return None if rng.random() < 0.15 else x

            value = float(rng.uniform(0, 120))
            rows.append(
                row(
                    kpi,
                    maybe(value),
                    back=back,
                    n=maybe(float(rng.integers(0, 3000))),
                    prev=maybe(value * rng.uniform(0.5, 1.5)),
                    target=maybe(float(rng.uniform(0, 120))),
                    sig=[True, False, None][rng.integers(0, 3)],
                )
            )
    for locale in ("de", "en"):
        notes = gen(*rows, locale=locale, headline=("csat", "first_response_time"))
        assert len(notes) <= MAX_GENERATED
        assert [n.severity for n in notes] == sorted((n.severity for n in notes), reverse=True)
        for n in notes:
            assert re.search(r"[.?]$", n.text), n.text
            assert not re.search(r"\bnan\b|keine Daten|no data|<|>", n.text), n.text
            assert set(n.kpis) <= set(RULE_KPIS)


def test_unknown_locale_is_an_error() -> None:
    with pytest.raises(ValueError, match="locale"):
        context_notes(table(), TEAM, MONTH, "fr")


# --- ordering and manual notes ----------------------------------------------------------------


def _busy() -> list[dict]:
    """A month where seven rules fire."""
    return [
        *streak("csat", [76.2, 77.0, 78.9], 80),
        row("average_handling_time", 8.0, prev=9.5, sig=True),
        row("first_contact_resolution", 74.0, prev=77.1, sig=True),
        row("ticket_volume", 2560, n=2560, prev=2000, sig=True),
        row("first_response_time", 81, prev=60, sig=True),
        row("nps", 10, n=12),
        row("escalation_rate", 3.0, prev=5.0, sig=True),
        row("churn_rate", 1.0, prev=1.5, sig=False),
        *streak("average_resolution_time", [20, 30, 31, 32], 24),
    ]


def test_manual_first_then_by_severity_and_capped() -> None:
    manual = {"billing": ["not ours"], ALL_TEAMS: ["Für alle."], TEAM: ["Erst.", "Zweit."]}
    everything = generated_notes(table(*_busy()), TEAM, MONTH, "de")
    assert len(everything) > 6
    notes = gen(*_busy(), manual=manual)
    assert [n.text for n in notes[:3]] == ["Erst.", "Zweit.", "Für alle."]
    assert all(n.manual and n.rule == "manual" for n in notes[:3])
    generated = notes[3:]
    assert not any(n.manual for n in generated)
    assert generated == everything[:6]
    assert rules(generated)[:2] == ["target_missed_3_months", "faster_but_quality_fell"]
    assert [n.text for n in gen(*_busy(), manual=manual, max_generated=2)][3:] == [
        n.text for n in everything[:2]
    ]
    only_manual = gen(*_busy(), manual=manual, max_generated=0)
    assert len(only_manual) == 3 and all(n.manual for n in only_manual)


def test_manual_notes_must_be_lists_of_text() -> None:
    with pytest.raises(TypeError, match="list of texts"):
        context_notes(table(), TEAM, MONTH, "de", manual={TEAM: "Eine Notiz."})
    with pytest.raises(TypeError, match="must be text"):
        context_notes(table(), TEAM, MONTH, "de", manual={ALL_TEAMS: [42]})


def test_note_is_a_frozen_value() -> None:
    note = Note(rule="manual", text="x", manual=True)
    assert note.kpis == () and note.severity == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        note.text = "y"  # type: ignore[misc]


def test_docs_describe_every_rule_and_threshold() -> None:
    doc = (REPO / "docs" / "context-notes.md").read_text(encoding="utf-8")
    for rule in [*SEVERITY, "change_significant"]:
        assert f"`{rule.removesuffix('_better').removesuffix('_worse')}`" in doc, rule
    # each threshold where the code keeps it: the size of a change in rows, the rules' own
    # limits in rules, the cap on generated notes in select
    thresholds = {
        notes_rows: (
            "LARGE_SHARE_PP",
            "LARGE_SHARE_REL",
            "LARGE_NPS_POINTS",
            "LARGE_REL_CHANGE",
            "MIN_TIME_CHANGE",
            "HEADLINE_SCALE",
        ),
        notes_rules: (
            "TARGET_STREAK_MONTHS",
            "CHRONIC_MONTHS",
            "MAX_SIGNIFICANT_NOTES",
            "MAX_NOISE_NOTES",
            "TIME_MOVE_MIN",
            "VOLUME_MOVE_MIN",
            "AHT_DROP_MIN",
            "QUALITY_FALL_PP",
            "FCR_RISE_PP",
            "REOPEN_RISE_PP",
            "HEADLINE_BONUS",
        ),
        notes_select: ("MAX_GENERATED",),
    }
    assert sum(len(names) for names in thresholds.values()) == 18
    for module, names in thresholds.items():
        for name in names:
            # the doc states each threshold as `NAME` = value, so a changed constant shows here
            assert f"`{name}` = {getattr(module, name):g}" in doc, name
