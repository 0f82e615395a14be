"""Which input months a month needs loaded: the one rule behind both the runtime checks
(scorecards/kpis/engine.py, scorecards/churn/scoring.py) and the Dagster partition mappings
(assets/kpis.py, assets/churn.py), so a run never starts on inputs Dagster did not ask for.

The runtime checks ask for exactly the months a month reads (`*_input_months`); Dagster's
mappings can only say "the last N months", so `*_lookback` gives an N that covers every month
of the year (the day counts below reach back different numbers of months from different months).
Both are calendar arithmetic on local dates, so the time zone does not change them.
"""

from __future__ import annotations

import math
from datetime import timedelta

from scorecards.config.settings import ChurnConfig
from scorecards.contract.kpi_catalog import SERVED_WINDOW_DAYS
from scorecards.core.periods import month_key, month_range, parse_month, shift_month

# A KPI month is shown with the previous month and the same month last year (months before P).
COMPARED_MONTHS: tuple[int, ...] = (0, 1, 12)
_SHORTEST_MONTH_DAYS = 28


def months_reached(days: int) -> int:
    """How many whole months before a month `days` days back from its start can reach into."""
    return math.ceil(days / _SHORTEST_MONTH_DAYS)


def month_of_days_before(month: str, days: int) -> str:
    """The month of the day `days` days before `month` starts."""
    return month_key(parse_month(month) - timedelta(days=days))


# --- KPIs (scorecards/kpis/engine.py) ---------------------------------------------------------


def kpi_input_months(month: str, first_month: str) -> dict[str, list[str]]:
    """Input months a KPI month reads, by dataset: tickets from the start of the served window
    (SERVED_WINDOW_DAYS) before the earliest compared month up to the month; survey responses
    of the compared months. Months before the first month of data are not needed."""
    earliest = shift_month(month, -max(COMPARED_MONTHS))
    tickets = month_range(month_of_days_before(earliest, SERVED_WINDOW_DAYS), month)
    surveys = sorted(shift_month(month, -k) for k in COMPARED_MONTHS)
    return {
        "tickets": [m for m in tickets if m >= first_month],
        "survey_responses": [m for m in surveys if m >= first_month],
    }


def kpi_lookback() -> dict[str, int]:
    """Months before a KPI month that Dagster maps each upstream asset to (P−N up to P): every
    month of `kpi_input_months`, and the churn-risk scores of the compared months (the at-risk
    KPIs; a month without scores says so rather than failing)."""
    compared = max(COMPARED_MONTHS)
    return {
        "tickets": compared + months_reached(SERVED_WINDOW_DAYS),
        "survey_responses": compared,
        "customer_churn_risk": compared,
    }


# --- churn risk (scorecards/churn/scoring.py) -------------------------------------------------


def churn_signal_months(month: str, cfg: ChurnConfig, first_month: str) -> list[str]:
    """Ticket and survey months a month's churn signals read: its window (and the disengagement
    history when that lies in loaded data), from the first month of data on."""
    nxt = shift_month(month, 1)  # the windows end with the month, so count back from its end
    window = parse_month(nxt) - timedelta(days=cfg.window_days)
    history = window - timedelta(days=cfg.history_days)
    start = history if cfg.history_days > 0 and history >= parse_month(first_month) else window
    return month_range(max(month_key(start), first_month), month)


def churn_lookback(cfg: ChurnConfig) -> int:
    """Months before a churn month that Dagster maps tickets and survey responses to: the
    month's window and history, and for training months whose stored signals are missing their
    windows too, up to training_months and the horizon further back."""
    own = months_reached(cfg.window_days + cfg.history_days)
    return own + cfg.training_months + months_reached(cfg.horizon_days)
