"""Whether a month's data is complete, judged from the month's own days.

The newest timestamp anywhere in the data says nothing about one month: a single ticket dated
2099 made a month cut off on the 20th look complete, and a month with its 5th to 25th missing
passed because its last day had data. A month is judged here on three things, each from its own
rows, in the configured time zone:

- **the end**: the newest timestamp *within* the month reaches its last day (minus
  `end_tolerance_days`), unless the days after it usually have no data at all (a weekend);
  a month that has not ended yet (by the injected clock) is never complete;
- **the days**: every day's volume against the usual volume of that weekday (the median of the
  same weekday over up to `history_months` earlier months with data), for the company and, with
  `judge_teams`, for each team. A day is *low* when it is below `low_day_ratio` of its usual
  volume and so far below that chance cannot explain it (Poisson, p < 0.001); an empty day is low
  when its usual volume makes an empty day that unlikely. More than `max_low_days` low days, or
  fewer than `min_day_coverage` of the days that usually have data having any, block the month;
- the days after the month's data ends are the end's business, not the days' (one cause, one
  explanation).

Without an earlier month with data there is no usual pattern: only the end is judged, and the
explanation says so. Counts come from DuckDB over any relation with `team`, `period` and the
dataset's timestamp column: the warehouse tables (the delivery gate) or the staged data of a
load merged with the warehouse (the ingest's audit before it publishes).
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from scorecards.config.settings import CompletenessConfig
from scorecards.core.periods import month_bounds, parse_month
from scorecards.warehouse.sql import sql_ident, sql_str

# How unlikely a day's count must be under its usual volume before it is called low or missing.
ALPHA = 0.001
# An empty day says something only when the usual volume makes one this unlikely: exp(-e) < ALPHA.
MIN_EXPECTED = -math.log(ALPHA)
# The share of days with data says something only over this many days that usually have data
# (a team with data on 4 days a month is judged on its low days alone).
MIN_COVERAGE_DAYS = 10
# At most this many runs of low days are spelled out in an explanation.
MAX_GAPS_SHOWN = 6

TIMESTAMP = {"tickets": "created_at", "survey_responses": "submitted_at"}
WHAT = {"tickets": "tickets", "survey_responses": "survey responses"}
NOUN = {"tickets": "ticket data", "survey_responses": "survey data"}


def poisson_cdf(k: int, mean: float) -> float:
    """P(X <= k) for X ~ Poisson(mean), summed in log space (k is small next to mean here)."""
    if k < 0:
        return 0.0
    if mean <= 0:
        return 1.0
    log_p = -mean
    total = math.exp(log_p)
    for i in range(1, k + 1):
        log_p += math.log(mean / i)
        total += math.exp(log_p)
    return min(total, 1.0)


def _num(x: float) -> str:
    return f"{x:,.0f}" if x >= 10 else f"{x:.1f}".rstrip("0").rstrip(".")


def _day(d: date) -> str:
    return f"{d.day} {calendar.month_name[d.month]}"


def _span(first: date, last: date) -> str:
    if first == last:
        return f"on {_day(first)}"
    return f"from {first.day} to {_day(last)}"


@dataclass(frozen=True)
class Gap:
    """A run of low days (days between them that usually have no data do not break it)."""

    team: str | None  # None: the company
    first: date
    last: date
    count: int  # rows on the low days of the run
    low_days: int
    usual: float  # usual rows per low day of the run (mean)

    def text(self, what: str) -> str:
        who = f"team {self.team}: " if self.team else ""
        if self.count == 0:
            return f"{who}no {what} {_span(self.first, self.last)}; usual {_num(self.usual)} a day"
        per_day = self.count / self.low_days
        return (
            f"{who}only {_num(per_day)} {what} a day {_span(self.first, self.last)}; "
            f"usual {_num(self.usual)} a day"
        )


@dataclass(frozen=True)
class DayJudgement:
    """One series of days (the company's or a team's) against its usual pattern."""

    team: str | None
    expected_days: int  # days that usually have data
    days_with_data: int  # of those, days that have some
    low_days: int
    gaps: tuple[Gap, ...]

    @property
    def coverage(self) -> float:
        return self.days_with_data / self.expected_days if self.expected_days else 1.0

    def passed(self, cfg: CompletenessConfig) -> bool:
        covered = self.expected_days < MIN_COVERAGE_DAYS or self.coverage >= cfg.min_day_coverage
        return self.low_days <= cfg.max_low_days and covered


@dataclass(frozen=True)
class MonthCompleteness:
    month: str
    dataset: str  # tickets | survey_responses
    days_in_month: int
    latest: datetime | None  # newest timestamp within the month, in the configured zone
    end_ok: bool
    end_detail: str
    days_ok: bool
    days_detail: str
    history: tuple[str, ...] = ()
    company: DayJudgement | None = None
    teams: tuple[DayJudgement, ...] = field(default=())
    failing: tuple[str, ...] = ()  # "company" and/or team ids whose days blocked the month

    @property
    def passed(self) -> bool:
        return self.end_ok and self.days_ok

    def metadata(self) -> dict[str, object]:
        c = self.company
        return {
            "month": self.month,
            "judged_on": self.dataset,
            "latest_in_month": self.latest.isoformat() if self.latest else "none",
            "days_in_month": self.days_in_month,
            "usual_from": ", ".join(self.history) or "no earlier month",
            "days_usually_with_data": c.expected_days if c else 0,
            "days_with_data": c.days_with_data if c else 0,
            "low_days_company": c.low_days if c else 0,
            "days_blocked_by": ", ".join(self.failing) or "none",
        }


def _daily(
    con: duckdb.DuckDBPyConnection, relation: str, ts: str, tz: str, months: Sequence[str]
) -> pd.DataFrame:
    df = con.execute(
        f"""
        SELECT period, team, CAST(timezone({sql_str(tz)}, {sql_ident(ts)}) AS DATE) AS day,
               count(*) AS n
        FROM {relation} WHERE period IN (SELECT unnest(?::VARCHAR[])) GROUP BY ALL
        """,
        [list(months)],
    ).df()
    df["day"] = pd.to_datetime(df["day"]).dt.date  # plain dates, as the calendar below uses
    return df


def _history(con: duckdb.DuckDBPyConnection, relation: str, month: str, n: int) -> tuple[str, ...]:
    rows = con.execute(
        f"SELECT DISTINCT period FROM {relation} WHERE period < ? ORDER BY period DESC LIMIT ?",
        [month, n],
    ).fetchall()
    return tuple(sorted(r[0] for r in rows))


def _usual(daily: pd.DataFrame, history: Sequence[str]) -> tuple[pd.Series, pd.DataFrame]:
    """Median count per weekday (0 = Monday): the company's, and per team (teams x weekdays).
    Each history month contributes its days from its first to its last day with data."""
    company_days: list[pd.Series] = []
    team_days: list[pd.DataFrame] = []
    for m in history:
        rows = daily[daily.period == m]
        if rows.empty:
            continue
        spine = pd.date_range(rows.day.min(), rows.day.max(), freq="D").date
        company_days.append(rows.groupby("day").n.sum().reindex(spine, fill_value=0))
        teams = rows[rows.team.notna()]
        if len(teams):
            team_days.append(
                teams.pivot_table(index="day", columns="team", values="n", aggfunc="sum")
                .reindex(spine)
                .fillna(0)
            )
    if not company_days:
        return pd.Series(dtype=float), pd.DataFrame()
    company = pd.concat(company_days)
    by_weekday = company.groupby([d.weekday() for d in company.index]).median()
    teams = pd.concat(team_days).fillna(0) if team_days else pd.DataFrame()
    team_usual = (
        teams.groupby([d.weekday() for d in teams.index]).median().T
        if len(teams)
        else pd.DataFrame()
    )
    return by_weekday, team_usual


def _judge_days(
    team: str | None,
    days: Sequence[date],
    counts: pd.Series,
    usual: pd.Series,
    cfg: CompletenessConfig,
) -> DayJudgement:
    expected = with_data = low = 0
    gaps: list[Gap] = []
    run: list[tuple[date, int, float]] = []  # low days of the open run

    def close() -> None:
        if run:
            gaps.append(
                Gap(
                    team,
                    run[0][0],
                    run[-1][0],
                    sum(c for _, c, _ in run),
                    len(run),
                    sum(e for _, _, e in run) / len(run),
                )
            )
            run.clear()

    for d in days:
        c = int(counts.get(d, 0))
        e = float(usual.get(d.weekday(), 0.0))
        if e <= MIN_EXPECTED:
            if c > 0:
                close()  # data on a day that usually has none ends a run of missing days
            continue
        expected += 1
        with_data += c > 0
        if c < cfg.low_day_ratio * e and poisson_cdf(c, e) < ALPHA:
            low += 1
            run.append((d, c, e))
        else:
            close()
    close()
    return DayJudgement(team, expected, with_data, low, tuple(gaps))


def judge_month(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    dataset: str,
    month: str,
    tz: str,
    cfg: CompletenessConfig,
    now: datetime,
) -> MonthCompleteness:
    """Judge `month` of `dataset` from `relation` (a table or a parenthesised query with
    `team`, `period` and the dataset's timestamp column)."""
    ts, what = TIMESTAMP[dataset], WHAT[dataset]
    _, first_day, last_day, n_days = _month_days(month, tz)
    history = _history(con, relation, month, cfg.history_months)
    daily = _daily(con, relation, ts, tz, [*history, month])
    latest = con.execute(
        f"SELECT max({sql_ident(ts)}) FROM {relation} WHERE period = ?", [month]
    ).fetchone()[0]
    latest = latest.astimezone(ZoneInfo(tz)) if latest is not None else None
    usual, team_usual = _usual(daily, history)
    end_ok, end_detail = _judge_end(dataset, month, tz, cfg, now, latest, usual)
    if not len(usual):
        return MonthCompleteness(
            month,
            dataset,
            n_days,
            latest,
            end_ok,
            end_detail,
            True,
            f"no earlier month with {what} to compare {month}'s days with: only its end is judged",
            history,
        )
    # The days after the month's data ends are the end's business (already explained there).
    judged_last = last_day if end_ok else (latest.date() - timedelta(days=1) if latest else None)
    days = (
        [first_day + timedelta(days=k) for k in range((judged_last - first_day).days + 1)]
        if judged_last is not None and judged_last >= first_day
        else []
    )
    cur = daily[daily.period == month]
    company = _judge_days(None, days, cur.groupby("day").n.sum(), usual, cfg)
    teams = _judge_teams(cur, days, team_usual, cfg) if cfg.judge_teams and len(team_usual) else []
    failing = [j for j in [company, *teams] if not j.passed(cfg)]
    return MonthCompleteness(
        month,
        dataset,
        n_days,
        latest,
        end_ok,
        end_detail,
        not failing,
        _days_detail(what, month, history, cfg, company, failing),
        history,
        company,
        tuple(teams),
        tuple(j.team or "company" for j in failing),
    )


def _month_days(month: str, tz: str) -> tuple[datetime, date, date, int]:
    """The month's end (exclusive), its first and last day in `tz`, and its number of days."""
    _, end = month_bounds(month, tz)
    first_day = parse_month(month)
    n_days = (end.astimezone(ZoneInfo(tz)).date() - first_day).days
    return end, first_day, first_day + timedelta(days=n_days - 1), n_days


def _judge_end(
    dataset: str,
    month: str,
    tz: str,
    cfg: CompletenessConfig,
    now: datetime,
    latest: datetime | None,
    usual: pd.Series,
) -> tuple[bool, str]:
    """Whether the month's data reaches its end, and the explanation."""
    what, noun = WHAT[dataset], NOUN[dataset]
    zone = ZoneInfo(tz)
    end, _, last_day, n_days = _month_days(month, tz)
    need = last_day - timedelta(days=cfg.end_tolerance_days)
    if now < end:
        return False, (
            f"{month} has not ended yet (it ends {end.astimezone(zone):%Y-%m-%d %H:%M} {tz}; "
            f"now is {now.astimezone(zone):%Y-%m-%d %H:%M}): the month is incomplete"
        )
    if latest is None:
        return False, f"no {what} in {month}: the month is incomplete"
    shown = f"{latest:%Y-%m-%d %H:%M} ({_day(latest.date())} {latest:%H:%M})"
    after = [
        latest.date() + timedelta(days=k) for k in range(1, (last_day - latest.date()).days + 1)
    ]
    # A month may end on days that never have data (a weekend of a business helpdesk):
    # only a pattern with busy weekdays can say so, and only of weekdays usually empty.
    quiet_after = any(float(e) > MIN_EXPECTED for e in usual) and all(
        float(usual.get(d.weekday(), 0.0)) == 0 for d in after
    )
    if latest.date() >= need:
        return True, f"the {noun} ends at {shown}, on or after {_day(need)}: {month} is complete"
    if quiet_after:
        return True, (
            f"the {noun} ends at {shown}; the days after it usually have no {what}: "
            f"{month} is complete"
        )
    return False, (
        f"the {noun} ends at {shown}; {month} has {n_days} days and its data must reach "
        f"{_day(need)}: the month is incomplete"
    )


def _judge_teams(
    cur: pd.DataFrame, days: Sequence[date], team_usual: pd.DataFrame, cfg: CompletenessConfig
) -> list[DayJudgement]:
    """Each team with a usual pattern, on the month's rows `cur`."""
    team_counts = cur[cur.team.notna()].groupby(["team", "day"]).n.sum()
    teams: list[DayJudgement] = []
    for team in sorted(team_usual.index):
        counts = (
            team_counts.loc[team]
            if team in team_counts.index.get_level_values(0)
            else pd.Series(dtype=int)
        )
        teams.append(_judge_days(team, days, counts, team_usual.loc[team], cfg))
    return teams


def _days_detail(
    what: str,
    month: str,
    history: tuple[str, ...],
    cfg: CompletenessConfig,
    company: DayJudgement,
    failing: list[DayJudgement],
) -> str:
    """The explanation of the days' judgement: the figures when they pass, else the gaps."""
    rule = (
        f"a day is low below {cfg.low_day_ratio:.0%} of the usual {what} for its weekday "
        f"(median over {history[0]}…{history[-1]}); at most {cfg.max_low_days} low day(s) and "
        f"at least {cfg.min_day_coverage:.0%} of the days that usually have data with some"
    )
    if not failing:
        return (
            f"{company.days_with_data} of {company.expected_days} days of {month} that usually "
            f"have {what} have some, {company.low_days} low day(s) ({rule})"
        )
    gaps = [g for j in failing for g in j.gaps]
    texts = [g.text(what) for g in gaps[:MAX_GAPS_SHOWN]]
    if len(gaps) > MAX_GAPS_SHOWN:
        texts.append(f"and {len(gaps) - MAX_GAPS_SHOWN} more")
    figures = ", ".join(
        f"{j.team or 'company'}: {j.low_days} low day(s), {j.days_with_data} of "
        f"{j.expected_days} days with data"
        for j in failing
    )
    return f"{month} is incomplete: " + "; ".join(texts) + f" ({figures}; {rule})"
