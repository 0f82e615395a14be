"""Context notes on changes against last month (rule 2): a real change or only noise, when a
change is large enough to say, and how real changes rank by size, significance and headline."""

from __future__ import annotations

import pytest

from scorecards.core.periods import shift_month
from scorecards.notes.rows import SIGNIFICANCE_CAP, kpi_rows, significance
from scorecards.notes.rules import MAX_NOISE_NOTES, MAX_SIGNIFICANT_NOTES
from tests.notes_env import MONTH, NA, TEAM, gen, row, rules, table

# --- rule 2: beyond the noise, or not ---------------------------------------------------------


def test_significant_change_is_called_real() -> None:
    fcr = row("first_contact_resolution", 78.2, prev=81.3, sig=True)
    (de,) = gen(fcr, headline=("first_contact_resolution",))
    assert de.rule == "change_significant"
    assert de.text == (
        "FCR \u22123,1\u00a0Pp. gegenüber Vormonat (jetzt 78,2\u00a0%): "
        "eine echte Verschlechterung, keine Zufallsschwankung."
    )
    (en,) = gen(fcr, locale="en")
    assert en.text == (
        "FCR \u22123.1\u00a0pp vs last month (now 78.2%): a real decline, not random variation."
    )
    up = row("csat", 84.0, prev=80.0, sig=True)
    assert "a real improvement" in gen(up, locale="en")[0].text


def test_change_within_noise() -> None:
    fcr = row("first_contact_resolution", 78.2, n=212, prev=81.3, sig=False)
    (de,) = gen(fcr)
    assert de.rule == "change_within_noise"
    assert de.text == (
        "FCR \u22123,1\u00a0Pp. gegenüber Vormonat, aber im Rahmen der Zufallsschwankung (n = 212)."
    )
    (en,) = gen(fcr, locale="en")
    assert en.text == "FCR \u22123.1\u00a0pp vs last month, but within random variation (n = 212)."


@pytest.mark.parametrize(
    "r",
    [
        pytest.param(row("first_contact_resolution", 80.5, prev=81.3, sig=False), id="small-noise"),
        pytest.param(row("escalation_rate", 5.2, prev=5.0, sig=True), id="small-real-not-headline"),
        pytest.param(row("first_contact_resolution", 70, prev=81, sig=None), id="untested"),
        pytest.param(row("first_contact_resolution", 70, prev=None, sig=True), id="no-last-month"),
        pytest.param(row("first_contact_resolution", NA, prev=81, sig=True), id="no-value"),
        pytest.param(row("escalation_rate", 9.0, n=25, prev=4.0, sig=True), id="low-sample"),
        pytest.param(row("average_handling_time", 9.0, prev=9.0, sig=True), id="no-change"),
    ],
)
def test_change_rules_stay_silent(r: dict) -> None:
    assert gen(r) == []


def test_headline_kpis_are_reported_from_half_the_large_size() -> None:
    half = row("escalation_rate", 6.0, prev=5.0, sig=True)  # +1 pp, +20 %: not large
    assert gen(half) == []
    assert rules(gen(half, headline=("escalation_rate",))) == ["change_significant"]
    tiny = row("escalation_rate", 5.2, prev=5.0, sig=True)
    assert gen(tiny, headline=("escalation_rate",)) == []


def test_a_time_change_under_a_minute_is_not_worth_a_line() -> None:
    # +29 % relative, and real, but 0.2 minutes
    frt = row("first_response_time", 0.9, prev=0.7, sig=True)
    assert gen(frt, headline=("first_response_time",)) == []
    art = row("average_resolution_time", 13.5, prev=12.0, sig=True)  # +1.5 h, +12.5 %
    assert "ART +1,5\u00a0Std. gegenüber Vormonat" in gen(art)[0].text


def test_volume_change_is_given_in_percent() -> None:
    vol = row("ticket_volume", 2300, n=2300, prev=2000, sig=True)
    (note,) = gen(vol, locale="en")
    assert note.text == (
        "Ticket volume +15% vs last month (now 2,300): a real change, not random variation."
    )


def test_relative_size_counts_for_small_rates() -> None:
    # Churn 1.2 % → 1.6 %: only 0.4 points but a third more customers lost.
    churn = row("churn_rate", 1.6, prev=1.2, sig=True)
    assert "eine echte Verschlechterung" in gen(churn)[0].text


