"""Validation: every row read ends in exactly one place: accepted, quarantined with its reasons,
dropped as an exact duplicate of an accepted row, superseded by a later row of an event log, or
filtered as not data by the mapping.

All checks are SQL expressions over the whole staged table (no per-row Python), so the same code
validates ten rows in a test and ten million in the benchmark.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from scorecards.contract.datasets import (
    CHANNELS,
    CUSTOMERS,
    SCORE_RANGES,
    SURVEY_TYPES,
    SURVEYS,
    TICKETS,
    UNDATED,
    Dataset,
)
from scorecards.core.csv_out import write_csv_atomic
from scorecards.warehouse.sql import sql_ident, sql_in, sql_str

ACCEPTED, QUARANTINED, DUPLICATE = "accepted", "quarantined", "duplicate"
SUPERSEDED, FILTERED = "superseded", "filtered"
STATUSES: tuple[str, ...] = (ACCEPTED, QUARANTINED, DUPLICATE, SUPERSEDED, FILTERED)
# Per-file and per-month counts of each status, under the names reports and tables use.
COUNT_COLUMNS: dict[str, str] = {
    ACCEPTED: "accepted",
    QUARANTINED: "quarantined",
    DUPLICATE: "duplicates_dropped",
    SUPERSEDED: "superseded",
    FILTERED: "filtered",
}


@dataclass(frozen=True)
class ValidationResult:
    """Where the rows of one dataset went; the rows themselves stay in temp tables of `con`.

    `staged` holds every row read with `status`, `reason` and `period`; `accepted` the typed
    contract columns of accepted rows plus `period`.
    """

    dataset: Dataset
    staged: str
    accepted: str
    file_stats: pd.DataFrame  # file, rows_read, accepted, quarantined, duplicates_dropped, ...
    reason_counts: pd.DataFrame  # period, reason, rows
    filter_counts: pd.DataFrame  # period, filter, rows


def status_counts_sql(status: str = "status") -> str:
    """count(*) AS rows_read and one count per status, for a GROUP BY over staged rows."""
    parts = ["count(*) AS rows_read"] + [
        f"count(*) FILTER ({status} = '{s}') AS {name}" for s, name in COUNT_COLUMNS.items()
    ]
    return ", ".join(parts)


# Ids become file names, CSV cells and PDF text: a line break or other control character in
# one is an export error (or an attempt to forge a line), never an id.
ID_COLUMNS: tuple[str, ...] = ("ticket_id", "customer_id", "agent_id", "response_id")


def row_checks(dataset: Dataset, not_after: datetime | None = None) -> list[tuple[str, str]]:
    """Every check that needs one row alone, over its typed columns (named `<col>__v`)."""
    return _rules(dataset) + future_checks(dataset, not_after)


def period_sql(dataset: Dataset, timezone: str, not_after: datetime | None = None) -> str:
    """A row's month in `timezone` from its period column; `undated` when that cannot be read
    or lies after `not_after` (a row dated in the future has no month yet: it is reported with
    the undated rows, which count against every month, not in a month no run looks at)."""
    v = f"{dataset.period_column}__v"
    month = f"COALESCE(strftime(timezone({sql_str(timezone)}, {v}), '%Y-%m'), {sql_str(UNDATED)})"
    if not_after is None:
        return month
    bound = f"TIMESTAMPTZ {sql_str(not_after.isoformat())}"
    return f"(CASE WHEN {v} > {bound} THEN {sql_str(UNDATED)} ELSE {month} END)"


def _rules(dataset: Dataset) -> list[tuple[str, str]]:
    """Dataset-specific checks over the typed columns (named `<col>__v`)."""
    ids = [
        (f"regexp_matches({c}__v, '[[:cntrl:]]')", f"control character in {c}")
        for c in dataset.column_names
        if c in ID_COLUMNS
    ]
    return ids + _dataset_rules(dataset)


def _dataset_rules(dataset: Dataset) -> list[tuple[str, str]]:
    if dataset is TICKETS:
        return [
            (
                f"channel__v IS NOT NULL AND NOT {sql_in('lower(channel__v)', CHANNELS)}",
                "unknown channel",
            ),
            ("first_response_at__v < created_at__v", "first response before creation"),
            ("resolved_at__v < created_at__v", "resolved before creation"),
            ("contacts__v < 1", "contacts below 1"),
        ]
    if dataset is SURVEYS:
        ranges = " ".join(
            f"WHEN {sql_str(t)} THEN score__v NOT BETWEEN {lo} AND {hi}"
            for t, (lo, hi) in SCORE_RANGES.items()
        )
        return [
            (
                "survey_type__v IS NOT NULL AND NOT "
                + sql_in("lower(survey_type__v)", SURVEY_TYPES),
                "unknown survey type",
            ),
            (f"COALESCE(CASE lower(survey_type__v) {ranges} END, false)", "score out of range"),
        ]
    if dataset is CUSTOMERS:
        return [("churned_at__v < customer_since__v", "churned before customer_since")]
    raise ValueError(dataset.name)


def future_checks(dataset: Dataset, not_after: datetime | None) -> list[tuple[str, str]]:
    """A timestamp after `not_after` (now plus a tolerance) cannot have happened yet: a typo or
    a wrong format, and it would put a row in a month that has not begun or make an incomplete
    month look complete."""
    if not_after is None:
        return []
    bound = f"TIMESTAMPTZ {sql_str(not_after.isoformat())}"
    return [
        (f"{c.name}__v > {bound}", f"timestamp in the future: {c.name}")
        for c in dataset.columns
        if c.type == "timestamp"
    ]


def _reason_sql(checks: list[tuple[str, str]], first: str) -> str:
    """The per-column reasons in `first`, then all failed rule reasons, joined by "; "; NULL when
    none failed. A string, not a list: concat_ws skips NULLs and costs a fraction of a list."""
    items = ", ".join(f"CASE WHEN COALESCE({c}, false) THEN {sql_str(r)} END" for c, r in checks)
    return f"NULLIF(concat_ws('; ', {first}, {items}), '')"


def validate(
    con: duckdb.DuckDBPyConnection,
    dataset: Dataset,
    raw_table: str,
    timezone: str,
    accepted_tickets: str | None = None,
    not_after: datetime | None = None,
    prechecked: bool = False,
) -> ValidationResult:
    """Validate a raw table loaded by `landing.load_raw`.

    Each row ends in one status: filtered (a mapping's filter says it is not data), superseded
    (an event log has a later row for its key), quarantined (with every reason), duplicate (an
    exact copy of an accepted row) or accepted. Survey responses need the accepted tickets
    (`accepted_tickets`) to take their team from the ticket and to check they were not
    submitted before the ticket existed. Timestamps after `not_after` are quarantined.
    """
    con.execute(f"SET TimeZone = {sql_str(timezone)}")
    staged = f"staged_{dataset.name}"
    _check_rows(con, dataset, raw_table, staged, timezone, accepted_tickets, not_after, prechecked)
    _find_superseded(con, dataset, staged)
    _find_repeats(con, dataset, staged)
    _assign_status(con, dataset, staged)
    for t in ("checked", "superseded", "repeats"):
        con.execute(f"DROP TABLE {staged}_{t}")
    accepted = _accepted_table(con, dataset, staged)
    file_stats = con.execute(
        f"SELECT _file AS file, {status_counts_sql()} FROM {staged} GROUP BY _file ORDER BY _file"
    ).df()
    reason_counts = con.execute(
        f"""
        SELECT period, trim(r) AS reason, count(*) AS rows
        FROM (SELECT period, unnest(string_split(reason, '; ')) AS r FROM {staged}
              WHERE status = '{QUARANTINED}')
        GROUP BY ALL ORDER BY period, rows DESC, reason
        """
    ).df()
    filter_counts = con.execute(
        f"""
        SELECT period, _skip AS filter, count(*) AS rows FROM {staged}
        WHERE status = '{FILTERED}' GROUP BY ALL ORDER BY period, rows DESC, filter
        """
    ).df()
    return ValidationResult(dataset, staged, accepted, file_stats, reason_counts, filter_counts)


def _ticket_checks(accepted_tickets: str | None) -> tuple[str, str, list[tuple[str, str]]]:
    """A survey response against its ticket: the join, the response's team (its own, else its
    ticket's) and the checks that need the ticket."""
    if accepted_tickets is None:
        raise ValueError("survey validation needs the accepted tickets")
    # Renamed so the ticket's columns cannot shadow the response's own raw columns.
    join = (
        "LEFT JOIN (SELECT ticket_id AS t_ticket_id, team AS t_team, created_at AS t_created"
        f" FROM {accepted_tickets}) t ON t.t_ticket_id = s.ticket_id__v"
    )
    checks = [
        ("s.team__v IS NULL AND s.ticket_id__v IS NULL", "no team and no ticket_id"),
        (
            "s.team__v IS NULL AND s.ticket_id__v IS NOT NULL AND t.t_ticket_id IS NULL",
            "no team and ticket_id not among accepted tickets",
        ),
        ("s.submitted_at__v < t.t_created", "submitted before its ticket was created"),
    ]
    return join, "COALESCE(s.team__v, t.t_team)", checks


def _check_rows(
    con: duckdb.DuckDBPyConnection,
    dataset: Dataset,
    raw_table: str,
    staged: str,
    timezone: str,
    accepted_tickets: str | None,
    not_after: datetime | None,
    prechecked: bool,
) -> None:
    """`<staged>_checked`: every row read with its `reason` (NULL: passed every check), its
    `resolved_team` and its `period`."""
    # Loaded with row_checks and period_sql (prechecked), a row's own checks and month are
    # already in `_colreason` and `period`; what is left are a survey's checks against its ticket.
    checks = [] if prechecked else row_checks(dataset, not_after)
    join = ""
    team_expr = "s.team__v" if "team" in dataset.column_names else "NULL"
    if dataset is SURVEYS:
        join, team_expr, ticket_checks = _ticket_checks(accepted_tickets)
        checks += ticket_checks
    if prechecked and not checks:
        # Nothing to add: the loaded table is the checked one (a copy of a million rows saved).
        con.execute(f"DROP TABLE IF EXISTS {staged}_checked")
        con.execute(f"ALTER TABLE {raw_table} RENAME TO {staged}_checked")
        con.execute(f"ALTER TABLE {staged}_checked RENAME COLUMN _colreason TO reason")
        con.execute(f"ALTER TABLE {staged}_checked ADD COLUMN resolved_team VARCHAR")
        return
    period = "s.period" if prechecked else period_sql(dataset, timezone, not_after)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {staged}_checked AS
        SELECT s.* EXCLUDE (_colreason, period),
               {_reason_sql(checks, "s._colreason")} AS reason,
               {team_expr} AS resolved_team,
               {period} AS period
        FROM {raw_table} s {join}
        """
    )


def _find_superseded(con: duckdb.DuckDBPyConnection, dataset: Dataset, staged: str) -> None:
    """`<staged>_superseded`: the rows of an event log that a later row of their key replaces.

    Of the rows of one key, the last in the mapping's order is the record; the earlier ones are
    history, not errors, except exact copies of the record, which are duplicates (`is_copy`).
    Only keys that occur more than once are sorted.
    """
    id_v = f"{dataset.id_column}__v"
    written = ", ".join(sql_ident(c) for c in dataset.column_names)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {staged}_superseded AS
        WITH keys AS (
            SELECT {id_v} FROM {staged}_checked
            WHERE _evlog AND _skip IS NULL AND {id_v} IS NOT NULL
            GROUP BY {id_v} HAVING count(*) > 1
        ), ranked AS (
            SELECT _file, _row, hash(struct_pack({written})) AS row_key,
                   row_number() OVER latest AS k, first_value(hash(struct_pack({written})))
                       OVER latest AS record_key
            FROM {staged}_checked SEMI JOIN keys USING ({id_v})
            WHERE _evlog AND _skip IS NULL
            WINDOW latest AS (PARTITION BY {id_v}
                              ORDER BY _order DESC NULLS LAST, _file DESC, _row DESC)
        )
        SELECT _file, _row, row_key = record_key AS is_copy FROM ranked WHERE k > 1
        """
    )


