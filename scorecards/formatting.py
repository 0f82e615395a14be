"""Locale-aware formatting of KPI values, changes, months and dates (de, en) through Babel.

The scorecard, its charts, the context notes and the e-mails all format numbers here, so a value
reads the same everywhere: "1.234,5" and "Oktober 2026" in German, "1,234.5" and "October 2026"
in English. Missing values format as `NO_DATA[locale]`, never as "nan".
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal

from babel.dates import format_date as _babel_date
from babel.numbers import format_decimal

from scorecards.kpi_catalog import KPI_BY_ID, Kpi

Locale = Literal["de", "en"]

NO_DATA: dict[str, str] = {"de": "keine Daten", "en": "no data"}
MINUS = "\u2212"  # a real minus sign: a hyphen reads as a dash in running text
NBSP = "\u00a0"

# Short unit suffixes as printed after a value; "%" follows each locale's own spacing rule.
_UNIT_SUFFIX: dict[str, dict[str, str]] = {
    "minutes": {"de": f"{NBSP}Min.", "en": f"{NBSP}min"},
    "hours": {"de": f"{NBSP}Std.", "en": f"{NBSP}h"},
    "%": {"de": f"{NBSP}%", "en": "%"},
    "points": {"de": "", "en": ""},
    "score": {"de": "", "en": ""},
    "count": {"de": "", "en": ""},
}
# A change of a share is in percentage points, not percent.
_DELTA_SUFFIX: dict[str, dict[str, str]] = {
    **_UNIT_SUFFIX,
    "%": {"de": f"{NBSP}Pp.", "en": f"{NBSP}pp"},
    "points": {"de": f"{NBSP}Pkt.", "en": f"{NBSP}pts"},
}


def is_missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def digits_for(kpi: Kpi, value: float | None = None) -> int:
    """Decimals shown for a KPI: what its precision supports, no more."""
    if kpi.unit == "count":
        return 0
    if kpi.unit == "minutes":
        return 0 if value is not None and abs(value) >= 100 else 1
    if kpi.unit == "score":
        return 2
    return 1


def number(x: float | None, locale: str, digits: int = 1, signed: bool = False) -> str:
    """A number with grouping and exactly `digits` decimals; signed adds + or a true minus."""
    if is_missing(x):
        return NO_DATA[locale]
    assert x is not None
    q = round(float(x), digits)
    if q == 0:
        q = 0.0  # no "-0,0"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    text = format_decimal(abs(q), format=pattern, locale=locale)
    if q < 0:
        return MINUS + text
    return ("+" + text) if signed and q > 0 else (("±" + text) if signed else text)


def kpi_value(kpi_id: str, x: float | None, locale: str, unit: bool = True) -> str:
    """A KPI value with its unit: "42,5 Min.", "81,3 %", "+12,0" (NPS), "1.234"."""
    kpi = KPI_BY_ID[kpi_id]
    if is_missing(x):
        return NO_DATA[locale]
    assert x is not None
    text = number(x, locale, digits_for(kpi, x))
    if kpi.unit == "points" and x > 0:
        text = "+" + text
    return text + (_UNIT_SUFFIX[kpi.unit][locale] if unit else "")


def kpi_delta(kpi_id: str, delta: float | None, locale: str) -> str:
    """A signed change in the KPI's own unit (percentage points for shares)."""
    kpi = KPI_BY_ID[kpi_id]
    if is_missing(delta):
        return NO_DATA[locale]
    assert delta is not None
    return (
        number(delta, locale, digits_for(kpi, delta), signed=True) + _DELTA_SUFFIX[kpi.unit][locale]
    )


_JUDGEMENT: dict[str, dict[str, str]] = {
    "de": {"better": "besser", "worse": "schlechter", "unchanged": "unverändert"},
    "en": {"better": "better", "worse": "worse", "unchanged": "unchanged"},
}


