"""Reading the landing folder: find each dataset's files, pick their mapping, read them as text.

Files are read as strings so that nothing is coerced before the mapping and validation see it; a
value that does not fit the contract must reach quarantine exactly as it was written. A file that
cannot be read at all stops the run with an `InputFileError` naming the file and what is wrong.
Encoding and delimiter are detected unless the mapping sets them; cp1252 files (what Excel writes
on German Windows) are transcoded to UTF-8 on the side, since DuckDB reads UTF-8 and Latin-1 only.
"""

from __future__ import annotations

import codecs
import csv
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from scorecards.config.sources import SourceMapping, SourcesFile
from scorecards.contract.datasets import Dataset
from scorecards.ingest.mapping import (
    MappingError,
    MissingColumnError,
    cleaned_sql,
    column_sql,
    filter_sql,
    order_sql,
)
from scorecards.warehouse.schema import SQL_TYPES
from scorecards.warehouse.sql import sql_ident, sql_str

__all__ = ["InputFileError", "LandingFile", "load_raw", "resolve_files"]

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".csv", ".parquet")
_DELIMITERS = (",", ";", "\t", "|")
_CHUNK = 1 << 23


class InputFileError(Exception):
    """A landing file cannot be read; the message starts with the file's path."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True)
class LandingFile:
    path: Path
    relative: str  # posix path under landing/, what reports and quarantine name
    mapping: SourceMapping


def list_landing_files(landing_dir: Path, dataset: Dataset) -> list[Path]:
    """All files in a dataset's folder, in a stable order; anything not CSV or Parquet is an error."""
    folder = landing_dir / dataset.name
    if not folder.exists():
        return []
    files: list[Path] = []
    for path in sorted(folder.rglob("*")):
        if path.is_dir() or path.name.startswith("."):
            continue
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise InputFileError(
                path,
                f"not a CSV or Parquet file (suffix {path.suffix or 'none'!r}); "
                "move it out of the landing folder or convert it",
            )
        files.append(path)
    return files


def resolve_files(landing_dir: Path, dataset: Dataset, sources: SourcesFile) -> list[LandingFile]:
    """The dataset's files with the first mapping whose `match` selects each.

    A mapping may select files outside the dataset's folder (a call log that feeds tickets and
    surveys); a file in the folder that no mapping selects is an error, never silently skipped.
    """
    mappings = sources.for_dataset(dataset.name)
    own = {
        p: p.relative_to(landing_dir).as_posix() for p in list_landing_files(landing_dir, dataset)
    }
    elsewhere: dict[Path, str] = {}
    if any(m.match for m in mappings) and landing_dir.exists():
        for p in sorted(landing_dir.rglob("*")):
            rel = p.relative_to(landing_dir).as_posix()
            if p in own or p.is_dir() or p.name.startswith(".") or "/." in rel:
                continue
            if p.suffix.lower() in SUPPORTED_SUFFIXES and any(
                m.match and m.matches(rel, dataset.name) for m in mappings
            ):
                elsewhere[p] = rel
    out: list[LandingFile] = []
    for path, rel in sorted({**own, **elsewhere}.items(), key=lambda kv: kv[1]):
        mapping = next((m for m in mappings if m.matches(rel, dataset.name)), None)
        if mapping is None:
            patterns = ", ".join(repr(m.match or f"{dataset.name}/*") for m in mappings)
            raise InputFileError(
                path,
                f"no {dataset.name} mapping in config/sources.yaml selects this file "
                f"(match patterns: {patterns}); add one or move the file",
            )
        out.append(LandingFile(path, rel, mapping))
    return out


def detect_encoding(path: Path) -> str:
    """utf-8 (BOM or not), utf-16 (BOM) or cp1252 (latin-1 where cp1252 has holes), by reading
    the whole file: a single byte that is not UTF-8 in row 900,000 decides."""
    with path.open("rb") as fh:
        head = fh.read(4)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        fh.seek(0)
        dec = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := fh.read(_CHUNK):
                dec.decode(chunk)
            dec.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass
        fh.seek(0)
        holes = {0x81, 0x8D, 0x8F, 0x90, 0x9D}
        while chunk := fh.read(_CHUNK):
            if holes & set(chunk):
                return "latin-1"
    return "cp1252"


def detect_delimiter(header_line: str) -> str:
    """The candidate that splits the header line into most fields, outside quotes."""
    counts = {}
    for d in _DELIMITERS:
        try:
            counts[d] = len(next(csv.reader([header_line], delimiter=d)))
        except (csv.Error, StopIteration):
            counts[d] = 0
    best = max(_DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] > 1 else ","


