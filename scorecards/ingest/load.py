"""Ingest: landing files -> validation -> warehouse months and quarantine files.

Tickets and survey responses are monthly: a run reads the whole landing folder (months are mixed
freely across files) and replaces only the months it was asked for. Customers are one table that
is replaced whole, since churn needs every customer ever seen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from scorecards.config.settings import Settings
from scorecards.contract.datasets import CUSTOMERS, SURVEYS, TICKETS, UNDATED, Dataset
from scorecards.ingest import audit
from scorecards.ingest.completeness import MonthCompleteness
from scorecards.ingest.landing import LandingFile, load_raw, resolve_files
from scorecards.ingest.months_state import Clock, utc_now, write_state
from scorecards.ingest.validation import (
    ACCEPTED,
    COUNT_COLUMNS,
    QUARANTINED,
    ValidationResult,
    period_sql,
    row_checks,
    status_counts_sql,
    validate,
    write_quarantine,
)
from scorecards.warehouse.connection import connect
from scorecards.warehouse.tables import replace_months
from scorecards.warehouse.teams import team_id_sql
from scorecards.warehouse.transactions import write_transaction

log = logging.getLogger(__name__)

# How far past now a timestamp may lie before it is quarantined as in the future: clocks and
# time zones of export tools disagree by hours, never by days. The default of
# `completeness.future_tolerance_hours` in teams.yaml, which is what the ingest uses.
FUTURE_TOLERANCE = timedelta(days=1)


def quarantined_share(rows_read: int, quarantined: int, undated: int) -> float:
    """Quarantined share of a month's rows that claim to be data (read less filtered and
    superseded); undated rows count against every month, since any of them might belong to it."""
    read, bad = rows_read + undated, quarantined + undated
    return bad / read if read else 0.0


@dataclass
class IngestReport:
    """What one dataset's ingest did, for asset metadata, checks and tests."""

    dataset: str
    months: list[str]
    files: pd.DataFrame
    month_stats: pd.DataFrame  # period, rows_read and one count per status (COUNT_COLUMNS)
    reasons: pd.DataFrame  # period, reason, rows
    undated: int
    quarantine_files: list[Path] = field(default_factory=list)
    filters: pd.DataFrame = field(default_factory=pd.DataFrame)  # period, filter, rows
    unknown_teams: list[str] = field(default_factory=list)
    # The newest accepted timestamp in the whole landing data: whether the dataset is there at
    # all (the gate's choice of what to judge on), never whether a month is complete.
    latest: datetime | None = None
    # Header problems that did not stop the read (empty or repeated column names).
    warnings: list[str] = field(default_factory=list)
    # The load's blocking checks (scorecards/ingest/audit.py), judged before it was published, and the
    # completeness of each month when this dataset is the one months are judged on.
    checks: list[audit.AuditCheck] = field(default_factory=list)
    completeness: list[MonthCompleteness] = field(default_factory=list)

    def quarantined_share(self, month: str) -> float:
        row = self.month_stats[self.month_stats.period == month]
        claimed = int(row.rows_read.sum()) - int(row.filtered.sum()) - int(row.superseded.sum())
        return quarantined_share(claimed, int(row.quarantined.sum()), self.undated)

    def totals(self) -> dict[str, int]:
        s = self.files[["rows_read", *COUNT_COLUMNS.values()]].sum()
        return {k: int(v) for k, v in s.items()}


def _month_stats(
    con: duckdb.DuckDBPyConnection, res: ValidationResult, months: Sequence[str]
) -> pd.DataFrame:
    df = con.execute(
        f"""
        WITH m AS (SELECT unnest(?::VARCHAR[]) AS period)
        SELECT m.period, {status_counts_sql("s.status").replace("count(*) AS rows_read", "count(s.status) AS rows_read")}
        FROM m LEFT JOIN {res.staged} s USING (period)
        GROUP BY m.period ORDER BY m.period
        """,
        [list(months)],
    ).df()
    return df


