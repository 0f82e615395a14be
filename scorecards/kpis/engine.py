"""The KPI engine: exact monthly KPIs per team and for the company (`ALL`), with n, 95% interval,
previous month, same month last year, target and whether the change is significant.

Aggregation runs in DuckDB over the warehouse; Python only loops over KPI rows (teams × KPIs),
never over tickets. Definitions are in `kpi_catalog` and docs/metrics.md.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from scorecards.config.settings import Settings
from scorecards.contract.kpi_catalog import (
    ALL_TEAMS,
    INPUTS,
    KPI_BY_ID,
    KPIS,
    LOW_SAMPLE_N,
    SERVICE_LEVEL,
    TEAM_INPUTS,
    empty_base_reason,
    no_data_reason,
)
from scorecards.core.csv_out import write_csv_atomic
from scorecards.core.periods import days_before, days_in_month, month_bounds, shift_month
from scorecards.kpis import stats
from scorecards.warehouse import store as warehouse
from scorecards.warehouse.store import KPI_COLUMNS, loaded_months
from scorecards.warehouse.teams import for_month

# Customers count as served by a team when it had a ticket of theirs this many days before P.
SERVED_WINDOW_DAYS = 90
# Floats are rounded before storage: parallel aggregation may differ in the last bits between
# runs, and a re-run must give byte-identical output.
DECIMALS = 6


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
# Written by the churn-risk step (scorecards/churn/scoring.py); read here for the at-risk KPIs.
CHURN_RISK_TABLE = "customer_churn_risk"
# Why the churn-risk step did not score a month (written by scorecards/churn/scoring.py).
CHURN_STATUS_TABLE = "churn_status"


class MissingMonthsError(RuntimeError):
    """A KPI month needs input months that have not been loaded into the warehouse."""


def _team_col() -> str:
    return f"CASE WHEN grouping(team) = 1 THEN '{ALL_TEAMS}' ELSE team END AS team"


@dataclass
class PeriodStats:
    """Sufficient statistics of one month: `rows` indexed by (team, kpi), FRT samples per team."""

    month: str
    rows: pd.DataFrame
    frt: dict[str, np.ndarray]


def _created(con: duckdb.DuckDBPyConnection, start: object, end: object) -> pd.DataFrame:
    return con.execute(
        f"""
        SELECT {_team_col()},
               count(*) AS created,
               count(*) FILTER (resolved_at < $end) AS resolved_by_end,
               count(*) FILTER (escalated) AS escalated,
               count(escalated) AS escalated_n,
               count(*) FILTER (channel = 'self_service' AND resolved_at < $end) AS self_served,
               count(channel) AS channel_n,
               count(wait_time_s) AS wait_n,
               avg(wait_time_s) / 60 AS wait_mean,
               stddev_samp(wait_time_s) / 60 AS wait_sd
        FROM tickets WHERE created_at >= $start AND created_at < $end
        GROUP BY GROUPING SETS ((team), ())
        """,
        {"start": start, "end": end},
    ).df()


def _resolved(con: duckdb.DuckDBPyConnection, start: object, end: object) -> pd.DataFrame:
    dur_h = "(epoch_us(resolved_at) - epoch_us(created_at)) / 3.6e9"
    return con.execute(
        f"""
        SELECT {_team_col()},
               count(*) AS resolved,
               count(*) FILTER (contacts = 1 AND NOT reopened) AS fcr,
               count(*) FILTER (contacts IS NOT NULL AND reopened IS NOT NULL) AS fcr_n,
               count(*) FILTER (reopened) AS reopened,
               count(reopened) AS reopened_n,
               avg({dur_h}) AS art_mean, stddev_samp({dur_h}) AS art_sd,
               count(handle_time_s) AS aht_n,
               avg(handle_time_s) / 60 AS aht_mean, stddev_samp(handle_time_s) / 60 AS aht_sd
        FROM tickets WHERE resolved_at >= $start AND resolved_at < $end
        GROUP BY GROUPING SETS ((team), ())
        """,
        {"start": start, "end": end},
    ).df()


def _surveys(con: duckdb.DuckDBPyConnection, start: object, end: object) -> pd.DataFrame:
    return con.execute(
        f"""
        SELECT {_team_col()}, survey_type,
               count(*) AS n,
               count(*) FILTER (score >= 4) AS top2,
               count(*) FILTER (score >= 9) AS promoters,
               count(*) FILTER (score <= 6) AS detractors,
               avg(score) AS mean, stddev_samp(score) AS sd
        FROM survey_responses WHERE submitted_at >= $start AND submitted_at < $end
        GROUP BY GROUPING SETS ((team, survey_type), (survey_type))
        """,
        {"start": start, "end": end},
    ).df()


def _churn(
    con: duckdb.DuckDBPyConnection, start: object, end: object, served_from: object
) -> pd.DataFrame:
    return con.execute(
        f"""
        WITH active AS (
            SELECT customer_id, COALESCE(churned_at < $end, false) AS churned
            FROM customers
            WHERE customer_since < $start AND (churned_at IS NULL OR churned_at >= $start)
        ), served AS (
            SELECT DISTINCT team, customer_id FROM tickets
            WHERE created_at >= $served_from AND created_at < $start
        )
        SELECT s.team, count(*) AS active, count(*) FILTER (churned) AS churned
        FROM active a JOIN served s USING (customer_id) GROUP BY s.team
        UNION ALL
        SELECT '{ALL_TEAMS}', count(*), count(*) FILTER (churned) FROM active
        """,
        {"start": start, "end": end, "served_from": served_from},
    ).df()


def _at_risk(con: duckdb.DuckDBPyConnection, month: str) -> pd.DataFrame | None:
    """Scored customers and those in band high per primary team; None when the month has no
    churn-risk scores (not materialized, or too little history to fit a model)."""
    if not warehouse.table_exists(con, CHURN_RISK_TABLE):
        return None
    df = con.execute(
        f"""
        SELECT {_team_col()}, count(*) AS scored, count(*) FILTER (band = 'high') AS high
        FROM {CHURN_RISK_TABLE} WHERE period = $m
        GROUP BY GROUPING SETS ((team), ())
        """,
        {"m": month},
    ).df()
    df = df[df.team.notna()].set_index("team")
    if ALL_TEAMS not in df.index or df.at[ALL_TEAMS, "scored"] == 0:
        return None
    return df


def _absent_inputs(
    con: duckdb.DuckDBPyConnection, month: str, start: object, end: object
) -> dict[str, str]:
    """The inputs the month's data does not have, each with the reason its KPIs are "no data".

    A ticket column is absent when it is NULL on every ticket created or resolved in the month
    (an export without it, or a mapping that declares it absent); a survey type when the month
    has no response of it; customers when the customer table is empty; churn scores when the
    churn-risk step did not score the month (with the reason it recorded)."""
    t = con.execute(
        """
        SELECT count(*) AS tickets, count(first_response_at) AS first_response_at,
               count(resolved_at) AS resolved_at, count(handle_time_s) AS handle_time_s,
               count(wait_time_s) AS wait_time_s, count(contacts) AS contacts,
               count(reopened) AS reopened, count(escalated) AS escalated,
               count(channel) AS channel
        FROM tickets
        WHERE (created_at >= $start AND created_at < $end)
           OR (resolved_at >= $start AND resolved_at < $end)
        """,
        {"start": start, "end": end},
    ).df()
    s = con.execute(
        """
        SELECT count(*) AS surveys, count(*) FILTER (survey_type = 'csat') AS csat,
               count(*) FILTER (survey_type = 'nps') AS nps,
               count(*) FILTER (survey_type = 'ces') AS ces
        FROM survey_responses WHERE submitted_at >= $start AND submitted_at < $end
        """,
        {"start": start, "end": end},
    ).df()
    have = {**t.iloc[0].to_dict(), **s.iloc[0].to_dict()}
    have["customers"] = con.execute("SELECT count(*) FROM customers").fetchone()[0]
    absent = {k: no_data_reason(k) for k, v in have.items() if not v}
    if "customers" in absent:
        absent["churn_scores"] = no_data_reason("not_scored_customers")
    elif _at_risk(con, month) is None:
        absent["churn_scores"] = _churn_status_reason(con, month)
    return absent


def _churn_status_reason(con: duckdb.DuckDBPyConnection, month: str) -> str:
    """Why the month has no churn-risk scores, as the churn step recorded it."""
    if warehouse.table_exists(con, CHURN_STATUS_TABLE):
        got = con.execute(
            f"SELECT reason FROM {CHURN_STATUS_TABLE} WHERE period = $m AND NOT scored",
            {"m": month},
        ).fetchone()
        if got and got[0]:
            return str(got[0])
    return no_data_reason("not_scored_missing")


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


def _frt_samples(
    con: duckdb.DuckDBPyConnection, start: object, end: object
) -> dict[str, np.ndarray]:
    """First-response times in minutes of the tickets created in the month, per team and ALL."""
    return _samples(
        con,
        """
        SELECT team, (epoch_us(first_response_at) - epoch_us(created_at)) / 6e7 AS v
        FROM tickets
        WHERE created_at >= $start AND created_at < $end AND first_response_at IS NOT NULL
        ORDER BY team
        """,
        start,
        end,
    )


def _resolution_samples(
    con: duckdb.DuckDBPyConnection, start: object, end: object
) -> dict[str, np.ndarray]:
    """Resolution times in hours of the tickets resolved in the month, per team and ALL."""
    return _samples(
        con,
        """
        SELECT team, (epoch_us(resolved_at) - epoch_us(created_at)) / 3.6e9 AS v
        FROM tickets WHERE resolved_at >= $start AND resolved_at < $end
        ORDER BY team
        """,
        start,
        end,
    )


def _samples(
    con: duckdb.DuckDBPyConnection, sql: str, start: object, end: object
) -> dict[str, np.ndarray]:
    got = con.execute(sql, {"start": start, "end": end}).fetchnumpy()
    teams, values = np.asarray(got["team"], dtype=object), np.asarray(got["v"], dtype=float)
    out: dict[str, np.ndarray] = {ALL_TEAMS: values}
    if len(teams):
        cuts = np.flatnonzero(teams[1:] != teams[:-1]) + 1
        for chunk_t, chunk_v in zip(np.split(teams, cuts), np.split(values, cuts), strict=True):
            out[str(chunk_t[0])] = chunk_v
    return out


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


# A duration equal to its target is within it; the tolerance absorbs the float division of the
# microsecond durations (60 minutes is exactly 60.0, but 1.5 h as 5.4e9 / 3.6e9 need not be).
_WITHIN_EPS = 1e-9


def _within_row(team: str, kpi: str, sample: np.ndarray, target: float | None) -> tuple[dict, bool]:
    """The share of `sample` at or below `target`, and whether the target exists."""
    if target is None or not math.isfinite(target):
        return _row(team, kpi, math.nan, 0.0, k=math.nan), False
    k = float(np.count_nonzero(sample <= target + _WITHIN_EPS))
    return _share_row(team, kpi, k, float(len(sample))), True


def _mean_row(team: str, kpi: str, mean: float, sd: float, n: float) -> dict:
    lo, hi = stats.mean_interval(mean, sd, n)
    return _row(team, kpi, mean if n > 0 else math.nan, n, float(lo), float(hi), mean=mean, sd=sd)


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
    created = _created(con, start, end).set_index("team")
    resolved = _resolved(con, start, end).set_index("team")
    surveys = _surveys(con, start, end).set_index(["team", "survey_type"])
    churn = _churn(con, start, end, served_from).set_index("team")
    at_risk = _at_risk(con, month)
    frt = _frt_samples(con, start, end)
    res = _resolution_samples(con, start, end)
    absent = _absent_inputs(con, month, start, end)
    team_absent: dict[str, dict[str, str]] = {}

    def get(df: pd.DataFrame, key: object, col: str) -> float:
        # A team absent from an aggregate had zero rows: its counts are 0, its means empty.
        try:
            v = df.at[key, col]
        except KeyError:
            v = None
        if v is None or pd.isna(v):
            return 0.0 if col in _COUNT_COLUMNS else math.nan
        return float(v)

    rows: list[dict] = []
    for team in [ALL_TEAMS, *teams]:
        c = lambda col, t=team: get(created, t, col)  # noqa: E731
        r = lambda col, t=team: get(resolved, t, col)  # noqa: E731
        created_n, resolved_n = c("created"), r("resolved")
        rows.append(_row(team, "ticket_volume", created_n, created_n, count=created_n))
        sample = frt.get(team, np.empty(0))
        lo, hi = stats.median_interval(sample)
        med = float(np.median(sample)) if len(sample) else math.nan
        rows.append(_row(team, "first_response_time", med, len(sample), lo, hi))
        for kpi, base in SERVICE_LEVEL.items():
            got = sample if base == "first_response_time" else res.get(team, np.empty(0))
            row, has_target = _within_row(team, kpi, got, targets.get(team, {}).get(base))
            rows.append(row)
            if not has_target:
                key = "frt_target" if base == "first_response_time" else "art_target"
                team_absent.setdefault(team, {})[key] = no_data_reason(key)
        rows.append(
            _mean_row(team, "average_resolution_time", r("art_mean"), r("art_sd"), resolved_n)
        )
        rows.append(
            _mean_row(team, "average_handling_time", r("aht_mean"), r("aht_sd"), r("aht_n"))
        )
        rows.append(_mean_row(team, "wait_time", c("wait_mean"), c("wait_sd"), c("wait_n")))
        # Tickets without a flag (NULL: the export or mapping does not have it) are not in the
        # base of a share that needs the flag; with data complete the base is all tickets.
        rows.append(_share_row(team, "first_contact_resolution", r("fcr"), r("fcr_n")))
        rows.append(_share_row(team, "resolution_rate", c("resolved_by_end"), created_n))
        rows.append(_share_row(team, "escalation_rate", c("escalated"), c("escalated_n")))
        rows.append(_share_row(team, "reopen_rate", r("reopened"), r("reopened_n")))
        rows.append(_share_row(team, "self_service_rate", c("self_served"), c("channel_n")))
        rows.append(
            _share_row(
                team,
                "csat",
                get(surveys, (team, "csat"), "top2"),
                get(surveys, (team, "csat"), "n"),
            )
        )
        n_nps = get(surveys, (team, "nps"), "n")
        if n_nps > 0:
            p9 = get(surveys, (team, "nps"), "promoters") / n_nps
            p06 = get(surveys, (team, "nps"), "detractors") / n_nps
            value = 100 * (p9 - p06)
            se = float(stats.nps_se(p9, p06, n_nps))
            rows.append(
                _row(
                    team, "nps", value, n_nps, value - stats.Z95 * se, value + stats.Z95 * se, se=se
                )
            )
        else:
            rows.append(_row(team, "nps", math.nan, 0.0, se=math.nan))
        ces = (team, "ces")
        rows.append(
            _mean_row(
                team,
                "ces",
                get(surveys, ces, "mean"),
                get(surveys, ces, "sd"),
                get(surveys, ces, "n"),
            )
        )
        rows.append(
            _share_row(team, "churn_rate", get(churn, team, "churned"), get(churn, team, "active"))
        )
        if at_risk is None:
            rows.append(_row(team, "at_risk_customers", math.nan, 0.0))
            rows.append(_row(team, "at_risk_share", math.nan, 0.0, k=math.nan))
        else:
            high, scored = get(at_risk, team, "high"), get(at_risk, team, "scored")
            rows.append(_row(team, "at_risk_customers", high, scored))
            rows.append(_share_row(team, "at_risk_share", high, scored))
        rows.append(
            _share_row(team, "detractor_share", get(surveys, (team, "nps"), "detractors"), n_nps)
        )
    _no_data(rows, absent, team_absent)
    df = pd.DataFrame(rows).set_index(["team", "kpi"])
    return PeriodStats(month, df, frt)


def _p_change(kpi: str, team: str, cur: PeriodStats, prev: PeriodStats) -> float:
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


def required_months(month: str, first_month: str) -> dict[str, list[str]]:
    """Input months a KPI month reads: the month, P−1 and P−12, and for churn the 90 days of
    tickets before each of them. Months before the first month of data are not required."""
    tickets = sorted({shift_month(month, -k) for k in range(0, 16)})
    surveys = sorted({month, shift_month(month, -1), shift_month(month, -12)})
    return {
        "tickets": [m for m in tickets if m >= first_month],
        "survey_responses": [m for m in surveys if m >= first_month],
    }


def check_inputs_loaded(con: duckdb.DuckDBPyConnection, month: str, first_month: str) -> None:
    missing: list[str] = []
    for dataset, months in required_months(month, first_month).items():
        have = loaded_months(con, dataset)
        lacking = [m for m in months if m not in have]
        if lacking:
            missing.append(f"{dataset} for {', '.join(lacking)}")
    if missing:
        raise MissingMonthsError(
            f"KPIs for {month} need input months that are not loaded: {'; '.join(missing)}. "
            "Materialize the ingest assets for those months first (a backfill of the range)."
        )


def compute_team_kpis(
    con: duckdb.DuckDBPyConnection, settings: Settings, month: str, first_month: str
) -> pd.DataFrame:
    """The month's KPI table with exactly the columns of team_kpis.csv, ALL first."""
    check_inputs_loaded(con, month, first_month)
    settings = for_month(settings, month, con)  # teams from the data: targets of team_defaults
    tz = settings.timezone
    seen = con.execute(
        "SELECT DISTINCT team FROM tickets WHERE period = $m UNION SELECT DISTINCT team FROM survey_responses WHERE period = $m",
        {"m": month},
    ).fetchall()
    teams = sorted(set(settings.teams) | {t for (t,) in seen})
    targets = {
        t: {base: settings.target(t, base) for base in SERVICE_LEVEL.values()}
        for t in [ALL_TEAMS, *teams]
    }
    cur = period_stats(con, month, tz, teams, targets)
    prev_m, yoy_m = shift_month(month, -1), shift_month(month, -12)
    prev = period_stats(con, prev_m, tz, teams, targets) if prev_m >= first_month else None
    yoy = period_stats(con, yoy_m, tz, teams, targets) if yoy_m >= first_month else None

    out: list[dict] = []
    for team in [ALL_TEAMS, *teams]:
        for kpi in KPIS:
            row = cur.rows.loc[(team, kpi.id)]
            prev_value = float(prev.rows.at[(team, kpi.id), "value"]) if prev else math.nan
            yoy_value = float(yoy.rows.at[(team, kpi.id), "value"]) if yoy else math.nan
            p = (
                _p_change(kpi.id, team, cur, prev)
                if prev and math.isfinite(prev_value) and math.isfinite(row.value)
                else math.nan
            )
            target = settings.target(team, kpi.id)
            out.append(
                {
                    "period": month,
                    "team": team,
                    "kpi": kpi.id,
                    "value": row.value,
                    "n": int(row.n),
                    "ci_low": row.ci_low,
                    "ci_high": row.ci_high,
                    "low_sample": bool(row.n < LOW_SAMPLE_N),
                    "prev_value": prev_value,
                    "yoy_value": yoy_value,
                    "target": math.nan if target is None else float(target),
                    "change_significant": (p < stats.ALPHA)
                    if math.isfinite(p) and math.isfinite(row.value)
                    else None,
                    "no_data_reason": row.no_data_reason,
                }
            )
    df = pd.DataFrame(out, columns=list(KPI_COLUMNS))
    floats = ["value", "ci_low", "ci_high", "prev_value", "yoy_value", "target"]
    df[floats] = df[floats].astype(float).round(DECIMALS)
    df["change_significant"] = df["change_significant"].astype("boolean")
    df["no_data_reason"] = df["no_data_reason"].astype("string")
    return df


