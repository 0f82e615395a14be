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


def _typed(col: Column) -> tuple[str | None, str, list[tuple[str, str]]]:
    """SQL for one column's typed value, built over the mapped source string `<col>__m`.

    Returns (numeric parse `<col>__d` or None, typed value `<col>__v`, [(condition, reason)]).
    Checks refer to the named intermediate columns so no cast is evaluated twice.
    """
    n = col.name
    m, d, v = f"{n}__m", f"{n}__d", f"{n}__v"
    checks: list[tuple[str, str]] = []
    if col.required:
        checks.append((f"{m} IS NULL", f"missing required value: {n}"))
    if col.type == "string":
        return None, m, checks
    if col.type == "timestamp":
        checks.append((f"{m} IS NOT NULL AND {v} IS NULL", f"unparsable timestamp: {n}"))
        return None, f"TRY_CAST({m} AS TIMESTAMPTZ)", checks
    if col.type == "boolean":
        checks.append((f"{m} IS NOT NULL AND {v} IS NULL", f"not a boolean: {n}"))
        return (
            None,
            (
                f"(CASE WHEN lower({m}) IN {_in_list(TRUE_WORDS)} THEN true "
                f"WHEN lower({m}) IN {_in_list(FALSE_WORDS)} THEN false END)"
            ),
            checks,
        )
    bad_number = f"{m} IS NOT NULL AND ({d} IS NULL OR NOT isfinite({d}))"
    parse = f"TRY_CAST({m} AS DOUBLE)"
    if col.type == "number":
        checks.append((bad_number, f"not a number: {n}"))
        checks.append((f"{d} < 0", f"negative value: {n}"))
        return parse, f"(CASE WHEN isfinite({d}) THEN {d} END)", checks
    # integer
    checks.append(
        (f"{bad_number} OR (isfinite({d}) AND {d} <> floor({d}))", f"not a whole number: {n}")
    )
    return (
        parse,
        f"(CASE WHEN isfinite({d}) AND {d} = floor({d}) THEN CAST({d} AS BIGINT) END)",
        checks,
    )


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
    """All failed checks' reasons joined by "; ", NULL when none failed.

    A string, not a list: concat_ws skips NULLs and costs a fraction of building a list per row.
    """
    items = ", ".join(f"CASE WHEN COALESCE({c}, false) THEN {sql_str(r)} END" for c, r in checks)
    return f"NULLIF(concat_ws('; ', {items}), '')"


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
    # Built up in layers: mapped source strings, numeric parses, typed values, then checks.
    mapped, parsed, typed, scratch = [], [], [], []
    checks: list[tuple[str, str]] = []
    for col in dataset.columns:
        d, v, c = _typed(col)
        mapped.append(f"{_mapped(col, source)} AS {col.name}__m")
        scratch.append(f"{col.name}__m")
        if d is not None:
            parsed.append(f"{d} AS {col.name}__d")
            scratch.append(f"{col.name}__d")
        typed.append(f"{v} AS {col.name}__v")
        checks.extend(c)
    layers = f"(SELECT r.*, {', '.join(mapped)} FROM {raw_table} r)"
    if parsed:
        layers = f"(SELECT *, {', '.join(parsed)} FROM {layers})"
    layers = f"(SELECT *, {', '.join(typed)} FROM {layers})"
    # Rules that compare typed columns with each other come after the per-column checks.
    checks.extend(_rules(dataset))
    lowered = {"channel", "survey_type"}
    staged = f"staged_{dataset.name}"
    period_v = f"{dataset.period_column}__v"
    join = ""
    team_expr = "team__v" if "team" in dataset.column_names else None
    if dataset is SURVEYS:
        if accepted_tickets is None:
            raise ValueError("survey validation needs the accepted tickets")
        # Renamed so the ticket's columns cannot shadow the response's own raw columns.
        join = (
            "LEFT JOIN (SELECT ticket_id AS t_ticket_id, team AS t_team, created_at AS t_created"
            f" FROM {accepted_tickets}) t ON t.t_ticket_id = s.ticket_id__v"
        )
        team_expr = "COALESCE(s.team__v, t.t_team)"
        checks += [
            ("s.team__v IS NULL AND s.ticket_id__v IS NULL", "no team and no ticket_id"),
            (
                "s.team__v IS NULL AND s.ticket_id__v IS NOT NULL AND t.t_ticket_id IS NULL",
                "no team and ticket_id not among accepted tickets",
            ),
            ("s.submitted_at__v < t.t_created", "submitted before its ticket was created"),
        ]
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {staged}_checked AS
        SELECT s.* EXCLUDE ({", ".join(scratch)}),
               {_reason_sql(checks)} AS reason,
               {team_expr if team_expr else "NULL"} AS resolved_team,
               COALESCE(strftime(timezone({sql_str(timezone)}, s.{period_v}), '%Y-%m'),
                        {sql_str(UNDATED)}) AS period
        FROM {layers} s {join}
        """
    )
    # Duplicates among rows that passed every row check: identical copies are dropped once,
    # copies that disagree are all quarantined because no one can tell which is right. Only ids
    # that occur more than once need the window functions, which keeps the sort small.
    id_v = f"{dataset.id_column}__v"
    value_cols = ", ".join(f"{c}__v" for c in dataset.column_names)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {staged}_repeats AS
        WITH ids AS (
            SELECT {id_v} FROM {staged}_checked WHERE reason IS NULL
            GROUP BY {id_v} HAVING count(*) > 1
        ), keyed AS (
            SELECT _file, _row, {id_v}, hash(struct_pack({value_cols})) AS row_key
            FROM {staged}_checked SEMI JOIN ids USING ({id_v})
            WHERE reason IS NULL
        )
        SELECT _file, _row,
               count(DISTINCT row_key) OVER (PARTITION BY {id_v}) AS versions,
               row_number() OVER (PARTITION BY {id_v}, row_key ORDER BY _file, _row) AS copy_no
        FROM keyed
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {staged} AS
        SELECT c.* EXCLUDE (reason),
            CASE WHEN c.reason IS NOT NULL THEN '{QUARANTINED}'
                 WHEN d.versions > 1 THEN '{QUARANTINED}'
                 WHEN d.copy_no > 1 THEN '{DUPLICATE}'
                 ELSE '{ACCEPTED}' END AS status,
            CASE WHEN c.reason IS NOT NULL THEN c.reason
                 WHEN d.versions > 1 THEN 'duplicate {dataset.id_column} with conflicting values'
            END AS reason
        FROM {staged}_checked c LEFT JOIN {staged}_repeats d USING (_file, _row)
        """
    )
    con.execute(f"DROP TABLE {staged}_checked")
    con.execute(f"DROP TABLE {staged}_repeats")

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
