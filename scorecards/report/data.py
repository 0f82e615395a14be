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

from scorecards.churn.pseudonyms import display_ids, display_labels
from scorecards.config.settings import Settings, TeamConfig
from scorecards.contract.datasets import CHANNELS
from scorecards.contract.kpi_catalog import ALL_TEAMS, SERVICE_LEVEL, without_absent_inputs
from scorecards.core.periods import month_range, parse_month, shift_month
from scorecards.notes.rules import Note
from scorecards.notes.select import context_notes
from scorecards.report.attention import (
    TeamAttention,
    TeamStatus,
    attention_sentences,
    overview_attention,
    overview_notes,
    team_status,
)
from scorecards.text.kpi_texts import reason_text
from scorecards.warehouse.connection import connect
from scorecards.warehouse.sql import team_or_all
from scorecards.warehouse.tables import table_exists

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
    # the month's customer_churn_risk rows in the high band (maybe none); None when not scored
    churn: pd.DataFrame | None
    report_date: dt.date
    # team_kpis rows of every month up to this one (every team and ALL): the notes' and the
    # attention list's streaks count over the whole history, not only the 13 months shown.
    # None: use `kpis`.
    history: pd.DataFrame | None = None

    # P−1's band-high customers (customer_id, team) for "new on the list since last month";
    # None when P−1 was not scored (then nobody can be called new).
    churn_prev_high: pd.DataFrame | None = None

    def full_history(self) -> pd.DataFrame:
        return self.kpis if self.history is None else self.history


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
    # top customers: display_id, score, band, reasons_de/_en, the signals; `label` (the
    # customers column churn.label_column, pseudonymised with the ids; None where the data has
    # none) and `new` (True: not on this team's high-risk list last month; NA: last month was
    # not scored)
    at_risk: pd.DataFrame | None
    risk_scored: bool
    notes: list = field(default_factory=list)  # scorecards.notes.rules.Note, manual first
    report_date: dt.date = dt.date(1970, 1, 1)
    # "What needs attention": at most three plain-text sentences in the team's language, most
    # important first (missed targets, real declines, real improvements); [] in a quiet month.
    attention: list[str] = field(default_factory=list)
    # the facts behind them (scorecards.report.attention.TeamStatus): the e-mail subject reads it
    status: TeamStatus | None = None
    # customers of this team in band high that were not on its list last month (all of them,
    # not only the top ten shown); None when last month was not scored
    at_risk_new: int | None = None
    # heading of the at-risk list's label column in the team's language; "" when no label is
    # configured or the data has none this month (then leave the column out)
    label_heading: str = ""

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

    def service_level(self, team: str | None = None) -> dict[str, dict[str, float | bool | None]]:
        """What the FRT and ART tiles need besides their own KPI: for `first_response_time` and
        `average_resolution_time`, this month's share of tickets within the target (the
        service-level KPI), its 95% interval, n, last month, last year, significance and the time
        target it is measured against. A KPI without a target (or without data) has value None
        and `reason` saying why (in the report's language)."""
        cur = self.current(team)
        out: dict[str, dict[str, float | bool | None]] = {}
        for share_kpi, base in SERVICE_LEVEL.items():
            out[base] = _figure(cur, share_kpi, self.locale) | {
                "kpi": share_kpi,
                "time_target": _num(cur, base, "target"),
                "median_or_mean": _num(cur, base, "value"),
            }
        return out

    def churn_figures(self, team: str | None = None) -> dict[str, dict[str, float | bool | None]]:
        """Every churn figure of the churn section with its last-month value: the at-risk count
        and share, the detractor share and the churn rate (value, prev_value, yoy_value, n,
        ci_low, ci_high, change_significant, target, reason), and `at_risk_new` as
        {"value": the count new on the list, "prev_value": None}."""
        cur = self.current(team)
        out = {k: _figure(cur, k, self.locale) for k in CHURN_FIGURES}
        out["at_risk_new"] = {"value": self.at_risk_new, "prev_value": None}
        return out

    def fingerprint(self) -> str:
        """A short hash of the KPI rows the report shows: two reports with equal fingerprints
        were made from the same numbers."""
        csv = kpi_rows_csv(self).encode("utf-8")
        return hashlib.sha256(csv).hexdigest()[:16]


# The figures of the churn section, in the order shown.
CHURN_FIGURES: tuple[str, ...] = (
    "at_risk_customers",
    "at_risk_share",
    "detractor_share",
    "churn_rate",
)
_FIGURE_COLUMNS = ("value", "prev_value", "yoy_value", "n", "ci_low", "ci_high", "target")


def _num(cur: pd.DataFrame, kpi: str, col: str) -> float | None:
    if kpi not in cur.index or col not in cur.columns:
        return None
    v = cur.at[kpi, col]
    return None if v is None or pd.isna(v) else float(v)


