"""The monthly PDF scorecards: one per team and the overview, with a preview of each in the UI."""

import base64

import dagster as dg
import pandas as pd

from assets.concurrency import WAREHOUSE_POOL
from assets.concurrency import backfill_policy as warehouse_backfill_policy
from assets.resources import ScorecardsConfig
from scorecards.render.batch import OVERVIEW, build_scorecards, scorecard_dir
from scorecards.render.preview import first_page_png

GROUP = "scorecards"


def _preview_md(files: list, month: str) -> str:
    """First pages as small inline PNGs, which the asset's metadata panel shows as images."""
    parts = [f"**{month}**\n"]
    for f in files:
        png = first_page_png(f.path.read_bytes(), scale=0.45)
        parts.append(
            f"**{f.name}** ({f.pages} pages, {f.size / 1024:.0f} KB)\n\n"
            f"![{f.name}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})\n"
        )
    return "\n".join(parts)


def month_metadata(settings, month: str, result) -> dict[str, dg.MetadataValue]:
    """One month's metadata: its folder, its files with pages, size and hash, its previews."""
    team_files = [f for f in result.files if f.name != OVERVIEW]
    rows = [
        [f.path.name, str(f.pages), f"{f.size / 1024:.0f}", f"`{f.sha256[:12]}`"]
        for f in result.files
    ]
    # the cells are formatted already: tabulate must not read them as numbers again
    table = pd.DataFrame(rows, columns=["file", "pages", "KB", "sha256"]).to_markdown(
        index=False, colalign=("left", "right", "right", "left"), disable_numparse=True
    )
    return {
        "month": dg.MetadataValue.text(month),
        "folder": dg.MetadataValue.path(str(scorecard_dir(settings, month))),
        "files": dg.MetadataValue.md(table),
        "scorecards": dg.MetadataValue.int(len(team_files)),
        "pages": dg.MetadataValue.int(sum(int(f.pages) for f in result.files)),
        "total_kb": dg.MetadataValue.float(round(sum(f.size for f in result.files) / 1024, 1)),
        "preview": dg.MetadataValue.md(_preview_md(team_files, month)),
    }


def build_scorecard_assets(
    partitions_def: dg.TimeWindowPartitionsDefinition, upstream: list[str]
) -> list[dg.AssetsDefinition]:
    @dg.asset(
        name="team_scorecards",
        group_name=GROUP,
        partitions_def=partitions_def,
        backfill_policy=warehouse_backfill_policy(),
        pool=WAREHOUSE_POOL,
        deps=[dg.AssetDep(name) for name in upstream],
        description="Every team's PDF scorecard and the overview for the head of service: "
        "`out/YYYY-MM/scorecards/<team>.pdf` and `overview.pdf`. One team's failure does not "
        "stop the others; the asset fails at the end naming the teams that failed. A range run "
        "renders month by month and records one materialization per month, each with that "
        "month's own folder, files, hashes and previews.",
    )
    def team_scorecards(
        context: dg.AssetExecutionContext, scorecards: ScorecardsConfig
    ) -> dg.MaterializeResult:
        settings = scorecards.settings()
        failures: dict[str, str] = {}
        months = list(context.partition_keys)
        metadata: dict[str, dg.MetadataValue] = {}
        # A backfill range is rendered month by month in this one run; each month's
        # materialization carries the metadata of its own files (partition-scoped metadata).
        for month in months:
            result = build_scorecards(settings, month)
            for name, err in sorted(result.failures.items()):
                context.log.error(f"scorecard {name} for {month} failed: {err}")
                failures[f"{month}/{name}"] = err
            metadata = month_metadata(settings, month, result)
            context.add_asset_metadata(metadata, partition_key=month)
        if failures:
            # Everything that could be rendered is on disk; the failure names what is missing.
            raise dg.Failure(
                description=f"{len(failures)} scorecard(s) failed: "
                + "; ".join(f"{k}: {v}" for k, v in sorted(failures.items())),
                metadata=metadata,
            )
        run_months = f"{months[0]}…{months[-1]}" if len(months) > 1 else months[0]
        return dg.MaterializeResult(metadata={"run_months": dg.MetadataValue.text(run_months)})

    return [team_scorecards]
