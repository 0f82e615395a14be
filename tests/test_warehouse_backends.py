"""The two warehouse backends (scorecards/warehouse/, docs/warehouse.md): the setting, the
same contents from the same data on both, month writes of parallel processes on DuckLake, and
exactly-once delivery when two processes deliver one month at the same time, on both backends
against a real SMTP server. The DuckLake cases need the local PostgreSQL (tests/conftest.py)."""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from scorecards.config.environment import target_from_env
from scorecards.config.settings import ConfigError, load_settings
from scorecards.delivery.ledger import ALREADY_SENT, SENT
from scorecards.delivery.send import deliver
from scorecards.delivery.smtp import SmtpSettings, SmtpTransport
from scorecards.ingest.load import ingest_customers, ingest_events
from scorecards.kpis.engine import build_team_kpis
from scorecards.warehouse.connection import connect
from scorecards.warehouse.tables import dump, replace_months
from scorecards.warehouse.transactions import tries_of, write_transaction
from tests.conftest import Env, LakeBackend
from tests.smtp_server import LocalSmtpServer
from tests.test_dagster import _fill
from tests.test_delivery import EVERYONE, MONTH, SENDER, TEAMS, built  # noqa: F401 - fixture


def test_the_setting_selects_the_backend(tmp_path: Path) -> None:
    data = tmp_path / "data"
    t = target_from_env(data, {})
    assert (t.kind, t.path) == ("duckdb", data / "warehouse.duckdb")
    assert target_from_env(data, {"SCORECARDS_WAREHOUSE": "duckdb"}) == t
    t = target_from_env(data, {"SCORECARDS_WAREHOUSE": "duckdb:other.duckdb"})
    assert t.path == data / "other.duckdb"
    env = {"SCORECARDS_WAREHOUSE": "ducklake:postgres:dbname=sc host=db user=sc password=hunter2"}
    t = target_from_env(data, env)
    assert (t.kind, t.path, t.data_path) == ("ducklake", None, f"{data / 'lake'}/")
    assert t.catalog == "postgres:dbname=sc host=db user=sc password=hunter2"
    assert t.postgres_conninfo == "dbname=sc host=db user=sc password=hunter2"
    assert "hunter2" not in t.describe() and "dbname=sc" in t.describe()
    env["SCORECARDS_WAREHOUSE_DATA_PATH"] = "s3://bucket/lake"
    assert target_from_env(data, env).data_path == "s3://bucket/lake/"
    uri = {"SCORECARDS_WAREHOUSE": "ducklake:postgres:postgresql://sc:hunter2@db/sc"}
    assert "hunter2" not in target_from_env(data, uri).describe()
    for bad in ("sqlite:x", "ducklake:metadata.ducklake", "ducklake:postgres:"):
        with pytest.raises(ValueError, match="SCORECARDS_WAREHOUSE"):
            target_from_env(data, {"SCORECARDS_WAREHOUSE": bad})