def _undated(con: duckdb.DuckDBPyConnection, res: ValidationResult) -> int:
    return con.execute(
        f"SELECT count(*) FROM {res.staged} WHERE period = ? AND status = '{QUARANTINED}'",
        [UNDATED],
    ).fetchone()[0]


def _record(con: duckdb.DuckDBPyConnection, report: IngestReport, months: Sequence[str]) -> None:
    ds = report.dataset
    con.execute(
        "DELETE FROM ingest_months WHERE dataset = ? AND period IN (SELECT unnest(?))",
        [ds, list(months)],
    )
    # The newest landing record is kept with each month: the delivery gate reads it later to tell
    # whether the month was complete when it was loaded.
    stats = report.month_stats.assign(
        dataset=ds, undated=report.undated, landing_latest=pd.Timestamp(report.latest)
    )
    con.register("_stats", stats)
    con.execute("INSERT INTO ingest_months BY NAME SELECT * FROM _stats")
    con.unregister("_stats")
    con.execute(
        "DELETE FROM quarantine_reasons WHERE dataset = ? AND period IN (SELECT unnest(?))",
        [ds, list(months) + [UNDATED]],
    )
    reasons = report.reasons[report.reasons.period.isin([*months, UNDATED])].assign(dataset=ds)
    con.register("_reasons", reasons)
    con.execute("INSERT INTO quarantine_reasons BY NAME SELECT * FROM _reasons")
    con.unregister("_reasons")
    con.execute("DELETE FROM ingest_files WHERE dataset = ?", [ds])
    con.register("_files", report.files.assign(dataset=ds))
    con.execute("INSERT INTO ingest_files BY NAME SELECT * FROM _files")
    con.unregister("_files")


def _report(
    con: duckdb.DuckDBPyConnection, res: ValidationResult, months: Sequence[str]
) -> IngestReport:
    return IngestReport(
        dataset=res.dataset.table,
        months=list(months),
        files=res.file_stats,
        month_stats=_month_stats(con, res, months),
        reasons=res.reason_counts,
        filters=res.filter_counts,
        undated=_undated(con, res),
    )


def load_and_validate(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    ds: Dataset,
    accepted_tickets: str | None = None,
    warnings: list[str] | None = None,
    clock: Clock = utc_now,
    files: list[LandingFile] | None = None,
) -> ValidationResult:
    """Read a dataset's landing files (or `files`) through their mappings and validate them, in
    temporary tables of `con`; the warehouse is not touched."""
    if files is None:
        files = resolve_files(settings.landing_dir, ds, settings.sources)
    not_after = clock() + timedelta(hours=settings.teams_file.completeness.future_tolerance_hours)
    # Checks of one row alone and its month are computed while the file is typed (one pass);
    # a survey's checks against its ticket follow in validate.
    raw = load_raw(
        con,
        ds,
        files,
        settings.timezone,
        team_ids=team_ids_sql(settings),
        warnings=warnings,
        row_checks=row_checks(ds, not_after),
        period=period_sql(ds, settings.timezone, not_after),
    )
    return validate(
        con,
        ds,
        raw,
        settings.timezone,
        accepted_tickets=accepted_tickets,
        not_after=not_after,
        prechecked=True,
    )


def team_ids_sql(settings: Settings) -> Callable[[str], str]:
    """Team ids from the data's spelling: a configured id or name, else a slug of the name."""
    teams = list(settings.configured_teams.values())
    return lambda expr: team_id_sql(expr, teams)


