"""The customer_churn_risk asset on an ephemeral Dagster instance: ingest → churn → KPIs in one
run, metadata for the UI, and a rerun of a month that changes nothing."""

from __future__ import annotations

import math

import dagster as dg
import pandas as pd
import pytest

from pipelines.definitions import build_definitions
from pipelines.partitions import record_landing_months
from scorecards.warehouse import store as warehouse
from tests.conftest import Env
from tests.test_churn import MONTHS, _history, _teams, _write

RANGE = {
    "dagster/asset_partition_range_start": MONTHS[0],
    "dagster/asset_partition_range_end": MONTHS[-1],
}
FLOW = ["tickets", "survey_responses", "customer_churn_risk", "team_kpis"]


def _run(defs: dg.Definitions, instance: dg.DagsterInstance, selection: list[str], **kw):
    return dg.materialize(
        list(defs.assets),
        selection=selection,
        resources=defs.resources,
        instance=instance,
        raise_on_error=False,
        **kw,
    )


def _snapshot(env: Env) -> tuple[str, dict[str, bytes]]:
    out = env.data / "out"
    csvs = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.csv"))}
    return warehouse.dump(env.data / "warehouse.duckdb"), csvs


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    env = Env(tmp_path_factory.mktemp("dagster_churn"), teams=_teams())
    _write(env, *_history(n=900))
    record_landing_months(env.settings())  # as `pipelines.cli run` does
    defs = build_definitions(env.settings())
    instance = dg.DagsterInstance.ephemeral()
    assert _run(defs, instance, ["customers"]).success
    result = _run(defs, instance, FLOW, tags=RANGE)
    return env, defs, instance, result


def test_team_kpis_read_the_churn_scores(ran: tuple) -> None:
    _, defs, _, _ = ran
    deps = defs.resolve_asset_graph().get(dg.AssetKey("team_kpis")).parent_keys
    assert dg.AssetKey("customer_churn_risk") in deps
    churn_deps = defs.resolve_asset_graph().get(dg.AssetKey("customer_churn_risk")).parent_keys
    assert {k.to_user_string() for k in churn_deps} == {"tickets", "survey_responses", "customers"}


def test_range_run_scores_reports_and_feeds_the_kpis(ran: tuple) -> None:
    env, _, _, result = ran
    assert result.success
    meta = next(
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "customer_churn_risk"
    )
    assert "| 2025-09 |" in meta["backtest"].value
    assert "| escalations |" in meta["model"].value
    assert meta["csv"].value.endswith("2025-12/churn_risk.csv")
    assert meta["backtest_auc_model"].value > meta["backtest_auc_baseline"].value
    assert sum(meta[f"band_{b}"].value for b in ("high", "medium", "low")) > 0
    kpis = pd.read_csv(env.data / "out" / "2025-09" / "team_kpis.csv").set_index(["team", "kpi"])
    assert kpis.at[("ALL", "at_risk_customers"), "n"] > 0
    assert not math.isnan(kpis.at[("ALL", "at_risk_share"), "prev_value"])
    early = pd.read_csv(env.data / "out" / "2025-03" / "team_kpis.csv").set_index(["team", "kpi"])
    assert math.isnan(early.at[("ALL", "at_risk_share"), "value"])
    assert (env.data / "out" / "2025-12" / "churn_risk.csv").exists()
    assert not (env.data / "out" / "2025-03" / "churn_risk.csv").exists()


def test_rerunning_a_month_changes_nothing(ran: tuple) -> None:
    env, defs, instance, _ = ran
    before = _snapshot(env)
    again = _run(defs, instance, ["customer_churn_risk", "team_kpis"], partition_key="2025-09")
    assert again.success
    assert _snapshot(env) == before