def _find_repeats(con: duckdb.DuckDBPyConnection, dataset: Dataset, staged: str) -> None:
    """`<staged>_repeats`: rows that passed every check and share their id with another.

    Identical copies are dropped once (`copy_no` > 1); copies that disagree (`versions` > 1) are
    all quarantined because no one can tell which is right, with the columns they disagree on.
    Only ids that occur more than once need the windows.
    """
    id_v = f"{dataset.id_column}__v"
    value_cols = [f"{c}__v" for c in dataset.column_names]
    differs = ", ".join(
        f"CASE WHEN count(DISTINCT {v}) + (count(*) > count({v}))::INT > 1 THEN {sql_str(c)} END"
        for c, v in zip(dataset.column_names, value_cols, strict=True)
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {staged}_repeats AS
        WITH live AS (
            SELECT * FROM {staged}_checked c
            WHERE reason IS NULL AND _skip IS NULL
              AND NOT EXISTS (SELECT 1 FROM {staged}_superseded x
                              WHERE x._file = c._file AND x._row = c._row)
        ), repeated AS (
            SELECT * FROM live SEMI JOIN (
                SELECT {id_v} FROM live GROUP BY {id_v} HAVING count(*) > 1
            ) USING ({id_v})
        ), ids AS (
            SELECT {id_v}, concat_ws(', ', {differs}) AS differs FROM repeated GROUP BY {id_v}
        ), keyed AS (
            SELECT _file, _row, {id_v}, ids.differs,
                   hash(struct_pack({", ".join(value_cols)})) AS row_key
            FROM repeated JOIN ids USING ({id_v})
        )
        SELECT _file, _row, differs,
               count(DISTINCT row_key) OVER (PARTITION BY {id_v}) AS versions,
               row_number() OVER (PARTITION BY {id_v}, row_key ORDER BY _file, _row) AS copy_no
        FROM keyed
        """
    )


def _assign_status(con: duckdb.DuckDBPyConnection, dataset: Dataset, staged: str) -> None:
    """`<staged>`: every row read with its one status and the reason of a quarantined row."""
    conflict = f"'duplicate {dataset.id_column} with conflicting values in: ' || d.differs"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {staged} AS
        SELECT c.* EXCLUDE (reason),
            CASE WHEN c._skip IS NOT NULL THEN '{FILTERED}'
                 WHEN x.is_copy THEN '{DUPLICATE}'
                 WHEN x._row IS NOT NULL THEN '{SUPERSEDED}'
                 WHEN c.reason IS NOT NULL THEN '{QUARANTINED}'
                 WHEN d.versions > 1 THEN '{QUARANTINED}'
                 WHEN d.copy_no > 1 THEN '{DUPLICATE}'
                 ELSE '{ACCEPTED}' END AS status,
            CASE WHEN c._skip IS NOT NULL OR x._row IS NOT NULL THEN NULL
                 WHEN c.reason IS NOT NULL THEN c.reason
                 WHEN d.versions > 1 THEN {conflict}
            END AS reason
        FROM {staged}_checked c
        LEFT JOIN {staged}_superseded x USING (_file, _row)
        LEFT JOIN {staged}_repeats d USING (_file, _row)
        """
    )


