"""Small pieces of a page's view model that the team pages and the overview share: a report's
number as a float, a change as a table cell, a trend line's alt text, the attention sentences.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from scorecards.text import formatting as fmt
from scorecards.text.kpi_texts import reason_text

# Hands an SVG to the renderer's fetcher and returns the short URL the HTML refers to it by.
AddImage = Callable[[bytes | str], str]


def as_float(x: object) -> float:
    """A report value as a float: NaN for None, pd.NA and anything that is not a number."""
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return v


def row_reason(row: pd.Series, locale: str) -> str:
    """Why a KPI row has no value, in the report's language ("" when it has one)."""
    if math.isfinite(as_float(row.get("value"))):
        return ""
    return reason_text(row.get("no_data_reason"), locale)


def significance(row: pd.Series) -> bool | None:
    """Whether the change since last month is significant; None when not known."""
    sig = row.get("change_significant") if hasattr(row, "get") else None
    if sig is None or pd.isna(sig):
        return None
    return bool(sig)


def series_text(who: str, kpi: str, months: Sequence[str], values: np.ndarray, locale: str) -> str:
    """Alt text of a trend line: whose KPI it is and every month's value."""
    parts = [
        f"{fmt.month_name(m, locale, short=True)} {fmt.kpi_value(kpi, v, locale)}"
        for m, v in zip(months, values, strict=True)
        if math.isfinite(v)
    ]
    return f"{who}, {fmt.kpi_label(kpi, locale)}: " + ("; ".join(parts) or fmt.no_data(locale))


def cell_delta(d: dict) -> dict:
    """A change for a table cell: "▲ +2,7 Min." with its judgement; a change within random
    variation without arrow ("+2,7 Min.", "keine echte Änderung"), toned down."""
    if d["text"] in ("", fmt.no_data("de"), fmt.no_data("en")) or (
        not d["arrow"] and d.get("tone") not in ("noise", "untested")
    ):
        return {"text": "–", "judgement": "", "tone": ""}
    arrow = f"{d['arrow']}\u202f" if d["arrow"] else ""
    return {"text": arrow + d["text"], "judgement": d["judgement"], "tone": d.get("tone", "")}


def neutral_change(kpi: str, cur: float, ref: float, locale: str, label: str) -> dict:
    """A change that was not tested (against last year): the signed difference only, no arrow
    and no better/worse, so noise is never dressed up as news."""
    if not (math.isfinite(cur) and math.isfinite(ref)):
        return {
            "arrow": "",
            "text": fmt.no_data(locale),
            "label": label,
            "judgement": "",
            "tone": "",
        }
    return {
        "arrow": "",
        "text": fmt.kpi_delta(kpi, cur - ref, locale),
        "label": label,
        "judgement": "",
        "tone": "untested",
    }


def attention_lines(items: object) -> list[str]:
    """Attention sentences as plain text, whatever form report_data gives them in: strings,
    or objects with a `text` (and, for the overview, a `team_name`)."""
    out = []
    for item in items or []:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, tuple) and len(item) == 2:
            out.append(f"{item[0]}: {item[1]}")
        else:
            line = getattr(item, "text", None) or str(item)
            name = getattr(item, "team_name", None)
            out.append(f"{name}: {line}" if name and not line.startswith(name) else line)
    return out
