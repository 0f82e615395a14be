"""config/dagster.production.yaml against a real PostgreSQL: a new database per test run (a
unique name; several runs may share the server), an instance loaded from the yaml with the
DAGSTER_PG_* variables, one small materialization, and its run, events and pool slot found in
PostgreSQL's own tables. Fails, never skips, when PostgreSQL is not reachable."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

from assets.concurrency import WAREHOUSE_POOL, pool_state
from assets.resources import ScorecardsConfig
from scripts.serve_stack import PgServer, temp_database

REPO = Path(__file__).resolve().parents[1]
PRODUCTION = REPO / "config" / "dagster.production.yaml"
EMBEDDED = REPO / "config" / "dagster.yaml"


@pytest.fixture
def pg() -> Iterator[tuple[PgServer, str]]:
    server = PgServer.from_env()
    with temp_database(server, "scorecards_instance_test") as db:
        yield server, db


@pytest.fixture
def instance(
    pg: tuple[PgServer, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dg.DagsterInstance]:
    server, db = pg
    for key, value in server.dagster_env(db).items():
        monkeypatch.setenv(key, value)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PRODUCTION, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.from_config(str(home)) as inst:
        yield inst


def test_production_yaml_settings() -> None:
    cfg = yaml.safe_load(PRODUCTION.read_text())
    db = cfg["storage"]["postgres"]["postgres_db"]
    # every connection setting from the environment, none written into the file
    assert {k: v for k, v in db.items() if k != "scheme"} == {
        "hostname": {"env": "DAGSTER_PG_HOST"},
        "port": {"env": "DAGSTER_PG_PORT"},
        "username": {"env": "DAGSTER_PG_USER"},
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "db_name": {"env": "DAGSTER_PG_DB"},
    }
    assert cfg["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert cfg["run_retries"]["enabled"] and cfg["run_retries"]["max_retries"] >= 1
    assert cfg["run_retries"]["retry_on_asset_or_op_failure"] is False
    assert cfg["run_monitoring"]["enabled"]
    assert cfg["concurrency"]["pools"]["default_limit"] == 1
    assert {"schedule", "sensor"} <= set(cfg["retention"])
    # the embedded default: no run-level queue of one any more, the pool does that job
    embedded = yaml.safe_load(EMBEDDED.read_text())
    assert "runs" not in embedded.get("concurrency", {})
    assert embedded["concurrency"]["pools"]["default_limit"] == 1


def test_instance_on_postgres(instance: dg.DagsterInstance, pg: tuple[PgServer, str]) -> None:
    from dagster_postgres import (
        PostgresEventLogStorage,
        PostgresRunStorage,
        PostgresScheduleStorage,
    )

    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
    assert instance.run_monitoring_enabled
    assert instance.global_op_concurrency_default_limit == 1

    @dg.asset(pool=WAREHOUSE_POOL)
    def small(scorecards: ScorecardsConfig) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"rows": 3})

    result = dg.materialize(
        [small],
        instance=instance,
        resources={"scorecards": ScorecardsConfig(data_dir="unused", config_dir="unused")},
    )
    assert result.success
    run_id = result.run_id

    server, db = pg
    conn = server.connect(db)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT status FROM runs WHERE run_id = %s", (run_id,))
            assert cur.fetchall() == [("SUCCESS",)]
            cur.execute(
                "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = %s",
                (run_id, "ASSET_MATERIALIZATION"),
            )
            assert cur.fetchone() == (1,)
            cur.execute("SELECT count(*) FROM event_logs WHERE run_id = %s", (run_id,))
            assert cur.fetchone()[0] > 5
            # the step took a slot of the warehouse pool, kept in PostgreSQL too
            cur.execute('SELECT concurrency_key, "limit" FROM concurrency_limits')
            assert (WAREHOUSE_POOL, 1) in cur.fetchall()
    finally:
        conn.close()
    state = pool_state(instance)
    assert (state.supported, state.limit, state.granularity) == (True, 1, "op")


def test_unreachable_postgres_is_a_clear_failure() -> None:
    from scripts.serve_stack import CheckFailed, free_port

    closed = PgServer(host="127.0.0.1", port=free_port())
    with pytest.raises(CheckFailed, match=r"PostgreSQL is not reachable at 127\.0\.0\.1:\d+"):
        closed.connect()
