"""Reading and writing the warehouse's tables by month, and its contents as text.

Every month is written delete-then-insert inside one transaction, so re-running a month or
backfilling a range leaves the same contents as one clean run. `dump` gives those contents in a
canonical text form, which is what "the same warehouse" means (DuckDB's file layout is not).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from scorecards.config.environment import WarehouseTarget
from scorecards.warehouse.connection import connect


def replace_months(
    con: duckdb.DuckDBPyConnection,
    table: str,
    source: str,
    months: Sequence[str],
    extra_where: str = "",
) -> None:
    """Within the caller's transaction, replace `months` of `table` with those rows of `source`."""
    if not months:
        return
    con.execute(
        f"DELETE FROM {table} WHERE period IN (SELECT unnest(?)) {extra_where}", [list(months)]
    )
    con.execute(
        f"INSERT INTO {table} BY NAME SELECT * FROM {source} WHERE period IN (SELECT unnest(?))",
        [list(months)],
    )


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether a warehouse table exists: tables written by later stages are absent until they
    first run. Only the warehouse's own tables count (on DuckLake the connection is an
    in-memory database with the lake attached; its temp tables are not the warehouse's)."""
    got = con.execute(
        "SELECT count(*) FROM duckdb_tables() "
        "WHERE table_name = ? AND database_name = current_database()",
        [name],
    )
    return bool(got.fetchone()[0])


def loaded_months(con: duckdb.DuckDBPyConnection, dataset: str) -> set[str]:
    """The months of `dataset` that ingest has loaded."""
    rows = con.execute("SELECT period FROM ingest_months WHERE dataset = ?", [dataset]).fetchall()
    return {r[0] for r in rows}


def dump(where: WarehouseTarget | Path | str) -> str:
    """Every table's rows as text in a fixed order: equal dumps mean equal warehouses, on
    either backend."""
    out: list[str] = []
    with connect(where, read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() "
                "WHERE database_name = current_database() ORDER BY 1"
            ).fetchall()
        ]
        for t in tables:
            cols = [r[0] for r in con.execute(f"DESCRIBE {t}").fetchall()]
            order = ", ".join(str(i + 1) for i in range(len(cols)))
            out.append(f"## {t} ({', '.join(cols)})")
            for row in con.execute(f"SELECT * FROM {t} ORDER BY {order}").fetchall():
                out.append(repr(row))
    return "\n".join(out) + "\n"
