"""The warehouse: its backend (a DuckDB file, or DuckLake with a PostgreSQL catalog), its
schema, month-wise replacement, and transactions that survive DuckLake's write conflicts.

The backend is chosen by SCORECARDS_WAREHOUSE (`Settings.warehouse`, docs/warehouse.md).

Every month is written delete-then-insert inside one transaction, so re-running a month or
backfilling a range leaves the same contents as one clean run. `dump` gives those contents in a
canonical text form, which is what "the same warehouse" means (DuckDB's file layout is not).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

import duckdb

from scorecards.contract.datasets import DATASETS, Dataset
from scorecards.warehouse.sql import sql_ident, sql_str

log = logging.getLogger(__name__)

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
# months, and the delivery ledger's locks, see delivery.py).
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

WAREHOUSE_ENV = "SCORECARDS_WAREHOUSE"
DATA_PATH_ENV = "SCORECARDS_WAREHOUSE_DATA_PATH"
DEFAULT_FILE = "warehouse.duckdb"

# key=value pairs of a libpq conninfo, and the user:password@ of a postgresql:// URI.
_PASSWORD_KV = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_PASSWORD_URI = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")


def _mask(text: str) -> str:
    return _PASSWORD_URI.sub(r"\1***@", _PASSWORD_KV.sub(r"\1***", text))


@dataclass(frozen=True)
class WarehouseTarget:
    """Which warehouse to open: a DuckDB file, or DuckLake with its catalog in PostgreSQL.

    `catalog` is what follows `ducklake:` in the ATTACH string (`postgres:dbname=... host=...`);
    `data_path` is where DuckLake writes its Parquet files (a directory or an object-store URL).
    """

    kind: Literal["duckdb", "ducklake"]
    path: Path | None = None
    catalog: str | None = None
    data_path: str | None = None

    def describe(self) -> str:
        """A one-line description for logs; a password in the catalog string is masked."""
        if self.kind == "duckdb":
            return f"duckdb file {self.path}"
        return f"ducklake catalog {_mask(self.catalog or '')} data {_mask(self.data_path or '')}"

    @property
    def postgres_conninfo(self) -> str | None:
        """The libpq connection string of a PostgreSQL catalog (None for other backends)."""
        if self.kind == "ducklake" and self.catalog and self.catalog.startswith("postgres:"):
            return self.catalog.removeprefix("postgres:")
        return None


def target_from_env(data_dir: Path, environ: dict[str, str] | None = None) -> WarehouseTarget:
    """The warehouse chosen by SCORECARDS_WAREHOUSE (see docs/warehouse.md).

    unset, `duckdb`         the DuckDB file <data_dir>/warehouse.duckdb
    `duckdb:<path>`         that DuckDB file (relative to the data dir)
    `ducklake:postgres:<conninfo>`  DuckLake, catalog in PostgreSQL, data files under
                            SCORECARDS_WAREHOUSE_DATA_PATH (default <data_dir>/lake/)
    """
    env = os.environ if environ is None else environ
    spec = (env.get(WAREHOUSE_ENV) or "").strip()
    if spec in ("", "duckdb"):
        return WarehouseTarget(kind="duckdb", path=data_dir / DEFAULT_FILE)
    if spec.startswith("duckdb:"):
        path = Path(spec.removeprefix("duckdb:")).expanduser()
        return WarehouseTarget(kind="duckdb", path=path if path.is_absolute() else data_dir / path)
    if spec.startswith("ducklake:"):
        catalog = spec.removeprefix("ducklake:")
        if not catalog.startswith("postgres:") or not catalog.removeprefix("postgres:").strip():
            raise ValueError(
                f"{WAREHOUSE_ENV}={_mask(spec)}: only a PostgreSQL catalog is supported, e.g. "
                "ducklake:postgres:dbname=scorecards host=127.0.0.1 user=postgres"
            )
        data_path = (env.get(DATA_PATH_ENV) or "").strip() or str(data_dir / "lake")
        # DuckLake joins file names onto DATA_PATH; without the slash they land beside it.
        if not data_path.endswith("/"):
            data_path += "/"
        return WarehouseTarget(kind="ducklake", catalog=catalog, data_path=data_path)
    raise ValueError(
        f"{WAREHOUSE_ENV}={_mask(spec)}: expected 'duckdb', 'duckdb:<path>' or "
        "'ducklake:postgres:<conninfo>'"
    )


class WarehouseBusyError(RuntimeError):
    """Another process held the warehouse's write lock for longer than we wait."""


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
    keys = not is_ducklake(con)
    for ds in DATASETS.values():
        con.execute(_dataset_ddl(ds))
    for table, columns, key in _TABLES:
        pk = f", PRIMARY KEY ({key})" if key and keys else ""
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns}{pk})")
    for table, column, decl in _ADDED_COLUMNS:
        con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {decl}")


