"""SQL text helpers shared by every room that writes SQL for DuckDB."""

from __future__ import annotations

from scorecards.contract.kpi_catalog import ALL_TEAMS


def sql_str(value: str) -> str:
    """Quote a value as an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """Quote a name as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def sql_in(expr: str, values: list[str] | tuple[str, ...]) -> str:
    """`expr IN (values)` as a function call: DuckDB plans an IN list as a join over the whole
    table (one per list), and a function is evaluated only for the rows a CASE lets through.
    NULL for a NULL `expr`, like IN."""
    items = ", ".join(sql_str(v) for v in values)
    return f"list_contains([{items}]::VARCHAR[], {expr})"


def team_or_all() -> str:
    """The `team` column of a GROUP BY GROUPING SETS query that includes the company total:
    the team, or ALL on the total's row (where grouping(team) is 1)."""
    return f"CASE WHEN grouping(team) = 1 THEN {sql_str(ALL_TEAMS)} ELSE team END AS team"
