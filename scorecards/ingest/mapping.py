"""From a source mapping to SQL: the expressions that turn one file's columns into contract values.

For every contract column a file yields three things, all computed in one pass by DuckDB:
- `<col>`: the value as the file wrote it (after joining a split date and time, or the constant),
  which is what quarantine shows;
- `<col>__v`: the typed contract value (TIMESTAMPTZ, DOUBLE, BIGINT, BOOLEAN or VARCHAR);
- a reason when the value cannot be used (missing, unparsable, not a number ...), gathered per row
  into `_colreason`.
A file's mapping never leaks into validation: the dataset's rules, event-log order and duplicate
detection only see these columns (docs/sources.md, docs/data-contract.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from scorecards.config.sources import ColumnSpec, RowFilter, SourceMapping
from scorecards.contract.datasets import FALSE_WORDS, TRUE_WORDS, Column, Dataset
from scorecards.warehouse.sql import sql_ident, sql_in, sql_str

# Columns that identify and place a row; an export cannot declare them absent.
KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "tickets": ("ticket_id", "team", "created_at"),
    "surveys": ("response_id", "survey_type", "score", "submitted_at"),
    "customers": ("customer_id", "customer_since"),
}
_UNIT_FACTOR = {"seconds": "", "milliseconds": " / 1000.0", "minutes": " * 60", "hours": " * 3600"}


class MappingError(ValueError):
    """A mapping cannot be applied to a file (a named column is not in it, a key column absent)."""


class MissingColumnError(MappingError):
    """A required contract column is neither in the file nor mapped."""

    def __init__(self, column: str, source: str) -> None:
        shown = column if source == column else f"{column} (source column {source!r})"
        super().__init__(f"required column {shown} is not in the file")
        self.column = shown


@dataclass(frozen=True)
class ColumnSql:
    raw: str  # the value as written, VARCHAR
    typed: str  # over `{name}__m` (the cleaned string) and `{name}__d` (numeric parse)
    numeric: str | None  # the numeric parse over `{name}__m`, when the type needs one
    checks: list[tuple[str, str]]  # (condition, reason) over __m, __d, __v
    ambiguous: str | None  # condition over __m: two timestamp formats read the value differently


def _boolean(expr: str, spec: ColumnSpec) -> str:
    """true/false/NULL (not a boolean) of a cleaned string."""
    if spec.true_if == "nonzero":
        num = f"TRY_CAST(replace({expr}, ',', '.') AS DOUBLE)"
        return f"(CASE WHEN {num} IS NULL THEN NULL ELSE {num} <> 0 END)"
    trues = [t.strip().lower() for t in spec.true] or list(TRUE_WORDS)
    falses = [f.strip().lower() for f in spec.false] or list(FALSE_WORDS)
    return (
        f"(CASE WHEN {sql_in(f'lower({expr})', trues)} THEN true "
        f"WHEN {sql_in(f'lower({expr})', falses)} THEN false END)"
    )


def _clean(expr: str, tokens: list[str]) -> str:
    """Trimmed, with missing-value tokens and the empty string as NULL."""
    t = f"NULLIF(trim({expr}), '')"
    if not tokens:
        return t
    # Values longer than any token (with two blanks either side) skip lower() and the IN list:
    # CASE evaluates a branch only for the rows that reach it, AND evaluates both sides.
    longest = max(len(x.encode()) for x in tokens) + 4
    return (
        f"(CASE WHEN strlen({expr}) > {longest} THEN {t} "
        f"WHEN {sql_in(f'lower(trim({expr}))', tokens)} THEN NULL ELSE {t} END)"
    )


def _tokens_after_parse(col: Column, spec: ColumnSpec) -> bool:
    """Numbers and timestamps without spellings: a missing-value token never parses, so it is
    looked for only where parsing failed instead of in every value (a tenth of the ingest)."""
    return col.type in ("timestamp", "number", "integer") and not spec.values


def _source(col: Column, spec: ColumnSpec, header: dict[str, str], tokens: list[str]) -> str:
    """The value as written: a column, a date and time joined, a constant or an expression."""

    def column(name: str, what: str) -> str:
        actual = header.get(name.strip().lower())
        if actual is None:
            if col.required and what == "column":
                raise MissingColumnError(col.name, name)
            raise MappingError(f"{what} {name!r} (for {col.name}) is not in the file")
        return f"CAST({sql_ident(actual)} AS VARCHAR)"

    if spec.constant is not None:
        value = spec.constant
        text = str(value).lower() if isinstance(value, bool) else str(value)
        return sql_str(text)
    if spec.sql is not None:
        return f"CAST(({spec.sql}) AS VARCHAR)"
    if spec.date is not None and spec.time is not None:
        d = _clean(column(spec.date, "date column"), tokens)
        t = _clean(column(spec.time, "time column"), tokens)
        return f"concat_ws(' ', {d}, {t})"
    name = spec.from_ or col.name
    src = column(name, "column")
    if spec.months_before is not None:
        months = f"TRY_CAST(trim({src}) AS INTEGER)"
        derived = f"strftime(DATE {sql_str(spec.months_before)} - to_months({months}), '%Y-%m-%d')"
        return f"COALESCE({derived}, {src})"
    if spec.when_true is not None:
        flag = _boolean(_clean(src, tokens), spec)
        return f"(CASE WHEN {flag} THEN {sql_str(spec.when_true)} WHEN NOT {flag} THEN NULL ELSE {src} END)"
    return src


def _one_format(m: str, fmt: str, zone: str, session_zone: str) -> str:
    """TIMESTAMPTZ of the cleaned string `m` read with one format; naive values are in `zone`."""
    if fmt == "epoch_s":
        return f"to_timestamp(TRY_CAST({m} AS DOUBLE))"
    if fmt == "epoch_ms":
        return f"to_timestamp(TRY_CAST({m} AS DOUBLE) / 1000.0)"
    if fmt == "iso":
        if zone == session_zone:
            return f"TRY_CAST({m} AS TIMESTAMPTZ)"
        offset = f"regexp_matches({m}, '(Z|[+-]\\d\\d:?\\d\\d)$')"
        return (
            f"(CASE WHEN {offset} THEN TRY_CAST({m} AS TIMESTAMPTZ) "
            f"ELSE timezone({sql_str(zone)}, TRY_CAST({m} AS TIMESTAMP)) END)"
        )
    if "%z" in fmt or "%Z" in fmt:
        return f"try_strptime({m}, {sql_str(fmt)})"
    return f"timezone({sql_str(zone)}, try_strptime({m}, {sql_str(fmt)}))"


def column_sql(
    col: Column,
    dataset: Dataset,
    mapping: SourceMapping,
    header: dict[str, str],
    timezone: str,
) -> ColumnSql:
    """The SQL for one contract column of one file. `header` maps lowercased names to the file's.
    A team is typed as its cleaned name here; `landing.load_raw` turns names into ids."""
    spec = mapping.column(col.name)
    n = col.name
    m, v = f"{n}__m", f"{n}__v"
    tokens = mapping.missing_tokens(n)
    raw = _raw_sql(col, dataset, spec, header, tokens)
    checks: list[tuple[str, str]] = []
    # `tok`: the cleaned string is a missing-value token (only where tokens are looked for late).
    late = _tokens_after_parse(col, spec) and bool(tokens)
    tok = sql_in(f"lower({m})", tokens) if late else "false"
    if col.required and not spec.absent:
        # CASE, not AND/OR: only CASE spares the rows that parsed the token look-up
        missing_value = (
            f"(CASE WHEN {m} IS NULL THEN true WHEN {v} IS NOT NULL THEN false ELSE {tok} END)"
            if late
            else f"{m} IS NULL"
        )
        checks.append((missing_value, f"missing required value: {n}"))
    if col.type == "string":
        return ColumnSql(raw, m, None, checks, None)
    if col.type == "timestamp":
        typed, ambiguous = _timestamp_sql(col, spec, mapping, timezone)
        checks.append(
            (
                f"(CASE WHEN {m} IS NULL OR {v} IS NOT NULL THEN false ELSE NOT ({tok}) END)",
                f"unparsable timestamp: {n}",
            )
        )
        return ColumnSql(raw, typed, None, checks, ambiguous)
    if col.type == "boolean":
        checks.append((f"{m} IS NOT NULL AND {v} IS NULL", f"not a boolean: {n}"))
        return ColumnSql(raw, _boolean(m, spec), None, checks, None)
    numeric, typed, number_checks = _number_sql(col, spec, mapping, tok)
    return ColumnSql(raw, typed, numeric, checks + number_checks, None)


def _raw_sql(
    col: Column, dataset: Dataset, spec: ColumnSpec, header: dict[str, str], tokens: list[str]
) -> str:
    """The value as written, VARCHAR; NULL for a column declared absent or an optional one the
    file does not have."""
    n = col.name
    if spec.absent and n in KEY_COLUMNS[dataset.name]:
        raise MappingError(f"{n} identifies or places a row and cannot be declared absent")
    if spec.absent:
        return "NULL::VARCHAR"
    if (
        spec.from_ is None
        and spec.date is None
        and spec.sql is None
        and spec.constant is None
        and n.lower() not in header
    ):
        if col.required:
            raise MissingColumnError(n, n)
        return "NULL::VARCHAR"
    return _source(col, spec, header, tokens)


def _timestamp_sql(
    col: Column, spec: ColumnSpec, mapping: SourceMapping, timezone: str
) -> tuple[str, str | None]:
    """The TIMESTAMPTZ of the cleaned string, the first of the formats that reads it; and,
    with several formats, the condition that two of them read it differently."""
    m = f"{col.name}__m"
    formats = spec.formats or mapping.timestamp_formats or ["iso"]
    zone = spec.timezone or mapping.timezone or timezone
    parses = [_one_format(m, f, zone, timezone) for f in formats]
    if len(parses) == 1:
        return parses[0], None
    pairs = [
        f"({a} IS NOT NULL AND {b} IS NOT NULL AND {a} <> {b})"
        for i, a in enumerate(parses)
        for b in parses[i + 1 :]
    ]
    return f"COALESCE({', '.join(parses)})", " OR ".join(pairs)


def _number_sql(
    col: Column, spec: ColumnSpec, mapping: SourceMapping, tok: str
) -> tuple[str, str, list[tuple[str, str]]]:
    """A number or integer column: the numeric parse of the cleaned string (in seconds for a
    duration or time unit), the typed value over it, and the checks."""
    n = col.name
    m, d = f"{n}__m", f"{n}__d"
    decimal = spec.decimal or mapping.numbers.decimal
    thousands = spec.thousands if spec.thousands is not None else mapping.numbers.thousands
    text = m
    if thousands:
        text = f"replace({text}, {sql_str(thousands)}, '')"
    if decimal == ",":
        text = f"replace({text}, ',', '.')"
    if spec.unit == "duration":
        numeric = f"epoch(TRY_CAST({text} AS INTERVAL))"
    else:
        numeric = f"(TRY_CAST({text} AS DOUBLE){_UNIT_FACTOR[spec.unit or 'seconds']})"
    bad_number = f"(CASE WHEN {m} IS NULL OR isfinite({d}) THEN false ELSE NOT ({tok}) END)"
    if col.type == "number":
        checks = [(bad_number, f"not a number: {n}"), (f"{d} < 0", f"negative value: {n}")]
        return numeric, f"(CASE WHEN isfinite({d}) THEN {d} END)", checks
    checks = [
        (
            f"{bad_number} OR (isfinite({d}) AND {d} <> floor({d}))",
            f"not a whole number: {n}",
        )
    ]
    typed = f"(CASE WHEN isfinite({d}) AND {d} = floor({d}) THEN CAST({d} AS BIGINT) END)"
    return numeric, typed, checks


def cleaned_sql(col: Column, mapping: SourceMapping) -> str:
    """The cleaned string of a column over its raw value `<col>`: missing tokens, then spellings."""
    spec = mapping.column(col.name)
    tokens = [] if _tokens_after_parse(col, spec) else mapping.missing_tokens(col.name)
    base = _clean(sql_ident(col.name), tokens)
    if not spec.values:
        return base
    cases = " ".join(
        f"WHEN {sql_str(k.strip().lower())} THEN " + ("NULL" if val is None else sql_str(str(val)))
        for k, val in spec.values.items()
    )
    return f"NULLIF(trim(CASE lower({base}) {cases} ELSE {base} END), '')"


def filter_sql(flt: RowFilter, header: dict[str, str], contract: tuple[str, ...]) -> str:
    """A condition marking a row as not data of this dataset."""
    if flt.missing is not None:
        if flt.missing not in contract:
            raise MappingError(f"filter on {flt.missing!r}: not a contract column")
        return f"{flt.missing}__m IS NULL"
    if flt.sql is not None:
        return f"COALESCE(({flt.sql}), false)"
    assert flt.column is not None
    if flt.column in contract:
        value = f"lower({flt.column}__m)"
    else:
        actual = header.get(flt.column.strip().lower())
        if actual is None:
            raise MappingError(f"filter column {flt.column!r} is not in the file")
        value = f"lower(trim(CAST({sql_ident(actual)} AS VARCHAR)))"
    if flt.in_ is not None:
        return f"COALESCE({sql_in(value, [x.strip().lower() for x in flt.in_])}, false)"
    assert flt.not_in is not None
    return f"COALESCE(NOT {sql_in(value, [x.strip().lower() for x in flt.not_in])}, true)"


def order_sql(mapping: SourceMapping, header: dict[str, str], timezone: str) -> str:
    """The event-log order of a row as a list of numbers (timestamps as epoch seconds)."""
    assert mapping.event_log is not None
    parts = []
    for key in mapping.event_log.order_by:
        actual = header.get(key.column.strip().lower())
        if actual is None:
            raise MappingError(f"event_log order_by column {key.column!r} is not in the file")
        m = f"NULLIF(trim(CAST({sql_ident(actual)} AS VARCHAR)), '')"
        formats = key.formats or ["iso"]
        ts = [_one_format(m, f, timezone, timezone) for f in formats]
        stamp = ts[0] if len(ts) == 1 else f"COALESCE({', '.join(ts)})"
        parts.append(f"COALESCE(epoch({stamp}), TRY_CAST({m} AS DOUBLE))")
    return f"[{', '.join(parts)}]::DOUBLE[]" if parts else "[]::DOUBLE[]"