def ingest_events(
    settings: Settings,
    months: Sequence[str],
    clock: Clock = utc_now,
    *,
    blocking_checks: bool = False,
) -> dict[str, IngestReport]:
    """Validate all landing tickets and survey responses; replace `months` in the warehouse.

    The blocking checks (quarantined share, completeness) are judged on the staged load before
    anything is written and recorded on the reports. With `blocking_checks` (what the Dagster
    asset does) a load that fails one is not written at all: `audit.IngestRejected` is raised and
    the warehouse, the quarantine files and the months state stay as they were."""
    months = sorted(set(months))
    with connect(settings.warehouse) as con:
        notes: dict[str, list[str]] = {"tickets": [], "survey_responses": []}
        tickets = load_and_validate(con, settings, TICKETS, None, notes["tickets"], clock)
        surveys = load_and_validate(
            con, settings, SURVEYS, tickets.accepted, notes["survey_responses"], clock
        )
        reports = {r.dataset.table: _report(con, r, months) for r in (tickets, surveys)}
        for name, w in notes.items():
            reports[name].warnings = w
        for res in (tickets, surveys):
            reports[res.dataset.table].latest = con.execute(
                f"SELECT max({res.dataset.period_column}) FROM {res.accepted}"
            ).fetchone()[0]
        known = set(settings.configured_teams)
        for res in (tickets, surveys):
            teams = con.execute(
                f"SELECT DISTINCT team FROM {res.accepted} WHERE period IN (SELECT unnest(?)) ORDER BY 1",
                [months],
            ).fetchall()
            unknown = [t for (t,) in teams if t not in known]
            reports[res.dataset.table].unknown_teams = unknown
            for t in unknown:
                # With teams_from_data they get a scorecard with team_defaults: worth a note,
                # not a warning.
                log.log(
                    logging.INFO if settings.teams_file.teams_from_data else logging.WARNING,
                    "team %r is in the %s data but not in config/teams.yaml; %s",
                    t,
                    res.dataset.table,
                    "it gets team_defaults"
                    if settings.teams_file.teams_from_data
                    else "its KPIs are computed but it gets no scorecard (teams_from_data: false)",
                )
        # Audit before publishing: a load that fails a blocking check changes nothing.
        _audit_events(con, settings, (tickets, surveys), reports, months, clock(), blocking_checks)

        def publish() -> None:
            for res in (tickets, surveys):
                replace_months(con, res.dataset.table, res.accepted, months)
                _record(con, reports[res.dataset.table], months)
            _record_team_names(con, tickets, surveys)

        write_transaction(con, publish, f"ingest {', '.join(months)}")
        for res in (tickets, surveys):
            reports[res.dataset.table].quarantine_files = write_quarantine(
                con, res, settings.quarantine_dir / res.dataset.name, months
            )
        audit.clear_rejected(settings, [TICKETS.name, SURVEYS.name], months)
        # Every file was read: what months the landing data covers is known for free, and the
        # next load of the Dagster definitions starts its partitions there.
        write_state(settings, _accepted_months(con, tickets, surveys))
    return reports


def _audit_events(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    results: Sequence[ValidationResult],
    reports: dict[str, IngestReport],
    months: Sequence[str],
    now: datetime,
    blocking: bool,
) -> None:
    """The blocking checks of a staged load (quarantined share per dataset, completeness of
    each month) on what the warehouse would hold after it; recorded on the reports. Raises
    `audit.IngestRejected`, after writing the rows it would have quarantined to the rejected
    folder, when one fails; then nothing else is written."""
    if not months:
        return
    threshold = settings.teams_file.quarantine_threshold
    relations = {
        res.dataset.table: audit.staged_relation(
            res.dataset.table, res.accepted, res.dataset.period_column, months
        )
        for res in results
    }
    basis, judged = audit.judge_load(con, settings, relations, months, now)
    reports[basis].completeness = judged
    for report in reports.values():
        report.checks = [audit.quarantine_check(report, threshold, months)]
    reports[TICKETS.table].checks += audit.completeness_checks(judged, TICKETS.table, basis)
    checks = [c for r in reports.values() for c in r.checks]
    if not blocking or all(c.passed for c in checks):
        return
    rejected = audit.write_rejected(con, settings, results, months)
    raise audit.IngestRejected(months, checks, reports, rejected)


