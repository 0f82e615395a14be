"""The e-mail step: the month's scorecards to their recipients, once, behind the delivery gate.

The send policy (which runs send, what the admins are told) is scorecards/delivery/policy.py;
this module reads a run's tags and config into it and shows the outcome in Dagster."""

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import dagster as dg
import pandas as pd

from assets.concurrency import WAREHOUSE_POOL
from assets.concurrency import backfill_policy as warehouse_backfill_policy
from assets.resources import MailResource, ScorecardsConfig
from assets.tags import SCHEDULE, SCHEDULED_MONTH_TAG
from scorecards.config.settings import Settings
from scorecards.delivery.gate import GateResult, evaluate_gate
from scorecards.delivery.ledger import ALREADY_SENT, CONFIRMED, HELD, IN_DOUBT, SENT
from scorecards.delivery.policy import (
    ASSET,
    SEND_TAG,
    RunStart,
    delivery_failure,
    doubt_alert,
    explicit_request,
    gate_alert,
    gate_failure,
    not_sent_note,
    send_decision,
)
from scorecards.delivery.send import DeliveryReport, Sender, deliver, outbox_dir, send_alert
from scorecards.warehouse.connection import connect
from scorecards.warehouse.tables import table_exists

GROUP = "scorecards"
# Dagster's tags that say what started a run (the explicit request's tag is SEND_TAG).
BACKFILL_TAG = "dagster/backfill"
RANGE_TAG = "dagster/asset_partition_range_start"
SCHEDULE_NAME_TAG = "dagster/schedule_name"
SENSOR_NAME_TAG = "dagster/sensor_name"
PARTITION_TAG = "dagster/partition"
PARENT_RUN_TAG = "dagster/parent_run_id"
GATE_CHECK = "delivery_gate"
# Whether this run e-mailed its months: fails (as a warning) when it sent nothing, so a month that
# was materialized but not sent never looks like a sent one in the UI (docs/delivery.md).
SENT_CHECK = "emails_sent"
# Marks a failure whose admin alert was already sent, so the run-failure sensor does not repeat it.
ALERTED = "admin_alert_sent"


class EmailConfig(dg.Config):
    send: bool = False
    """Send although the schedule did not start this run (same as the run tag
    scorecards/send_email=true). The ledger still sends each recipient each version once."""
    resend: list[str] = []
    """Team ids ('overview' for the overview, '*' for all) or recipients' addresses whose current
    scorecard is sent to every recipient who has not received this version: corrected scorecards
    held back after an earlier send, and deliveries in doubt. An explicit request to send."""
    confirm_sent: list[str] = []
    """Team ids, 'overview', '*' or addresses whose in-doubt deliveries are recorded as sent
    without sending (someone checked that the message arrived). An explicit request."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _md(report: DeliveryReport) -> str:
    df = report.table()
    if df.empty:
        return "_nothing to send_"
    # status first: the panel is narrow and cuts off what is on the right
    table = pd.DataFrame(
        {
            "status": df.status.astype(str),
            "team": df.team.astype(str),
            "recipient": df.recipient.astype(str),
            "attempts": df.attempts.astype(str),
            "error": df.error.astype(str).str.replace("|", "/", regex=False),
            "PDF": "`" + df.pdf_sha256.astype(str) + "`",
        }
    )
    return table.to_markdown(
        index=False,
        colalign=("left", "left", "left", "right", "left", "left"),
        disable_numparse=True,
    )


def asset_config(run_config: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The scorecard_emails config inside a run's config, {} when absent."""
    ops = (run_config or {}).get("ops") or {}
    return ((ops.get(ASSET) or {}).get("config")) or {}


def run_start(
    tags: Mapping[str, str],
    months: list[str],
    request: tuple[str, ...],
    parent_run_id: str | None = None,
    parent_request: tuple[str, ...] | None = None,
) -> RunStart:
    """What started a run, from its tags: Dagster's dagster/schedule_name is the schedule and
    scorecards/scheduled_month the month its tick asked for."""
    return RunStart(
        months=months,
        request=request,
        parent_run_id=parent_run_id,
        parent_request=parent_request,
        backfill=BACKFILL_TAG in tags or RANGE_TAG in tags,
        schedule=tags.get(SCHEDULE_NAME_TAG),
        own_schedule=tags.get(SCHEDULE_NAME_TAG) == SCHEDULE,
        scheduled_month=tags.get(SCHEDULED_MONTH_TAG),
        partition=tags.get(PARTITION_TAG),
        sensor=tags.get(SENSOR_NAME_TAG),
    )


