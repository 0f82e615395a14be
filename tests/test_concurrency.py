"""The "warehouse" concurrency pool (assets/concurrency.py): every asset that opens the
warehouse is in it, the limit comes from the code (1 for the DuckDB file), and two runs of
different months on one instance never hold it at the same time: both succeed, no lock error."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from assets import concurrency
from assets.concurrency import (
    WAREHOUSE_POOL,
    PoolLimitError,
    ensure_pool_limit,
    pool_state,
)
from assets.resources import ScorecardsConfig
from pipelines.definitions import build_definitions
from pipelines.sensors import failure_lines
from scorecards.config.environment import WAREHOUSE_ENV
from scorecards.config.settings import load_settings

REPO = Path(__file__).resolve().parents[1]


def _home(tmp_path: Path, yaml_text: str | None = None) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir(parents=True)
    if yaml_text is None:
        shutil.copy(REPO / "config" / "dagster.yaml", home / "dagster.yaml")
    else:
        (home / "dagster.yaml").write_text(yaml_text)
    return home


def test_every_asset_is_in_the_pool_and_the_policy_follows_the_backend(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(WAREHOUSE_ENV, raising=False)
    settings = load_settings(tmp_path / "data", REPO / "config")
    defs = build_definitions(settings)
    for a in defs.assets:
        assert a.op.pool == WAREHOUSE_POOL, a.keys
        if a.partitions_def is not None:
            assert a.backfill_policy == dg.BackfillPolicy.single_run(), a.keys
    assert concurrency.warehouse_kind() == "duckdb" and concurrency.pool_limit() == 1

    monkeypatch.setenv(WAREHOUSE_ENV, "ducklake:postgres:dbname=scorecards host=127.0.0.1")
    assert concurrency.warehouse_kind() == "ducklake"
    assert concurrency.pool_limit() == concurrency.DUCKLAKE_POOL_LIMIT > 1
    defs = build_definitions(settings)
    for a in defs.assets:
        if a.partitions_def is not None:
            assert a.backfill_policy == dg.BackfillPolicy.multi_run(1), a.keys
    monkeypatch.setenv(WAREHOUSE_ENV, "ducklake:sqlite:nope")  # malformed: run fails
    assert concurrency.warehouse_kind() == "ducklake"
    monkeypatch.setenv(WAREHOUSE_ENV, "duckdb:/data/warehouse.duckdb")
    assert concurrency.warehouse_kind() == "duckdb"


def test_pool_limit_is_set_from_code_and_an_unsafe_one_refused(tmp_path: Path) -> None:
    # an instance without any pool setting: the code sets the limit it needs
    home = _home(tmp_path, "telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert pool_state(instance).limit is None
        assert ensure_pool_limit(instance, "duckdb").limit == 1
        assert pool_state(instance) == concurrency.PoolState(True, 1, "pool", "op")
        # DuckLake may have more; a limit that only came from the default is replaced
        instance.event_log_storage.set_concurrency_slots(WAREHOUSE_POOL, 3)
        with pytest.raises(PoolLimitError, match="one writer at a time"):
            ensure_pool_limit(instance, "duckdb")
        assert ensure_pool_limit(instance, "ducklake").limit == 3  # an operator's choice
    home2 = _home(tmp_path / "b", "concurrency:\n  pools:\n    granularity: run\n")
    with (
        dg.DagsterInstance.from_config(str(home2)) as instance,
        pytest.raises(PoolLimitError, match="granularity"),
    ):
        ensure_pool_limit(instance, "duckdb")


def test_default_limit_above_one_is_replaced_for_the_pool(tmp_path: Path) -> None:
    home = _home(tmp_path, "concurrency:\n  pools:\n    default_limit: 5\n")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert pool_state(instance).limit == 5
        assert ensure_pool_limit(instance, "duckdb").limit == 1
        assert pool_state(instance).source == "pool"


RUN_MONTH = """
import sys
import dagster as dg
from pipelines.definitions import build_definitions
from assets.resources import ScorecardsConfig
from pipelines.sensors import failure_lines
month = sys.argv[1]
defs = build_definitions()
job = defs.resolve_job_def("monthly_scorecards")
with dg.DagsterInstance.get() as instance:
    result = job.execute_in_process(partition_key=month, instance=instance, raise_on_error=False)
    print(result.run_id)
    sys.exit(0 if result.success else 1)