def _header_line(path: Path, encoding: str) -> str:
    with path.open(newline="", encoding="utf-8-sig" if encoding == "utf-8" else encoding) as fh:
        return fh.readline().rstrip("\r\n")


def clean_header(names: list[str]) -> tuple[list[str], list[str]]:
    """Header names DuckDB can bind, with warnings: empty names get a placeholder and repeated
    names a suffix, both ignored unless a mapping names them."""
    seen: dict[str, int] = {}
    out, warnings = [], []
    for i, raw in enumerate(names, start=1):
        name = raw.strip()
        if not name:
            name = f"_unnamed_{i}"
            warnings.append(f"column {i} has no header name; it is ignored")
        k = seen.get(name.lower(), 0)
        seen[name.lower()] = k + 1
        if k:
            warnings.append(f"column {i} repeats the header name {name!r}; the first one is used")
            name = f"{name}_{k}"
        out.append(name)
    return out, warnings


@dataclass
class _CsvLayout:
    read_path: Path  # the file DuckDB reads: the original, or a UTF-8 copy of it
    encoding: str  # as detected or set, for messages
    delimiter: str
    header: list[str]
    warnings: list[str]


def _csv_layout(path: Path, mapping: SourceMapping, scratch: Path) -> _CsvLayout:
    opts = mapping.csv
    try:
        encoding = detect_encoding(path) if opts.encoding == "auto" else opts.encoding
        first = _header_line(path, encoding)
    except UnicodeDecodeError as exc:
        raise InputFileError(
            path,
            f"not {opts.encoding} text (byte {exc.object[exc.start : exc.start + 1]!r} at offset "
            f"{exc.start} of its block); set csv.encoding in config/sources.yaml or leave it on auto",
        ) from None
    except OSError as exc:
        raise InputFileError(path, f"cannot be opened: {exc.strerror or exc}") from None
    if not first.strip():
        raise InputFileError(path, "empty file: no header line")
    if "\x00" in first:
        raise InputFileError(path, "binary data where a CSV header line was expected")
    delimiter = detect_delimiter(first) if opts.delimiter == "auto" else opts.delimiter
    try:
        names = next(csv.reader([first], delimiter=delimiter, quotechar=opts.quote))
    except csv.Error as exc:
        raise InputFileError(path, f"cannot read the header line: {exc}") from None
    header, warnings = clean_header(names)
    read_path = path
    if encoding in ("cp1252", "latin-1") or any(c in path.name for c in "*?[]{}"):
        # A UTF-8 copy for encodings DuckDB lacks; a plain name for file names DuckDB would
        # take for a glob pattern (`tickets_*.csv`).
        read_path = scratch / f"{len(list(scratch.iterdir()))}.csv"
        if encoding in ("cp1252", "latin-1"):
            with (
                path.open(encoding=encoding, newline="") as src,
                read_path.open("w", encoding="utf-8", newline="") as dst,
            ):
                shutil.copyfileobj(src, dst, _CHUNK)
        else:
            shutil.copyfile(path, read_path)
    return _CsvLayout(read_path, encoding, delimiter, header, warnings)


def _csv_reader(layout: _CsvLayout, mapping: SourceMapping) -> str:
    columns = "{" + ", ".join(f"{sql_str(h)}: 'VARCHAR'" for h in layout.header) + "}"
    enc = "utf-16" if layout.encoding == "utf-16" else "utf-8"
    return (
        f"read_csv({sql_str(str(layout.read_path))}, header=true, auto_detect=false, "
        f"columns={columns}, delim={sql_str(layout.delimiter)}, quote={sql_str(mapping.csv.quote)}, "
        f"escape={sql_str(mapping.csv.quote)}, encoding={sql_str(enc)}, strict_mode=true, "
        "null_padding=false, max_line_size=16777216)"
    )


def _delimiter_hint(header: list[str], used: str) -> str:
    if len(header) != 1:
        return ""
    for cand in _DELIMITERS:
        if cand != used and cand in header[0]:
            shown = "\\t" if cand == "\t" else cand
            return (
                f" The header was read as one column {header[0][:80]!r}: the file looks "
                f"{shown!r}-separated; set csv.delimiter in config/sources.yaml."
            )
    return ""


def raw_columns_ddl(dataset: Dataset) -> str:
    """The raw table: per contract column its text as written and its typed value."""
    cols = []
    for c in dataset.columns:
        cols.append(f"{sql_ident(c.name)} VARCHAR")
        cols.append(f"{c.name}__v {SQL_TYPES[c.type]}")
    return ", ".join(cols) + (
        ", _colreason VARCHAR, _amb VARCHAR, _skip VARCHAR, _evlog BOOLEAN, _order DOUBLE[], "
        "_file VARCHAR, _row BIGINT, period VARCHAR"
    )


