"""The monthly job and its schedule: on the configured day and hour, the previous month end to
end (ingest, churn risk, KPIs, scorecards, e-mails)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import dagster as dg
from dagster._check import CheckError

from assets.tags import SCHEDULE, SCHEDULED_MONTH_TAG, TRIGGER_TAG
from scorecards.config.settings import Settings
from scorecards.core.periods import last_complete_month

JOB = "monthly_scorecards"


def monthly_job() -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        JOB,
        selection=dg.AssetSelection.all(),
        description="One month end to end: ingest, churn risk, KPIs, scorecards and e-mails.",
    )


def _utc_now() -> datetime:
    return datetime.now(UTC)


def monthly_schedule(
    job: dg.UnresolvedAssetJobDefinition,
    settings: Settings,
    clock: Callable[[], datetime] | None = None,
) -> dg.ScheduleDefinition:
    cfg = settings.teams_file.delivery.schedule
    tz = settings.timezone

    @dg.schedule(
        name=SCHEDULE,
        job=job,
        cron_schedule=cfg.cron,
        execution_timezone=tz,
        default_status=(
            dg.DefaultScheduleStatus.RUNNING if cfg.enabled else dg.DefaultScheduleStatus.STOPPED
        ),
        description=f"Day {cfg.day_of_month} of each month at {cfg.hour:02d}:{cfg.minute:02d} "
        f"({tz}): the previous month, from ingest to e-mail.",
    )
    def monthly_scorecards_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        # the calendar month before the tick, in the partitions' time zone; a tick always has
        # its time, a manual evaluation in tests or the UI may not: then the (injected) clock
        try:
            tick = context.scheduled_execution_time
        except CheckError:  # "no scheduled_execution_time was set on this context"
            tick = (clock or _utc_now)()
        month = last_complete_month(tick, tz)
        # run_key: one run per month, however often the tick is evaluated. Dagster adds
        # dagster/schedule_name (and the tick id) to the run's tags.
        return dg.RunRequest(
            run_key=month,
            partition_key=month,
            tags={TRIGGER_TAG: "schedule", SCHEDULED_MONTH_TAG: month},
        )

    return monthly_scorecards_schedule