def _parent_request(
    instance: dg.DagsterInstance, parent_run_id: str | None
) -> tuple[str, ...] | None:
    if not parent_run_id:
        return None
    parent = instance.get_run_by_id(parent_run_id)
    if parent is None:
        return None
    return explicit_request(parent.tags, asset_config(parent.run_config))


def _ledger_sent(settings: Settings, months: list[str]) -> dict[str, int]:
    """Messages the ledger records as delivered, per month (0 where none or no ledger yet)."""
    out = {m: 0 for m in months}
    try:
        with connect(settings.warehouse, read_only=True) as con:
            if not table_exists(con, "delivery_ledger"):
                return out
            got = con.execute(
                "SELECT period, count(*) FROM delivery_ledger "
                "WHERE period IN (SELECT unnest($m)) AND status = $s GROUP BY period",
                {"m": months, "s": SENT},
            ).fetchall()
    except Exception:  # the UI's note must never fail a run
        return out
    out.update({p: int(n) for p, n in got})
    return out


def _not_sent(
    context: dg.AssetExecutionContext, settings: Settings, months: list[str], note: str
) -> dg.AssetCheckResult:
    """Partition metadata saying "not sent" for each month, and the failed (warning) check."""
    earlier = _ledger_sent(settings, months)
    for m in months:
        context.add_asset_metadata(
            {
                "status": dg.MetadataValue.text(
                    "NOT SENT by this run"
                    + (
                        f" ({earlier[m]} message(s) of {m} were delivered by an earlier run)"
                        if earlier[m]
                        else f" (no message of {m} has ever been sent)"
                    )
                ),
                "emailed": dg.MetadataValue.bool(False),
                "delivered_earlier": dg.MetadataValue.int(earlier[m]),
            },
            partition_key=m,
        )
    return dg.AssetCheckResult(
        check_name=SENT_CHECK,
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"Not sent: {note}.",
        metadata={
            "months": dg.MetadataValue.text(", ".join(months)),
            "delivered_earlier": dg.MetadataValue.text(
                ", ".join(f"{m}: {earlier[m]}" for m in months)
            ),
        },
    )


def _sent_result(reports: list[DeliveryReport]) -> dg.AssetCheckResult:
    failed = sum(len(r.failures) for r in reports)
    parts = [
        f"{r.month}: sent {r.count(SENT)}, already sent {r.count(ALREADY_SENT)}"
        + (f", held {r.count(HELD)}" if r.count(HELD) else "")
        + (f", failed or in doubt {len(r.failures)}" if r.failures else "")
        for r in reports
    ]
    return dg.AssetCheckResult(
        check_name=SENT_CHECK,
        passed=failed == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(parts),
        metadata={
            "sent": dg.MetadataValue.int(sum(r.count(SENT) for r in reports)),
            "failed": dg.MetadataValue.int(failed),
        },
    )


def _month_metadata(report: DeliveryReport) -> dict[str, dg.MetadataValue]:
    """What one month's materialization shows: its own deliveries, not the whole run's."""
    failed = len(report.failures)
    status = (
        f"sent {report.count(SENT)}, already sent {report.count(ALREADY_SENT)}"
        + (f", {failed} failed or in doubt" if failed else "")
        + (f", {report.count(HELD)} held (changed after send)" if report.count(HELD) else "")
    )
    return {
        "status": dg.MetadataValue.text(status),
        "sent": dg.MetadataValue.int(report.count(SENT)),
        "already_sent": dg.MetadataValue.int(report.count(ALREADY_SENT)),
        "held_changed_after_send": dg.MetadataValue.int(report.count(HELD)),
        "failed": dg.MetadataValue.int(failed),
        "in_doubt": dg.MetadataValue.int(report.count(IN_DOUBT)),
        "confirmed_sent": dg.MetadataValue.int(report.count(CONFIRMED)),
        "teams_without_recipients": dg.MetadataValue.text(
            ", ".join(report.no_recipients) or "none"
        ),
        "deliveries": dg.MetadataValue.md(_md(report)),
    }


