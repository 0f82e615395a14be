"""Locale-aware formatting of KPI values, changes, months and dates (de, en) through Babel.

The scorecard, its charts, the context notes and the e-mails all format numbers here, so a value
reads the same everywhere: "1.234,5" and "Oktober 2026" in German, "1,234.5" and "October 2026"
in English. Missing values format as `no_data(locale)`, never as "nan". The words (units,
"better", "target met") come from the text catalogue (`scorecards.text.catalog`).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal

from babel.dates import format_date as _babel_date
from babel.numbers import format_decimal

from scorecards.contract.kpi_catalog import KPI_BY_ID, Kpi
from scorecards.text.catalog import N_, text
from scorecards.text.kpi_texts import LABEL_KEYS

Locale = Literal["de", "en"]

MINUS = "\u2212"  # a real minus sign: a hyphen reads as a dash in running text
NBSP = "\u00a0"

# Short unit suffixes as printed after a value (a no-break space first where the locale spaces
# it: "81,3 %" but "81.3%"); points, scores and counts have none.
_UNIT_SUFFIX: dict[str, str] = {
    # Translators: a no-break space (U+00A0) first where the language spaces its units
    "minutes": N_("format.unit.minutes"),
    # Translators: a no-break space (U+00A0) first where the language spaces its units
    "hours": N_("format.unit.hours"),
    # Translators: a no-break space (U+00A0) first where the language spaces its units
    "%": N_("format.unit.percent"),
}
# A change of a share is in percentage points, not percent.
_DELTA_SUFFIX: dict[str, str] = {
    **_UNIT_SUFFIX,
    # Translators: a no-break space (U+00A0) first where the language spaces its units
    "%": N_("format.delta_unit.percent"),
    # Translators: a no-break space (U+00A0) first where the language spaces its units
    "points": N_("format.delta_unit.points"),
}


def no_data(locale: str) -> str:
    """What a missing value prints as: "keine Daten", "no data"."""
    return text(locale, "format.no_data")


def unit_suffix(unit: str, locale: str) -> str:
    """The suffix after a value in `unit` (" Min." with a no-break space); "" for none."""
    return text(locale, _UNIT_SUFFIX[unit]) if unit in _UNIT_SUFFIX else ""


def _delta_suffix(unit: str, locale: str) -> str:
    return text(locale, _DELTA_SUFFIX[unit]) if unit in _DELTA_SUFFIX else ""


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
        return no_data(locale)
    assert x is not None
    q = round(float(x), digits)
    if q == 0:
        q = 0.0  # no "-0,0"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    shown = format_decimal(abs(q), format=pattern, locale=locale)
    if q < 0:
        return MINUS + shown
    return ("+" + shown) if signed and q > 0 else (("±" + shown) if signed else shown)


def kpi_value(kpi_id: str, x: float | None, locale: str, unit: bool = True) -> str:
    """A KPI value with its unit: "42,5 Min.", "81,3 %", "+12,0" (NPS), "1.234"."""
    kpi = KPI_BY_ID[kpi_id]
    if is_missing(x):
        return no_data(locale)
    assert x is not None
    shown = number(x, locale, digits_for(kpi, x))
    if kpi.unit == "points" and x > 0:
        shown = "+" + shown
    return shown + (unit_suffix(kpi.unit, locale) if unit else "")


def kpi_delta(kpi_id: str, delta: float | None, locale: str) -> str:
    """A signed change in the KPI's own unit (percentage points for shares)."""
    kpi = KPI_BY_ID[kpi_id]
    if is_missing(delta):
        return no_data(locale)
    assert delta is not None
    return number(delta, locale, digits_for(kpi, delta), signed=True) + _delta_suffix(
        kpi.unit, locale
    )