def change(kpi_id: str, cur: float | None, ref: float | None, locale: str, label: str = "") -> dict:
    """A KPI's change against a reference value: arrow, signed change and whether it is better.

    "Unchanged" means unchanged at the digits shown, so the arrow never contradicts the text.
    Used by the scorecard tiles and tables and by the e-mail summary, so both say the same.
    """
    if is_missing(cur) or is_missing(ref) or not (math.isfinite(cur) and math.isfinite(ref)):
        return {"arrow": "", "text": NO_DATA[locale], "label": label, "judgement": ""}
    words = _JUDGEMENT[locale]
    d = cur - ref
    shown = kpi_delta(kpi_id, d, locale)
    if round(d, digits_for(KPI_BY_ID[kpi_id], d)) == 0:
        return {"arrow": "►", "text": shown, "label": label, "judgement": words["unchanged"]}
    better = KPI_BY_ID[kpi_id].better
    good = (d > 0) if better == "higher" else (d < 0) if better == "lower" else None
    judgement = "" if good is None else (words["better"] if good else words["worse"])
    return {"arrow": "▲" if d > 0 else "▼", "text": shown, "label": label, "judgement": judgement}


def percent_change(rel: float | None, locale: str, digits: int = 0) -> str:
    """A relative change given as a fraction (0.35 → "+35 %" in de, "+35%" in en)."""
    if is_missing(rel):
        return NO_DATA[locale]
    assert rel is not None
    return number(100 * rel, locale, digits, signed=True) + _UNIT_SUFFIX["%"][locale]


def interval(kpi_id: str, lo: float | None, hi: float | None, locale: str) -> str:
    """A 95% interval as "78,1–84,0 %"; empty when there is none."""
    if is_missing(lo) or is_missing(hi):
        return ""
    kpi = KPI_BY_ID[kpi_id]
    assert lo is not None and hi is not None
    d = digits_for(kpi, max(abs(lo), abs(hi)))
    # "−44,3–−16,2" misreads; spaced dashes keep negative bounds apart.
    dash = f"{NBSP}–{NBSP}" if lo < 0 or hi < 0 else "–"
    return f"{number(lo, locale, d)}{dash}{number(hi, locale, d)}{_UNIT_SUFFIX[kpi.unit][locale]}"


def count(n: float | int | None, locale: str) -> str:
    return number(n, locale, 0)


def month_name(month: str, locale: str, short: bool = False) -> str:
    """'2026-10' → 'Oktober 2026' / 'October 2026' ('Okt. 26' / 'Oct 26' when short)."""
    year, mon = (int(p) for p in month.split("-"))
    day = dt.date(year, mon, 1)
    return _babel_date(day, "MMM yy" if short else "LLLL yyyy", locale=locale)


def date(day: dt.date, locale: str) -> str:
    """A date in the locale's medium form: '1. Nov. 2026' / 'Nov 1, 2026'."""
    return _babel_date(day, "medium", locale=locale)


def kpi_label(kpi_id: str, locale: str) -> str:
    kpi = KPI_BY_ID[kpi_id]
    return kpi.label_de if locale == "de" else kpi.label_en


def kpi_short_label(kpi_id: str, locale: str) -> str:
    """The abbreviation a label carries in parentheses ("CSAT", "FRT"), else the whole label.

    Notes are read in seconds: "FCR −3,1 Pp." scans faster than the full name, and the
    scorecard next to them prints the full label with the same abbreviation.
    """
    label = kpi_label(kpi_id, locale)
    if label.endswith(")") and " (" in label:
        return label[label.rindex(" (") + 2 : -1]
    return label


def kpi_values_apart(kpi_id: str, a: float, b: float, locale: str) -> tuple[str, str]:
    """Two values of one KPI (value and target) formatted alike, with up to two more decimals
    where the usual ones would show different values the same: "1,52 % gegen 1,50 %" instead
    of a contradictory "1,5 % gegen 1,5 %"."""
    pair = (kpi_value(kpi_id, a, locale), kpi_value(kpi_id, b, locale))
    if pair[0] != pair[1] or is_missing(a) or is_missing(b) or a == b:
        return pair
    kpi = KPI_BY_ID[kpi_id]

    def at(x: float, digits: int) -> str:
        text = number(x, locale, digits)
        return ("+" + text if kpi.unit == "points" and x > 0 else text) + _UNIT_SUFFIX[kpi.unit][
            locale
        ]

    for extra in (1, 2):
        d = digits_for(kpi, max(abs(a), abs(b))) + extra
        pair = (at(a, d), at(b, d))
        if pair[0] != pair[1]:
            break
    return pair
