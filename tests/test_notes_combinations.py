"""Context notes that read KPIs together (rules 3 to 6): time moving with volume, faster but
worse, closed rather than solved, and too few survey responses to read."""

from __future__ import annotations

import pytest

from scorecards.contract.kpi_catalog import LOW_SAMPLE_N
from tests.notes_env import NA, gen, row, rules

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
