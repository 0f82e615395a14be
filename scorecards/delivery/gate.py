"""The delivery gate: what must hold for a month before any scorecard of it is e-mailed.

Four checks, read from what the warehouse holds for the month:
- the newest timestamp *within* the month reaches its last day, and the month has ended by the
  injected clock (a month loaded on the 15th is not reported on; a ticket dated 2099 does not
  make it complete);
- the month's days have their usual volume: against the same weekday of earlier months, for the
  company and each team, and enough of the days that usually have data have some (no gap from
  the 5th to the 25th); scorecards/ingest/completeness.py, thresholds in `completeness`;
- no team that had tickets the month before has none now (a missing export, not a quiet team);
- the quarantined share of tickets and of survey responses is at or below the threshold.
If one fails, nobody gets a scorecard and the admins get an alert saying which and why.

The checks apply to the datasets the installation has: the ticket data when there is any, else
(a survey-only installation) the survey responses. A dataset "is there" when its landing data
had any accepted row at all (`landing_latest` of the load), whatever the month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from scorecards.config.settings import Settings
from scorecards.core.periods import shift_month
from scorecards.ingest.audit import MONTH_END, USUAL_DAYS
from scorecards.ingest.completeness import MonthCompleteness, judge_month
from scorecards.ingest.load import quarantined_share
from scorecards.ingest.months_state import utc_now
from scorecards.warehouse.connection import connect


@dataclass(frozen=True)
class GateCheck:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class GateResult:
    month: str
    checks: list[GateCheck]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[GateCheck]:
        return [c for c in self.checks if not c.passed]


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _present(load: tuple | None) -> bool:
    """Whether a dataset is in the installation's data: its landing data had an accepted row
    (in any month) or this month read rows of it."""
    return load is not None and (load[3] is not None or int(load[0]) > 0)


@dataclass(frozen=True)
class _Month:
    """What the gate reads from the warehouse for a month."""

    by_dataset: dict[str, tuple]  # ingest_months: rows_read, quarantined, undated, latest
    counts: dict[str, int]  # tickets this month per team that had tickets the month before
    survey_counts: dict[str, int]  # the same for survey responses
    present: list[str]  # the datasets the installation has
    basis: str  # the dataset the month's completeness is judged on
    judgement: MonthCompleteness


def _read(settings: Settings, month: str, prev: str, now: datetime) -> _Month:
    with connect(settings.warehouse, read_only=True) as con:
        loads = con.execute(
            "SELECT dataset, rows_read, quarantined, undated, landing_latest "
            "FROM ingest_months WHERE period = ? AND dataset IN ('tickets', 'survey_responses')",
            [month],
        ).fetchall()
        counts = dict(
            con.execute(
                "SELECT team, count(*) FILTER (period = $m) FROM tickets "
                "WHERE period IN ($m, $p) GROUP BY team HAVING count(*) FILTER (period = $p) > 0",
                {"m": month, "p": prev},
            ).fetchall()
        )
        survey_counts = dict(
            con.execute(
                "SELECT team, count(*) FILTER (period = $m) FROM survey_responses "
                "WHERE period IN ($m, $p) AND team IS NOT NULL GROUP BY team "
                "HAVING count(*) FILTER (period = $p) > 0",
                {"m": month, "p": prev},
            ).fetchall()
        )
        by_dataset = {row[0]: row[1:] for row in loads}
        # The dataset the month's completeness is judged on: tickets when the installation
        # has any, else survey responses (surveys only).
        present = [ds for ds in ("tickets", "survey_responses") if _present(by_dataset.get(ds))]
        basis = present[0] if present else "tickets"
        month_judgement = judge_month(
            con,
            basis,
            basis,
            month,
            settings.timezone,
            settings.teams_file.completeness,
            now,
        )
    return _Month(by_dataset, counts, survey_counts, present, basis, month_judgement)


def _completeness(got: _Month, month: str) -> list[GateCheck]:
    """The month has ended and its data reaches its last day, and its days have their usual
    volume."""
    loaded = got.by_dataset.get(got.basis)
    if loaded is None or not got.present:
        why = (
            f"no tickets were loaded for {month}"
            if loaded is None
            else f"neither tickets nor survey responses are in the data loaded for {month}"
        )
        return [GateCheck(MONTH_END, False, why), GateCheck(USUAL_DAYS, False, why)]
    judged = got.judgement
    note = "" if got.basis == "tickets" else " (no ticket data: judged on survey responses)"
    return [
        GateCheck(MONTH_END, judged.end_ok, judged.end_detail + note),
        GateCheck(USUAL_DAYS, judged.days_ok, judged.days_detail + note),
    ]


def _no_silent_team(got: _Month, month: str, prev: str) -> GateCheck:
    basis = got.basis
    what = "tickets" if basis == "tickets" else "survey responses"
    silent = sorted(
        t for t, n in (got.counts if basis == "tickets" else got.survey_counts).items() if n == 0
    )
    return GateCheck(
        "no_team_without_tickets",
        not silent,
        f"{len(silent)} team(s) had {what} in {prev} and none in {month}: "
        f"{', '.join(silent)} (a missing or partial export?)"
        if silent
        else f"every team with {what} in {prev} has {what} in {month}",
    )


def _quarantine(settings: Settings, got: _Month, month: str) -> GateCheck:
    threshold = settings.teams_file.quarantine_threshold
    # A dataset the installation does not have (nothing read in any month) has no share.
    shares = {
        ds: quarantined_share(int(v[0]), int(v[1]), int(v[2]))
        for ds, v in got.by_dataset.items()
        if ds in got.present or int(v[0]) + int(v[2]) > 0
    }
    over = {ds: s for ds, s in sorted(shares.items()) if s > threshold}
    listed = ", ".join(f"{ds} {_pct(s)}" for ds, s in sorted((over or shares).items()))
    return GateCheck(
        "quarantine_share_below_threshold",
        not over,
        f"quarantined share above the {_pct(threshold)} threshold: {listed} "
        f"(see quarantine/<dataset>/{month}.csv)"
        if over
        else f"quarantined share at or below {_pct(threshold)}: {listed or 'no data'}",
    )


def evaluate_gate(settings: Settings, month: str, now: datetime | None = None) -> GateResult:
    """The gate for `month`; `now` (default: the wall clock) decides whether it has ended."""
    now = now or utc_now()
    prev = shift_month(month, -1)
    got = _read(settings, month, prev, now)
    checks = _completeness(got, month)
    checks.append(_no_silent_team(got, month, prev))
    checks.append(_quarantine(settings, got, month))
    return GateResult(month, checks)