def _schema_complete(con: duckdb.DuckDBPyConnection) -> bool:
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


def _extension(package: str, name: str) -> str:
    """The path of an extension binary shipped in a PyPI package (DuckDB cannot download
    extensions where this runs): <package>/extensions/v<duckdb version>/<name>.duckdb_extension."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"the DuckLake backend needs the Python package {package}")
    path = Path(spec.origin).parent / "extensions" / f"v{duckdb.__version__}"
    path /= f"{name}.duckdb_extension"
    if not path.exists():
        raise RuntimeError(f"{package} has no {path.name} for DuckDB {duckdb.__version__}")
    return str(path)


def _config(temp_dir: Path | None) -> dict[str, str]:
    config = {
        "threads": str(os.cpu_count() or 2),
        "memory_limit": os.environ.get("SCORECARDS_DUCKDB_MEMORY", "2GB"),
        "preserve_insertion_order": "true",
    }
    if temp_dir is not None:
        config["temp_directory"] = str(temp_dir)
    return config


def _is_url(data_path: str) -> bool:
    return "://" in data_path


def _open_ducklake(target: WarehouseTarget, wait_s: float) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake attached as `lake` and in use: the warehouse's SQL runs
    unchanged, and the temp tables of a load stay in this process's memory."""
    data_path = target.data_path or ""
    local = not _is_url(data_path)
    if local:
        Path(data_path).mkdir(parents=True, exist_ok=True)
    temp = Path(data_path).parent / ".duckdb_tmp" if local else None
    con = duckdb.connect(":memory:", config=_config(temp))
    try:
        if not local:
            _object_store(con, data_path)
        con.execute(f"LOAD {sql_str(_extension('duckdb_extension_ducklake', 'ducklake'))}")
        con.execute(
            f"LOAD {sql_str(_extension('duckdb_extension_postgres_scanner', 'postgres_scanner'))}"
        )
        attach = (
            f"ATTACH {sql_str('ducklake:' + (target.catalog or ''))} AS lake "
            f"(DATA_PATH {sql_str(data_path)})"
        )
        # A new catalog is created by the first ATTACH; two processes doing that at once
        # conflict, so the first attach is serialised and retried like a write.
        try:
            con.execute(attach)
        except duckdb.Error as exc:
            if not _retryable(exc):
                raise _catalog_error(target, exc) from None
            with named_lock(target, "schema", wait_s):
                _retry(lambda: con.execute(attach), "attach the DuckLake catalog", target)
        con.execute("USE lake")
    except BaseException:
        con.close()
        raise
    return con


# The object stores DuckDB's httpfs extension reaches, and the secret type each needs.
_STORE_SECRETS = {"s3": "s3", "s3a": "s3", "r2": "r2", "gs": "gcs", "gcs": "gcs"}


