"""Validation: every row read ends in exactly one place, accepted, quarantined with its reasons, or
dropped as an exact duplicate of an accepted row.

All checks are SQL expressions over the whole staged table (no per-row Python), so the same code
validates ten rows in a test and ten million in the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from scorecards.contract import (
    CHANNELS,
    CUSTOMERS,
    FALSE_WORDS,
    SCORE_RANGES,
    SURVEY_TYPES,
    SURVEYS,
    TICKETS,
    TRUE_WORDS,
    UNDATED,
    Column,
    Dataset,
)
from scorecards.landing import sql_ident, sql_str
from scorecards.settings import DatasetSource

ACCEPTED, QUARANTINED, DUPLICATE = "accepted", "quarantined", "duplicate"


@dataclass(frozen=True)
class ValidationResult:
    """Where the rows of one dataset went; the rows themselves stay in temp tables of `con`.

    `staged` holds every row read with `status`, `reason` and `period`; `accepted` the typed
    contract columns of accepted rows plus `period`.
    """

    dataset: Dataset
    staged: str
    accepted: str
    file_stats: pd.DataFrame  # file, rows_read, accepted, quarantined, duplicates_dropped
    reason_counts: pd.DataFrame  # period, reason, rows


def _in_list(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(sql_str(v) for v in values) + ")"


def _mapped(col: Column, source: DatasetSource) -> str:
    """The source string after trimming, empty-to-null and the configured value spellings."""
    raw = f"NULLIF(trim({sql_ident(col.name)}), '')"
    spellings = source.values.get(col.name)
    if not spellings:
        return raw
    cases = " ".join(
        f"WHEN {sql_str(k.strip().lower())} THEN {sql_str(v)}" for k, v in spellings.items()
    )
    return f"(CASE lower({raw}) {cases} ELSE {raw} END)"


def _typed(col: Column, m: str) -> tuple[str, list[tuple[str, str]]]:
    """SQL for the typed value of a column and its (condition, reason) checks."""
    n = col.name
    checks: list[tuple[str, str]] = []
    if col.required:
        checks.append((f"{m} IS NULL", f"missing required value: {n}"))
    if col.type == "string":
        return m, checks
    if col.type == "timestamp":
        v = f"TRY_CAST({m} AS TIMESTAMPTZ)"
        checks.append((f"{m} IS NOT NULL AND {v} IS NULL", f"unparsable timestamp: {n}"))
        return v, checks
    if col.type == "boolean":
        v = (
            f"(CASE WHEN lower({m}) IN {_in_list(TRUE_WORDS)} THEN true "
            f"WHEN lower({m}) IN {_in_list(FALSE_WORDS)} THEN false END)"
        )
        checks.append((f"{m} IS NOT NULL AND {v} IS NULL", f"not a boolean: {n}"))
        return v, checks
    d = f"TRY_CAST({m} AS DOUBLE)"
    bad_number = f"{m} IS NOT NULL AND ({d} IS NULL OR NOT isfinite({d}))"
    if col.type == "number":
        checks.append((bad_number, f"not a number: {n}"))
        checks.append((f"{d} < 0", f"negative value: {n}"))
        return f"(CASE WHEN isfinite({d}) THEN {d} END)", checks
    # integer
    checks.append(
        (f"{bad_number} OR (isfinite({d}) AND {d} <> floor({d}))", f"not a whole number: {n}")
    )
    return f"(CASE WHEN isfinite({d}) AND {d} = floor({d}) THEN CAST({d} AS BIGINT) END)", checks


def _rules(dataset: Dataset) -> list[tuple[str, str]]:
    """Dataset-specific checks over the typed columns (named `<col>__v`)."""
    if dataset is TICKETS:
        return [
            (
                "channel__v IS NOT NULL AND lower(channel__v) NOT IN " + _in_list(CHANNELS),
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
                "survey_type__v IS NOT NULL AND lower(survey_type__v) NOT IN "
                + _in_list(SURVEY_TYPES),
                "unknown survey type",
            ),
            (f"COALESCE(CASE lower(survey_type__v) {ranges} END, false)", "score out of range"),
        ]
    if dataset is CUSTOMERS:
        return [("churned_at__v < customer_since__v", "churned before customer_since")]
    raise ValueError(dataset.name)


def _reason_sql(checks: list[tuple[str, str]]) -> str:
    items = ", ".join(f"CASE WHEN COALESCE({c}, false) THEN {sql_str(r)} END" for c, r in checks)
    return f"list_filter([{items}], x -> x IS NOT NULL)"


def validate(
    con: duckdb.DuckDBPyConnection,
    dataset: Dataset,
    raw_table: str,
    source: DatasetSource,
    timezone: str,
    accepted_tickets: str | None = None,
) -> ValidationResult:
    """Validate a raw table loaded by `landing.load_raw`.

    Survey responses need the accepted tickets (`accepted_tickets`) to take their team from the
    ticket and to check they were not submitted before the ticket existed.
    """
    con.execute(f"SET TimeZone = {sql_str(timezone)}")
    typed_cols: list[str] = []
    checks: list[tuple[str, str]] = []
    for col in dataset.columns:
        v, c = _typed(col, _mapped(col, source))
        typed_cols.append(f"{v} AS {col.name}__v")
        checks.extend(c)
    lowered = {"channel", "survey_type"}
    staged = f"staged_{dataset.name}"
    period_v = f"{dataset.period_column}__v"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {staged}_rows AS
        SELECT *, {_reason_sql(checks)} AS reasons
        FROM (SELECT r.*, {", ".join(typed_cols)} FROM {raw_table} r)
        """
    )
    # Second pass: rules that compare typed columns with each other.
    rule_sql = _reason_sql(_rules(dataset))
    join = ""
    extra = ""
    team_expr = "team__v" if "team" in dataset.column_names else None
    if dataset is SURVEYS:
        if accepted_tickets is None:
            raise ValueError("survey validation needs the accepted tickets")
        join = f"LEFT JOIN {accepted_tickets} t ON t.ticket_id = s.ticket_id__v"
        team_expr = "COALESCE(s.team__v, t.team)"
        extra = (
            ", CASE WHEN s.team__v IS NULL AND s.ticket_id__v IS NULL "
            "THEN 'no team and no ticket_id' "
            "WHEN s.team__v IS NULL AND t.ticket_id IS NULL "
            "THEN 'no team and ticket_id not among accepted tickets' END"
            ", CASE WHEN s.submitted_at__v < t.created_at THEN 'submitted before its ticket was created' END"
        )
    rules = f"list_concat(reasons, {rule_sql}"
    rules += f", list_filter([NULL{extra}], x -> x IS NOT NULL))" if extra else ")"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {staged}_checked AS
        SELECT s.* EXCLUDE (reasons),
               {rules} AS reasons,
               {team_expr if team_expr else "NULL"} AS resolved_team,
               COALESCE(strftime(timezone({sql_str(timezone)}, s.{period_v}), '%Y-%m'),
                        {sql_str(UNDATED)}) AS period
        FROM {staged}_rows s {join}
        """
    )
    # Duplicates among rows that passed every row check: identical copies are dropped once,
    # copies that disagree are all quarantined because no one can tell which is right.
    id_v = f"{dataset.id_column}__v"
    value_cols = ", ".join(f"{c}__v" for c in dataset.column_names)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {staged} AS
        WITH keyed AS (
            SELECT *,
                   CASE WHEN len(reasons) = 0 THEN hash(struct_pack({value_cols})) END AS row_key
            FROM {staged}_checked
        ), grouped AS (
            SELECT *,
                   count(DISTINCT row_key) OVER (PARTITION BY {id_v}) AS versions,
                   row_number() OVER (PARTITION BY {id_v}, row_key ORDER BY _file, _row) AS copy_no
            FROM keyed
        )
        SELECT * EXCLUDE (row_key, versions, copy_no, reasons),
            CASE WHEN len(reasons) > 0 THEN '{QUARANTINED}'
                 WHEN versions > 1 THEN '{QUARANTINED}'
                 WHEN copy_no > 1 THEN '{DUPLICATE}'
                 ELSE '{ACCEPTED}' END AS status,
            CASE WHEN len(reasons) > 0 THEN array_to_string(reasons, '; ')
                 WHEN versions > 1 THEN 'duplicate {dataset.id_column} with conflicting values'
            END AS reason
        FROM grouped
        """
    )
    con.execute(f"DROP TABLE {staged}_rows")
    con.execute(f"DROP TABLE {staged}_checked")

    out_cols = []
    for c in dataset.column_names:
        if c == "team" and team_expr:
            out_cols.append("resolved_team AS team")
        elif c in lowered:
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
    file_stats = con.execute(
        f"""
        SELECT _file AS file, count(*) AS rows_read,
               count(*) FILTER (status = '{ACCEPTED}') AS accepted,
               count(*) FILTER (status = '{QUARANTINED}') AS quarantined,
               count(*) FILTER (status = '{DUPLICATE}') AS duplicates_dropped
        FROM {staged} GROUP BY _file ORDER BY _file
        """
    ).df()
    reason_counts = con.execute(
        f"""
        SELECT period, trim(r) AS reason, count(*) AS rows
        FROM (SELECT period, unnest(string_split(reason, ';')) AS r FROM {staged}
              WHERE status = '{QUARANTINED}')
        GROUP BY ALL ORDER BY period, rows DESC, reason
        """
    ).df()
    return ValidationResult(dataset, staged, accepted, file_stats, reason_counts)


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
