"""The monthly team KPI table: every team's and the company's KPIs with their uncertainty."""

import dagster as dg
import pandas as pd

from pipelines.concurrency import WAREHOUSE_POOL
from pipelines.concurrency import backfill_policy as warehouse_backfill_policy
from pipelines.resources import ScorecardsConfig
from scorecards.contract.kpi_catalog import ALL_TEAMS, KPI_BY_ID
from scorecards.kpis.engine import build_team_kpis, kpi_csv_path, markdown_preview, ui_value

GROUP = "kpis"


def _team_matrix(df: pd.DataFrame) -> str:
    """KPIs down, teams across: one glance at a month in the UI."""
    pivot = df.pivot(index="kpi", columns="team", values="value").reindex(df.kpi.unique())
    teams = [ALL_TEAMS] + sorted(t for t in pivot.columns if t != ALL_TEAMS)
    lines = ["| KPI | " + " | ".join(teams) + " |", "|---|" + "---:|" * len(teams)]
    for kpi, row in pivot[teams].iterrows():
        cells = [ui_value(kpi, v) for v in row]
        lines.append(f"| {KPI_BY_ID[kpi].label_en} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _no_data_md(df: pd.DataFrame) -> str:
    company = df[(df.team == ALL_TEAMS) & df.no_data_reason.notna()]
    if company.empty:
        return "_every KPI has data_"
    lines = ["| KPI | no data because |", "|---|---|"]
    lines += [f"| {KPI_BY_ID[r.kpi].label_en} | {r.no_data_reason} |" for r in company.itertuples()]
    return "\n".join(lines)


def build_kpi_assets(
    partitions_def: dg.TimeWindowPartitionsDefinition, first_month: str
) -> list[dg.AssetsDefinition]:
    @dg.asset(
        name="team_kpis",
        group_name=GROUP,
        partitions_def=partitions_def,
        backfill_policy=warehouse_backfill_policy(),
        pool=WAREHOUSE_POOL,
        deps=[
            # P, P−1 and P−12, and for churn the 90 days of tickets before each.
            dg.AssetDep(
                "tickets", partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-15)
            ),
            dg.AssetDep(
                "survey_responses",
                partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-12),
            ),
            dg.AssetDep("customers"),
            # at_risk_* of P, P−1 and P−12 come from the churn-risk scores.
            dg.AssetDep(
                "customer_churn_risk",
                partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-12),
            ),
        ],
        description="Monthly KPIs per team and for ALL, with n, 95% interval, previous month, "
        "same month last year, target and significance; written to the warehouse and to "
        "out/YYYY-MM/team_kpis.csv.",
    )
    def team_kpis(
        context: dg.AssetExecutionContext, scorecards: ScorecardsConfig
    ) -> dg.MaterializeResult:
        settings = scorecards.config.settings()
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
                "kpis_by_team": dg.MetadataValue.md(f"**{last}**\n\n" + _team_matrix(df)),
                "low_sample_rows": dg.MetadataValue.int(int(df.low_sample.sum())),
                # KPIs the data cannot give at all (company level), with the reason.
                "no_data_kpis": dg.MetadataValue.md(_no_data_md(df)),
            }
        )

    return [team_kpis]
