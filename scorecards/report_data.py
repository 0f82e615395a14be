"""What a scorecard shows, read from the warehouse once per month and cut per team.

`load_month` reads everything the month's scorecards need in a few queries over all teams;
`team_report` cuts out one team's part together with the company (`ALL`) figures. A team's
report is built only from its own rows and the company rows, so another team's data cannot
reach its PDF by construction (and a test checks the text of the PDF as well).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from scorecards import warehouse
from scorecards.churn import display_ids
from scorecards.contract import CHANNELS
from scorecards.kpi_catalog import ALL_TEAMS, reason_text, without_absent_inputs
from scorecards.notes import Note, context_notes
from scorecards.periods import month_range, parse_month, shift_month
from scorecards.settings import Settings, TeamConfig

HISTORY_MONTHS = 13
TOP_AT_RISK = 10


@dataclass(frozen=True)
class MonthData:
    """Everything the month's scorecards read, for all teams."""

    month: str
    months: list[str]  # the 13 months shown in trends, oldest first
    kpis: pd.DataFrame  # team_kpis rows of those months (every team and ALL)
    channels: pd.DataFrame  # period, team, channel, tickets
    times: pd.DataFrame  # period, team, frt_median, frt_p90 (minutes), res_median, res_p90 (hours)
    ingest: pd.DataFrame  # the month's ingest_months rows: dataset, rows_read, accepted, ...
    reasons: pd.DataFrame  # the month's quarantine_reasons rows: dataset, reason, rows
    churn: pd.DataFrame | None  # the month's customer_churn_risk rows; None when not scored
    report_date: dt.date


@dataclass(frozen=True)
class TeamReport:
    """One team's scorecard content: its own rows and the company figures, nothing else."""

    team_id: str
    team_name: str
    locale: str
    month: str
    months: list[str]
    headline: list[str]
    kpis: pd.DataFrame  # this team's and ALL's team_kpis rows, 13 months
    channels: pd.DataFrame  # period, channel, tickets (this team)
    times: pd.DataFrame  # period, frt_median, frt_p90, res_median, res_p90 (this team)
    ingest: pd.DataFrame
    reasons: pd.DataFrame
    at_risk: pd.DataFrame | None  # top customers: display_id, score, band, reasons
    risk_scored: bool
    notes: list = field(default_factory=list)  # scorecards.notes.Note, manual first
    report_date: dt.date = dt.date(1970, 1, 1)

    def current(self, team: str | None = None) -> pd.DataFrame:
        """This month's KPI rows of the team (or ALL), indexed by KPI id."""
        t = team or self.team_id
        df = self.kpis[(self.kpis.team == t) & (self.kpis.period == self.month)]
        return df.set_index("kpi")

    def series(self, kpi: str, team: str | None = None) -> pd.DataFrame:
        """One KPI over the 13 months, one row per month (NaN where there is no value)."""
        t = team or self.team_id
        df = self.kpis[(self.kpis.team == t) & (self.kpis.kpi == kpi)].set_index("period")
        return df.reindex(self.months)

    def fingerprint(self) -> str:
        """A short hash of the KPI rows the report shows: two reports with equal fingerprints
        were made from the same numbers."""
        csv = kpi_rows_csv(self).encode("utf-8")
        return hashlib.sha256(csv).hexdigest()[:16]


def report_date(month: str) -> dt.date:
    """The date a month's report carries: the month's last day.

    A fixed function of the period, never the wall clock, so the same inputs give the same
    bytes on every re-run.
    """
    return parse_month(shift_month(month, 1)) - dt.timedelta(days=1)