"""


def _step_windows(instance: dg.DagsterInstance, run_id: str) -> list[tuple[float, float, str]]:
    starts: dict[str, float] = {}
    windows = []
    for e in instance.all_logs(run_id):
        ev = e.dagster_event
        if ev is None or ev.step_key is None:
            continue
        if ev.event_type == dg.DagsterEventType.STEP_START:
            starts[ev.step_key] = e.timestamp
        elif ev.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            windows.append((starts[ev.step_key], e.timestamp, ev.step_key))
    return windows


def test_two_runs_of_different_months_take_turns_on_the_duckdb_file(tmp_path: Path) -> None:
    from pipelines.cli import run
    from scorecards.demo.generate import generate

    data, config = tmp_path / "data", tmp_path / "config"
    shutil.copytree(REPO / "config", config, ignore=shutil.ignore_patterns("notes"))
    teams = config / "teams.yaml"
    import yaml

    doc = yaml.safe_load(teams.read_text())
    doc["teams"] = doc["teams"][:2]
    teams.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    generate(data, months=2, teams=2, tickets_per_month=300, seed=3, end_month="2026-10")
    home = _home(tmp_path)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SMTP_", "DAGSTER_", "SCORECARDS_"))
    } | {
        "DAGSTER_HOME": str(home),
        "SCORECARDS_DATA_DIR": str(data),
        "SCORECARDS_CONFIG_DIR": str(config),
    }
    settings = load_settings(data, config)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        # both months ingested once, so that each month's run finds its previous month
        assert run(settings, scorecards=False, instance=instance)

    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RUN_MONTH, month],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for month in ("2026-09", "2026-10")
    ]
    outputs = [p.communicate(timeout=400)[0] for p in procs]
    for p, out in zip(procs, outputs, strict=True):
        assert p.returncode == 0, out[-3000:]
        assert "Could not set lock" not in out and "WarehouseBusy" not in out, out[-3000:]
    run_ids = [out.strip().splitlines()[-1] for out in outputs]

    with dg.DagsterInstance.from_config(str(home)) as instance:
        a, b = (_step_windows(instance, r) for r in run_ids)
        assert a and b
        # the runs were in progress at the same time ...
        assert max(a[0][0], b[0][0]) < min(a[-1][1], b[-1][1]), (a, b)
        # ... and no step of one overlapped a step of the other
        for s1, e1, k1 in a:
            for s2, e2, k2 in b:
                assert e1 <= s2 or e2 <= s1, f"{k1} and {k2} held the warehouse together"
        blocked = [
            e
            for r in run_ids
            for e in instance.all_logs(r, of_type=dg.DagsterEventType.ENGINE_EVENT)
            if f"blocked by limit for pool {WAREHOUSE_POOL}" in (e.message or "")
        ]
        assert blocked, "no step waited for the pool: the test did not exercise it"
        assert pool_state(instance).limit == 1


def test_a_run_on_an_instance_with_two_writers_fails_before_its_first_step(
    tmp_path: Path,
) -> None:
    @dg.asset(pool=WAREHOUSE_POOL)
    def writes(scorecards: ScorecardsConfig) -> None:
        raise AssertionError("must not run")

    home = _home(tmp_path)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.event_log_storage.set_concurrency_slots(WAREHOUSE_POOL, 2)
        result = dg.materialize(
            [writes],
            instance=instance,
            resources={"scorecards": ScorecardsConfig(data_dir="x", config_dir="y")},
            raise_on_error=False,
        )
        assert not result.success
        assert not instance.all_logs(result.run_id, of_type=dg.DagsterEventType.STEP_START)
        (line,) = failure_lines(instance, result.run_id)
        assert line.startswith("run failed: PoolLimitError: concurrency pool 'warehouse' allows 2")
        assert "dagster instance concurrency set warehouse 1" in line


@pytest.mark.parametrize(
    ("value", "name"),
    [("", "in_process"), ("multiprocess", "multiprocess"), ("k8s", "k8s"), (" K8S ", "k8s")],
)
def test_the_executor_is_chosen_by_the_environment(value: str, name: str) -> None:
    from pipelines.definitions import executor_from_env

    assert executor_from_env({"SCORECARDS_EXECUTOR": value}).name == name


def test_an_unknown_executor_is_a_config_error() -> None:
    from pipelines.definitions import executor_from_env
    from scorecards.config.settings import ConfigError

    with pytest.raises(ConfigError, match="SCORECARDS_EXECUTOR='pods'"):
        executor_from_env({"SCORECARDS_EXECUTOR": "pods"})


def test_the_cli_writes_the_pool_limit_for_the_ui(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m pipelines.cli pool` (make ui runs it): the limit the default gives is written
    for the pool itself, which is what Deployment > Concurrency lists."""
    from pipelines.cli import main

    monkeypatch.delenv(WAREHOUSE_ENV, raising=False)
    home = _home(tmp_path, "concurrency:\n  pools:\n    default_limit: 1\n")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert pool_state(instance).source == "default"
        assert main(["pool"], instance=instance) == 0
        assert pool_state(instance) == concurrency.PoolState(True, 1, "pool", "op")
        instance.event_log_storage.set_concurrency_slots(WAREHOUSE_POOL, 2)
        assert main(["pool"], instance=instance) == 2  # two writers of the DuckDB file
    assert "limit 1 (pool)" in capsys.readouterr().out