def _gate_result(gates: list[GateResult], blocking: bool) -> dg.AssetCheckResult:
    """The gate as an asset check: an error when it stopped the e-mails, a warning when this run
    was not going to send anyway."""
    failed = [(g.month, c) for g in gates for c in g.failed]
    return dg.AssetCheckResult(
        check_name=GATE_CHECK,
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
        description="; ".join(f"{m} {c.name}: {c.detail}" for m, c in failed)
        or f"passed for {', '.join(g.month for g in gates)}",
        metadata={
            c.name: dg.MetadataValue.text(
                "; ".join(
                    f"{g.month}: {'ok' if x.passed else 'FAILED'} - {x.detail}"
                    for g in gates
                    for x in g.checks
                    if x.name == c.name
                )
            )
            for c in gates[0].checks
        },
    )


def _check_specs() -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            GATE_CHECK,
            asset="scorecard_emails",
            blocking=True,
            description="The delivery gate: the month's data reaches its last day, no team "
            "with tickets the month before has none, the quarantined share is under the "
            "threshold. Nothing is sent unless it passes (`scorecards/delivery/gate.py`). In a run "
            "that sends, a failure is an error and stops the e-mails; in a run that was not "
            "going to send, it is a warning.",
        ),
        dg.AssetCheckSpec(
            SENT_CHECK,
            asset="scorecard_emails",
            description="Whether this run e-mailed its months. Fails as a warning when it "
            "sent nothing (a backfill, a re-execution, a UI run: by design), naming why and "
            "whether an earlier run delivered the month; passes when every delivery "
            "succeeded. The ledger (`delivery_ledger`) is the record of who got what.",
        ),
    ]


_DESCRIPTION = (
    "Each team's scorecard to its recipients and the overview to the overview "
    "recipients, recorded in the delivery_ledger table: a re-run sends nothing twice. Sends "
    "only if the delivery gate passes (else the admins get an alert), and only in the "
    "schedule's run for its month or when asked (tag "
    f"{SEND_TAG}=true or config send: true); re-executions, backfills and materializations "
    "from the UI send nothing unless asked (metadata 'emailed' and 'reason' say why)."
)


def _run_start(context: dg.AssetExecutionContext, config: EmailConfig) -> RunStart:
    tags = dict(context.run.tags)
    parent_run_id = context.run.parent_run_id or tags.get(PARENT_RUN_TAG)
    return run_start(
        tags,
        list(context.partition_keys),
        explicit_request(tags, config.model_dump()),
        parent_run_id,
        _parent_request(context.instance, parent_run_id),
    )


def _alert(
    context: dg.AssetExecutionContext,
    settings: Settings,
    mail: MailResource,
    sender: Sender,
    month: str,
    alert: tuple[str, list[str]],
    now: Callable[[], dt.datetime],
) -> bool:
    """E-mail the admins (through `month`'s outbox without a server); whether it was sent."""
    error = send_alert(
        settings, mail.transport(outbox_dir(settings, month)), sender, *alert, clock=now
    )
    if error:
        context.log.error(f"the admin alert could not be sent: {error}")
    return error is None


def _deliver_month(
    context: dg.AssetExecutionContext,
    settings: Settings,
    mail: MailResource,
    sender: Sender,
    config: EmailConfig,
    month: str,
    now: Callable[[], dt.datetime],
) -> DeliveryReport:
    report = deliver(
        settings,
        month,
        mail.transport(outbox_dir(settings, month)),
        sender,
        resend=config.resend,
        confirm_sent=config.confirm_sent,
        run_id=context.run.run_id,
        clock=now,
    )
    if report.no_recipients:  # e.g. teams from the data while team_defaults has none
        context.log.info(f"{month}: not e-mailed, no recipients: {report.no_recipients}")
    for o in report.outcomes:
        if o.failed:
            context.log.error(f"{month} {o.delivery.team} → {o.delivery.recipient}: {o.error}")
        elif o.status == HELD:
            context.log.warning(f"{month} {o.delivery.team} → {o.delivery.recipient}: {o.error}")
    return report


