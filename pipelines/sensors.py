"""Run-failure alerts: when a run of this code location fails, the admins get an e-mail with the
run id, the failing step and its error (an unreadable landing file names itself: path, row,
cause), and the explanation of every failed check. A gate failure has already sent its own
alert and is not repeated.

`failure_lines` reads the same from the instance's event log for the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from assets.delivery import ALERTED
from assets.resources import MailResource, ScorecardsConfig
from scorecards.delivery.send import outbox_dir, send_alert

if TYPE_CHECKING:
    from dagster._utils.error import SerializableErrorInfo


# Dagster's wrappers around an exception raised in an asset; the cause is what the user needs.
_WRAPPERS = ("DagsterExecution", "DagsterUserCodeExecutionError")
MAX_ERROR_CHARS = 600
MAX_CHECK_LINES = 12


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def error_text(error: SerializableErrorInfo | None, limit: int = MAX_ERROR_CHARS) -> str:
    """One line for a step's error: Dagster's wrappers unwrapped to the exception the asset
    raised, as "InputFileError: <path>: <problem>", no traceback, bounded in length."""
    if error is None:
        return "no error recorded"
    while error.cause is not None and error.cls_name.startswith(_WRAPPERS):
        error = error.cause
    message = error.message.strip()
    # SerializableErrorInfo.message is "module.Class: text"; keep "Class: text"
    head, sep, rest = message.partition(": ")
    if sep and head.split(".")[-1] == error.cls_name:
        message = rest
    text = " ".join(message.split()) or "(no message)"
    return _bounded(f"{error.cls_name}: {text}", limit)


def failed_checks(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    """(check, explanation) of every failed asset check in the run, from its event log."""
    out: list[tuple[str, str]] = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        ev = entry.dagster_event.event_specific_data if entry.dagster_event else None
        if ev is None or ev.passed:
            continue
        name = f"{ev.asset_key.to_user_string()}.{ev.check_name}"
        if ev.partition:
            name += f" [{ev.partition}]"
        out.append((name, (ev.description or "no explanation recorded").strip()))
    return out


def _check_failed_error(error: SerializableErrorInfo | None) -> bool:
    return error is not None and error.cls_name == "DagsterAssetCheckFailedError"


def failure_lines(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Why a run failed, in plain lines: each failed check with its explanation (month, figure,
    threshold, what to do), then each failed step's error as one line."""
    lines: list[str] = []
    checks = failed_checks(instance, run_id)
    for name, explanation in checks:
        text = explanation.splitlines()
        more = len(text) - MAX_CHECK_LINES
        lines.append(f"check {name} failed:")
        lines += [f"  {_bounded(t.rstrip(), MAX_ERROR_CHARS)}" for t in text[:MAX_CHECK_LINES]]
        if more > 0:
            lines.append(f"  … {more} more lines (see the run in the Dagster UI)")
    steps = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    for entry in steps:
        event = entry.dagster_event
        if event is None:
            continue
        data = event.step_failure_data
        error = data.error if data else None
        if checks and _check_failed_error(error):
            # the check lines above say it better; downstream steps did not run
            lines.append(f"step {event.step_key} stopped: a blocking check failed (above)")
            continue
        lines.append(f"step {event.step_key} failed: {error_text(error)}")
    if not steps and not checks:
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE):
            # before any step, e.g. the warehouse pool's check (assets/concurrency.py):
            # the run's own error says why, Dagster's message only that it failed
            data = entry.dagster_event.event_specific_data if entry.dagster_event else None
            error = getattr(data, "error", None)
            text = error_text(error) if error else " ".join(entry.message.split())
            lines.append(f"run failed: {_bounded(text, MAX_ERROR_CHARS)}")
    return lines


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
                lines.append(f"  {error_text(error)}")
    else:
        lines.append(f"The run failed outside a step: {context.failure_event.message}")
    try:
        checks = failed_checks(context.instance, run.run_id)
    except Exception as exc:  # the alert matters more than its detail
        context.log.warning(f"could not read the checks of run {run.run_id}: {exc}")
        checks = []
    if checks:
        lines += ["", "Failed checks:"]
        for name, explanation in checks:
            lines.append(f"- {name}:")
            lines += [f"  {t}" for t in explanation.splitlines()[:MAX_CHECK_LINES]]
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
