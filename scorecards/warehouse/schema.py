"""The warehouse's tables: every table definition, in one place.

The datasets' tables follow their contract (scorecards/contract/datasets.py); the others are
written by ingest, the KPI engine, the churn-risk step and the delivery ledger. `ensure_schema`
creates what a warehouse needs from the start; the churn tables are created by the churn step
when it first runs (`create_tables(con, churn_ddl(...))`), so a warehouse without churn has none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb

from scorecards.contract.datasets import DATASETS, Dataset
from scorecards.warehouse.sql import sql_ident
from scorecards.warehouse.transactions import retry, tries_of

# Contract column type -> DuckDB column type.
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

# (table, columns, key). The key is a PRIMARY KEY on the DuckDB file; DuckLake has no
# constraints, so there the writers keep keys unique themselves (delete-then-insert of whole
# months, and the delivery ledger's locks, see delivery/send.py).
_TABLES: list[tuple[str, str, str]] = [
    (
        "ingest_months",
        """dataset VARCHAR, period VARCHAR, rows_read BIGINT, accepted BIGINT,
        quarantined BIGINT, duplicates_dropped BIGINT, undated BIGINT""",
        "dataset, period",
    ),
    (
        "ingest_files",
        """dataset VARCHAR, file VARCHAR, rows_read BIGINT, accepted BIGINT,
        quarantined BIGINT, duplicates_dropped BIGINT""",
        "",
    ),
    # Team id -> the spelling the data uses most for it (ingest), for teams found in the data.
    ("team_names", "team VARCHAR, name VARCHAR", "team"),
    (
        "quarantine_reasons",
        "dataset VARCHAR, period VARCHAR, reason VARCHAR, rows BIGINT",
        "",
    ),
    (
        "team_kpis",
        """period VARCHAR, team VARCHAR, kpi VARCHAR, value DOUBLE, n BIGINT,
        ci_low DOUBLE, ci_high DOUBLE, low_sample BOOLEAN, prev_value DOUBLE,
        yoy_value DOUBLE, target DOUBLE, change_significant BOOLEAN,
        no_data_reason VARCHAR""",
        "",
    ),
    # One row per (month, team, recipient, scorecard version, channel): scorecards/delivery/send.py.
    # A version is its content_sha256 (what the report says); pdf_sha256 is the PDF last
    # attached for it. content_sha256 is last so that migrated ledgers have the same columns.
    (
        "delivery_ledger",
        """period VARCHAR, team VARCHAR, recipient VARCHAR, pdf_sha256 VARCHAR, channel VARCHAR,
        status VARCHAR, message_id VARCHAR, attempts INTEGER, updated_at TIMESTAMPTZ,
        sent_at TIMESTAMPTZ, run_id VARCHAR, error VARCHAR, content_sha256 VARCHAR""",
        "period, team, recipient, pdf_sha256, channel",
    ),
]

# Columns added after a table's first release, so older warehouses gain them in place.
_ADDED_COLUMNS: list[tuple[str, str, str]] = [
    ("ingest_months", "landing_latest", "TIMESTAMPTZ"),
    ("ingest_months", "superseded", "BIGINT DEFAULT 0"),
    ("ingest_months", "filtered", "BIGINT DEFAULT 0"),
    ("ingest_files", "superseded", "BIGINT DEFAULT 0"),
    ("ingest_files", "filtered", "BIGINT DEFAULT 0"),
    ("team_kpis", "no_data_reason", "VARCHAR"),
    ("customers", "label", "VARCHAR"),
    # Ledgers from before content hashes: their rows match a scorecard by its PDF bytes only.
    ("delivery_ledger", "content_sha256", "VARCHAR"),
]

# --- the churn-risk step's tables (scorecards/churn/scoring.py) ------------------------------

# Written by the churn-risk step; the KPI engine reads it for the at-risk KPIs.
CHURN_RISK_TABLE = "customer_churn_risk"
# Why the churn-risk step did not score a month; the KPI engine shows it as the reason.
CHURN_STATUS_TABLE = "churn_status"


def churn_ddl(signal_columns: Mapping[str, str]) -> tuple[str, ...]:
    """The churn-risk step's tables; `signal_columns` are the signals' columns and DuckDB types
    (scorecards/churn/signals.py defines the signals)."""
    signals = ", ".join(f"{c} {t}" for c, t in signal_columns.items())
    return (
        f"""CREATE TABLE IF NOT EXISTS churn_signals (
        period VARCHAR, customer_id VARCHAR, team VARCHAR, {signals})""",
        f"""CREATE TABLE IF NOT EXISTS {CHURN_RISK_TABLE} (
        period VARCHAR, customer_id VARCHAR, team VARCHAR, score DOUBLE, band VARCHAR,
        reasons_de VARCHAR, reasons_en VARCHAR, {signals})""",
        """CREATE TABLE IF NOT EXISTS churn_model (
        period VARCHAR, term VARCHAR, coefficient DOUBLE, odds_ratio DOUBLE,
        train_from VARCHAR, train_to VARCHAR, train_months BIGINT, n_train BIGINT,
        churners_train BIGINT)""",
        """CREATE TABLE IF NOT EXISTS churn_backtest (
        period VARCHAR, model VARCHAR, auc DOUBLE, lift_top10 DOUBLE, n BIGINT,
        churners BIGINT)""",
        f"""CREATE TABLE IF NOT EXISTS {CHURN_STATUS_TABLE} (
        period VARCHAR, scored BOOLEAN, reason VARCHAR, note VARCHAR)""",
    )


def _dataset_ddl(ds: Dataset) -> str:
    cols = ", ".join(f"{sql_ident(c.name)} {SQL_TYPES[c.type]}" for c in ds.columns)
    return f"CREATE TABLE IF NOT EXISTS {ds.table} ({cols}, period VARCHAR)"


def is_ducklake(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether `con` works on a DuckLake catalog (its current database is one)."""
    got = con.execute(
        "SELECT type FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return bool(got) and got[0] == "ducklake"


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the tables and columns a warehouse needs from the start, where they are missing."""
    keys = not is_ducklake(con)
    for ds in DATASETS.values():
        con.execute(_dataset_ddl(ds))
    for table, columns, key in _TABLES:
        pk = f", PRIMARY KEY ({key})" if key and keys else ""
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns}{pk})")
    for table, column, decl in _ADDED_COLUMNS:
        con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {decl}")


def schema_complete(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether every table and column of ensure_schema exists already (then it need not run:
    on DuckLake even a no-op DDL statement can conflict with another process's)."""
    have = set(
        con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() "
            "WHERE database_name = current_database()"
        ).fetchall()
    )
    want = {(ds.table, c.name) for ds in DATASETS.values() for c in ds.columns}
    want |= {(t, "period") for t in (ds.table for ds in DATASETS.values())}
    for table, columns, _ in _TABLES:
        want |= {(table, c.split()[0]) for c in columns.split(",")}
    want |= {(t, c) for t, c, _ in _ADDED_COLUMNS}
    return want <= have


def create_tables(con: duckdb.DuckDBPyConnection, statements: Sequence[str]) -> None:
    """Run CREATE TABLE IF NOT EXISTS statements of a later stage (churn). Two processes creating
    one table on DuckLake at once conflict; the loser's retry finds the table there."""
    for ddl in statements:
        retry(lambda ddl=ddl: con.execute(ddl), "create tables", tries_of(con))