def _accepted_months(
    con: duckdb.DuckDBPyConnection, tickets: ValidationResult, surveys: ValidationResult
) -> list[str]:
    rows = con.execute(
        f"SELECT DISTINCT period FROM (SELECT period FROM {tickets.accepted} "
        f"UNION ALL SELECT period FROM {surveys.accepted}) WHERE period <> ? ORDER BY 1",
        [UNDATED],
    ).fetchall()
    return [r[0] for r in rows]


def ingest_customers(
    settings: Settings, clock: Clock = utc_now, *, blocking_checks: bool = False
) -> IngestReport:
    """Validate the landing customers and replace the customer table whole (with
    `blocking_checks`, only when the quarantined share is within the threshold)."""
    with connect(settings.warehouse) as con:
        notes: list[str] = []
        res = load_and_validate(con, settings, CUSTOMERS, None, notes, clock)
        months = [
            m
            for (m,) in con.execute(
                f"SELECT DISTINCT period FROM {res.staged} WHERE period <> ? ORDER BY 1", [UNDATED]
            ).fetchall()
        ]
        report = _report(con, res, months)
        report.warnings = notes
        # Audit before publishing, as for the monthly data.
        report.checks = [audit.customers_check(report, settings.teams_file.quarantine_threshold)]
        if blocking_checks and not report.checks[0].passed:
            rejected = audit.write_rejected(con, settings, [res], months)
            raise audit.IngestRejected(
                ["customers"], report.checks, {"customers": report}, rejected
            )

        def publish() -> None:
            con.execute(f"DELETE FROM {CUSTOMERS.table}")
            con.execute(f"INSERT INTO {CUSTOMERS.table} BY NAME SELECT * FROM {res.accepted}")
            con.execute("DELETE FROM ingest_months WHERE dataset = ?", [CUSTOMERS.table])
            con.execute("DELETE FROM quarantine_reasons WHERE dataset = ?", [CUSTOMERS.table])
            _record(con, report, months)

        write_transaction(con, publish, "ingest customers")
        folder = settings.quarantine_dir / CUSTOMERS.name
        if folder.exists():
            for old in folder.glob("*.csv"):
                old.unlink()
        report.quarantine_files = write_quarantine(
            con, res, settings.quarantine_dir / CUSTOMERS.name, months
        )
        audit.clear_rejected(settings, [CUSTOMERS.name], None)
    return report


def _record_team_names(
    con: duckdb.DuckDBPyConnection, tickets: ValidationResult, surveys: ValidationResult
) -> None:
    """Each team id with the spelling the data uses most for it, for titles of teams that come
    from the data. Rebuilt from the whole landing folder, like the quarantine accounting."""
    names = " UNION ALL ".join(
        f"SELECT team__v AS team, trim(team) AS name FROM {r.staged} "
        f"WHERE status = '{ACCEPTED}' AND team__v IS NOT NULL AND trim(team) <> ''"
        for r in (tickets, surveys)
    )
    con.execute("DELETE FROM team_names")
    con.execute(
        f"""
        INSERT INTO team_names BY NAME
        SELECT team, first(name ORDER BY n DESC, name) AS name FROM (
            SELECT team, name, count(*) AS n FROM ({names}) GROUP BY team, name
        ) GROUP BY team
        """
    )


def landing_months(settings: Settings, clock: Clock = utc_now) -> list[str]:
    """Months with accepted tickets or survey responses in the landing folder, read through the
    mapping. Reads every file (raises `InputFileError` for one that cannot be read), so this is
    for run time, never for loading the Dagster definitions."""
    with duckdb.connect() as con:
        tickets = load_and_validate(con, settings, TICKETS, clock=clock)
        surveys = load_and_validate(con, settings, SURVEYS, tickets.accepted, clock=clock)
        return _accepted_months(con, tickets, surveys)


def first_data_month(settings: Settings) -> str | None:
    """The configured first month, else the earliest month of data (reads the landing folder)."""
    if settings.teams_file.first_month:
        return settings.teams_file.first_month
    months = landing_months(settings)
    return months[0] if months else None
