"""Ingest assets: validated tickets and survey responses (monthly) and customers (whole table)."""

import dagster as dg
import pandas as pd

from assets import checks
from assets.concurrency import WAREHOUSE_POOL
from assets.concurrency import backfill_policy as warehouse_backfill_policy
from assets.resources import ScorecardsConfig
from scorecards.ingest.audit import IngestRejected
from scorecards.ingest.load import IngestReport, ingest_customers, ingest_events
from scorecards.ingest.months_state import Clock, utc_now

GROUP = "ingest"


def _md_table(df: pd.DataFrame, limit: int = 40) -> str:
    if df.empty:
        return "_none_"
    # Each cell as str() shows it: tabulate would reformat numbers (0.1234567 as 0.123457)
    # and leave None blank.
    rows = [[str(v) for v in row] for row in df.head(limit).itertuples(index=False)]
    if len(df) > limit:
        rows.append([f"… {len(df) - limit} more rows"] + [""] * (len(df.columns) - 1))
    shown = pd.DataFrame(rows, columns=df.columns)
    return shown.to_markdown(index=False, disable_numparse=True)


def report_metadata(report: IngestReport) -> dict[str, dg.MetadataValue]:
    """What the UI shows for an ingest: counts, quarantine by reason, per-file accounting."""
    ms = report.month_stats
    totals = report.totals()
    reasons = report.reasons[report.reasons.period.isin([*report.months, "undated"])]
    by_reason = (
        reasons.groupby("reason", as_index=False)["rows"].sum().sort_values("rows", ascending=False)
    )
    meta: dict[str, dg.MetadataValue] = {}
    if len(report.months) == 1:
        # A range run records the same metadata on every month in it; a row count of the whole
        # range would then be shown as if it were one month's, so only single months get it.
        meta["dagster/row_count"] = dg.MetadataValue.int(int(ms.accepted.sum()))
    return meta | {
        "months": dg.MetadataValue.text(", ".join(report.months)),
        "rows_read_in_months": dg.MetadataValue.int(int(ms.rows_read.sum())),
        "quarantined_in_months": dg.MetadataValue.int(int(ms.quarantined.sum())),
        "duplicates_dropped_in_months": dg.MetadataValue.int(int(ms.duplicates_dropped.sum())),
        # event-log rows replaced by a later row of the same key, and rows a mapping's filter
        # says are not data (docs/sources.md)
        "superseded_in_months": dg.MetadataValue.int(int(ms.superseded.sum())),
        "filtered_in_months": dg.MetadataValue.int(int(ms.filtered.sum())),
        "undated_rows_quarantined": dg.MetadataValue.int(report.undated),
        "landing_rows_read_all_months": dg.MetadataValue.int(totals["rows_read"]),
        "quarantine_by_reason": dg.MetadataValue.md(_md_table(by_reason)),
        "per_month": dg.MetadataValue.md(_md_table(ms)),
        "per_file": dg.MetadataValue.md(_md_table(report.files)),
        "quarantine_files": dg.MetadataValue.md(
            "\n".join(f"- `{p}`" for p in report.quarantine_files) or "_none_"
        ),
        "teams_from_data_not_in_config": dg.MetadataValue.text(
            ", ".join(report.unknown_teams) or "none"
        ),
        "file_warnings": dg.MetadataValue.md(
            "\n".join(f"- {w}" for w in report.warnings) or "_none_"
        ),
    }


def _rejected(err: IngestRejected) -> dg.Failure:
    """The step's failure for a load that was audited and not published."""
    return dg.Failure(
        description=err.explanation,
        metadata={
            "months": dg.MetadataValue.text(", ".join(err.months)),
            "failed_checks": dg.MetadataValue.text(
                ", ".join(f"{c.asset}.{c.name}" for c in err.failed)
            ),
            "written": dg.MetadataValue.text("nothing: the previous load stays published"),
            "rejected_quarantine_files": dg.MetadataValue.md(
                "\n".join(f"- `{p}`" for p in err.rejected_files) or "_none_"
            ),
        },
        allow_retries=False,
    )


def _event_specs() -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec(
            "tickets",
            group_name=GROUP,
            description="Validated support tickets by month of created_at; rows that break "
            "the contract are in quarantine/tickets/YYYY-MM.csv with their reason.",
        ),
        dg.AssetSpec(
            "survey_responses",
            deps=["tickets"],
            group_name=GROUP,
            description="Validated CSAT/NPS/CES responses by month of submitted_at, with the "
            "team taken from the ticket when the response has none.",
        ),
    ]


def _log_report(
    context: dg.AssetExecutionContext, name: str, report: IngestReport, teams_from_data: bool
) -> None:
    """The report's file warnings and the teams its data has that teams.yaml has not."""
    for warning in report.warnings:
        context.log.warning(warning)
    for team in report.unknown_teams:
        if teams_from_data:
            context.log.info(f"team {team!r} in {name} gets team_defaults (not in teams.yaml)")
        else:
            context.log.warning(
                f"team {team!r} appears in {name} but not in config/teams.yaml "
                "(teams_from_data: false, so it gets no scorecard)"
            )


def build_ingest_assets(
    partitions_def: dg.PartitionsDefinition, clock: Clock | None = None
) -> list[dg.AssetsDefinition]:
    """`clock` is what the ingest takes as "now" (future timestamps, months not yet over);
    Dagster's wall clock without one."""
    now = clock or utc_now

    @dg.multi_asset(
        name="ingest_events",
        specs=_event_specs(),
        check_specs=[
            checks.quarantine_spec("tickets"),
            checks.completeness_spec("tickets"),
            checks.days_spec("tickets"),
            checks.quarantine_spec("survey_responses"),
        ],
        partitions_def=partitions_def,
        backfill_policy=warehouse_backfill_policy(),
        pool=WAREHOUSE_POOL,
    )
    def ingest_events_asset(context: dg.AssetExecutionContext, scorecards: ScorecardsConfig):
        settings = scorecards.settings()
        try:
            reports = ingest_events(
                settings, context.partition_keys, clock=now, blocking_checks=True
            )
        except IngestRejected as err:
            # Audited before publishing: nothing was written. The checks are recorded (the UI
            # and the run-failure alert show them), the assets are not materialized.
            for report in err.reports.values():
                for check in report.checks:
                    yield checks.check_result(check)
            raise _rejected(err) from None
        for name, report in reports.items():
            _log_report(context, name, report, settings.teams_file.teams_from_data)
            results = [checks.check_result(c) for c in report.checks]
            yield dg.MaterializeResult(
                asset_key=name, metadata=report_metadata(report), check_results=results
            )

    @dg.asset(
        name="customers",
        group_name=GROUP,
        pool=WAREHOUSE_POOL,
        description="Validated customers (one table, replaced whole on each run).",
        check_specs=[checks.quarantine_spec("customers")],
    )
    def customers_asset(context: dg.AssetExecutionContext, scorecards: ScorecardsConfig):
        settings = scorecards.settings()
        try:
            report = ingest_customers(settings, clock=now, blocking_checks=True)
        except IngestRejected as err:
            for check in err.checks:
                yield checks.check_result(check)
            raise _rejected(err) from None
        yield dg.MaterializeResult(
            metadata=report_metadata(report),
            check_results=[checks.check_result(c) for c in report.checks],
        )

    return [ingest_events_asset, customers_asset]
