"""SQL text helpers shared by every room that writes SQL for DuckDB."""

from __future__ import annotations


def sql_str(value: str) -> str:
    """Quote a value as an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """Quote a name as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'
