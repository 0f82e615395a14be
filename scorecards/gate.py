"""The delivery gate: what must hold for a month before any scorecard of it is e-mailed.

Three checks, read from what the warehouse recorded when the month was loaded:
- the month's data reaches its last day (a month loaded on the 15th is not reported on);
- no team that had tickets the month before has none now (a missing export, not a quiet team);
- the quarantined share of tickets and of survey responses is at or below the threshold.
If one fails, nobody gets a scorecard and the admins get an alert saying which and why.
"""

from __future__ import annotations

from dataclasses import dataclass

from scorecards import warehouse
from scorecards.ingest import quarantined_share, reaches_month_end
from scorecards.periods import shift_month
from scorecards.settings import Settings


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


def evaluate_gate(settings: Settings, month: str) -> GateResult:
    prev = shift_month(month, -1)
    with warehouse.connect(settings.warehouse_path, read_only=True) as con:
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
    by_dataset = {row[0]: row[1:] for row in loads}
    checks: list[GateCheck] = []

    tickets = by_dataset.get("tickets")
    if tickets is None:
        checks.append(
            GateCheck("data_reaches_month_end", False, f"no tickets were loaded for {month}")
        )
    else:
        latest = tickets[3]
        ok = reaches_month_end(latest, month, settings.timezone)
        shown = latest.isoformat() if latest is not None else "no data"
        checks.append(
            GateCheck(
                "data_reaches_month_end",
                ok,
                f"the ticket data ends at {shown}"
                + ("" if ok else f", before the last day of {month}: the month is incomplete"),
            )
        )

    silent = sorted(t for t, n in counts.items() if n == 0)
    checks.append(
        GateCheck(
            "no_team_without_tickets",
            not silent,
            f"{len(silent)} team(s) had tickets in {prev} and none in {month}: "
            f"{', '.join(silent)} (a missing or partial export?)"
            if silent
            else f"every team with tickets in {prev} has tickets in {month}",
        )
    )

    threshold = settings.teams_file.quarantine_threshold
    shares = {
        ds: quarantined_share(int(v[0]), int(v[1]), int(v[2])) for ds, v in by_dataset.items()
    }
    over = {ds: s for ds, s in sorted(shares.items()) if s > threshold}
    listed = ", ".join(f"{ds} {_pct(s)}" for ds, s in sorted((over or shares).items()))
    checks.append(
        GateCheck(
            "quarantine_share_below_threshold",
            not over,
            f"quarantined share above the {_pct(threshold)} threshold: {listed} "
            f"(see quarantine/<dataset>/{month}.csv)"
            if over
            else f"quarantined share at or below {_pct(threshold)}: {listed or 'no data'}",
        )
    )
    return GateResult(month, checks)
