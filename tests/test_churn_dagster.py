"""The customer_churn_risk asset on an ephemeral Dagster instance: ingest → churn → KPIs in one
run, metadata for the UI, and a rerun of a month that changes nothing."""

from __future__ import annotations

import math

import dagster as dg
import pandas as pd
import pytest

from assets.churn import build_churn_assets
from pipelines.definitions import build_definitions
from pipelines.partitions import record_landing_months
from scorecards.config.months_needed import churn_signal_months, months_reached
from scorecards.config.settings import ChurnConfig
from scorecards.core.periods import month_range, shift_month
from scorecards.warehouse.tables import dump
from tests.churn_env import MONTHS, churn_teams, make_history, write_landing
from tests.conftest import Env
from tests.test_dagster import RULE_PARTITIONS, markdown_rows, upstream_months

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
    return dump(env.data / "warehouse.duckdb"), csvs


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    env = Env(tmp_path_factory.mktemp("dagster_churn"), teams=churn_teams())
    write_landing(env, *make_history(n=900))
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
    # Markdown tables (pandas.to_markdown pads the cells to the column width)
    assert "2025-09" in [r["month"] for r in markdown_rows(meta["backtest"].value)]
    _, model_table, _ = meta["model"].value.split("\n\n")
    assert "escalations" in [r["term"] for r in markdown_rows(model_table)]
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


@pytest.mark.parametrize(
    "churn",
    [
        {},
        {"window_days": 30, "history_days": 0, "training_months": 3, "horizon_days": 60},
        {"window_days": 366, "history_days": 730, "training_months": 24, "horizon_days": 7},
    ],
)
def test_churn_partition_mappings_cover_what_the_runtime_check_needs(churn: dict) -> None:
    cfg = ChurnConfig(**churn)
    [asset] = build_churn_assets(RULE_PARTITIONS, "2018-01", cfg)
    # the month's own signals, and those of the months a model may train on (their signals are
    # computed again when they were not stored)
    back = cfg.training_months + months_reached(cfg.horizon_days)
    for month in month_range("2021-01", "2025-12"):
        need = set(churn_signal_months(month, cfg, first_month="2018-01"))
        for k in range(1, back + 1):
            need |= set(churn_signal_months(shift_month(month, -k), cfg, first_month="2018-01"))
        for dataset in ("tickets", "survey_responses"):
            mapped = upstream_months(asset, dataset, month)
            assert need <= set(mapped), (month, dataset)
            assert mapped[-1] == month