def _select(
    dataset: Dataset,
    mapping: SourceMapping,
    header: list[str],
    reader: str,
    name: str,
    timezone: str,
    row_checks: Sequence[tuple[str, str]],
    period: str | None,
) -> tuple[str, str]:
    """The file as written into `_land`, then the INSERT's SELECT over it: cleaned strings,
    numeric parses, typed values, reasons (the columns', then `row_checks` over the typed
    values) and the row's month (`period`, over the typed values)."""
    by_lower = {h.lower(): h for h in header}
    contract = dataset.column_names
    sqls, missing = {}, []
    for c in dataset.columns:
        try:
            sqls[c.name] = column_sql(c, dataset, mapping, by_lower, timezone)
        except MissingColumnError as exc:
            missing.append(exc.column)
    if missing:
        raise MappingError(
            f"required column(s) missing after mapping: {', '.join(missing)} (map them in "
            "config/sources.yaml, or say `absent: true` or give a `constant` where the export "
            "does not have them)"
        )
    for unknown in set(mapping.columns) - set(contract):
        raise MappingError(f"{unknown!r} is not a {dataset.name} contract column")
    inner = [f"{s.raw} AS {sql_ident(c)}" for c, s in sqls.items()]
    src_filters, m_filters = [], []
    for i, flt in enumerate(mapping.filters):
        on_source = flt.sql is not None or (flt.column is not None and flt.column not in contract)
        cond = filter_sql(flt, by_lower, contract)
        (src_filters if on_source else m_filters).append((i, cond, flt.describe()))
    inner += [f"{cond} AS _f{i}" for i, cond, _ in src_filters]
    inner.append(
        order_sql(mapping, by_lower, timezone) + " AS _order"
        if mapping.event_log
        else "NULL::DOUBLE[] AS _order"
    )
    inner.append("row_number() OVER () AS _row")
    # Two statements: the file's row numbers need a window over the whole file, after which
    # DuckDB works on one thread; the typing below runs in parallel over the stored result.
    land = f"SELECT {', '.join(inner)} FROM {reader}"
    layer = "_land"
    cleaned = [f"{cleaned_sql(c, mapping)} AS {c.name}__m" for c in dataset.columns]
    layer = f"(SELECT *, {', '.join(cleaned)} FROM {layer})"
    numeric = [f"{s.numeric} AS {c}__d" for c, s in sqls.items() if s.numeric]
    if numeric:
        layer = f"(SELECT *, {', '.join(numeric)} FROM {layer})"
    layer = f"(SELECT *, {', '.join(f'{s.typed} AS {c}__v' for c, s in sqls.items())} FROM {layer})"
    checks = [chk for s in sqls.values() for chk in s.checks] + list(row_checks)
    reason = ", ".join(f"CASE WHEN COALESCE({c}, false) THEN {sql_str(r)} END" for c, r in checks)
    amb = ", ".join(
        f"CASE WHEN COALESCE({s.ambiguous}, false) THEN {sql_str(c)} END"
        for c, s in sqls.items()
        if s.ambiguous
    )
    skips = sorted(
        [(i, f"_f{i}", label) for i, _, label in src_filters]
        + [(i, cond, label) for i, cond, label in m_filters]
    )
    skip = " ".join(f"WHEN COALESCE({c}, false) THEN {sql_str(label)}" for _, c, label in skips)
    out = []
    for c in contract:
        out += [sql_ident(c), f"{c}__v"]
    out += [
        f"NULLIF(concat_ws('; ', {reason}), '')" if reason else "NULL",
        f"NULLIF(concat_ws(', ', {amb}), '')" if amb else "NULL",
        f"CASE {skip} END" if skip else "NULL",
        "true" if mapping.event_log else "false",
        "_order",
        sql_str(name),
        "_row",
        period or "NULL",
    ]
    return land, f"SELECT {', '.join(out)} FROM {layer}"


@contextmanager
def _scratch_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="scorecards-landing-") as d:
        yield Path(d)