def _object_store(
    con: duckdb.DuckDBPyConnection, data_path: str, environ: Mapping[str, str] | None = None
) -> None:
    """Load httpfs and give it the store's credentials, for a DuckLake whose data files live in
    an object store (docs/warehouse.md). Credentials come from the environment the usual way:
    AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN, AWS_REGION) for S3 and
    S3-compatible stores, whose address AWS_ENDPOINT_URL gives (MinIO, Ceph, R2: path-style
    URLs); GCS_HMAC_KEY_ID / GCS_HMAC_SECRET for Google Cloud Storage."""
    environ = os.environ if environ is None else environ
    scheme = data_path.split("://", 1)[0].lower()
    kind = _STORE_SECRETS.get(scheme)
    if kind is None and scheme not in ("http", "https"):
        raise ValueError(
            f"SCORECARDS_WAREHOUSE_DATA_PATH={data_path}: {scheme}:// is not supported "
            "(s3://, gs://, r2://, http(s):// or a local directory)"
        )
    con.execute(f"LOAD {sql_str(_extension('duckdb_extension_httpfs', 'httpfs'))}")
    if kind is None:
        return
    if kind == "gcs":
        key, secret = environ.get("GCS_HMAC_KEY_ID", ""), environ.get("GCS_HMAC_SECRET", "")
        names = "GCS_HMAC_KEY_ID and GCS_HMAC_SECRET"
    else:
        key = environ.get("AWS_ACCESS_KEY_ID", "")
        secret = environ.get("AWS_SECRET_ACCESS_KEY", "")
        names = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    if not (key and secret):
        raise ValueError(f"the DuckLake data path {data_path} needs {names} in the environment")
    opts = {"KEY_ID": key, "SECRET": secret}
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    if kind == "s3" and region:
        opts["REGION"] = region
    if kind == "s3" and environ.get("AWS_SESSION_TOKEN"):
        opts["SESSION_TOKEN"] = environ["AWS_SESSION_TOKEN"]
    endpoint = environ.get("AWS_ENDPOINT_URL", "").strip()
    if kind == "s3" and endpoint:
        url_scheme, _, host = endpoint.rpartition("://")
        opts["ENDPOINT"] = host.rstrip("/")
        opts["URL_STYLE"] = "path"
    listed = ", ".join(f"{k} {sql_str(v)}" for k, v in opts.items())
    if kind == "s3" and endpoint and url_scheme.lower() == "http":
        listed += ", USE_SSL false"
    con.execute(f"CREATE SECRET scorecards_lake_store (TYPE {kind}, {listed})")


def _catalog_error(target: WarehouseTarget, exc: Exception) -> Exception:
    return RuntimeError(f"cannot open the DuckLake warehouse ({target.describe()}): {exc}")


def as_target(where: WarehouseTarget | Path | str) -> WarehouseTarget:
    """A target from a target, or from the path of a DuckDB file (callers moving over)."""
    if isinstance(where, WarehouseTarget):
        return where
    return WarehouseTarget(kind="duckdb", path=Path(where))


