"""One month's KPI rows: every KPI per team and for ALL, with its 95% interval and what the
significance tests against another month need (`period_stats`, `p_change`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from scorecards.contract.kpi_catalog import (
    ALL_TEAMS,
    INPUTS,
    KPI_BY_ID,
    SERVED_WINDOW_DAYS,
    SERVICE_LEVEL,
    TEAM_INPUTS,
    empty_base_reason,
    no_data_reason,
)
from scorecards.core.periods import days_before, days_in_month, month_bounds
from scorecards.kpis import aggregates, stats

_COUNT_COLUMNS = frozenset(
    [
        "created",
        "resolved_by_end",
        "escalated",
        "escalated_n",
        "self_served",
        "channel_n",
        "wait_n",
        "resolved",
        "fcr",
        "fcr_n",
        "reopened",
        "reopened_n",
        "aht_n",
        "n",
        "top2",
        "promoters",
        "detractors",
        "active",
        "churned",
        "scored",
        "high",
    ]
)
# A duration equal to its target is within it; the tolerance absorbs the float division of the
# microsecond durations (60 minutes is exactly 60.0, but 1.5 h as 5.4e9 / 3.6e9 need not be).
_WITHIN_EPS = 1e-9


@dataclass
class PeriodStats:
    """Sufficient statistics of one month: `rows` indexed by (team, kpi), FRT samples per team."""

    month: str
    rows: pd.DataFrame
    frt: dict[str, np.ndarray]


@dataclass
class _Month:
    """The month's aggregates (aggregates.py), indexed by team."""

    created: pd.DataFrame
    resolved: pd.DataFrame
    surveys: pd.DataFrame
    churn: pd.DataFrame
    at_risk: pd.DataFrame | None
    frt: dict[str, np.ndarray]
    res: dict[str, np.ndarray]

    @staticmethod
    def get(df: pd.DataFrame, key: object, col: str) -> float:
        # A team absent from an aggregate had zero rows: its counts are 0, its means empty.
        try:
            v = df.at[key, col]
        except KeyError:
            v = None
        if v is None or pd.isna(v):
            return 0.0 if col in _COUNT_COLUMNS else math.nan
        return float(v)


def _row(
    team: str,
    kpi: str,
    value: float,
    n: float,
    lo: float = math.nan,
    hi: float = math.nan,
    **test: float,
) -> dict:
    return {"team": team, "kpi": kpi, "value": value, "n": n, "ci_low": lo, "ci_high": hi, **test}


def _share_row(team: str, kpi: str, k: float, n: float) -> dict:
    lo, hi = stats.wilson(k, n)
    value = 100 * k / n if n > 0 else math.nan
    return _row(team, kpi, value, n, 100 * float(lo), 100 * float(hi), k=k)


def _within_row(team: str, kpi: str, sample: np.ndarray, target: float | None) -> tuple[dict, bool]:
    """The share of `sample` at or below `target`, and whether the target exists."""
    if target is None or not math.isfinite(target):
        return _row(team, kpi, math.nan, 0.0, k=math.nan), False
    k = float(np.count_nonzero(sample <= target + _WITHIN_EPS))
    return _share_row(team, kpi, k, float(len(sample))), True


def _mean_row(team: str, kpi: str, mean: float, sd: float, n: float) -> dict:
    lo, hi = stats.mean_interval(mean, sd, n)
    return _row(team, kpi, mean if n > 0 else math.nan, n, float(lo), float(hi), mean=mean, sd=sd)


def _ticket_rows(
    team: str, m: _Month, targets: Mapping[str, float | None], lacking: dict[str, str]
) -> list[dict]:
    """The ticket KPIs of `team`; a missing time target is added to `lacking`."""
    c = lambda col: m.get(m.created, team, col)  # noqa: E731
    r = lambda col: m.get(m.resolved, team, col)  # noqa: E731
    created_n = c("created")
    rows = [_row(team, "ticket_volume", created_n, created_n, count=created_n)]
    sample = m.frt.get(team, np.empty(0))
    lo, hi = stats.median_interval(sample)
    med = float(np.median(sample)) if len(sample) else math.nan
    rows.append(_row(team, "first_response_time", med, len(sample), lo, hi))
    for kpi, base in SERVICE_LEVEL.items():
        got = sample if base == "first_response_time" else m.res.get(team, np.empty(0))
        row, has_target = _within_row(team, kpi, got, targets.get(base))
        rows.append(row)
        if not has_target:
            key = "frt_target" if base == "first_response_time" else "art_target"
            lacking[key] = no_data_reason(key)
    return [
        *rows,
        _mean_row(team, "average_resolution_time", r("art_mean"), r("art_sd"), r("resolved")),
        _mean_row(team, "average_handling_time", r("aht_mean"), r("aht_sd"), r("aht_n")),
        _mean_row(team, "wait_time", c("wait_mean"), c("wait_sd"), c("wait_n")),
        # Tickets without a flag (NULL: the export or mapping does not have it) are not in the
        # base of a share that needs the flag; with data complete the base is all tickets.
        _share_row(team, "first_contact_resolution", r("fcr"), r("fcr_n")),
        _share_row(team, "resolution_rate", c("resolved_by_end"), created_n),
        _share_row(team, "escalation_rate", c("escalated"), c("escalated_n")),
        _share_row(team, "reopen_rate", r("reopened"), r("reopened_n")),
        _share_row(team, "self_service_rate", c("self_served"), c("channel_n")),
    ]