def load_raw(
    con: duckdb.DuckDBPyConnection,
    dataset: Dataset,
    files: list[LandingFile],
    timezone: str,
    team_ids: Callable[[str], str] | None = None,
    warnings: list[str] | None = None,
    row_checks: Sequence[tuple[str, str]] = (),
    period: str | None = None,
) -> str:
    """Load every file through its mapping into one temporary table; return its name.

    Columns: per contract column its text as written and `<col>__v` typed, `_colreason` (why a
    value cannot be used), `_skip` (the filter that says the row is not data), `_evlog`/`_order`
    (event-log files and their order key), `_file` (relative to landing/) and `_row` (1-based
    data row in the file), so every row can be traced back and counted per file. A column that
    two timestamp formats read differently stops the run with examples.
    """
    table = f"raw_{dataset.name}"
    con.execute(f"SET TimeZone = {sql_str(timezone)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({raw_columns_ddl(dataset)})")
    with _scratch_dir() as scratch:
        for lf in files:
            path = lf.path
            if path.suffix.lower() == ".parquet":
                reader = f"read_parquet({sql_str(str(path))})"
                try:
                    header = [
                        r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
                    ]
                except duckdb.Error as exc:
                    raise InputFileError(
                        path, f"cannot be read as Parquet: {_first_line(exc)}"
                    ) from None
                layout_note: list[str] = []
                delimiter = ","
            else:
                layout = _csv_layout(path, lf.mapping, scratch)
                header, reader, layout_note = (
                    layout.header,
                    _csv_reader(layout, lf.mapping),
                    layout.warnings,
                )
                delimiter = layout.delimiter
            for w in layout_note:
                log.warning("%s: %s", lf.relative, w)
                if warnings is not None:
                    warnings.append(f"{lf.relative}: {w}")
            try:
                land, select = _select(
                    dataset, lf.mapping, header, reader, lf.relative, timezone, row_checks, period
                )
            except MappingError as exc:
                raise InputFileError(
                    path,
                    f"{exc}. Columns found: {', '.join(header[:30]) or 'none'}."
                    + _delimiter_hint(header, delimiter),
                ) from None
            try:
                con.execute(f"CREATE OR REPLACE TEMP TABLE _land AS {land}")
            except duckdb.Error as exc:
                raise InputFileError(path, f"cannot be read: {_first_line(exc)}") from None
            try:
                con.execute(f"INSERT INTO {table} {select}")
            except duckdb.Error as exc:
                raise InputFileError(path, f"cannot be mapped: {_first_line(exc)}") from None
            finally:
                con.execute("DROP TABLE IF EXISTS _land")
            _refuse_ambiguous(con, table, dataset, lf)
    if team_ids is not None and "team" in dataset.column_names:
        _team_ids(con, table, team_ids)
    return table


def _team_ids(con: duckdb.DuckDBPyConnection, table: str, team_ids: Callable[[str], str]) -> None:
    """Team names to team ids, worked out once per distinct name rather than once per row."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _team_ids AS
        SELECT name, {team_ids("name")} AS id
        FROM (SELECT DISTINCT team__v AS name FROM {table} WHERE team__v IS NOT NULL)
        """
    )
    con.execute(
        f"""
        UPDATE {table} SET team__v = t.id,
            _colreason = CASE WHEN t.id = '' THEN concat_ws('; ', _colreason,
                                                  'team name has no letters or digits')
                              ELSE _colreason END
        FROM _team_ids t WHERE {table}.team__v = t.name AND t.id IS DISTINCT FROM t.name
        """
    )
    con.execute("DROP TABLE _team_ids")


def _refuse_ambiguous(
    con: duckdb.DuckDBPyConnection, table: str, dataset: Dataset, lf: LandingFile
) -> None:
    rows = con.execute(
        f"SELECT _amb, _row FROM {table} WHERE _file = ? AND _amb IS NOT NULL ORDER BY _row LIMIT 50",
        [lf.relative],
    ).fetchall()
    if not rows:
        return
    column = rows[0][0].split(", ")[0]
    examples = con.execute(
        f"SELECT DISTINCT {sql_ident(column)} FROM {table} WHERE _file = ? AND _amb LIKE ? LIMIT 3",
        [lf.relative, f"%{column}%"],
    ).fetchall()
    count = con.execute(
        f"SELECT count(*) FROM {table} WHERE _file = ? AND _amb LIKE ?",
        [lf.relative, f"%{column}%"],
    ).fetchone()[0]
    shown = ", ".join(repr(e[0]) for e in examples)
    raise InputFileError(
        lf.path,
        f"column {column}: {count} value(s) read differently by two of its formats (e.g. {shown}, "
        f"first at data row {rows[0][1]}); the formats are ambiguous for these values, so keep "
        "one format (day first or month first) for this column",
    )


def _first_line(exc: Exception) -> str:
    """DuckDB's message up to its dump of parser options, with the quoted line cut short (it may
    be megabytes) and the whole cut to a readable length."""
    out = []
    for line in str(exc).strip().splitlines():
        text = line.strip()
        if text.startswith(("Parser options", "Possible fix", "Possible Solution", "file =")):
            break
        if text.startswith("Original Line:") and len(text) > 120:
            text = text[:120] + " …"
        if text:
            out.append(text)
    text = " ".join(out[:4]) or type(exc).__name__
    return text if len(text) <= 600 else text[:600] + " …"