@contextlib.contextmanager
def connect(
    where: WarehouseTarget | Path | str, read_only: bool = False, wait_s: float = 120.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse (a settings.warehouse target, or a DuckDB file's path).

    DuckDB file: waits while another run holds DuckDB's single-writer lock. DuckLake: any number
    of processes may open it at once; their month writes go through `write_transaction`, which
    retries when DuckLake reports a conflict. `read_only` is a promise not to write (DuckLake
    does not enforce it)."""
    target = as_target(where)
    if target.kind == "ducklake":
        con = _open_ducklake(target, wait_s)
        try:
            if not _schema_complete(con):
                with named_lock(target, "schema", wait_s):
                    _retry(lambda: ensure_schema(con), "create the warehouse schema", target)
            yield con
        finally:
            con.close()
        return
    path = target.path
    assert path is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    if read_only and not path.exists():
        # A read before anything was written sees an empty warehouse, not an error.
        with connect(path, read_only=False, wait_s=wait_s):
            pass
    config = _config(None if read_only else path.parent / ".duckdb_tmp")
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


# --- transactions with retry ----------------------------------------------------------------

T = TypeVar("T")

# DuckLake detects conflicts at commit, e.g. "Transaction conflict - attempting to insert into
# table ... but another transaction has deleted from it", when two processes write one table
# at once, even different months of it. The loser's work is rolled back whole, so running it
# again is safe. On the DuckDB file a writer holds the file alone and this never happens.
RETRY_TRIES = int(os.environ.get("SCORECARDS_WAREHOUSE_RETRIES", "8"))
RETRY_BACKOFF_S = 0.2
RETRY_MAX_BACKOFF_S = 5.0


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.Error) and "conflict" in str(exc).lower()


def _retry(
    fn: Callable[[], T],
    what: str,
    target: WarehouseTarget | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    delay = RETRY_BACKOFF_S
    for attempt in range(1, RETRY_TRIES + 1):
        try:
            return fn()
        except duckdb.Error as exc:
            if not _retryable(exc) or attempt == RETRY_TRIES:
                raise
            # jitter: two losers of one conflict should not collide again on the same beat
            pause = delay * (0.5 + random.random())
            log.warning(
                "%s: transaction conflict on %s (attempt %d of %d), retrying in %.2f s: %s",
                what,
                target.describe() if target else "the warehouse",
                attempt,
                RETRY_TRIES,
                pause,
                str(exc).splitlines()[0],
            )
            sleep(pause)
            delay = min(delay * 2, RETRY_MAX_BACKOFF_S)
    raise AssertionError("unreachable")


def write_transaction(
    con: duckdb.DuckDBPyConnection,
    fn: Callable[[], T],
    what: str = "warehouse write",
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `fn` (the statements of one write) in a transaction and commit; when DuckLake reports
    a transaction conflict, roll back and run all of `fn` again, with a growing pause, up to
    RETRY_TRIES times. `fn` must therefore only write through `con` (no side effects elsewhere)
    and decide from what it reads inside the transaction."""

    def once() -> T:
        con.execute("BEGIN TRANSACTION")
        try:
            out = fn()
            con.execute("COMMIT")
        except BaseException:
            # a failed COMMIT has already ended the transaction; nothing more to undo then
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        return out

    return _retry(once, what, sleep=sleep)


# --- locks across processes -------------------------------------------------------------------


def _lock_key(name: str) -> int:
    # PostgreSQL advisory locks take one bigint: a stable hash of the name, signed.
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextlib.contextmanager
def named_lock(
    where: WarehouseTarget | Path | str, name: str, wait_s: float = 600.0
) -> Iterator[None]:
    """Hold an exclusive lock called `name` among all processes using this warehouse.

    DuckLake: a PostgreSQL session advisory lock in the catalog database, on a connection of
    its own. DuckDB file: an flock on a file in `.locks/` beside it. Both are released when the
    holder ends, however it ends (a crashed run leaves no lock behind). Raises
    WarehouseBusyError after `wait_s`."""
    target = as_target(where)
    if target.kind == "ducklake":
        with _pg_lock(target, name, wait_s):
            yield
        return
    assert target.path is not None
    folder = target.path.parent / ".locks"
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:80]
    path = folder / f"{target.path.stem}.{safe}.{_lock_key(name) & 0xFFFFFFFF:08x}.lock"
    with open(path, "a+b") as fh:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise WarehouseBusyError(
                        f"lock {name!r} on {target.describe()} held by another process for "
                        f"more than {wait_s:.0f} s"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def _pg_lock(target: WarehouseTarget, name: str, wait_s: float) -> Iterator[None]:
    import psycopg2  # the DuckLake backend only; a dependency of dagster-postgres

    conninfo = target.postgres_conninfo
    if conninfo is None:
        raise ValueError(f"no PostgreSQL catalog to lock in: {target.describe()}")
    key = _lock_key(name)
    try:
        pg = psycopg2.connect(conninfo, connect_timeout=10, application_name="scorecards-lock")
    except psycopg2.Error as exc:
        raise _catalog_error(target, exc) from None
    try:
        pg.autocommit = True
        with pg.cursor() as cur:
            deadline = time.monotonic() + wait_s
            delay = 0.02
            while True:
                cur.execute("SELECT pg_try_advisory_lock(%s)", (key,))
                if cur.fetchone()[0]:
                    break
                if time.monotonic() > deadline:
                    raise WarehouseBusyError(
                        f"lock {name!r} on {target.describe()} held by another process for "
                        f"more than {wait_s:.0f} s"
                    )
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
            try:
                yield
            finally:
                # closing the session would release it too; unlock first so a pooled or
                # slow-closing connection cannot keep it
                with contextlib.suppress(psycopg2.Error):
                    cur.execute("SELECT pg_advisory_unlock(%s)", (key,))
    finally:
        pg.close()


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


def create_tables(con: duckdb.DuckDBPyConnection, statements: Sequence[str]) -> None:
    """Run CREATE TABLE IF NOT EXISTS statements of a later stage (churn). Two processes creating
    one table on DuckLake at once conflict; the loser's retry finds the table there."""
    for ddl in statements:
        _retry(lambda ddl=ddl: con.execute(ddl), "create tables")