def _customer_rows(team: str, m: _Month) -> list[dict]:
    """The survey and customer KPIs of `team`."""
    s = lambda kind, col: m.get(m.surveys, (team, kind), col)  # noqa: E731
    rows = [_share_row(team, "csat", s("csat", "top2"), s("csat", "n"))]
    n_nps = s("nps", "n")
    if n_nps > 0:
        p9, p06 = s("nps", "promoters") / n_nps, s("nps", "detractors") / n_nps
        value = 100 * (p9 - p06)
        se = float(stats.nps_se(p9, p06, n_nps))
        lo, hi = value - stats.Z95 * se, value + stats.Z95 * se
        rows.append(_row(team, "nps", value, n_nps, lo, hi, se=se))
    else:
        rows.append(_row(team, "nps", math.nan, 0.0, se=math.nan))
    rows.append(_mean_row(team, "ces", s("ces", "mean"), s("ces", "sd"), s("ces", "n")))
    churned, active = m.get(m.churn, team, "churned"), m.get(m.churn, team, "active")
    rows.append(_share_row(team, "churn_rate", churned, active))
    if m.at_risk is None:
        rows.append(_row(team, "at_risk_customers", math.nan, 0.0))
        rows.append(_row(team, "at_risk_share", math.nan, 0.0, k=math.nan))
    else:
        high, scored = m.get(m.at_risk, team, "high"), m.get(m.at_risk, team, "scored")
        rows.append(_row(team, "at_risk_customers", high, scored))
        rows.append(_share_row(team, "at_risk_share", high, scored))
    rows.append(_share_row(team, "detractor_share", s("nps", "detractors"), n_nps))
    return rows


def _no_data(
    rows: list[dict],
    absent: dict[str, str],
    team_absent: Mapping[str, Mapping[str, str]] | None = None,
) -> None:
    """Mark every KPI whose inputs the data lacks as no data with the reason, and every other
    empty KPI with its empty base ("0 tickets resolved in the month"), in place. `team_absent`
    holds inputs one team lacks (its time targets), by team."""
    for row in rows:
        needs = INPUTS[row["kpi"]]
        if row["team"] != ALL_TEAMS:
            needs = needs + TEAM_INPUTS.get(row["kpi"], ())
        lacking = {**absent, **(team_absent or {}).get(row["team"], {})}
        reason = next((lacking[i] for i in needs if i in lacking), None)
        if reason is not None:
            # Whatever was counted (0 escalations where no flag exists) is not a value.
            for col in ("value", "ci_low", "ci_high", "k", "se", "mean", "sd", "count"):
                if col in row:
                    row[col] = math.nan
            row["n"] = 0.0
        elif not math.isfinite(row["value"]):
            reason = empty_base_reason(row["kpi"])
        row["no_data_reason"] = reason


def period_stats(
    con: duckdb.DuckDBPyConnection,
    month: str,
    tz: str,
    teams: Sequence[str],
    targets: Mapping[str, Mapping[str, float | None]] | None = None,
) -> PeriodStats:
    """Every KPI of `month` for `teams` and ALL, with what the significance tests need.

    `targets` maps a team (and ALL) to its KPI targets; the service-level KPIs count the tickets
    within the first-response and resolution-time targets. A month and the months it is compared
    with are measured against the same (current) targets."""
    targets = targets or {}
    start, end = month_bounds(month, tz)
    served_from = days_before(month, SERVED_WINDOW_DAYS, tz)
    m = _Month(
        created=aggregates.created_counts(con, start, end).set_index("team"),
        resolved=aggregates.resolved_counts(con, start, end).set_index("team"),
        surveys=aggregates.survey_counts(con, start, end).set_index(["team", "survey_type"]),
        churn=aggregates.customer_counts(con, start, end, served_from).set_index("team"),
        at_risk=aggregates.at_risk_counts(con, month),
        frt=aggregates.frt_samples(con, start, end),
        res=aggregates.resolution_samples(con, start, end),
    )
    absent = aggregates.absent_inputs(con, month, start, end)
    team_absent: dict[str, dict[str, str]] = {}
    rows: list[dict] = []
    for team in [ALL_TEAMS, *teams]:
        lacking: dict[str, str] = {}
        rows += _ticket_rows(team, m, targets.get(team, {}), lacking)
        rows += _customer_rows(team, m)
        if lacking:
            team_absent[team] = lacking
    _no_data(rows, absent, team_absent)
    df = pd.DataFrame(rows).set_index(["team", "kpi"])
    return PeriodStats(month, df, m.frt)


def p_change(kpi: str, team: str, cur: PeriodStats, prev: PeriodStats) -> float:
    """The p-value of the change of `kpi` for `team` from `prev` to `cur`, by the test for the
    KPI's kind (docs/metrics.md)."""
    kind = KPI_BY_ID[kpi].kind
    a, b = cur.rows.loc[(team, kpi)], prev.rows.loc[(team, kpi)]
    if kind == "share":
        return stats.p_two_proportions(a.k, a.n, b.k, b.n)
    if kind == "nps":
        return stats.p_nps(a.value, a.se, b.value, b.se)
    if kind == "mean":
        return stats.p_welch(a["mean"], a.sd, a.n, b["mean"], b.sd, b.n)
    if kind == "median":
        return stats.p_mood_median(cur.frt.get(team, np.empty(0)), prev.frt.get(team, np.empty(0)))
    return stats.p_counts(a.value, days_in_month(cur.month), b.value, days_in_month(prev.month))