def _times(con: duckdb.DuckDBPyConnection, months: Sequence[str], tz: str) -> pd.DataFrame:
    # First response by the month the ticket was created (as the KPI), resolution by the month
    # it was resolved in.
    frt = con.execute(
        f"""
        SELECT period, CASE WHEN grouping(team) = 1 THEN '{ALL_TEAMS}' ELSE team END AS team,
               quantile_cont(v, 0.5) AS frt_median, quantile_cont(v, 0.9) AS frt_p90
        FROM (SELECT period, team, (epoch_us(first_response_at) - epoch_us(created_at)) / 6e7 AS v
              FROM tickets WHERE period IN (SELECT unnest($months)) AND first_response_at IS NOT NULL)
        GROUP BY GROUPING SETS ((period, team), (period))
        """,
        {"months": list(months)},
    ).df()
    res = con.execute(
        f"""
        SELECT rperiod AS period,
               CASE WHEN grouping(team) = 1 THEN '{ALL_TEAMS}' ELSE team END AS team,
               quantile_cont(v, 0.5) AS res_median, quantile_cont(v, 0.9) AS res_p90
        FROM (SELECT strftime(timezone($tz, resolved_at), '%Y-%m') AS rperiod, team,
                     (epoch_us(resolved_at) - epoch_us(created_at)) / 3.6e9 AS v
              FROM tickets WHERE resolved_at IS NOT NULL AND period <= $last)
        WHERE rperiod IN (SELECT unnest($months))
        GROUP BY GROUPING SETS ((rperiod, team), (rperiod))
        """,
        {
            "months": list(months),
            "tz": tz,
            "last": months[-1],
        },
    ).df()
    out = frt.merge(res, on=["period", "team"], how="outer")
    return out.sort_values(["team", "period"]).reset_index(drop=True)


def load_month(settings: Settings, month: str) -> MonthData:
    """Read the month's KPI history, chart series, data-quality facts and churn scores."""
    months = month_range(shift_month(month, -(HISTORY_MONTHS - 1)), month)
    with warehouse.connect(settings.warehouse_path, read_only=True) as con:
        kpis = con.execute(
            "SELECT * FROM team_kpis WHERE period IN (SELECT unnest($m)) ORDER BY period, team",
            {"m": months},
        ).df()
        channels = con.execute(
            f"""
            SELECT period, CASE WHEN grouping(team) = 1 THEN '{ALL_TEAMS}' ELSE team END AS team,
                   channel, count(*) AS tickets
            FROM tickets WHERE period IN (SELECT unnest($m))
            GROUP BY GROUPING SETS ((period, team, channel), (period, channel))
            ORDER BY 1, 2, 3
            """,
            {"m": months},
        ).df()
        times = _times(con, months, settings.timezone)
        ingest = con.execute(
            "SELECT * FROM ingest_months WHERE period = ? ORDER BY dataset", [month]
        ).df()
        reasons = con.execute(
            "SELECT dataset, reason, rows FROM quarantine_reasons WHERE period = ? "
            "ORDER BY dataset, rows DESC, reason",
            [month],
        ).df()
        churn = None
        if warehouse.table_exists(con, "customer_churn_risk"):
            churn = con.execute(
                "SELECT * FROM customer_churn_risk WHERE period = ? ORDER BY score DESC, customer_id",
                [month],
            ).df()
            if churn.empty:
                churn = None
    if month not in set(kpis.period):
        raise LookupError(
            f"no team KPIs for {month} in {settings.warehouse_path}: materialize team_kpis "
            f"for {month} first"
        )
    return MonthData(
        month=month,
        months=months,
        kpis=kpis,
        channels=channels,
        times=times,
        ingest=ingest,
        reasons=reasons,
        churn=churn,
        report_date=report_date(month),
    )


def _at_risk(settings: Settings, churn: pd.DataFrame | None, team: str) -> pd.DataFrame | None:
    if churn is None:
        return None
    top = churn[(churn.team == team) & (churn.band == "high")].head(TOP_AT_RISK).copy()
    top["display_id"] = display_ids(settings, top.customer_id).to_numpy()
    return top.drop(columns=["customer_id"]).reset_index(drop=True)


