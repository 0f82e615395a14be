"""Context notes: every rule fires on hand-built KPI rows, stays silent when it should, and
speaks both languages; manual notes load strictly and come first, verbatim."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scorecards.config.settings import ConfigError, load_settings
from scorecards.contract.kpi_catalog import ALL_TEAMS, KPI_IDS, LOW_SAMPLE_N
from scorecards.core.periods import shift_month
from scorecards.notes import rules as N
from scorecards.notes.rules import Note, context_notes, generated_notes, load_manual_notes
from scorecards.warehouse.store import KPI_COLUMNS

REPO = Path(__file__).resolve().parent.parent
MONTH = "2026-10"
TEAM = "returns"
NA = float("nan")


def row(
    kpi: str,
    value: float | None,
    *,
    back: int = 0,
    n: float | None = 500,
    prev: float | None = None,
    target: float | None = None,
    sig: bool | None = None,
    team: str = TEAM,
) -> dict:
    """One team_kpis row `back` months before MONTH; low_sample follows n as in the engine."""
    return {
        "period": shift_month(MONTH, -back),
        "team": team,
        "kpi": kpi,
        "value": value,
        "n": n,
        "ci_low": None,
        "ci_high": None,
        "low_sample": None if n is None else n < LOW_SAMPLE_N,
        "prev_value": prev,
        "yoy_value": None,
        "target": target,
        "change_significant": sig,
    }


def table(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(KPI_COLUMNS))


def gen(
    *rows: dict, locale: str = "de", headline: tuple[str, ...] = (), **kw: object
) -> list[Note]:
    return context_notes(table(*rows), TEAM, MONTH, locale, headline=headline, **kw)


def rules(notes: list[Note]) -> list[str]:
    return [n.rule for n in notes]


def streak(kpi: str, values: list[float], target: float | None, **kw: object) -> list[dict]:
    """Rows for the last len(values) months, newest first, prev_value chained; the change
    untested, so that only the target rules can speak."""
    out = []
    for back, v in enumerate(values):
        prev = values[back + 1] if back + 1 < len(values) else None
        out.append(row(kpi, v, back=back, prev=prev, target=target, **kw))
    return out


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
    assert notes[2].severity == N.SEVERITY["target_missed_chronic"]


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
    assert len(real) == N.MAX_SIGNIFICANT_NOTES and len(noise) == N.MAX_NOISE_NOTES
    # the headline KPI first though others come earlier in the catalogue and moved as much
    assert real[0].kpis == ("self_service_rate",) and noise[0].kpis == ("ces",)
    # worse before better among the rest: falling resolution and FCR are bad news, falling
    # escalation and churn rates are good news and wait.
    assert sorted(n.kpis for n in real[1:3]) == [
        ("first_contact_resolution",),
        ("resolution_rate",),
    ]
    assert "Verbesserung" in real[3].text and "Verschlechterung" in real[2].text


# --- rule 3: time KPIs moving with volume -----------------------------------------------------


def test_time_moves_with_volume() -> None:
    vol = row("ticket_volume", 2560, n=2560, prev=2000, sig=True)
    frt = row("first_response_time", 81, prev=60, sig=True)
    (de,) = gen(vol, frt)
    assert de.rule == "time_moved_with_volume"
    assert de.kpis == ("first_response_time", "ticket_volume")
    assert de.text == (
        "FRT +35\u00a0% bei +28\u00a0% Ticket-Volumen gegenüber Vormonat: "
        "wahrscheinlich wegen der höheren Auslastung."
    )
    (en,) = gen(vol, frt, locale="en")
    assert en.text.startswith("FRT +35% while ticket volume +28% vs last month")


def test_time_moves_with_volume_lists_every_time_kpi_once_and_works_downwards() -> None:
    vol = row("ticket_volume", 1500, n=1500, prev=2000, sig=True)
    frt = row("first_response_time", 45, prev=60, sig=True)
    wait = row("wait_time", 6, prev=10, sig=None)  # untested: magnitude decides
    aht = row("average_handling_time", 6, prev=10, sig=True)  # handling time is not load-driven
    notes = gen(vol, frt, wait, aht, locale="en")
    volume = [n for n in notes if n.rule == "time_moved_with_volume"]
    assert len(volume) == 1
    assert volume[0].text.startswith("FRT \u221225% and wait time \u221240% while ticket volume")
    assert volume[0].text.endswith("likely due to the lower workload.")
    # the volume note already explains FRT, wait time and volume: no second note on them
    assert all(n.kpis == ("average_handling_time",) for n in notes if n is not volume[0])


@pytest.mark.parametrize(
    ("vol", "frt"),
    [
        pytest.param((2560, 2000, True), (45, 60, True), id="opposite-directions"),
        pytest.param((2100, 2000, True), (81, 60, True), id="volume-moved-too-little"),
        pytest.param((2560, 2000, True), (66, 60, True), id="time-moved-too-little"),
        pytest.param((2560, 2000, True), (81, 60, False), id="time-change-is-noise"),
        pytest.param((NA, 2000, None), (81, 60, True), id="no-volume"),
        pytest.param((2560, None, None), (81, 60, True), id="no-volume-last-month"),
    ],
)
def test_time_with_volume_stays_silent(vol: tuple, frt: tuple) -> None:
    rows = (
        row("ticket_volume", vol[0], n=vol[0], prev=vol[1], sig=vol[2]),
        row("first_response_time", frt[0], prev=frt[1], sig=frt[2]),
    )
    assert "time_moved_with_volume" not in rules(gen(*rows))


# --- rules 4 and 5: faster but worse, closed rather than solved -------------------------------


def test_faster_but_fcr_fell() -> None:
    aht = row("average_handling_time", 8.0, prev=9.5, sig=True)
    fcr = row("first_contact_resolution", 74.0, prev=77.1, sig=True)
    csat = row("csat", 78.0, prev=80.5, sig=None)
    (de,) = gen(aht, fcr, csat)
    assert de.rule == "faster_but_quality_fell"
    assert de.kpis == ("average_handling_time", "first_contact_resolution", "csat")
    assert de.text == (
        "AHT \u221216\u00a0%, zugleich FCR \u22123,1\u00a0Pp. und CSAT \u22122,5\u00a0Pp. "
        "gegenüber Vormonat: schneller, aber mehr Wiederholungskontakte?"
    )
    (en,) = gen(aht, fcr, csat, locale="en")
    assert en.text == (
        "AHT \u221216% while FCR \u22123.1\u00a0pp and CSAT \u22122.5\u00a0pp vs last month: "
        "faster, but more repeat contacts?"
    )


def test_faster_but_only_csat_fell() -> None:
    aht = row("average_handling_time", 8.0, prev=9.5, sig=True)
    csat = row("csat", 78.0, prev=80.5, sig=True)
    (en,) = gen(aht, csat, locale="en")
    assert en.text.endswith("faster, but less satisfied customers?")


@pytest.mark.parametrize(
    ("aht", "fcr"),
    [
        pytest.param((8.0, 9.5, True), (79.0, 77.1, True), id="fcr-rose"),
        pytest.param((8.0, 9.5, True), (76.6, 77.1, True), id="fcr-fell-too-little"),
        pytest.param((8.0, 9.5, True), (74.0, 77.1, False), id="fcr-fall-is-noise"),
        pytest.param((9.3, 9.5, True), (74.0, 77.1, True), id="aht-fell-too-little"),
        pytest.param((8.0, 9.5, False), (74.0, 77.1, True), id="aht-fall-is-noise"),
        pytest.param((10.0, 9.5, True), (74.0, 77.1, True), id="slower"),
    ],
)
def test_faster_but_worse_stays_silent(aht: tuple, fcr: tuple) -> None:
    rows = (
        row("average_handling_time", aht[0], prev=aht[1], sig=aht[2]),
        row("first_contact_resolution", fcr[0], prev=fcr[1], sig=fcr[2]),
    )
    assert "faster_but_quality_fell" not in rules(gen(*rows))


def test_faster_but_csat_on_too_few_responses_is_not_evidence() -> None:
    aht = row("average_handling_time", 8.0, prev=9.5, sig=True)
    csat = row("csat", 70.0, n=12, prev=80.5, sig=None)
    assert rules(gen(aht, csat)) == ["survey_too_few_responses", "change_significant"]


def test_closed_rather_than_solved() -> None:
    fcr = row("first_contact_resolution", 79.0, prev=77.0, sig=True)
    reopen = row("reopen_rate", 6.2, prev=5.0, sig=True)
    (de,) = gen(fcr, reopen)
    assert de.rule == "closed_rather_than_solved"
    assert de.text == (
        "FCR +2,0\u00a0Pp., aber auch Wiedereröffnungsquote +1,2\u00a0Pp. gegenüber Vormonat: "
        "eher geschlossen als gelöst?"
    )
    (en,) = gen(fcr, reopen, locale="en")
    assert en.text == (
        "FCR +2.0\u00a0pp but the reopen rate +1.2\u00a0pp vs last month: "
        "closed rather than solved?"
    )


@pytest.mark.parametrize(
    "reopen",
    [(4.5, 5.0, True), (5.3, 5.0, True), (6.2, 5.0, False), (NA, 5.0, None)],
    ids=["reopen-fell", "reopen-rose-too-little", "reopen-rise-is-noise", "no-reopen-value"],
)
def test_closed_rather_than_solved_stays_silent(reopen: tuple) -> None:
    fcr = row("first_contact_resolution", 79.0, prev=77.0, sig=True)
    r = row("reopen_rate", reopen[0], prev=reopen[1], sig=reopen[2])
    assert "closed_rather_than_solved" not in rules(gen(fcr, r))


# --- rule 6: too few survey responses ---------------------------------------------------------


def test_too_few_survey_responses_in_one_note() -> None:
    rows = (
        row("csat", 70.0, n=12, prev=80, sig=False),
        row("nps", NA, n=0),
        row("ces", 5.1, n=LOW_SAMPLE_N),  # exactly at the limit: readable
        row("self_service_rate", 50.0, n=10),  # not a survey KPI
    )
    (de,) = gen(*rows)
    assert de.rule == "survey_too_few_responses" and de.kpis == ("csat", "nps")
    assert de.text == (
        "Zu wenige Umfrageantworten für eine belastbare Aussage: "
        "CSAT (n = 12) und Net Promoter Score (n = 0)."
    )
    (en,) = gen(*rows, locale="en")
    assert (
        en.text == "Too few survey responses to read: CSAT (n = 12) and Net Promoter Score (n = 0)."
    )


def test_survey_without_a_count_says_nothing() -> None:
    assert gen(row("csat", NA, n=None)) == []


# --- robustness -------------------------------------------------------------------------------


@pytest.mark.parametrize("kpi", ["at_risk_customers", "made_up_kpi"])
def test_kpis_the_rules_do_not_know_are_ignored(kpi: str) -> None:
    # rows that would give a target note and a change note to any KPI the rules judge
    rows = [row(kpi, 90, prev=10, sig=True, target=5, back=b) for b in range(4)]
    rows += [row(kpi, 90, n=5, back=4)]
    assert kpi not in N.RULE_KPIS
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
        assert len(notes) <= N.MAX_GENERATED
        assert [n.severity for n in notes] == sorted((n.severity for n in notes), reverse=True)
        for n in notes:
            assert re.search(r"[.?]$", n.text), n.text
            assert not re.search(r"\bnan\b|keine Daten|no data|<|>", n.text), n.text
            assert set(n.kpis) <= set(N.RULE_KPIS)


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
    assert len(real) == N.MAX_SIGNIFICANT_NOTES
    assert real[:2] == ["nps", "average_resolution_time"]


def test_significance_from_the_intervals_weighs_in() -> None:
    # two changes of the same size; the one far beyond the 5 % level ranks first
    a = row("escalation_rate", 7.0, prev=5.0, sig=True) | {"ci_low": 6.9, "ci_high": 7.1}
    b = row("reopen_rate", 7.0, prev=5.0, sig=True) | {"ci_low": 5.2, "ci_high": 8.8}
    prev_a = row("escalation_rate", 5.0, back=1) | {"ci_low": 4.9, "ci_high": 5.1}
    prev_b = row("reopen_rate", 5.0, back=1) | {"ci_low": 3.2, "ci_high": 6.8}
    notes = gen(b, a, prev_b, prev_a)
    assert [n.kpis[0] for n in notes] == ["escalation_rate", "reopen_rate"]
    rows = N.kpi_rows(table(a, prev_a, b, prev_b), TEAM, MONTH)
    assert (
        N.significance(
            rows[(MONTH, "escalation_rate")], rows[(N.shift_month(MONTH, -1), "escalation_rate")]
        )
        == N.SIGNIFICANCE_CAP
    )
    assert N.significance(rows[(MONTH, "reopen_rate")], None) == 1.0


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
        N.SEVERITY["target_missed_3_months"],
        N.SEVERITY["target_missed_chronic"],
    ]
    assert notes[0].text.startswith(
        "Net Promoter Score und CSAT verfehlen ihre Ziele seit jeweils 4 Monaten"
    )
    assert notes[1].text.startswith("ART liegt seit 8 Monaten über dem Zielwert")


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


# --- the manual notes file --------------------------------------------------------------------

TEAMS = ("billing", "returns")


def write_notes(tmp_path: Path, text: str, month: str = MONTH) -> Path:
    path = tmp_path / "notes" / f"{month}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_or_empty_file_means_no_manual_notes(tmp_path: Path) -> None:
    assert load_manual_notes(tmp_path, MONTH, TEAMS) == {}
    write_notes(tmp_path, "# nothing this month\n")
    assert load_manual_notes(tmp_path, MONTH, TEAMS) == {}


def test_load_team_and_all_notes(tmp_path: Path) -> None:
    write_notes(
        tmp_path,
        "teams:\n"
        "  returns:\n"
        "    - Neues Retourenportal seit 6. Oktober.\n"
        "    - |\n"
        "      Zwei Kolleginnen in Elternzeit.\n"
        "  billing:\n"
        "all:\n"
        "  - 'Tarifwechsel am 1.10.: mehr Rückfragen: erwartbar.'\n",
    )
    assert load_manual_notes(tmp_path, MONTH, TEAMS) == {
        "returns": ["Neues Retourenportal seit 6. Oktober.", "Zwei Kolleginnen in Elternzeit."],
        ALL_TEAMS: ["Tarifwechsel am 1.10.: mehr Rückfragen: erwartbar."],
    }


def test_markup_in_a_note_is_kept_verbatim(tmp_path: Path) -> None:
    evil = '<img src="file:///etc/passwd"> & <script>alert(1)</script>'
    write_notes(tmp_path, f"teams:\n  returns:\n    - '{evil}'\n")
    manual = load_manual_notes(tmp_path, MONTH, TEAMS)
    assert manual == {"returns": [evil]}
    (note,) = context_notes(table(), TEAM, MONTH, "de", manual=manual)
    assert note.text == evil and note.manual


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("teams: [returns\n", r"2026-10\.yaml: not valid YAML"),
        ("- a note\n", r"2026-10\.yaml: expected a mapping"),
        ("team:\n  returns: [x]\n", r"2026-10\.yaml: team: unknown key"),
        ("teams:\n  retruns: [x]\n", r"2026-10\.yaml: teams\.retruns: unknown team id; known: "),
        ("teams:\n  ALL: [x]\n", r"2026-10\.yaml: teams\.ALL: .*top-level key 'all'"),
        ("teams: [returns]\n", r"2026-10\.yaml: teams: expected a mapping"),
        ("teams:\n  returns: just one\n", r"2026-10\.yaml: teams\.returns: expected a list"),
        ("teams:\n  returns:\n    - ok\n    - 42\n", r"teams\.returns\[1\]: .*int 42"),
        ("all:\n  - 2026-10-06\n", r"2026-10\.yaml: all\[0\]: a note must be text, got date"),
        ("all:\n  - {a: b}\n", r"all\[0\]: a note must be text, got dict"),
        ("all:\n  - '  '\n", r"all\[0\]: empty note"),
        ("teams:\n  returns: [a]\n  returns: [b]\n", r"not valid YAML.*'returns' appears twice"),
    ],
)
def test_bad_notes_file_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    write_notes(tmp_path, text)
    with pytest.raises(ConfigError, match=re.compile(message, re.S)):
        load_manual_notes(tmp_path, MONTH, TEAMS)


def test_shipped_example_loads_against_the_real_teams() -> None:
    settings = load_settings(config_dir=REPO / "config")
    manual = load_manual_notes(REPO / "config", "2026-10", settings.teams)
    assert list(manual) == ["returns"] and len(manual["returns"]) == 1
    assert settings.teams["returns"].locale == "de"
    assert "Retour" in manual["returns"][0]


def test_docs_describe_every_rule_and_threshold() -> None:
    doc = (REPO / "docs" / "context-notes.md").read_text(encoding="utf-8")
    for rule in [*N.SEVERITY, "change_significant"]:
        assert f"`{rule.removesuffix('_better').removesuffix('_worse')}`" in doc, rule
    for name in (
        "TARGET_STREAK_MONTHS",
        "LARGE_SHARE_PP",
        "LARGE_SHARE_REL",
        "LARGE_NPS_POINTS",
        "LARGE_REL_CHANGE",
        "MIN_TIME_CHANGE",
        "HEADLINE_SCALE",
        "CHRONIC_MONTHS",
        "MAX_SIGNIFICANT_NOTES",
        "MAX_NOISE_NOTES",
        "TIME_MOVE_MIN",
        "VOLUME_MOVE_MIN",
        "AHT_DROP_MIN",
        "QUALITY_FALL_PP",
        "FCR_RISE_PP",
        "REOPEN_RISE_PP",
        "MAX_GENERATED",
        "HEADLINE_BONUS",
    ):
        # the doc states each threshold as `NAME` = value, so a changed constant shows here
        assert f"`{name}` = {getattr(N, name):g}" in doc, name