def change(
    kpi_id: str,
    cur: float | None,
    ref: float | None,
    locale: str,
    label: str = "",
    significant: bool | None = None,
) -> dict:
    """A KPI's change against a reference value: arrow, signed change and whether it is better.

    "Unchanged" means unchanged at the digits shown, so the arrow never contradicts the text.
    Used by the scorecard tiles and tables and by the e-mail summary, so both say the same.

    With `significant=False` (the change lies within random variation) there is no arrow and no
    "better"/"worse": the judgement says "no real change" and `tone` is "noise", so the page can
    grey it. `tone` is "worse" only for a significant change for the worse: the one exception
    the page colours. Without `significant` (None, not known) the change reads as before.
    """
    if is_missing(cur) or is_missing(ref) or not (math.isfinite(cur) and math.isfinite(ref)):
        return {"arrow": "", "text": no_data(locale), "label": label, "judgement": "", "tone": ""}
    d = cur - ref
    shown = kpi_delta(kpi_id, d, locale)
    base = {"text": shown, "label": label}
    if round(d, digits_for(KPI_BY_ID[kpi_id], d)) == 0:
        tone = "noise" if significant is False else ""
        judgement = text(locale, "format.change.unchanged")
        return {**base, "arrow": "►", "judgement": judgement, "tone": tone}
    if significant is False:
        judgement = text(locale, "format.change.no_real_change")
        return {**base, "arrow": "", "judgement": judgement, "tone": "noise"}
    better = KPI_BY_ID[kpi_id].better
    good = (d > 0) if better == "higher" else (d < 0) if better == "lower" else None
    if good is None:
        judgement = ""
    elif good:
        judgement = text(locale, "format.change.better")
    else:
        judgement = text(locale, "format.change.worse")
    tone = "worse" if significant and good is False else ""
    return {**base, "arrow": "▲" if d > 0 else "▼", "judgement": judgement, "tone": tone}


_STATUS: dict[str, str] = {"met": N_("format.target.met"), "missed": N_("format.target.missed")}
STATUS_MARK: dict[str, str] = {"met": "✓", "missed": "✗"}


def target_status(kpi_id: str, value: float | None, target: float | None) -> str:
    """ "met", "missed" or "" (no value, no target, or a KPI without a good direction).

    Judged at the digits the page shows, so "80,0 % · Ziel 80,0 %" never reads as missed."""
    if is_missing(value) or is_missing(target):
        return ""
    assert value is not None and target is not None
    if not (math.isfinite(value) and math.isfinite(target)):
        return ""
    kpi = KPI_BY_ID[kpi_id]
    d = digits_for(kpi, max(abs(value), abs(target)))
    v, t = round(value, d), round(target, d)
    if kpi.better == "higher":
        return "met" if v >= t else "missed"
    if kpi.better == "lower":
        return "met" if v <= t else "missed"
    return ""


def status_text(status: str, locale: str) -> str:
    """ "✗ Ziel verfehlt" / "✓ target met"; "" without a status."""
    return f"{STATUS_MARK[status]} {text(locale, _STATUS[status])}" if status else ""


def percent_change(rel: float | None, locale: str, digits: int = 0) -> str:
    """A relative change given as a fraction (0.35 → "+35 %" in de, "+35%" in en)."""
    if is_missing(rel):
        return no_data(locale)
    assert rel is not None
    return number(100 * rel, locale, digits, signed=True) + unit_suffix("%", locale)


def interval(kpi_id: str, lo: float | None, hi: float | None, locale: str) -> str:
    """A 95% interval as "78,1–84,0 %"; empty when there is none."""
    if is_missing(lo) or is_missing(hi):
        return ""
    kpi = KPI_BY_ID[kpi_id]
    assert lo is not None and hi is not None
    d = digits_for(kpi, max(abs(lo), abs(hi)))
    # "−44,3–−16,2" misreads; spaced dashes keep negative bounds apart.
    dash = f"{NBSP}–{NBSP}" if lo < 0 or hi < 0 else "–"
    return f"{number(lo, locale, d)}{dash}{number(hi, locale, d)}{unit_suffix(kpi.unit, locale)}"


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
    """The KPI's full name: "Kundenzufriedenheit (CSAT)", "Customer satisfaction (CSAT)"."""
    return text(locale, LABEL_KEYS[kpi_id])


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
        shown = number(x, locale, digits)
        return ("+" + shown if kpi.unit == "points" and x > 0 else shown) + unit_suffix(
            kpi.unit, locale
        )

    for extra in (1, 2):
        d = digits_for(kpi, max(abs(a), abs(b))) + extra
        pair = (at(a, d), at(b, d))
        if pair[0] != pair[1]:
            break
    return pair
