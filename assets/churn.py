"""Monthly churn-risk scores per customer; the model and its backtest are in the metadata."""

import dagster as dg

from assets.concurrency import WAREHOUSE_POOL
from assets.concurrency import backfill_policy as warehouse_backfill_policy
from assets.resources import ScorecardsConfig
from scorecards.churn.preview import backtest_markdown, model_markdown
from scorecards.churn.scoring import BANDS, build_churn_risk
from scorecards.config.months_needed import churn_lookback
from scorecards.config.settings import ChurnConfig

GROUP = "churn"


def build_churn_assets(
    partitions_def: dg.TimeWindowPartitionsDefinition, first_month: str, cfg: ChurnConfig
) -> list[dg.AssetsDefinition]:
    # months_needed.churn_lookback: the rule the runtime check (churn_signal_months) follows.
    back = churn_lookback(cfg)

    @dg.asset(
        name="customer_churn_risk",
        group_name=GROUP,
        partitions_def=partitions_def,
        backfill_policy=warehouse_backfill_policy(),
        pool=WAREHOUSE_POOL,
        deps=[
            dg.AssetDep(
                "tickets", partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-back)
            ),
            dg.AssetDep(
                "survey_responses",
                partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-back),
            ),
            dg.AssetDep("customers"),
        ],
        description="Churn-risk score (0–1, chance to leave within the horizon), band, reasons "
        "in German and English and signal values for every customer active at the end of the "
        "month; written to the warehouse and to out/YYYY-MM/churn_risk.csv. The backtest "
        "(AUC, top-10% lift, model against baseline) is in churn_backtest. See "
        "docs/churn-risk.md.",
    )
    def customer_churn_risk(
        context: dg.AssetExecutionContext, scorecards: ScorecardsConfig
    ) -> dg.MaterializeResult:
        settings = scorecards.settings()
        results, bt = build_churn_risk(settings, context.partition_keys, first_month)
        last = results[max(results)]
        scored = [m for m, r in results.items() if r.scored]
        for m, r in results.items():
            if not r.scored:
                context.log.info(f"{m}: {r.note}")
        meta: dict[str, dg.MetadataValue] = {
            # "scored", or why not: "not scored: no customers data" (the run still succeeds).
            "status": dg.MetadataValue.text("scored" if last.scored else last.reason),
            "months": dg.MetadataValue.text(", ".join(sorted(results))),
            "months_scored": dg.MetadataValue.text(", ".join(scored) or "none"),
            "latest": dg.MetadataValue.text(f"{last.month}: {last.note}"),
            "backtest": dg.MetadataValue.md(backtest_markdown(bt)),
        }
        if len(results) == 1 and last.risk is not None:
            meta["dagster/row_count"] = dg.MetadataValue.int(len(last.risk))
        if last.model is not None:
            meta["model"] = dg.MetadataValue.md(f"**{last.month}**\n\n{model_markdown(last.model)}")
            meta |= {f"band_{b}": dg.MetadataValue.int(last.bands[b]) for b in BANDS}
        if last.csv is not None:
            meta["csv"] = dg.MetadataValue.path(str(last.csv))
        if not bt.empty:
            mean = bt.groupby("model")[["auc", "lift_top10"]].mean()
            meta |= {
                "backtest_auc_model": dg.MetadataValue.float(float(mean.at["model", "auc"])),
                "backtest_auc_baseline": dg.MetadataValue.float(float(mean.at["baseline", "auc"])),
                "backtest_lift_model": dg.MetadataValue.float(
                    float(mean.at["model", "lift_top10"])
                ),
                "backtest_lift_baseline": dg.MetadataValue.float(
                    float(mean.at["baseline", "lift_top10"])
                ),
            }
        return dg.MaterializeResult(metadata=meta)

    return [customer_churn_risk]
