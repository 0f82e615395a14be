"""Shared helpers: build a data dir and a config dir on disk from hand-written rows."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import yaml

from scorecards.config.settings import Settings, load_settings
from scorecards.contract.datasets import CUSTOMERS, SURVEYS, TICKETS

TEAMS = {
    "timezone": "Europe/Berlin",
    "quarantine_threshold": 0.02,
    "teams": [
        {
            "id": "alpha",
            "name": "Team Alpha",
            "locale": "de",
            "targets": {"csat": 80, "first_response_time": 60},
        },
        {"id": "beta", "name": "Team Beta", "locale": "en"},
    ],
}


def ticket(tid: str, created: str, team: str = "alpha", **kw: object) -> dict:
    row = {
        "ticket_id": tid,
        "customer_id": kw.pop("customer_id", "C1"),
        "team": team,
        "agent_id": "",
        "channel": "email",
        "created_at": created,
        "first_response_at": "",
        "resolved_at": "",
        "handle_time_s": "",
        "wait_time_s": "",
        "contacts": 1,
        "reopened": "false",
        "escalated": "false",
    }
    row.update(kw)
    return row


def survey(rid: str, submitted: str, survey_type: str, score: object, **kw: object) -> dict:
    row = {
        "response_id": rid,
        "ticket_id": "",
        "customer_id": "C1",
        "team": "alpha",
        "survey_type": survey_type,
        "score": score,
        "submitted_at": submitted,
        "comment": "",
    }
    row.update(kw)
    return row


def customer(cid: str, since: str, churned: str = "", segment: str = "smb") -> dict:
    return {"customer_id": cid, "customer_since": since, "churned_at": churned, "segment": segment}


def write_rows(folder: Path, name: str, rows: list[dict], columns: tuple[str, ...]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    pd.DataFrame(rows, columns=list(columns)).to_csv(path, index=False)
    return path


class Env:
    """A data dir + config dir pair under tmp_path."""

    def __init__(self, root: Path, teams: dict | None = None, sources: dict | None = None) -> None:
        self.root = root
        self.data = root / "data"
        self.config = root / "config"
        self.config.mkdir(parents=True, exist_ok=True)
        (self.config / "teams.yaml").write_text(yaml.safe_dump(teams or TEAMS))
        if sources:
            (self.config / "sources.yaml").write_text(yaml.safe_dump(sources))
        self.landing = self.data / "landing"

    def tickets(self, rows: list[dict], name: str = "tickets.csv") -> Path:
        return write_rows(self.landing / "tickets", name, rows, TICKETS.column_names)

    def surveys(self, rows: list[dict], name: str = "surveys.csv") -> Path:
        return write_rows(self.landing / "surveys", name, rows, SURVEYS.column_names)

    def customers(self, rows: list[dict], name: str = "customers.csv") -> Path:
        return write_rows(self.landing / "customers", name, rows, CUSTOMERS.column_names)

    def settings(self) -> Settings:
        return load_settings(self.data, self.config)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)


# --- the two warehouse backends ---------------------------------------------------------------
#
# Tests that take `warehouse_backend` (module-scoped, parametrized) run once on the DuckDB file
# and once on DuckLake with its catalog in the local PostgreSQL. On DuckLake every data dir gets
# its own catalog database, created when its settings first name the warehouse and dropped
# when the module ends, so the Envs of one test never share a warehouse (as with the file).

PG_ENV = "SCORECARDS_TEST_PG"  # libpq keywords of the test server, without dbname
LAKE_MARKER = "SCORECARDS_TEST_LAKE"  # in a settings' environment copy: "use the test lake"
PG_DEFAULT = "host=127.0.0.1 port=5432 user=postgres"


class LakeBackend:
    """Data dir -> (catalog database, data path) on the test PostgreSQL server."""

    def __init__(self) -> None:
        import os
        import uuid

        self.server = os.environ.get(PG_ENV, PG_DEFAULT)
        # unique per test run: several runs may share the server
        self.prefix = f"sc_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self.lakes: dict[Path, tuple[str, str]] = {}
        self._check()

    def _admin(self):  # noqa: ANN202 - psycopg2 connection
        import psycopg2

        con = psycopg2.connect(f"{self.server} dbname=postgres", connect_timeout=5)
        con.autocommit = True
        return con

    def _check(self) -> None:
        try:
            self._admin().close()
        except Exception as exc:  # noqa: BLE001 - any reason is reported the same way
            pytest.fail(
                f"the DuckLake warehouse tests need PostgreSQL at '{self.server}' (trust auth, "
                f"set {PG_ENV} for another server); it is not reachable: {exc}",
                pytrace=False,
            )

    def _sql(self, sql: str) -> None:
        con = self._admin()
        try:
            con.cursor().execute(sql)
        finally:
            con.close()

    def catalog(self, db: str) -> str:
        return f"postgres:dbname={db} {self.server}"

    def lake(self, data_dir: Path) -> tuple[str, str]:
        data_dir = Path(data_dir).resolve()
        if data_dir not in self.lakes:
            db = f"{self.prefix}_{len(self.lakes)}"
            self._sql(f'CREATE DATABASE "{db}"')
            self.lakes[data_dir] = (db, f"{data_dir / 'lake'}/")
        return self.lakes[data_dir]

    def target(self, data_dir: Path):  # noqa: ANN201 - WarehouseTarget
        from scorecards.config.environment import WarehouseTarget

        db, data_path = self.lake(data_dir)
        return WarehouseTarget("ducklake", catalog=self.catalog(db), data_path=data_path)

    def environ(self, data_dir: Path) -> dict[str, str]:
        """What a child process needs in its environment to open `data_dir`'s warehouse."""
        db, data_path = self.lake(data_dir)
        return {
            "SCORECARDS_WAREHOUSE": f"ducklake:{self.catalog(db)}",
            "SCORECARDS_WAREHOUSE_DATA_PATH": data_path,
        }

    def clone(self, src: Path, dst: Path) -> None:
        """`dst`'s warehouse starts as a copy of `src`'s (a data dir copied with copytree). The
        copy shares the data files: DuckLake never changes a file it wrote, and no test
        expires snapshots."""
        db, data_path = self.lake(src)
        new = f"{self.prefix}_{len(self.lakes)}"
        self._sql(f'CREATE DATABASE "{new}" TEMPLATE "{db}"')
        self.lakes[Path(dst).resolve()] = (new, data_path)

    def drop_all(self) -> None:
        for db, _ in self.lakes.values():
            self._sql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        self.lakes.clear()


