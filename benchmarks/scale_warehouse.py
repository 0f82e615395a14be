"""The warehouse a `benchmarks.bench_scale` run starts from: a data dir with the month's landing
files and a warehouse that holds the history months, on DuckDB (a copy of history.duckdb) or on
DuckLake (its tables copied into a catalog database of its own on the BENCH_SCALE_PG server)."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.bench import MONTH

# The PostgreSQL server for the DuckLake runs' catalogs (a database is created per run).
PG_DSN = os.environ.get("BENCH_SCALE_PG", "host=127.0.0.1 user=postgres")


def _fresh_run_dir(size_dir: Path, backend: str) -> Path:
    """A data dir for one run, with the months state of the history and, linked, the landing
    files a monthly export delivers: the month's tickets, its quarter's survey responses (the
    generator writes surveys by quarter) and the customers. The ingest validates every file in
    landing/, so the history's files are left out (they are in the warehouse already)."""
    from scorecards.core.periods import parse_month

    run = size_dir / f"run-{backend}"
    shutil.rmtree(run, ignore_errors=True)
    src = size_dir / "data" / "landing"
    p = parse_month(MONTH)
    wanted = {
        "tickets": f"tickets_{MONTH}.",
        "surveys": f"surveys_{p.year:04d}-Q{(p.month - 1) // 3 + 1}.",
        "customers": "",
    }
    for ds, prefix in wanted.items():
        (run / "landing" / ds).mkdir(parents=True)
        files = [f for f in sorted((src / ds).iterdir()) if f.name.startswith(prefix)]
        if not files:
            raise SystemExit(f"no {ds} landing file {prefix}* in {src / ds}")
        for f in files:
            (run / "landing" / ds / f.name).symlink_to(f)
    shutil.copytree(size_dir / "history-state", run / ".state")
    return run


def _copy_history_into(settings, history: Path) -> None:  # noqa: ANN001 - Settings
    """The history warehouse's tables copied into the (empty) warehouse of `settings`."""
    from scorecards.churn import scoring as churn
    from scorecards.warehouse.connection import connect
    from scorecards.warehouse.sql import sql_str
    from scorecards.warehouse.tables import table_exists

    with connect(settings.warehouse) as con:
        churn.ensure_schema(con)
        con.execute(f"ATTACH {sql_str(str(history))} AS hist (READ_ONLY)")
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'hist' ORDER BY 1"
            ).fetchall()
        ]
        for t in tables:
            if table_exists(con, t):
                con.execute(f"INSERT INTO {t} BY NAME SELECT * FROM hist.{t}")
            else:
                con.execute(f"CREATE TABLE {t} AS SELECT * FROM hist.{t}")
        con.execute("DETACH hist")


@contextlib.contextmanager
def backend(size_dir: Path, name: str) -> Iterator[Path]:
    """A run's data dir on a warehouse holding the history; SCORECARDS_WAREHOUSE set for the
    stages' processes. DuckLake: a PostgreSQL database of its own, dropped afterwards."""
    from scorecards.config.settings import load_settings

    run = _fresh_run_dir(size_dir, name)
    env = {k: os.environ.get(k) for k in ("SCORECARDS_WAREHOUSE", "SCORECARDS_WAREHOUSE_DATA_PATH")}
    db = None
    try:
        if name == "duckdb":
            os.environ["SCORECARDS_WAREHOUSE"] = "duckdb"
            os.environ.pop("SCORECARDS_WAREHOUSE_DATA_PATH", None)
            shutil.copy(size_dir / "history.duckdb", run / "warehouse.duckdb")
        else:
            db = f"bench_scale_{os.getpid()}_{int(time.time())}"
            _pg(f'CREATE DATABASE "{db}"')
            os.environ["SCORECARDS_WAREHOUSE"] = f"ducklake:postgres:dbname={db} {PG_DSN}"
            os.environ["SCORECARDS_WAREHOUSE_DATA_PATH"] = str(run / "lake")
            t0 = time.perf_counter()
            _copy_history_into(load_settings(run, size_dir / "config"), size_dir / "history.duckdb")
            print(f"history copied into DuckLake ({db}) in {time.perf_counter() - t0:.0f} s")
        yield run
    finally:
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if db is not None:
            _pg(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def _pg(sql: str) -> None:
    import psycopg2

    con = psycopg2.connect(f"dbname=postgres {PG_DSN}", connect_timeout=10)
    try:
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(sql)
    finally:
        con.close()
