"""The warehouse: one DuckDB file in the data dir, its schema, and month-wise replacement.

Every month is written delete-then-insert inside one transaction, so re-running a month or
backfilling a range leaves the same contents as one clean run. `dump` gives those contents in a
canonical text form, which is what "the same warehouse" means (DuckDB's file layout is not).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb

from scorecards.contract import DATASETS, Dataset
from scorecards.sql import sql_ident

SQL_TYPES = {
    "string": "VARCHAR",
    "timestamp": "TIMESTAMPTZ",
    "number": "DOUBLE",
    "integer": "BIGINT",
    "boolean": "BOOLEAN",
}

KPI_COLUMNS: tuple[str, ...] = (
    "period",
    "team",
    "kpi",
    "value",
    "n",
    "ci_low",
    "ci_high",
    "low_sample",
    "prev_value",
    "yoy_value",
    "target",
    "change_significant",
    # Why `value` is empty ("no resolved timestamp in the data"); NULL when there is a value.
    "no_data_reason",
)

_DDL = [
    """CREATE TABLE IF NOT EXISTS ingest_months (
        dataset VARCHAR, period VARCHAR, rows_read BIGINT, accepted BIGINT,
        quarantined BIGINT, duplicates_dropped BIGINT, undated BIGINT,
        PRIMARY KEY (dataset, period))""",
    """CREATE TABLE IF NOT EXISTS ingest_files (
        dataset VARCHAR, file VARCHAR, rows_read BIGINT, accepted BIGINT,
        quarantined BIGINT, duplicates_dropped BIGINT)""",
    # Team id -> the spelling the data uses most for it (ingest), for teams found in the data.
    "CREATE TABLE IF NOT EXISTS team_names (team VARCHAR PRIMARY KEY, name VARCHAR)",
    """CREATE TABLE IF NOT EXISTS quarantine_reasons (
        dataset VARCHAR, period VARCHAR, reason VARCHAR, rows BIGINT)""",
    """CREATE TABLE IF NOT EXISTS team_kpis (
        period VARCHAR, team VARCHAR, kpi VARCHAR, value DOUBLE, n BIGINT,
        ci_low DOUBLE, ci_high DOUBLE, low_sample BOOLEAN, prev_value DOUBLE,
        yoy_value DOUBLE, target DOUBLE, change_significant BOOLEAN,
        no_data_reason VARCHAR)""",
    # One row per (month, team, recipient, scorecard version, channel): scorecards/delivery.py.
    # A version is its content_sha256 (what the report says); pdf_sha256 is the PDF last
    # attached for it. content_sha256 is last so that migrated ledgers have the same columns.
    """CREATE TABLE IF NOT EXISTS delivery_ledger (
        period VARCHAR, team VARCHAR, recipient VARCHAR, pdf_sha256 VARCHAR, channel VARCHAR,
        status VARCHAR, message_id VARCHAR, attempts INTEGER, updated_at TIMESTAMPTZ,
        sent_at TIMESTAMPTZ, run_id VARCHAR, error VARCHAR, content_sha256 VARCHAR,
        PRIMARY KEY (period, team, recipient, pdf_sha256, channel))""",
]


class WarehouseBusyError(RuntimeError):
    """Another process held the warehouse's write lock for longer than we wait."""


def _dataset_ddl(ds: Dataset) -> str:
    cols = ", ".join(f"{sql_ident(c.name)} {SQL_TYPES[c.type]}" for c in ds.columns)
    return f"CREATE TABLE IF NOT EXISTS {ds.table} ({cols}, period VARCHAR)"


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    for ds in DATASETS.values():
        con.execute(_dataset_ddl(ds))
    for ddl in _DDL:
        con.execute(ddl)
    # Columns added after a table's first release, so older warehouses gain them in place.
    con.execute("ALTER TABLE ingest_months ADD COLUMN IF NOT EXISTS landing_latest TIMESTAMPTZ")
    for table in ("ingest_months", "ingest_files"):
        for col in ("superseded", "filtered"):
            con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {col} BIGINT DEFAULT 0")
    con.execute("ALTER TABLE team_kpis ADD COLUMN IF NOT EXISTS no_data_reason VARCHAR")
    con.execute("ALTER TABLE customers ADD COLUMN IF NOT EXISTS label VARCHAR")
    # Ledgers from before content hashes: their rows match a scorecard by its PDF bytes only.
    con.execute("ALTER TABLE delivery_ledger ADD COLUMN IF NOT EXISTS content_sha256 VARCHAR")


@contextlib.contextmanager
def connect(
    path: Path, read_only: bool = False, wait_s: float = 120.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse, waiting while another run holds DuckDB's single-writer lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if read_only and not path.exists():
        # A read before anything was written sees an empty warehouse, not an error.
        with connect(path, read_only=False, wait_s=wait_s):
            pass
    config = {
        "threads": str(os.cpu_count() or 2),
        "memory_limit": os.environ.get("SCORECARDS_DUCKDB_MEMORY", "2GB"),
        "preserve_insertion_order": "true",
    }
    if not read_only:
        config["temp_directory"] = str(path.parent / ".duckdb_tmp")
    deadline = time.monotonic() + wait_s
    delay = 0.1
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only, config=config)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                if "lock" in str(exc).lower():
                    raise WarehouseBusyError(
                        f"{path} is locked by another process for more than {wait_s:.0f} s: {exc}"
                    ) from None
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
    try:
        if not read_only:
            ensure_schema(con)
        yield con
    finally:
        con.close()


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
    """Whether a table exists: tables written by later stages are absent until they first run."""
    got = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name])
    return bool(got.fetchone()[0])


def loaded_months(con: duckdb.DuckDBPyConnection, dataset: str) -> set[str]:
    rows = con.execute("SELECT period FROM ingest_months WHERE dataset = ?", [dataset]).fetchall()
    return {r[0] for r in rows}


def dump(path: Path) -> str:
    """Every table's rows as text in a fixed order: equal dumps mean equal warehouses."""
    out: list[str] = []
    with connect(path, read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        tables = [
            r[0]
            for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()
        ]
        for t in tables:
            cols = [r[0] for r in con.execute(f"DESCRIBE {t}").fetchall()]
            order = ", ".join(str(i + 1) for i in range(len(cols)))
            out.append(f"## {t} ({', '.join(cols)})")
            for row in con.execute(f"SELECT * FROM {t} ORDER BY {order}").fetchall():
                out.append(repr(row))
    return "\n".join(out) + "\n"
