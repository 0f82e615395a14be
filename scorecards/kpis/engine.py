"""The KPI engine: exact monthly KPIs per team and for the company (`ALL`), with n, 95% interval,
previous month, same month last year, target and whether the change is significant.

Aggregation runs in DuckDB over the warehouse (aggregates.py); Python only loops over KPI rows
(teams × KPIs, period.py), never over tickets. Definitions are in `kpi_catalog` and
docs/metrics.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pandas as pd

from scorecards.config.months_needed import kpi_input_months
from scorecards.config.settings import Settings
from scorecards.contract.kpi_catalog import (
    ALL_TEAMS,
    DECIMALS,
    KPIS,
    LOW_SAMPLE_N,
    SERVICE_LEVEL,
)
from scorecards.core.csv_out import write_csv_atomic
from scorecards.core.periods import shift_month
from scorecards.kpis import stats
from scorecards.kpis.period import PeriodStats, p_change, period_stats
from scorecards.warehouse.connection import connect
from scorecards.warehouse.schema import KPI_COLUMNS
from scorecards.warehouse.tables import loaded_months, replace_months
from scorecards.warehouse.teams import for_month
from scorecards.warehouse.transactions import write_transaction


class MissingMonthsError(RuntimeError):
    """A KPI month needs input months that have not been loaded into the warehouse."""


def check_kpi_inputs_loaded(con: duckdb.DuckDBPyConnection, month: str, first_month: str) -> None:
    """Raise MissingMonthsError unless every input month of `months_needed.kpi_input_months`
    is loaded."""
    missing: list[str] = []
    for dataset, months in kpi_input_months(month, first_month).items():
        have = loaded_months(con, dataset)
        lacking = [m for m in months if m not in have]
        if lacking:
            missing.append(f"{dataset} for {', '.join(lacking)}")
    if missing:
        raise MissingMonthsError(
            f"KPIs for {month} need input months that are not loaded: {'; '.join(missing)}. "
            "Materialize the ingest assets for those months first (a backfill of the range)."
        )


def _kpi_row(
    team: str,
    kpi: str,
    cur: PeriodStats,
    prev: PeriodStats | None,
    yoy: PeriodStats | None,
    target: float | None,
) -> dict:
    """One row of team_kpis: the month's value with its comparisons."""
    row = cur.rows.loc[(team, kpi)]
    prev_value = float(prev.rows.at[(team, kpi), "value"]) if prev else math.nan
    yoy_value = float(yoy.rows.at[(team, kpi), "value"]) if yoy else math.nan
    p = (
        p_change(kpi, team, cur, prev)
        if prev and math.isfinite(prev_value) and math.isfinite(row.value)
        else math.nan
    )
    return {
        "period": cur.month,
        "team": team,
        "kpi": kpi,
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


def compute_team_kpis(
    con: duckdb.DuckDBPyConnection, settings: Settings, month: str, first_month: str
) -> pd.DataFrame:
    """The month's KPI table with exactly the columns of team_kpis.csv, ALL first."""
    check_kpi_inputs_loaded(con, month, first_month)
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
    out = [
        _kpi_row(team, kpi.id, cur, prev, yoy, settings.target(team, kpi.id))
        for team in [ALL_TEAMS, *teams]
        for kpi in KPIS
    ]
    df = pd.DataFrame(out, columns=list(KPI_COLUMNS))
    floats = ["value", "ci_low", "ci_high", "prev_value", "yoy_value", "target"]
    df[floats] = df[floats].astype(float).round(DECIMALS)
    df["change_significant"] = df["change_significant"].astype("boolean")
    df["no_data_reason"] = df["no_data_reason"].astype("string")
    return df


def write_kpi_csv(df: pd.DataFrame, path: Path) -> None:
    write_csv_atomic(df, path)


def build_team_kpis(
    settings: Settings, months: Sequence[str], first_month: str
) -> dict[str, pd.DataFrame]:
    """Compute `months`, replace them in the warehouse in one transaction, write their CSVs."""
    frames: dict[str, pd.DataFrame] = {}
    with connect(settings.warehouse) as con:
        for month in sorted(months):
            frames[month] = compute_team_kpis(con, settings, month, first_month)

        def write() -> None:
            for month, df in frames.items():
                con.register("_kpis", df)
                try:
                    replace_months(con, "team_kpis", "_kpis", [month])
                finally:
                    con.unregister("_kpis")

        write_transaction(con, write, f"team_kpis {', '.join(sorted(frames))}")
    for month, df in frames.items():
        write_kpi_csv(df, kpi_csv_path(settings, month))
    return frames


def kpi_csv_path(settings: Settings, month: str) -> Path:
    return settings.out_dir / month / "team_kpis.csv"
