"""The Dagster layer on an ephemeral instance: assets, checks, partitions, idempotent reruns."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from assets.checks import MONTH_COMPLETE, QUARANTINE_SHARE
from assets.ingest import _md_table
from assets.kpis import build_kpi_assets
from pipelines.definitions import build_definitions
from pipelines.partitions import record_landing_months
from scorecards.config.months_needed import COMPARED_MONTHS, kpi_input_months
from scorecards.core.periods import month_range, shift_month
from scorecards.warehouse.tables import dump
from tests.conftest import Env, customer, survey, ticket

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def _fill(env: Env, bad_rows: int = 0) -> None:
    rows = []
    for month, days in (("2026-03", 31), ("2026-04", 30), ("2026-05", 5)):
        for day in range(1, days + 1):
            for k in range(3):
                tid = f"{month}-{day:02d}-{k}"
                created = f"{month}-{day:02d}T{9 + k}:00:00+02:00"
                rows.append(
                    ticket(
                        tid,
                        created,
                        team="alpha" if k else "beta",
                        customer_id=f"C{day % 7}",
                        first_response_at=f"{month}-{day:02d}T{9 + k}:{10 + 7 * k}:00+02:00",
                        resolved_at=f"{month}-{day:02d}T{12 + k}:00:00+02:00",
                        handle_time_s=300 + 60 * k,
                    )
                )
    rows += [ticket(f"bad{i}", "2026-04-15T10:00:00+02:00", channel="fax") for i in range(bad_rows)]
    env.tickets(rows)
    env.surveys(
        [
            survey(f"R{i}", f"2026-04-{1 + i % 28:02d}T18:00:00+02:00", "csat", 1 + i % 5)
            for i in range(40)
        ]
    )
    env.customers(
        [customer(f"C{i}", "2025-06-01", churned="2026-04-20" if i == 3 else "") for i in range(7)]
    )
    # what `pipelines.cli run|months` does: the definitions take their first month from it
    record_landing_months(env.settings())


def _run(
    defs: dg.Definitions, instance: dg.DagsterInstance, selection: list[str], **kw
) -> dg.ExecuteInProcessResult:
    assets = list(defs.assets)
    return dg.materialize(
        assets,
        selection=selection,
        resources=defs.resources,
        instance=instance,
        raise_on_error=False,
        **kw,
    )


def markdown_rows(table: str) -> list[dict[str, str]]:
    """The rows of a Markdown pipe table, each as {column: cell}, cells without padding."""

    def cells(line: str) -> list[str]:
        return [c.strip() for c in line.strip().strip("|").split("|")]

    header, rule, *rows = table.strip().splitlines()
    assert set(rule) <= set("|-: "), rule
    return [dict(zip(cells(header), cells(row), strict=True)) for row in rows]


def _checks(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], bool]:
    return {
        (e.asset_key.to_user_string(), e.check_name): e.passed
        for e in result.get_asset_check_evaluations()
    }


def _snapshot(env: Env) -> tuple[str, dict[str, bytes]]:
    out = env.data / "out"
    csvs = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.csv"))}
    return dump(env.data / "warehouse.duckdb"), csvs


def test_ingest_tables_show_each_value_as_it_is_and_count_the_rows_left_out() -> None:
    df = pd.DataFrame(
        {
            "file": ["a.csv", "b.csv", "c.csv"],
            "share": [0.1234567, None, 2.0],
            "rows": [1, 10**6, 7],
        }
    )
    assert markdown_rows(_md_table(df, limit=2)) == [
        {"file": "a.csv", "share": "0.1234567", "rows": "1"},
        {"file": "b.csv", "share": "nan", "rows": "1000000"},
        {"file": "… 1 more rows", "share": "", "rows": ""},
    ]
    assert [r["file"] for r in markdown_rows(_md_table(df))] == ["a.csv", "b.csv", "c.csv"]
    assert _md_table(df.iloc[:0]) == "_none_"


def test_definitions_load_with_partitions_from_first_month(env: Env) -> None:
    _fill(env)
    defs = build_definitions(env.settings())
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    # Later layers (e.g. the PDF scorecards) add assets on top of these.
    assert {
        "tickets",
        "survey_responses",
        "customers",
        "customer_churn_risk",
        "team_kpis",
    } <= keys
    partitions = defs.resolve_assets_def("team_kpis").partitions_def
    first = partitions.get_partition_keys()[0]
    assert first == "2026-03"
    assert len(defs.resolve_all_asset_specs()) == len(keys)


def test_two_months_then_rerun_is_byte_identical(tmp_path: Path) -> None:
    env = Env(tmp_path / "a")
    _fill(env)
    defs = build_definitions(env.settings())
    instance = dg.DagsterInstance.ephemeral()
    customers = _run(defs, instance, ["customers"])
    assert customers.success
    result = _run(
        defs,
        instance,
        ["tickets", "survey_responses", "team_kpis"],
        tags={RANGE_START: "2026-03", RANGE_END: "2026-04"},
    )
    assert result.success
    assert all(_checks(result).values()), _checks(result)
    mats = result.get_asset_materialization_events()
    assert {e.asset_key.to_user_string() for e in mats} == {
        "tickets",
        "survey_responses",
        "team_kpis",
    }
    kpi_meta = next(
        e for e in mats if e.asset_key.to_user_string() == "team_kpis"
    ).materialization.metadata
    # a Markdown table (pandas.to_markdown pads the cells to the column width)
    assert re.search(r"^\| Ticket volume +\|", kpi_meta["company_kpis"].value, re.M)
    tickets_meta = next(
        e for e in mats if e.asset_key.to_user_string() == "tickets"
    ).materialization.metadata
    per_month = {r["period"]: r for r in markdown_rows(tickets_meta["per_month"].value)}
    assert sorted(per_month) == ["2026-03", "2026-04"]
    assert per_month["2026-03"]["accepted"] == "93" and per_month["2026-04"]["accepted"] == "90"
    assert per_month["2026-03"]["quarantined"] == per_month["2026-04"]["quarantined"] == "0"
    per_file = markdown_rows(tickets_meta["per_file"].value)
    # 3 tickets a day from 1 March to 5 May, whatever the months loaded
    assert sum(int(r["rows_read"]) for r in per_file) == 66 * 3
    assert tickets_meta["landing_rows_read_all_months"].value == 66 * 3
    assert tickets_meta["quarantine_by_reason"].value == "_none_"
    for month in ("2026-03", "2026-04"):
        assert (env.data / "out" / month / "team_kpis.csv").exists()
    before = _snapshot(env)

    again = _run(
        defs, instance, ["tickets", "survey_responses", "team_kpis"], partition_key="2026-04"
    )
    assert again.success
    assert _snapshot(env) == before

    # Month by month into a fresh data dir gives the same warehouse as the range run.
    other = Env(tmp_path / "b")
    _fill(other)
    defs_b = build_definitions(other.settings())
    inst_b = dg.DagsterInstance.ephemeral()
    assert _run(defs_b, inst_b, ["customers"]).success
    for month in ("2026-03", "2026-04"):
        assert _run(
            defs_b, inst_b, ["tickets", "survey_responses", "team_kpis"], partition_key=month
        ).success
    dump_b, csv_b = _snapshot(other)
    assert csv_b == before[1]
    assert dump_b == before[0]


def test_quarantine_over_threshold_blocks_kpis(env: Env) -> None:
    _fill(env, bad_rows=10)  # 10 of 100 April rows are bad: 10% > 2%
    defs = build_definitions(env.settings())
    instance = dg.DagsterInstance.ephemeral()
    assert _run(defs, instance, ["customers"]).success
    assert _run(
        defs, instance, ["tickets", "survey_responses", "team_kpis"], partition_key="2026-03"
    ).success
    result = _run(
        defs, instance, ["tickets", "survey_responses", "team_kpis"], partition_key="2026-04"
    )
    assert not result.success
    checks = _checks(result)
    assert checks[("tickets", QUARANTINE_SHARE)] is False
    assert checks[("tickets", MONTH_COMPLETE)] is True
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "team_kpis" not in materialized
    assert not (env.data / "out" / "2026-04" / "team_kpis.csv").exists()
    # The load was rejected before it was written: the bad rows are on disk with their reason,
    # nothing lost, beside the published quarantine files (scorecards/ingest/audit.py).
    assert not (env.data / "quarantine" / "tickets" / "2026-04.csv").exists()
    assert (env.data / "quarantine" / "rejected" / "tickets" / "2026-04.csv").read_text().count(
        "unknown channel"
    ) == 10


def test_incomplete_month_blocks_kpis(env: Env) -> None:
    env.tickets(
        [ticket("T1", "2026-04-02T10:00:00+02:00"), ticket("T2", "2026-04-20T10:00:00+02:00")]
    )
    env.customers([customer("C1", "2025-01-01")])
    record_landing_months(env.settings())
    defs = build_definitions(env.settings())
    instance = dg.DagsterInstance.ephemeral()
    assert _run(defs, instance, ["customers"]).success
    result = _run(
        defs, instance, ["tickets", "survey_responses", "team_kpis"], partition_key="2026-04"
    )
    assert not result.success
    assert _checks(result)[("tickets", MONTH_COMPLETE)] is False


def test_missing_previous_month_fails_with_instructions(env: Env) -> None:
    _fill(env)
    defs = build_definitions(env.settings())
    instance = dg.DagsterInstance.ephemeral()
    assert _run(defs, instance, ["customers"]).success
    result = _run(
        defs, instance, ["tickets", "survey_responses", "team_kpis"], partition_key="2026-04"
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "tickets for 2026-03" in failure.event_specific_data.error.to_string()


@pytest.mark.parametrize("workspace", ["workspace.yaml"])
def test_workspace_points_at_definitions(workspace: str) -> None:
    text = (Path(__file__).resolve().parent.parent / workspace).read_text()
    assert "pipelines.definitions" in text


# --- the partition mappings and the runtime checks follow one rule (config/months_needed.py) --

# Months of the past only: Dagster maps no partition that has not begun. Five years hold every
# calendar month after a leap February and after a common one.
RULE_PARTITIONS = dg.MonthlyPartitionsDefinition(
    start_date="2018-01", end_date="2026-01", fmt="%Y-%m", timezone="Europe/Berlin"
)


def upstream_months(asset: dg.AssetsDefinition, dep: str, month: str) -> list[str]:
    """The months of `dep` that Dagster maps `asset`'s partition `month` to."""
    parts = RULE_PARTITIONS
    mapping = asset.get_partition_mapping(dg.AssetKey(dep))
    got = mapping.get_upstream_mapped_partitions_result_for_partitions(
        parts.empty_subset().with_partition_keys([month]), parts, parts
    )
    return sorted(got.partitions_subset.get_partition_keys())


def test_kpi_partition_mappings_cover_what_the_runtime_check_needs() -> None:
    [asset] = build_kpi_assets(RULE_PARTITIONS, "2018-01")
    reached_first: dict[str, bool] = {"tickets": False, "survey_responses": False}
    for month in month_range("2021-01", "2025-12"):
        for dataset, need in kpi_input_months(month, first_month="2018-01").items():
            mapped = upstream_months(asset, dataset, month)
            assert set(need) <= set(mapped), (month, dataset)
            assert mapped[-1] == month
            reached_first[dataset] |= need[0] == mapped[0]
        scores = upstream_months(asset, "customer_churn_risk", month)
        assert {shift_month(month, -k) for k in COMPARED_MONTHS} <= set(scores)
    # and no wider than the rule: some month needs the mapping's first month
    assert all(reached_first.values())
