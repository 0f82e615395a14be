"""Opening the warehouse: a DuckDB file, or DuckLake with its catalog in PostgreSQL.

The backend is chosen by SCORECARDS_WAREHOUSE (`Settings.warehouse`, docs/warehouse.md); the
target it gives carries the memory limit and the retry count of the connection too.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import duckdb

from scorecards.config.environment import DATA_PATH_ENV, WarehouseTarget, as_target
from scorecards.warehouse.locks import WarehouseBusyError, catalog_error, named_lock
from scorecards.warehouse.schema import ensure_schema, schema_complete
from scorecards.warehouse.sql import sql_str
from scorecards.warehouse.transactions import is_conflict, retry, set_tries


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


def _config(target: WarehouseTarget, temp_dir: Path | None) -> dict[str, str]:
    config = {
        "threads": str(os.cpu_count() or 2),
        "memory_limit": target.memory_limit,
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
    con = duckdb.connect(":memory:", config=_config(target, temp))
    try:
        if not local:
            _object_store(con, data_path, target.store_env)
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
            if not is_conflict(exc):
                raise catalog_error(target, exc) from None
            with named_lock(target, "schema", wait_s):
                retry(
                    lambda: con.execute(attach),
                    "attach the DuckLake catalog",
                    target.retries,
                    target.describe(),
                )
        con.execute("USE lake")
    except BaseException:
        con.close()
        raise
    return con


# The object stores DuckDB's httpfs extension reaches, and the secret type each needs.
_STORE_SECRETS = {"s3": "s3", "s3a": "s3", "r2": "r2", "gs": "gcs", "gcs": "gcs"}


def _object_store(
    con: duckdb.DuckDBPyConnection, data_path: str, environ: Mapping[str, str]
) -> None:
    """Load httpfs and give it the store's credentials, for a DuckLake whose data files live in
    an object store (docs/warehouse.md). Credentials come from the environment the usual way:
    AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN, AWS_REGION) for S3 and
    S3-compatible stores, whose address AWS_ENDPOINT_URL gives (MinIO, Ceph, R2: path-style
    URLs); GCS_HMAC_KEY_ID / GCS_HMAC_SECRET for Google Cloud Storage."""
    scheme = data_path.split("://", 1)[0].lower()
    kind = _STORE_SECRETS.get(scheme)
    if kind is None and scheme not in ("http", "https"):
        raise ValueError(
            f"{DATA_PATH_ENV}={data_path}: {scheme}:// is not supported "
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


def _open_file(
    target: WarehouseTarget, read_only: bool, wait_s: float
) -> duckdb.DuckDBPyConnection:
    """The DuckDB file, waiting while another run holds DuckDB's single-writer lock."""
    path = target.path
    assert path is not None
    config = _config(target, None if read_only else path.parent / ".duckdb_tmp")
    deadline = time.monotonic() + wait_s
    delay = 0.1
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=config)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                if "lock" in str(exc).lower():
                    raise WarehouseBusyError(
                        f"{path} is locked by another process for more than {wait_s:.0f} s: {exc}"
                    ) from None
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


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
        set_tries(con, target.retries)
        try:
            if not schema_complete(con):
                with named_lock(target, "schema", wait_s):
                    retry(
                        lambda: ensure_schema(con),
                        "create the warehouse schema",
                        target.retries,
                        target.describe(),
                    )
            yield con
        finally:
            con.close()
        return
    assert target.path is not None
    target.path.parent.mkdir(parents=True, exist_ok=True)
    if read_only and not target.path.exists():
        # A read before anything was written sees an empty warehouse, not an error.
        with connect(target, read_only=False, wait_s=wait_s):
            pass
    con = _open_file(target, read_only, wait_s)
    set_tries(con, target.retries)
    try:
        if not read_only:
            ensure_schema(con)
        yield con
    finally:
        con.close()
