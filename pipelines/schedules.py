"""The monthly job and its schedule: on the configured day and hour, the previous month end to
end (ingest, churn risk, KPIs, scorecards, e-mails)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import dagster as dg

from scorecards.periods import month_key, shift_month
from scorecards.settings import Settings

JOB = "monthly_scorecards"
TRIGGER_TAG = "scorecards/trigger"


def monthly_job() -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        JOB,
        selection=dg.AssetSelection.all(),
        description="One month end to end: ingest, churn risk, KPIs, scorecards and e-mails.",
    )


def month_to_send(scheduled: object, tz: str) -> str:
    """The month a run at `scheduled` reports on: the calendar month before it, in `tz`."""
    local = scheduled.astimezone(ZoneInfo(tz))  # type: ignore[attr-defined]
    return shift_month(month_key(local.date()), -1)


def monthly_schedule(
    job: dg.UnresolvedAssetJobDefinition, settings: Settings
) -> dg.ScheduleDefinition:
    cfg = settings.teams_file.delivery.schedule
    tz = settings.timezone

    @dg.schedule(
        name="monthly_scorecards_schedule",
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
        month = month_to_send(context.scheduled_execution_time, tz)
        # run_key: one run per month, however often the tick is evaluated.
        return dg.RunRequest(run_key=month, partition_key=month, tags={TRIGGER_TAG: "schedule"})

    return monthly_scorecards_schedule