def _run_metadata(reports: list[DeliveryReport], why: str) -> dict[str, dg.MetadataValue]:
    """What the run's materialization shows: totals over its months, the last month's table."""
    last = reports[-1]
    return {
        "emailed": dg.MetadataValue.bool(True),
        "reason": dg.MetadataValue.text(why),
        "transport": dg.MetadataValue.text(last.transport),
        "sent": dg.MetadataValue.int(sum(r.count(SENT) for r in reports)),
        "already_sent": dg.MetadataValue.int(sum(r.count(ALREADY_SENT) for r in reports)),
        "held_changed_after_send": dg.MetadataValue.int(sum(r.count(HELD) for r in reports)),
        "failed": dg.MetadataValue.int(sum(len(r.failures) for r in reports)),
        "in_doubt": dg.MetadataValue.int(sum(r.count(IN_DOUBT) for r in reports)),
        "confirmed_sent": dg.MetadataValue.int(sum(r.count(CONFIRMED) for r in reports)),
        "teams_without_recipients": dg.MetadataValue.text(", ".join(last.no_recipients) or "none"),
        "deliveries": dg.MetadataValue.md(_md(last)),
    }


def _emails(
    context: dg.AssetExecutionContext,
    config: EmailConfig,
    settings: Settings,
    mail: MailResource,
    now: Callable[[], dt.datetime],
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """The body of scorecard_emails: the gate, the send policy, then the months' deliveries."""
    months = list(context.partition_keys)
    gates = [evaluate_gate(settings, m, now=now()) for m in months]
    for gate in gates:
        for check in gate.checks:
            context.log.info(f"gate {gate.month} {check.name}: {check.passed} - {check.detail}")
    sends, why = send_decision(_run_start(context, config))
    context.log.info(f"{'sending' if sends else 'not sending'}: {why}")
    if not sends:
        note = not_sent_note(why)
        # Materialized all the same (a backfill expects every partition it covers to be),
        # with the reason; the ledger is what says who got what.
        yield dg.MaterializeResult(
            metadata={"emailed": dg.MetadataValue.bool(False), "reason": note},
            check_results=[
                _gate_result(gates, blocking=False),
                _not_sent(context, settings, months, note),
            ],
        )
        return
    sender = mail.sender_for(settings)
    if not mail.host:
        context.log.warning(
            "no SMTP_HOST: the e-mails go to the file outbox, nobody receives them "
            "(docs/delivery.md: switching to a real server)"
        )
    failed = [g for g in gates if not g.passed]
    if failed:
        alert = gate_alert(failed, context.run.run_id)
        alerted = _alert(context, settings, mail, sender, failed[0].month, alert, now)
        yield _gate_result(gates, blocking=True)
        raise dg.Failure(description=gate_failure(failed), metadata={ALERTED: alerted})
    reports = [_deliver_month(context, settings, mail, sender, config, m, now) for m in months]
    for report in reports:
        context.add_asset_metadata(_month_metadata(report), partition_key=report.month)
    # Recorded even when some failed: the UI then shows who did get the scorecard.
    yield dg.MaterializeResult(
        metadata=_run_metadata(reports, why),
        check_results=[_gate_result(gates, blocking=True), _sent_result(reports)],
    )
    failure = delivery_failure(reports)
    if failure:
        alerted = False
        if any(r.in_doubt for r in reports):
            # The admins are told what to check and how to release them, with every other
            # failure of the run, so the run-failure sensor need not repeat it.
            alert = doubt_alert(reports, context.run.run_id)
            alerted = _alert(context, settings, mail, sender, months[-1], alert, now)
        # Everyone else was tried; the ledger has every outcome. Failed ones are tried again
        # by the next run that sends; in-doubt ones only when released.
        raise dg.Failure(description=failure, metadata={ALERTED: alerted})


def build_delivery_assets(
    partitions_def: dg.TimeWindowPartitionsDefinition,
    clock: Callable[[], dt.datetime] | None = None,
) -> list[dg.AssetsDefinition]:
    """`clock` is "now" for the gate and the ledger's times; the wall clock without one."""
    now = clock or _now

    @dg.asset(
        name="scorecard_emails",
        group_name=GROUP,
        partitions_def=partitions_def,
        backfill_policy=warehouse_backfill_policy(),
        pool=WAREHOUSE_POOL,
        deps=["team_scorecards"],
        check_specs=_check_specs(),
        description=_DESCRIPTION,
    )
    def scorecard_emails(
        context: dg.AssetExecutionContext,
        config: EmailConfig,
        scorecards: ScorecardsConfig,
        mail: MailResource,
    ):
        yield from _emails(context, config, scorecards.settings(), mail, now)

    return [scorecard_emails]
