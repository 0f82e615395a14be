"""Numbers, changes, months and dates as a German and an English reader expect them."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from scorecards.text import formatting as fmt

NB = "\u00a0"


@pytest.mark.parametrize(
    ("kpi", "value", "de", "en"),
    [
        ("csat", 81.25, f"81,2{NB}%", "81.2%"),
        ("csat", 1234.56, f"1.234,6{NB}%", "1,234.6%"),
        ("first_response_time", 42.46, f"42,5{NB}Min.", f"42.5{NB}min"),
        ("first_response_time", 1234.4, f"1.234{NB}Min.", f"1,234{NB}min"),
        ("average_resolution_time", 24.0, f"24,0{NB}Std.", f"24.0{NB}h"),
        ("ticket_volume", 12345, "12.345", "12,345"),
        ("nps", 12.3, "+12,3", "+12.3"),
        ("nps", -4.0, "\u22124,0", "\u22124.0"),
        ("ces", 5.432, "5,43", "5.43"),
    ],
)
def test_kpi_values(kpi: str, value: float, de: str, en: str) -> None:
    assert fmt.kpi_value(kpi, value, "de") == de
    assert fmt.kpi_value(kpi, value, "en") == en


def test_missing_values_say_so() -> None:
    assert fmt.kpi_value("csat", math.nan, "de") == "keine Daten"
    assert fmt.kpi_value("csat", None, "en") == "no data"
    assert fmt.kpi_delta("csat", math.nan, "en") == "no data"
    assert fmt.interval("csat", math.nan, 3.0, "de") == ""


def test_changes_are_signed_in_the_kpis_unit() -> None:
    assert fmt.kpi_delta("csat", -2.34, "de") == f"\u22122,3{NB}Pp."
    assert fmt.kpi_delta("csat", 2.34, "en") == f"+2.3{NB}pp"
    assert fmt.kpi_delta("nps", 3, "de") == f"+3,0{NB}Pkt."
    assert fmt.kpi_delta("first_response_time", 0.01, "en") == f"±0.0{NB}min"
    assert fmt.percent_change(0.353, "de") == f"+35{NB}%"
    assert fmt.percent_change(-0.28, "en") == "\u221228%"


def test_months_and_dates() -> None:
    assert fmt.month_name("2026-10", "de") == "Oktober 2026"
    assert fmt.month_name("2026-03", "de") == "März 2026"
    assert fmt.month_name("2026-10", "en") == "October 2026"
    assert fmt.month_name("2026-10", "de", short=True) == "Okt. 26"
    assert fmt.date(dt.date(2026, 10, 31), "en") == "Oct 31, 2026"
    assert fmt.date(dt.date(2026, 10, 31), "de") == "31.10.2026"


def test_interval() -> None:
    assert fmt.interval("csat", 78.12, 84.0, "de") == f"78,1–84,0{NB}%"
    assert fmt.interval("ces", 4.881, 5.35, "en") == "4.88–5.35"
    assert fmt.interval("nps", -44.3, -16.2, "de") == f"\u221244,3{NB}–{NB}\u221216,2"