def test_change_notes_headline_first_and_capped() -> None:
    shares = [
        "resolution_rate",
        "escalation_rate",
        "self_service_rate",
        "first_contact_resolution",
        "churn_rate",
    ]
    rows = [row(k, 40.0, prev=50.0, sig=True) for k in shares]
    rows += [row("wait_time", 20, prev=10, sig=False), row("nps", 10, prev=20, sig=False)]
    rows += [row("ces", 4.0, prev=5.0, sig=False)]
    notes = gen(*rows, headline=("self_service_rate", "ces"), max_generated=10)
    real = [n for n in notes if n.rule == "change_significant"]
    noise = [n for n in notes if n.rule == "change_within_noise"]
    assert len(real) == MAX_SIGNIFICANT_NOTES and len(noise) == MAX_NOISE_NOTES
    # the headline KPI first though others come earlier in the catalogue and moved as much
    assert real[0].kpis == ("self_service_rate",) and noise[0].kpis == ("ces",)
    # worse before better among the rest: falling resolution and FCR are bad news, falling
    # escalation and churn rates are good news and wait.
    assert sorted(n.kpis for n in real[1:3]) == [
        ("first_contact_resolution",),
        ("resolution_rate",),
    ]
    assert "Verbesserung" in real[3].text and "Verschlechterung" in real[2].text


def test_real_changes_rank_by_effect_size_and_the_headline_breaks_near_ties() -> None:
    rows = [
        row("escalation_rate", 7.0, prev=5.0, sig=True),  # +40 % relative: 1.6 x large
        row("self_service_rate", 20.0, prev=40.0, sig=True),  # −20 pp: 10 x large
    ]
    assert gen(*rows)[0].kpis == ("self_service_rate",)
    # a headline KPI weighs HEADLINE_WEIGHT more: not enough to hide a change six times larger
    assert gen(*rows, headline=("escalation_rate",))[0].kpis == ("self_service_rate",)
    close = [
        row("escalation_rate", 7.0, prev=5.0, sig=True),  # 1.6 x large, x 1.5 as headline
        row("reopen_rate", 8.6, prev=6.0, sig=True),  # +43 % relative: 1.73 x large
    ]
    assert gen(*close)[0].kpis == ("reopen_rate",)
    assert gen(*close, headline=("escalation_rate",))[0].kpis == ("escalation_rate",)


def test_a_collapse_is_not_cut_by_the_cap_in_favour_of_small_headline_moves() -> None:
    # Retouren, November 2026: NPS 0 → −45 and ART 30 → 45.5 h, both real, were cut by the
    # four-note cap in favour of headline moves such as reopen rate +2.3 pp.
    rows = [
        row("nps", -45.1, prev=0.0, sig=True),
        row("average_resolution_time", 45.5, prev=30.0, sig=True),
        row("reopen_rate", 8.6, prev=6.3, sig=True),
        row("first_contact_resolution", 71.0, prev=73.1, sig=True),
        row("first_response_time", 64.0, prev=58.0, sig=True),
        row("csat", 77.0, prev=79.0, sig=True),
    ]
    head = ("first_response_time", "first_contact_resolution", "reopen_rate", "csat")
    real = [n.kpis[0] for n in gen(*rows, headline=head) if n.rule == "change_significant"]
    assert len(real) == MAX_SIGNIFICANT_NOTES
    assert real[:2] == ["nps", "average_resolution_time"]


def test_significance_from_the_intervals_weighs_in() -> None:
    # two changes of the same size; the one far beyond the 5 % level ranks first
    a = row("escalation_rate", 7.0, prev=5.0, sig=True) | {"ci_low": 6.9, "ci_high": 7.1}
    b = row("reopen_rate", 7.0, prev=5.0, sig=True) | {"ci_low": 5.2, "ci_high": 8.8}
    prev_a = row("escalation_rate", 5.0, back=1) | {"ci_low": 4.9, "ci_high": 5.1}
    prev_b = row("reopen_rate", 5.0, back=1) | {"ci_low": 3.2, "ci_high": 6.8}
    notes = gen(b, a, prev_b, prev_a)
    assert [n.kpis[0] for n in notes] == ["escalation_rate", "reopen_rate"]
    rows = kpi_rows(table(a, prev_a, b, prev_b), TEAM, MONTH)
    assert (
        significance(
            rows[(MONTH, "escalation_rate")], rows[(shift_month(MONTH, -1), "escalation_rate")]
        )
        == SIGNIFICANCE_CAP
    )
    assert significance(rows[(MONTH, "reopen_rate")], None) == 1.0
