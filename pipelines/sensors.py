"""Run-failure alerts: when a run of this code location fails, the admins get an e-mail with the
run id and the failing step. A gate failure has already sent its own alert and is not repeated."""

from __future__ import annotations

import dagster as dg

from assets.delivery import ALERTED
from pipelines.resources import MailResource, ScorecardsConfig
from scorecards.delivery import outbox_dir, send_alert


def _already_alerted(event: dg.DagsterEvent) -> bool:
    data = event.step_failure_data
    user = data.user_failure_data if data else None
    flag = user.metadata.get(ALERTED) if user else None
    return bool(flag is not None and flag.value)


def _months(tags: dict[str, str]) -> tuple[str, str]:
    """The run's month(s) as text, and the month whose outbox gets the alert."""
    if "dagster/partition" in tags:
        return tags["dagster/partition"], tags["dagster/partition"]
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    if start and end:
        return f"{start}...{end}", end
    return "-", "alerts"


@dg.run_failure_sensor(
    name="alert_admins_on_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="E-mails delivery.admins (teams.yaml) the run id and failing step of a failed run.",
)
def alert_admins_on_run_failure(
    context: dg.RunFailureSensorContext, scorecards: ScorecardsConfig, mail: MailResource
) -> None:
    run = context.dagster_run
    steps = context.get_step_failure_events()
    if steps and all(_already_alerted(e) for e in steps):
        context.log.info(f"run {run.run_id}: the failure already alerted the admins")
        return
    settings = scorecards.settings()
    tags = dict(run.tags)
    months, outbox_month = _months(tags)
    lines = [f"Run id: {run.run_id}", f"Job: {run.job_name}", f"Month(s): {months}", ""]
    if steps:
        for e in steps:
            error = e.step_failure_data.error if e.step_failure_data else None
            lines.append(f"Failing step: {e.step_key}")
            if error is not None:
                lines.append(f"  {error.cls_name}: {error.message.strip()}")
    else:
        lines.append(f"The run failed outside a step: {context.failure_event.message}")
    lines += ["", "Open the run in the Dagster UI (Runs) for the full log."]
    if mail.password:  # an error text should never carry it, but an alert must not either
        lines = [line.replace(mail.password, "***") for line in lines]
    failed = ", ".join(e.step_key for e in steps) or "run"
    error = send_alert(
        settings,
        mail.transport(outbox_dir(settings, outbox_month)),
        mail.sender_for(settings),
        f"Run {run.run_id[:8]} failed at {failed}",
        lines,
    )
    if error:
        context.log.error(f"could not alert the admins about run {run.run_id}: {error}")
