"""Hand-built `team_kpis` rows for the context-note tests (tests/test_notes*.py,
tests/test_attention.py): one row, a streak of months, a table of them, and the notes they give."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from scorecards.contract.kpi_catalog import LOW_SAMPLE_N
from scorecards.core.periods import shift_month
from scorecards.notes.rules import Note
from scorecards.notes.select import context_notes
from scorecards.warehouse.schema import KPI_COLUMNS

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
