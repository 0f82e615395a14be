"""Context notes on targets (rule 1): a target missed three months running, a chronic miss after
this month's news, back on target after a streak, and several streaks merged into one line."""

from __future__ import annotations

import pytest

from scorecards.notes.rules import SEVERITY
from tests.notes_env import NA, gen, row, rules, streak

# --- rule 1: target missed 3 months running ---------------------------------------------------


def test_target_missed_three_months_de_and_en() -> None:
    rows = streak("csat", [76.2, 77.0, 78.9], 80)
    (de,) = gen(*rows)
    assert de.rule == "target_missed_3_months" and de.kpis == ("csat",) and not de.manual
    assert (
        de.text
        == "CSAT liegt seit 3 Monaten unter dem Ziel (zuletzt 76,2\u00a0% gegen 80,0\u00a0%)."
    )
    (en,) = gen(*rows, locale="en")
    assert en.text == "CSAT has been below target for 3 months running (latest 76.2% vs 80.0%)."


def test_target_missed_counts_the_whole_streak_and_knows_lower_is_better() -> None:
    rows = streak("first_response_time", [72.5, 70, 66, 61, 64, 55], 60)
    (note,) = gen(*rows)
    assert note.text.startswith("FRT liegt seit 5 Monaten über dem Zielwert")
    assert "72,5\u00a0Min. gegen höchstens 60,0\u00a0Min." in note.text
    (en,) = gen(*rows, locale="en")
    assert "above its target for 5 months running" in en.text


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param(streak("csat", [76, 77], 80), id="only-two-months"),
        pytest.param(streak("csat", [76, 77, 78], 80)[::2], id="a-month-missing"),
        pytest.param(streak("csat", [76, 77, 82], 80), id="met-two-months-ago"),
        pytest.param(streak("csat", [80, 77, 78], 80), id="equal-to-target-is-met"),
        pytest.param(streak("csat", [76, 77, 78], None), id="no-target"),
        pytest.param(streak("churn_rate", [1.5001, 1.6, 1.7], 1.5), id="missed-below-precision"),
        pytest.param(streak("csat", [76, NA, 78], 80), id="no-value-last-month"),
        pytest.param(streak("csat", [76, 77, 78], 80, n=20), id="too-few-responses-to-judge"),
        pytest.param(streak("ticket_volume", [100, 90, 80], 200), id="volume-has-no-direction"),
        pytest.param(streak("csat", [76, 77, 78], 80, team="billing"), id="another-team"),
    ],
)
def test_target_missed_does_not_fire(rows: list[dict]) -> None:
    assert "target_missed_3_months" not in rules(gen(*rows))


def test_target_missed_is_judged_at_the_precision_the_tile_shows() -> None:
    # 1.52 % against at most 1.50 % reads "1,5 % · Ziel 1,5 % ✓" on the tile: no note may
    # contradict it (v1 said "1,52 % gegen höchstens 1,50 %")
    assert gen(*streak("churn_rate", [1.52, 1.6, 1.7], 1.5)) == []
    (note,) = gen(*streak("churn_rate", [1.56, 1.6, 1.7], 1.5))
    assert note.text.endswith("(zuletzt 1,6\u00a0% gegen höchstens 1,5\u00a0%).")


def test_a_chronic_miss_ranks_after_this_months_real_change() -> None:
    chronic = streak("first_contact_resolution", [70, 71, 72, 70, 71, 72], 75)
    fresh = streak("csat", [76.2, 77.0, 78.9], 80)
    real = row("escalation_rate", 9.0, prev=5.0, sig=True)
    notes = gen(*chronic, *fresh, real)
    assert [n.kpis[0] for n in notes] == ["csat", "escalation_rate", "first_contact_resolution"]
    assert notes[2].rule == "target_missed_3_months"
    assert notes[2].severity == SEVERITY["target_missed_chronic"]


def test_target_missed_needs_the_target_of_each_month() -> None:
    rows = streak("csat", [76, 77, 78], 80)
    rows[1]["target"] = None  # the target was introduced only last month
    assert gen(*rows) == []


def test_back_on_target_after_a_streak() -> None:
    (note,) = gen(*streak("csat", [81.3, 77, 78, 79], 80))
    assert note.rule == "target_met_again"
    assert note.text == (
        "CSAT erreicht das Ziel wieder (81,3\u00a0% gegen 80,0\u00a0%), "
        "nach 3 Monaten in Folge daneben."
    )
    (en,) = gen(*streak("csat", [81.3, 77, 78, 79], 80), locale="en")
    assert en.text == "CSAT is back on target (81.3% vs 80.0%) after missing it 3 months running."
    assert gen(*streak("csat", [81.3, 77, 78], 80)) == []
    (exact,) = gen(*streak("csat", [80.0, 77, 78, 79], 80))
    assert "(80,0\u00a0% gegen 80,0\u00a0%)" in exact.text


# --- v2: repetitive target notes merged, streaks over the whole history -------------------------


def test_missed_targets_merge_into_one_note_with_every_streak() -> None:
    rows = streak("average_resolution_time", [50.4] * 24, 12)
    rows += streak("csat", [60.4] * 24, 88)
    rows += streak("first_contact_resolution", [61.0] * 13, 80)
    rows += streak("churn_rate", [1.4] * 9, 0.8)
    notes = gen(*rows, locale="en")
    assert rules(notes) == ["target_missed_3_months"]
    assert notes[0].text == (
        "ART, CSAT, FCR, and churn rate have missed their targets for 24, 24, 13, and 9 months "
        "(farthest: ART, 50.4\u00a0h vs at most 12.0\u00a0h)."
    )
    assert notes[0].kpis == (
        "average_resolution_time",
        "csat",
        "first_contact_resolution",
        "churn_rate",
    )
    (de,) = gen(*rows)
    assert de.text == (
        "ART, CSAT, FCR und Kundenabwanderungsrate verfehlen ihre Ziele seit 24, 24, 13 und 9 "
        "Monaten (am weitesten ART: 50,4\u00a0Std. gegen höchstens 12,0\u00a0Std.)."
    )


def test_new_streaks_and_chronic_ones_are_two_notes_and_equal_streaks_say_each() -> None:
    rows = streak("csat", [70.0] * 4, 80) + streak("nps", [5.0] * 4, 20)
    rows += streak("average_resolution_time", [30.0] * 8, 24)
    notes = gen(*rows)
    # equal streaks: the farther from its target first (NPS 15 of NPS_GAP_SCALE points, CSAT
    # 12.5 % of its target)
    assert [n.severity for n in notes] == [
        SEVERITY["target_missed_3_months"],
        SEVERITY["target_missed_chronic"],
    ]
    assert notes[0].text.startswith(
        "Net Promoter Score und CSAT verfehlen ihre Ziele seit jeweils 4 Monaten"
    )
    assert notes[1].text.startswith("ART liegt seit 8 Monaten über dem Zielwert")