def _figure(cur: pd.DataFrame, kpi: str, locale: str) -> dict[str, float | bool | None]:
    """One KPI's month as plain numbers (None where empty), its significance and no-data reason."""
    out: dict[str, float | bool | None] = {c: _num(cur, kpi, c) for c in _FIGURE_COLUMNS}
    sig = cur.at[kpi, "change_significant"] if kpi in cur.index else None
    out["change_significant"] = None if sig is None or pd.isna(sig) else bool(sig)
    reason = cur.at[kpi, "no_data_reason"] if kpi in cur.index and "no_data_reason" in cur else None
    out["reason"] = reason_text(reason, locale) or None
    return out


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
        SELECT period, {team_or_all()},
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
               {team_or_all()},
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
    with connect(settings.warehouse, read_only=True) as con:
        kpis = con.execute(
            "SELECT * FROM team_kpis WHERE period IN (SELECT unnest($m)) ORDER BY period, team",
            {"m": months},
        ).df()
        channels = con.execute(
            f"""
            SELECT period, {team_or_all()},
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
        churn_prev_high = None
        if table_exists(con, "customer_churn_risk"):
            label = _label_sql(con, settings)
            scored = con.execute(
                "SELECT count(*) FROM customer_churn_risk WHERE period = ?", [month]
            ).fetchone()[0]
            # Only the high band: the scorecards list those and count them (`_at_risk`). The
            # whole month is every active customer (1.8M at 10M tickets), which every render
            # worker would otherwise hold a copy of.
            churn = (
                con.execute(
                    f"SELECT r.*, {label} AS label FROM customer_churn_risk r "
                    "LEFT JOIN customers c USING (customer_id) "
                    "WHERE r.period = ? AND r.band = 'high' ORDER BY r.score DESC, r.customer_id",
                    [month],
                ).df()
                if scored
                else None
            )
            prev = shift_month(month, -1)
            if con.execute(
                "SELECT count(*) FROM customer_churn_risk WHERE period = ?", [prev]
            ).fetchone()[0]:
                churn_prev_high = con.execute(
                    "SELECT customer_id, team FROM customer_churn_risk "
                    "WHERE period = ? AND band = 'high'",
                    [prev],
                ).df()
        history = con.execute(
            "SELECT * FROM team_kpis WHERE period <= ? ORDER BY period, team", [month]
        ).df()
    if month not in set(kpis.period):
        raise LookupError(
            f"no team KPIs for {month} in {settings.warehouse.describe()}: materialize team_kpis "
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
        history=history,
        churn_prev_high=churn_prev_high,
    )


def _label_sql(con: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    """The customers column shown as a customer's label (churn.label_column), NULL when none is
    configured or the warehouse predates the column."""
    col = settings.teams_file.churn.label_column
    if col is None:
        return "NULL::VARCHAR"
    have = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'customers' "
            "AND table_catalog = current_database()"
        ).fetchall()
    }
    return f"c.{col}" if col in have else "NULL::VARCHAR"


def _at_risk(
    settings: Settings, churn: pd.DataFrame | None, team: str, prev_high: pd.DataFrame | None
) -> tuple[pd.DataFrame | None, int | None]:
    """The team's top customers at high risk with display id, label and whether each is new on
    the team's list since last month, and how many of all its high-risk customers are new."""
    if churn is None:
        return None, None
    high = churn[(churn.team == team) & (churn.band == "high")]
    if prev_high is None:
        new = pd.Series(pd.NA, index=high.index, dtype="boolean")
    else:
        before = set(prev_high.customer_id[prev_high.team == team])
        new = (~high.customer_id.isin(before)).astype("boolean")
    top = high.head(TOP_AT_RISK).copy()
    top["display_id"] = display_ids(settings, top.customer_id).to_numpy()
    if "label" not in top.columns:
        top["label"] = None
    labels = top["label"].astype(object).where(top["label"].notna(), None)
    top["label"] = display_labels(settings, labels).to_numpy() if labels.notna().any() else None
    top["new"] = new.loc[top.index].to_numpy()
    count_new = None if prev_high is None else int(new.sum())
    return top.drop(columns=["customer_id"]).reset_index(drop=True), count_new


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
    at_risk, at_risk_new = _at_risk(settings, data.churn, team.id, data.churn_prev_high)
    churn_cfg = settings.teams_file.churn
    has_label = at_risk is not None and at_risk["label"].notna().any()
    history = data.full_history()
    own = without_absent_inputs(history[history.team == team.id])
    status = team_status(own, team.id, data.month, team.name, headline)
    notes = context_notes(
        own,
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
        at_risk=at_risk,
        risk_scored=data.churn is not None,
        notes=notes,
        report_date=data.report_date,
        attention=attention_sentences(status, team.locale),
        status=status,
        at_risk_new=at_risk_new,
        label_heading=churn_cfg.label_heading.get(team.locale, "") if has_label else "",
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
    # the teams that need attention, most urgent first, one line each (TeamAttention.text
    # starts with the team's display name); [] when none does
    attention: list[TeamAttention] = field(default_factory=list)
    # the overview's own notes (scorecards.notes.rules.Note, manual=False): KPIs several teams miss,
    # then the company figures' context notes
    generated_notes: list = field(default_factory=list)
    statuses: list[TeamStatus] = field(default_factory=list)  # every team's, config order

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
    history = data.full_history()
    present = set(history.team[history.period == data.month])
    statuses = [
        team_status(
            without_absent_inputs(history[history.team == t.id]),
            t.id,
            data.month,
            t.name,
            list(t.headline_kpis),
        )
        for t in settings.teams.values()
        if t.id in present
    ]
    company = without_absent_inputs(history[history.team == ALL_TEAMS])
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
        attention=overview_attention(statuses, cfg.locale),
        generated_notes=overview_notes(
            statuses, company, ALL_TEAMS, data.month, cfg.locale, list(cfg.kpis)
        ),
        statuses=statuses,
    )