def team_report(
    settings: Settings,
    data: MonthData,
    team: TeamConfig,
    manual_notes: Mapping[str, Sequence[str]] | None = None,
) -> TeamReport:
    """Cut one team's scorecard out of the month's data and attach its context notes."""
    this_month = data.kpis[data.kpis.period == data.month]
    if team.id not in set(this_month.team):
        # A team added to the config after the month's KPIs were computed: say so rather than
        # print an empty scorecard.
        raise LookupError(
            f"no KPI rows for team {team.id!r} in {data.month}: it was probably added to "
            f"config/teams.yaml after team_kpis was materialized; re-materialize team_kpis for "
            f"{data.month}"
        )
    keep = data.kpis.team.isin([team.id, ALL_TEAMS])
    kpis = data.kpis[keep].reset_index(drop=True)
    channels = data.channels[data.channels.team == team.id].drop(columns="team")
    times = data.times[data.times.team == team.id].drop(columns="team")
    headline = list(team.headline_kpis) or [
        "first_response_time",
        "first_contact_resolution",
        "csat",
    ]
    notes = context_notes(
        without_absent_inputs(kpis[kpis.team == team.id]),
        team.id,
        data.month,
        team.locale,
        manual=manual_notes,
        headline=headline,
    )
    return TeamReport(
        team_id=team.id,
        team_name=team.name,
        locale=team.locale,
        month=data.month,
        months=data.months,
        headline=headline,
        kpis=kpis,
        channels=channels.reset_index(drop=True),
        times=times.reset_index(drop=True),
        ingest=data.ingest,
        reasons=data.reasons,
        at_risk=_at_risk(settings, data.churn, team.id),
        risk_scored=data.churn is not None,
        notes=notes,
        report_date=data.report_date,
    )


def kpi_rows_csv(report: TeamReport) -> str:
    """The month's KPI rows of the team, then ALL, as CSV: what is attached inside the PDF."""
    df = report.kpis[report.kpis.period == report.month]
    df = pd.concat([df[df.team == report.team_id], df[df.team == ALL_TEAMS]])
    return df.to_csv(index=False, lineterminator="\n")


def channel_matrix(channels: pd.DataFrame, months: Sequence[str]) -> pd.DataFrame:
    """Tickets per month (rows) and channel (columns, contract order), zeros where none."""
    if channels.empty:
        return pd.DataFrame(0, index=list(months), columns=list(CHANNELS))
    m = channels.pivot_table(index="period", columns="channel", values="tickets", aggfunc="sum")
    cols = [c for c in CHANNELS if c in m.columns] + [c for c in m.columns if c not in CHANNELS]
    return m.reindex(index=list(months), columns=cols).fillna(0)


@dataclass(frozen=True)
class OverviewReport:
    """All teams side by side for the head of service, and the company figures."""

    month: str
    months: list[str]
    locale: str
    # (id, name): configured teams in config order, then teams from the data by name; ALL is
    # added by the renderer
    teams: list[tuple[str, str]]
    kpis: pd.DataFrame  # team_kpis rows of every team in `teams` and ALL, 13 months
    columns: list[str]
    trend_kpis: list[str]
    notes: list = field(default_factory=list)  # manual notes for all teams
    report_date: dt.date = dt.date(1970, 1, 1)

    def reason(self, team: str, kpi: str) -> str:
        """Why the team's KPI has no value this month, in the overview's language."""
        df = self.kpis
        hit = df[(df.team == team) & (df.kpi == kpi) & (df.period == self.month)]
        if not len(hit) or "no_data_reason" not in hit.columns:
            return ""
        return reason_text(hit["no_data_reason"].iloc[0], self.locale)

    def value(self, team: str, kpi: str, column: str = "value", month: str | None = None) -> float:
        df = self.kpis
        hit = df[(df.team == team) & (df.kpi == kpi) & (df.period == (month or self.month))]
        return (
            float(hit[column].iloc[0]) if len(hit) and pd.notna(hit[column].iloc[0]) else math.nan
        )


def overview_report(
    settings: Settings, data: MonthData, manual_notes: Mapping[str, Sequence[str]] | None = None
) -> OverviewReport:
    teams = [(t.id, t.name) for t in settings.teams.values()]
    cfg = settings.teams_file.overview
    keep = data.kpis.team.isin([ALL_TEAMS, *(tid for tid, _ in teams)])
    notes = [
        Note(rule="manual", text=n, manual=True) for n in (manual_notes or {}).get(ALL_TEAMS, [])
    ]
    return OverviewReport(
        month=data.month,
        months=data.months,
        locale=cfg.locale,
        teams=teams,
        kpis=data.kpis[keep].reset_index(drop=True),
        columns=list(cfg.kpis),
        trend_kpis=list(cfg.trend_kpis),
        notes=notes,
        report_date=data.report_date,
    )
