"""The process environment, as the domain reads it: the one module that does.

Settings hold an `Environment`; everything else gets its values from there (the warehouse
target with its memory limit, retry count and object-store credentials, the data and config
dirs, the pseudonym key). The variables and what they select are in docs/warehouse.md,
docs/deployment.md and docs/churn-risk.md.

An Environment built without a mapping reads the process environment when asked, not when
built: a long-lived Settings (a Dagster code server, a test) sees the environment its process
runs in, as it always did.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from scorecards.core.package_files import CONFIG_DIR_ENV, DATA_DIR_ENV

WAREHOUSE_ENV = "SCORECARDS_WAREHOUSE"
DATA_PATH_ENV = "SCORECARDS_WAREHOUSE_DATA_PATH"
MEMORY_ENV = "SCORECARDS_DUCKDB_MEMORY"
RETRIES_ENV = "SCORECARDS_WAREHOUSE_RETRIES"
DEFAULT_FILE = "warehouse.duckdb"
DEFAULT_MEMORY = "2GB"
# DuckLake write conflicts are retried this often (scorecards/warehouse/transactions.py).
DEFAULT_RETRIES = 8

# The credentials DuckDB's httpfs needs for a DuckLake whose data files are in an object store
# (scorecards/warehouse/connection.py reads them from the target).
OBJECT_STORE_ENV: tuple[str, ...] = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "GCS_HMAC_KEY_ID",
    "GCS_HMAC_SECRET",
)

# key=value pairs of a libpq conninfo, and the user:password@ of a postgresql:// URI.
_PASSWORD_KV = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_PASSWORD_URI = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")


def mask_password(text: str) -> str:
    """`text` (a catalog string, a URL) with any password in it replaced by ***."""
    return _PASSWORD_URI.sub(r"\1***@", _PASSWORD_KV.sub(r"\1***", text))


@dataclass(frozen=True)
class WarehouseTarget:
    """Which warehouse to open, and how: a DuckDB file, or DuckLake with its catalog in
    PostgreSQL.

    `catalog` is what follows `ducklake:` in the ATTACH string (`postgres:dbname=... host=...`);
    `data_path` is where DuckLake writes its Parquet files (a directory or an object-store URL);
    `store_env` the object-store credentials from the environment (never shown or compared).
    """

    kind: Literal["duckdb", "ducklake"]
    path: Path | None = None
    catalog: str | None = None
    data_path: str | None = None
    memory_limit: str = DEFAULT_MEMORY
    retries: int = DEFAULT_RETRIES
    store_env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def describe(self) -> str:
        """A one-line description for logs; a password in the catalog string is masked."""
        if self.kind == "duckdb":
            return f"duckdb file {self.path}"
        catalog, data = mask_password(self.catalog or ""), mask_password(self.data_path or "")
        return f"ducklake catalog {catalog} data {data}"

    @property
    def postgres_conninfo(self) -> str | None:
        """The libpq connection string of a PostgreSQL catalog (None for other backends)."""
        if self.kind == "ducklake" and self.catalog and self.catalog.startswith("postgres:"):
            return self.catalog.removeprefix("postgres:")
        return None


def as_target(where: WarehouseTarget | Path | str) -> WarehouseTarget:
    """A target from a target, or from the path of a DuckDB file (callers moving over)."""
    if isinstance(where, WarehouseTarget):
        return where
    return WarehouseTarget(kind="duckdb", path=Path(where))


def target_from_env(data_dir: Path, environ: Mapping[str, str] | None = None) -> WarehouseTarget:
    """The warehouse chosen by SCORECARDS_WAREHOUSE (see docs/warehouse.md).

    unset, `duckdb`         the DuckDB file <data_dir>/warehouse.duckdb
    `duckdb:<path>`         that DuckDB file (relative to the data dir)
    `ducklake:postgres:<conninfo>`  DuckLake, catalog in PostgreSQL, data files under
                            SCORECARDS_WAREHOUSE_DATA_PATH (default <data_dir>/lake/)

    SCORECARDS_DUCKDB_MEMORY (default 2GB) and SCORECARDS_WAREHOUSE_RETRIES (default 8) come
    along on the target.
    """
    env = os.environ if environ is None else environ
    tries = env.get(RETRIES_ENV, str(DEFAULT_RETRIES))
    if not tries.strip().isdigit() or int(tries) < 1:
        raise ValueError(f"{RETRIES_ENV}={tries!r}: expected a number of tries, at least 1")
    memory, retries = env.get(MEMORY_ENV, DEFAULT_MEMORY), int(tries)
    spec = (env.get(WAREHOUSE_ENV) or "").strip()
    if spec in ("", "duckdb"):
        return WarehouseTarget(
            "duckdb", data_dir / DEFAULT_FILE, memory_limit=memory, retries=retries
        )
    if spec.startswith("duckdb:"):
        path = Path(spec.removeprefix("duckdb:")).expanduser()
        path = path if path.is_absolute() else data_dir / path
        return WarehouseTarget("duckdb", path, memory_limit=memory, retries=retries)
    if spec.startswith("ducklake:"):
        catalog = spec.removeprefix("ducklake:")
        if not catalog.startswith("postgres:") or not catalog.removeprefix("postgres:").strip():
            raise ValueError(
                f"{WAREHOUSE_ENV}={mask_password(spec)}: only a PostgreSQL catalog is supported, "
                "e.g. ducklake:postgres:dbname=scorecards host=127.0.0.1 user=postgres"
            )
        data_path = (env.get(DATA_PATH_ENV) or "").strip() or str(data_dir / "lake")
        # DuckLake joins file names onto DATA_PATH; without the slash they land beside it.
        if not data_path.endswith("/"):
            data_path += "/"
        store = {k: env[k] for k in OBJECT_STORE_ENV if k in env}
        return WarehouseTarget(
            "ducklake",
            catalog=catalog,
            data_path=data_path,
            memory_limit=memory,
            retries=retries,
            store_env=store,
        )
    raise ValueError(
        f"{WAREHOUSE_ENV}={mask_password(spec)}: expected 'duckdb', 'duckdb:<path>' or "
        "'ducklake:postgres:<conninfo>'"
    )


@dataclass(frozen=True)
class Environment:
    """The environment variables the domain uses. `load_settings` gives it a copy of them, made
    once (`read_environment`), which travels with the Settings into worker processes; `environ`
    None reads the process environment at each question, for the few callers that run before
    there are settings (the Dagster layer choosing the warehouse pool, the demo's data dir)."""

    environ: Mapping[str, str] | None = field(default=None, repr=False, hash=False)

    @property
    def _env(self) -> Mapping[str, str]:
        return os.environ if self.environ is None else self.environ

    @property
    def data_dir(self) -> str | None:
        """SCORECARDS_DATA_DIR, or None when unset or empty."""
        return self._env.get(DATA_DIR_ENV) or None

    @property
    def config_dir(self) -> str | None:
        """SCORECARDS_CONFIG_DIR, or None when unset or empty."""
        return self._env.get(CONFIG_DIR_ENV) or None

    @property
    def warehouse_kind(self) -> Literal["duckdb", "ducklake"]:
        """The backend SCORECARDS_WAREHOUSE selects, by its prefix alone: what a process can
        know before it has a data dir, also from a malformed value (whose error the run then
        reports when it opens the warehouse)."""
        value = self._env.get(WAREHOUSE_ENV, "").strip().lower()
        return "ducklake" if value.startswith("ducklake") else "duckdb"

    def warehouse(self, data_dir: Path) -> WarehouseTarget:
        """The warehouse of `data_dir` as the environment selects it (`target_from_env`)."""
        return target_from_env(data_dir, self._env)

    def secret(self, name: str) -> str:
        """The value of the variable `name` (e.g. the pseudonym key churn.id_key_env names),
        "" when unset."""
        return self._env.get(name, "")


def read_environment(
    environ: Mapping[str, str] | None = None, secrets: tuple[str, ...] = ()
) -> Environment:
    """The variables the domain reads, copied once from `environ` (the process environment when
    None): every SCORECARDS_* variable, the object-store credentials and the `secrets` named in
    the config (the pseudonym key). A later change of the process environment does not change
    settings already loaded; load them again to see it."""
    source = os.environ if environ is None else environ
    keep = {
        name: value
        for name, value in source.items()
        if name.startswith("SCORECARDS_") or name in OBJECT_STORE_ENV or name in secrets
    }
    return Environment(keep)