def test_settings_read_the_setting(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCORECARDS_WAREHOUSE", raising=False)
    s = env.settings()
    assert s.warehouse.kind == "duckdb" and s.warehouse_path == s.warehouse.path
    monkeypatch.setenv("SCORECARDS_WAREHOUSE", "ducklake:postgres:dbname=x host=127.0.0.1")
    # read once: loaded settings keep what they were loaded with, new ones see the change
    assert s.warehouse.kind == "duckdb"
    s = env.settings()
    assert s.warehouse.kind == "ducklake" and s.warehouse.data_path == f"{env.data / 'lake'}/"


def test_settings_take_the_environment_they_are_given(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """load_settings(environ=...) reads that mapping, never the process environment: the
    warehouse with its memory limit and retry count, the data dir and the pseudonym key."""
    monkeypatch.setenv("SCORECARDS_WAREHOUSE", "ducklake:postgres:dbname=x host=127.0.0.1")
    monkeypatch.setenv("SCORECARDS_ID_KEY", "from-the-process")
    environ = {
        "SCORECARDS_DATA_DIR": str(env.data),
        "SCORECARDS_DUCKDB_MEMORY": "512MB",
        "SCORECARDS_WAREHOUSE_RETRIES": "3",
        "SCORECARDS_ID_KEY": "k3y",
    }
    s = load_settings(config_dir=env.config, environ=environ)
    t = s.warehouse
    assert (t.kind, t.path, t.memory_limit, t.retries) == (
        "duckdb",
        env.data.resolve() / "warehouse.duckdb",
        "512MB",
        3,
    )
    assert s.environment.secret("SCORECARDS_ID_KEY") == "k3y"
    with connect(t) as con:
        assert tries_of(con) == 3
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        assert limit.startswith("488.2")  # 512 MB in MiB
    # unset: the defaults, 2 GB and 8 tries
    t = load_settings(env.data, env.config, environ={}).warehouse
    assert (t.memory_limit, t.retries) == ("2GB", 8)
    with pytest.raises(ConfigError, match="SCORECARDS_WAREHOUSE_RETRIES='x'"):
        _ = load_settings(env.data, env.config, {"SCORECARDS_WAREHOUSE_RETRIES": "x"}).warehouse


@pytest.fixture
def lake() -> Iterator[LakeBackend]:
    backend = LakeBackend()
    try:
        yield backend
    finally:
        backend.drop_all()


def _load(env: Env, monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]) -> str:
    """Ingest, KPIs and churn of two months of the test data into the warehouse `environ`
    names; its dump."""
    from scorecards.churn.scoring import build_churn_risk

    with monkeypatch.context() as m:
        m.delenv("SCORECARDS_WAREHOUSE", raising=False)
        for k, v in environ.items():
            m.setenv(k, v)
        settings = env.settings()
        ingest_events(settings, ["2026-03", MONTH])
        ingest_customers(settings)
        build_team_kpis(settings, ["2026-03", MONTH], "2026-03")
        build_churn_risk(settings, ["2026-03", MONTH], "2026-03")
        # a second load of one month replaces it: still the same contents
        ingest_events(settings, [MONTH])
        return dump(settings.warehouse)


def test_the_same_data_gives_the_same_dump_on_both_backends(
    tmp_path: Path, lake: LakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    file_env = Env(tmp_path / "file", teams=TEAMS)
    lake_env = Env(tmp_path / "lake", teams=TEAMS)
    for e in (file_env, lake_env):
        _fill(e)
    on_file = _load(file_env, monkeypatch, {})
    on_lake = _load(lake_env, monkeypatch, lake.environ(lake_env.data))
    assert not (lake_env.data / "warehouse.duckdb").exists()
    assert list((lake_env.data / "lake").rglob("*.parquet"))
    assert "## team_kpis" in on_lake and "## customer_churn_risk" in on_lake
    assert on_lake == on_file


# --- parallel month writes on DuckLake --------------------------------------------------------


def _write_months(environ: dict[str, str], data: str, month: str, rounds: int) -> None:
    os.environ.update(environ)
    target = target_from_env(Path(data))
    rows = pd.DataFrame(
        {"period": month, "team": [f"t{i}" for i in range(2000)], "kpi": "csat", "value": 1.0}
    )
    with connect(target) as con:
        con.register("_rows", rows)
        for _ in range(rounds):
            write_transaction(con, lambda: replace_months(con, "team_kpis", "_rows", [month]))


def test_parallel_month_writes_on_ducklake_all_commit(
    tmp_path: Path, lake: LakeBackend, caplog: pytest.LogCaptureFixture
) -> None:
    """Three processes replace their own month of one table ten times at once: DuckLake
    reports conflicts, write_transaction retries them, every month ends up whole and once."""
    data = tmp_path / "data"
    environ = lake.environ(data)
    with connect(lake.target(data)):
        pass  # the schema, once up front
    ctx = mp.get_context("spawn")
    months = ["2026-01", "2026-02", "2026-03"]
    procs = [ctx.Process(target=_write_months, args=(environ, str(data), m, 10)) for m in months]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    with connect(lake.target(data), read_only=True) as con:
        got = con.execute(
            "SELECT period, count(*), count(DISTINCT team) FROM team_kpis GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert got == [(m, 2000, 2000) for m in months]


# --- two deliveries of one month at once ------------------------------------------------------


def _deliver_child(
    environ: dict[str, str],
    data: str,
    config: str,
    port: int,
    run_id: str,
    barrier: object,
    out: object,
) -> None:
    os.environ.update(environ)
    settings = load_settings(data, config)
    transport = SmtpTransport(SmtpSettings("127.0.0.1", port, "none", None, None, timeout=30))
    barrier.wait(60)  # type: ignore[attr-defined]
    report = deliver(settings, MONTH, transport, SENDER, run_id=run_id)
    out.put(  # type: ignore[attr-defined]
        (run_id, [(o.delivery.team, o.delivery.recipient, o.status) for o in report.outcomes])
    )


def test_two_runs_of_one_month_at_once_send_each_message_once(
    warehouse_backend: object,
    built: Env,  # noqa: F811 - the fixture imported from test_delivery
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    shutil.copytree(built.data, data)
    if isinstance(warehouse_backend, LakeBackend):
        warehouse_backend.clone(built.data, data)
        environ = warehouse_backend.environ(data)
    else:
        environ = {"SCORECARDS_WAREHOUSE": "duckdb"}
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    with LocalSmtpServer(tls=False) as srv:
        procs = [
            ctx.Process(
                target=_deliver_child,
                args=(environ, str(data), str(built.config), srv.port, run, barrier, out),
            )
            for run in ("run-a", "run-b")
        ]
        for p in procs:
            p.start()
        results = dict(out.get(timeout=300) for _ in procs)
        for p in procs:
            p.join(60)
        received = [r.rcpt_tos[0] for r in srv.messages]
    assert [p.exitcode for p in procs] == [0, 0]
    # exactly one message per recipient arrived
    assert sorted(received) == sorted(EVERYONE)
    # one run sent each message, the other found it sent
    statuses: dict[tuple[str, str], list[str]] = {}
    for outcomes in results.values():
        for team, recipient, status in outcomes:
            statuses.setdefault((team, recipient), []).append(status)
    assert len(statuses) == 4
    assert all(sorted(s) == [ALREADY_SENT, SENT] for s in statuses.values()), statuses
    settings = load_settings(data, built.config)
    with connect(settings.warehouse, read_only=True) as con:
        ledger = con.execute(
            "SELECT team, recipient, status, attempts FROM delivery_ledger ORDER BY 1, 2"
        ).fetchall()
    assert len(ledger) == 4 and {r[2] for r in ledger} == {SENT} and {r[3] for r in ledger} == {1}


# --- DuckLake with its data files in an object store -------------------------------------------


@pytest.fixture
def s3_store() -> Iterator[tuple[dict[str, str], object]]:
    """A local S3-compatible server (moto's, over HTTP on 127.0.0.1) with an empty bucket, and
    the environment that points DuckDB's httpfs at it the way a MinIO or R2 setup would."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        environ = {
            "AWS_ACCESS_KEY_ID": "scorecards",
            "AWS_SECRET_ACCESS_KEY": "not-a-secret",
            "AWS_REGION": "eu-central-1",
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        }
        client = boto3.client(
            "s3",
            endpoint_url=environ["AWS_ENDPOINT_URL"],
            aws_access_key_id=environ["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=environ["AWS_SECRET_ACCESS_KEY"],
            region_name=environ["AWS_REGION"],
        )
        client.create_bucket(
            Bucket="lake", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
        )
        yield environ, client
    finally:
        server.stop()


def test_ducklake_with_its_data_in_an_object_store_gives_the_same_dump(
    tmp_path: Path, lake: LakeBackend, monkeypatch: pytest.MonkeyPatch, s3_store: tuple
) -> None:
    store, client = s3_store
    file_env = Env(tmp_path / "file", teams=TEAMS)
    store_env = Env(tmp_path / "store", teams=TEAMS)
    for e in (file_env, store_env):
        _fill(e)
    environ = lake.environ(store_env.data) | store
    environ["SCORECARDS_WAREHOUSE_DATA_PATH"] = "s3://lake/warehouse/"
    on_store = _load(store_env, monkeypatch, environ)
    assert on_store == _load(file_env, monkeypatch, {})
    keys = [o["Key"] for o in client.list_objects_v2(Bucket="lake")["Contents"]]
    assert keys and all(k.startswith("warehouse/") and k.endswith(".parquet") for k in keys)
    assert not (store_env.data / "lake").exists()


def test_an_object_store_without_credentials_is_refused_with_the_names_to_set(
    tmp_path: Path, lake: LakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = Env(tmp_path, teams=TEAMS)
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var, raising=False)
    for k, v in lake.environ(env.data).items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("SCORECARDS_WAREHOUSE_DATA_PATH", "s3://lake/warehouse/")
    with (
        pytest.raises(ValueError, match="AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
        connect(env.settings().warehouse),
    ):
        pass
    monkeypatch.setenv("SCORECARDS_WAREHOUSE_DATA_PATH", "az://lake/warehouse/")
    with (
        pytest.raises(ValueError, match="az:// is not supported"),
        connect(env.settings().warehouse),
    ):
        pass


def test_the_test_backend_reaches_the_settings(warehouse_backend: object, env: Env) -> None:
    """The backend parameter is what settings loaded the usual way use, so a test run "on
    DuckLake" does not quietly run on the DuckDB file (settings keep a copy of the environment
    they were loaded with; the fixture's lake must travel in it)."""
    settings = env.settings()
    want = "duckdb" if warehouse_backend == "duckdb" else "ducklake"
    assert settings.warehouse.kind == want
    assert pickle.loads(pickle.dumps(settings)).environment == settings.environment
