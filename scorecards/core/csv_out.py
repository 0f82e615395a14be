"""CSV files people open in a spreadsheet: written atomically, with formula-like text defused.

A cell that starts with = + - @ (or a tab or carriage return) is run as a formula by Excel and
LibreOffice; values from an export (a customer id, a quarantined row's text) must not be. Such a
text gets a leading apostrophe, the convention spreadsheets themselves use for "this is text";
numbers such as -3 are left alone.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    if not isinstance(value, str) or not value.startswith(_FORMULA_START):
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value


def safe_sql(expr: str) -> str:
    """The same for a DuckDB VARCHAR expression (for COPY ... TO)."""
    return (
        f"(CASE WHEN regexp_matches({expr}, '^[=+\\-@\\t\\r]') AND TRY_CAST({expr} AS DOUBLE) "
        f"IS NULL THEN '''' || {expr} ELSE {expr} END)"
    )


def write_csv_atomic(df: pd.DataFrame, path: Path) -> None:
    """Write `df` to `path` through a temporary file, text columns defused."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(safe_cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    out.to_csv(tmp, index=False, lineterminator="\n")
    os.replace(tmp, path)