@pytest.fixture(scope="module", params=["duckdb", "ducklake"])
def warehouse_backend(request: pytest.FixtureRequest) -> object:
    """The backend of this module's run: "duckdb", or the LakeBackend on "ducklake"."""
    import scorecards.config.settings as settings_module
    from scorecards.config.environment import Environment, read_environment, target_from_env

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("SCORECARDS_WAREHOUSE", raising=False)
        mp.delenv("SCORECARDS_WAREHOUSE_DATA_PATH", raising=False)
        if request.param == "duckdb":
            yield "duckdb"
            return
        lake = LakeBackend()

        # Settings loaded from the process environment without SCORECARDS_WAREHOUSE get the
        # data dir's own lake; the marker travels in the environment copy the settings keep
        # (settings given an explicit environment, or one naming a warehouse, keep it).
        def read_env(environ=None, secrets=()):  # noqa: ANN001, ANN202
            env = read_environment(environ, secrets)
            if environ is None and "SCORECARDS_WAREHOUSE" not in os.environ:
                return Environment({**env.environ, LAKE_MARKER: "1"})
            return env

        def target(data_dir: Path, environ: dict[str, str] | None = None):  # noqa: ANN202
            if LAKE_MARKER in (environ or {}) or (
                environ is None and "SCORECARDS_WAREHOUSE" not in os.environ
            ):
                return lake.target(data_dir)
            return target_from_env(data_dir, environ)

        mp.setattr(settings_module, "read_environment", read_env)
        mp.setattr(settings_module, "target_from_env", target)
        try:
            yield lake
        finally:
            lake.drop_all()


def clone_warehouse(backend: object, src: Path, dst: Path) -> None:
    """After copying data dir `src` to `dst`: give `dst` a copy of `src`'s warehouse too (the
    DuckDB file came along with the copy; a DuckLake catalog lives in PostgreSQL)."""
    if isinstance(backend, LakeBackend):
        backend.clone(src, dst)