def _accepted_table(con: duckdb.DuckDBPyConnection, dataset: Dataset, staged: str) -> str:
    """The typed contract columns of the accepted rows plus `period`, in id order; its name."""
    out_cols = []
    for c in dataset.column_names:
        if c == "team" and dataset is SURVEYS:
            out_cols.append("resolved_team AS team")
        elif c in ("channel", "survey_type"):
            out_cols.append(f"lower({c}__v) AS {c}")
        else:
            out_cols.append(f"{c}__v AS {c}")
    accepted = f"accepted_{dataset.table}"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {accepted} AS
        SELECT {", ".join(out_cols)}, period FROM {staged}
        WHERE status = '{ACCEPTED}' ORDER BY {dataset.id_column}__v
        """
    )
    return accepted


def quarantine_frame(
    con: duckdb.DuckDBPyConnection, result: ValidationResult, period: str
) -> pd.DataFrame:
    """The quarantined rows of one month with their original values, file, row and reason."""
    cols = ", ".join(sql_ident(c) for c in result.dataset.column_names)
    return con.execute(
        f"""
        SELECT {cols}, _file AS source_file, _row AS source_row, reason
        FROM {result.staged} WHERE status = '{QUARANTINED}' AND period = ?
        ORDER BY _file, _row
        """,
        [period],
    ).df()


def write_quarantine(
    con: duckdb.DuckDBPyConnection, result: ValidationResult, folder: Path, months: Sequence[str]
) -> list[Path]:
    """One CSV per month (and `undated`) with the quarantined rows under `folder`; a month that
    is clean now loses its old file."""
    written: list[Path] = []
    for month in [*months, UNDATED]:
        path = folder / f"{month}.csv"
        frame = quarantine_frame(con, result, month)
        if len(frame):
            write_csv_atomic(frame, path)
            written.append(path)
        else:
            path.unlink(missing_ok=True)
    return written
