"""The monthly team KPI table: every team's and the company's KPIs with their uncertainty."""

import dagster as dg

from assets.concurrency import WAREHOUSE_POOL
from assets.concurrency import backfill_policy as warehouse_backfill_policy
from assets.resources import ScorecardsConfig
from scorecards.config.months_needed import kpi_lookback
from scorecards.contract.kpi_catalog import ALL_TEAMS
from scorecards.kpis.engine import build_team_kpis, kpi_csv_path
from scorecards.kpis.preview import markdown_preview, no_data_table, team_matrix

GROUP = "kpis"


def kpi_deps() -> list[dg.AssetDep]:
    """The inputs of a KPI month: the months `months_needed.kpi_lookback` names of each (the
    runtime check, engine.check_kpi_inputs_loaded, asks for the same rule's months), and the
    customers, which are not partitioned."""
    lookback = kpi_lookback()
    return [
        *(
            dg.AssetDep(asset, partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-n))
            for asset, n in lookback.items()
        ),
        dg.AssetDep("customers"),
    ]


def build_kpi_assets(
    partitions_def: dg.TimeWindowPartitionsDefinition, first_month: str
) -> list[dg.AssetsDefinition]:
    @dg.asset(
        name="team_kpis",
        group_name=GROUP,
        partitions_def=partitions_def,
        backfill_policy=warehouse_backfill_policy(),
        pool=WAREHOUSE_POOL,
        deps=kpi_deps(),
        description="Monthly KPIs per team and for ALL, with n, 95% interval, previous month, "
        "same month last year, target and significance; written to the warehouse and to "
        "out/YYYY-MM/team_kpis.csv.",
    )
    def team_kpis(
        context: dg.AssetExecutionContext, scorecards: ScorecardsConfig
    ) -> dg.MaterializeResult:
        settings = scorecards.settings()
        frames = build_team_kpis(settings, context.partition_keys, first_month)
        last = max(frames)
        df = frames[last]
        # In a range run every month gets this metadata; the previews name the month they show.
        single = {"dagster/row_count": dg.MetadataValue.int(len(df))} if len(frames) == 1 else {}
        return dg.MaterializeResult(
            metadata=single
            | {
                "months": dg.MetadataValue.text(", ".join(sorted(frames))),
                "teams": dg.MetadataValue.int(df.team.nunique() - 1),
                "csv": dg.MetadataValue.path(str(kpi_csv_path(settings, last))),
                "company_kpis": dg.MetadataValue.md(
                    f"**{ALL_TEAMS}, {last}**\n\n" + markdown_preview(df)
                ),
                "kpis_by_team": dg.MetadataValue.md(f"**{last}**\n\n" + team_matrix(df)),
                "low_sample_rows": dg.MetadataValue.int(int(df.low_sample.sum())),
                # KPIs the data cannot give at all (company level), with the reason.
                "no_data_kpis": dg.MetadataValue.md(no_data_table(df)),
            }
        )

    return [team_kpis]
