"""Reading the landing folder: find the files of a dataset and load them, as text, under contract names.

Files are read as strings so that nothing is coerced before validation sees it; a value that
does not fit the contract must reach quarantine exactly as it was written. A file that cannot be
read at all stops the run with an `InputFileError` naming the file and what is wrong.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from scorecards.contract import Dataset
from scorecards.settings import DatasetSource

SUPPORTED_SUFFIXES = (".csv", ".parquet")


class InputFileError(Exception):
    """A landing file cannot be read; the message starts with the file's path."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def sql_str(value: str) -> str:
    """Quote a value as an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def list_landing_files(landing_dir: Path, dataset: Dataset) -> list[Path]:
    """All files of a dataset, in a stable order; anything that is not CSV or Parquet is an error."""
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


def _csv_header(path: Path, source: DatasetSource) -> list[str]:
    """The header line, read by us: DuckDB's sniffer guesses a layout from the data rows and
    can take a broken file for a headerless one, which would hide what is actually wrong."""
    encoding = "utf-8-sig" if source.csv.encoding == "utf-8" else source.csv.encoding
    try:
        with path.open(newline="", encoding=encoding) as fh:
            header = next(csv.reader(fh, delimiter=source.csv.delimiter), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputFileError(path, f"cannot read the header line: {exc}") from None
    if not header:
        raise InputFileError(path, "empty file: no header line")
    seen: dict[str, int] = {}
    unique = []
    for name in header:
        k = seen.get(name, 0)
        seen[name] = k + 1
        unique.append(name if k == 0 else f"{name}_{k}")
    return unique


def _reader(path: Path, source: DatasetSource, header: list[str]) -> str:
    if path.suffix.lower() == ".parquet":
        return f"read_parquet({sql_str(str(path))})"
    opts = source.csv
    columns = "{" + ", ".join(f"{sql_str(h)}: 'VARCHAR'" for h in header) + "}"
    return (
        f"read_csv({sql_str(str(path))}, header=true, auto_detect=false, columns={columns}, "
        f"delim={sql_str(opts.delimiter)}, quote='\"', escape='\"', "
        f"encoding={sql_str(opts.encoding)}, strict_mode=true, null_padding=false)"
    )


def _delimiter_hint(header: list[str], configured: str) -> str:
    if len(header) != 1:
        return ""
    for cand in (";", "\t", "|", ","):
        if cand != configured and cand in header[0]:
            shown = "\\t" if cand == "\t" else cand
            return (
                f" The header was read as one column {header[0][:80]!r}: the file looks "
                f"{shown!r}-separated; set csv.delimiter in config/sources.yaml."
            )
    return ""


def load_raw(
    con: duckdb.DuckDBPyConnection,
    dataset: Dataset,
    files: list[Path],
    source: DatasetSource,
    relative_to: Path | None = None,
) -> str:
    """Load every file into a temporary table of strings named after the contract; return its name.

    Columns: the contract's, then `_file` (relative to `relative_to` when given, so outputs do
    not depend on where the data dir is) and `_row` (1-based data row in the file), so every row
    can be traced back and counted per file.
    """
    table = f"raw_{dataset.name}"
    cols = ", ".join(f"{sql_ident(c)} VARCHAR" for c in dataset.column_names)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({cols}, _file VARCHAR, _row BIGINT)")
    for path in files:
        name = str(path.relative_to(relative_to)) if relative_to else str(path)
        if path.suffix.lower() == ".parquet":
            reader = _reader(path, source, [])
            try:
                header = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()]
            except duckdb.Error as exc:
                raise InputFileError(
                    path, f"cannot be read as Parquet: {_first_line(exc)}"
                ) from None
        else:
            header = _csv_header(path, source)
            reader = _reader(path, source, header)
        by_lower = {h.strip().lower(): h for h in header}
        select = []
        missing = []
        for col in dataset.columns:
            src = source.columns.get(col.name, col.name)
            actual = by_lower.get(src.strip().lower())
            if actual is None:
                if col.required:
                    missing.append(
                        col.name if src == col.name else f"{col.name} (source column {src!r})"
                    )
                select.append(f"NULL::VARCHAR AS {sql_ident(col.name)}")
            else:
                select.append(f"CAST({sql_ident(actual)} AS VARCHAR) AS {sql_ident(col.name)}")
        if missing:
            raise InputFileError(
                path,
                f"required column(s) missing after mapping: {', '.join(missing)}. "
                f"Columns found: {', '.join(header[:30]) or 'none'}."
                + _delimiter_hint(header, source.csv.delimiter),
            )
        try:
            con.execute(
                f"INSERT INTO {table} SELECT {', '.join(select)}, {sql_str(name)}, "
                f"row_number() OVER () FROM {reader}"
            )
        except duckdb.Error as exc:
            raise InputFileError(path, f"cannot be read: {_first_line(exc)}") from None
    return table


def _first_line(exc: Exception) -> str:
    """DuckDB's message up to its dump of parser options, which says nothing to the reader."""
    out = []
    for line in str(exc).strip().splitlines():
        if line.strip().startswith(("Parser options", "Possible fixes", "file =")):
            break
        if line.strip():
            out.append(line.strip())
    return " ".join(out[:4]) or type(exc).__name__