def write_kpi_csv(df: pd.DataFrame, path: Path) -> None:
    write_csv_atomic(df, path)


def _fmt(x: float | None, digits: int) -> str:
    return "–" if x is None or pd.isna(x) else f"{x:,.{digits}f}"


def ui_value(kpi_id: str, value: float | None) -> str:
    """A KPI value for the Dagster UI: counts as integers with thousands separators (23,463,
    not 23,463.0), CES with two decimals, everything else with one; "–" when empty."""
    unit = KPI_BY_ID[kpi_id].unit
    return _fmt(value, 0 if unit == "count" else 2 if unit == "score" else 1)


def markdown_preview(df: pd.DataFrame, team: str = ALL_TEAMS) -> str:
    """A compact Markdown table of one team's KPIs for the Dagster UI."""
    lines = [
        "| KPI | unit | value | n | 95% CI | prev | YoY | target | sig. |",
        "|---|---|---:|---:|---|---:|---:|---:|---|",
    ]

    for r in df[df.team == team].itertuples():
        kpi = KPI_BY_ID[r.kpi]
        digits = 0 if kpi.unit == "count" else 2 if kpi.unit == "score" else 1
        f = functools.partial(_fmt, digits=digits)
        ci = "–" if pd.isna(r.ci_low) else f"{f(r.ci_low)} – {f(r.ci_high)}"
        reason = getattr(r, "no_data_reason", None)
        value = f(r.value) if pd.isna(reason) or not reason else f"no data: {reason}"
        sig = "–" if pd.isna(r.change_significant) else ("yes" if r.change_significant else "no")
        low = " ⚠" if r.low_sample else ""
        lines.append(
            f"| {kpi.label_en} | {kpi.unit} | {value} | {int(r.n):,}{low} | {ci} | {f(r.prev_value)} | "
            f"{f(r.yoy_value)} | {f(r.target)} | {sig} |"
        )
    return "\n".join(lines)


def build_team_kpis(
    settings: Settings, months: Sequence[str], first_month: str
) -> dict[str, pd.DataFrame]:
    """Compute `months`, replace them in the warehouse in one transaction, write their CSVs."""
    frames: dict[str, pd.DataFrame] = {}
    with warehouse.connect(settings.warehouse) as con:
        for month in sorted(months):
            frames[month] = compute_team_kpis(con, settings, month, first_month)

        def write() -> None:
            for month, df in frames.items():
                con.register("_kpis", df)
                try:
                    warehouse.replace_months(con, "team_kpis", "_kpis", [month])
                finally:
                    con.unregister("_kpis")

        warehouse.write_transaction(con, write, f"team_kpis {', '.join(sorted(frames))}")
    for month, df in frames.items():
        write_kpi_csv(df, kpi_csv_path(settings, month))
    return frames


def kpi_csv_path(settings: Settings, month: str) -> Path:
    return settings.out_dir / month / "team_kpis.csv"
