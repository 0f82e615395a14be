"""The e-mail step: the month's scorecards to their recipients, once, behind the delivery gate."""

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import dagster as dg

from pipelines.concurrency import WAREHOUSE_POOL
from pipelines.concurrency import backfill_policy as warehouse_backfill_policy
from pipelines.resources import MailResource, ScorecardsConfig
from pipelines.schedules import SCHEDULE, SCHEDULED_MONTH_TAG
from scorecards.delivery.gate import GateResult, evaluate_gate
from scorecards.delivery.send import (
    ALREADY_SENT,
    CONFIRMED,
    HELD,
    IN_DOUBT,
    SENT,
    DeliveryReport,
    deliver,
    outbox_dir,
    send_alert,
)
from scorecards.warehouse import store as warehouse

GROUP = "scorecards"
# Sending is opt-in: a run sends only when the schedule started it for the month it targets, or
# when it asks explicitly with this tag (or the asset's config send: true). Re-executions,
# backfills, UI materializations and sensor runs never send on their own.
SEND_TAG = "scorecards/send_email"
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
ASSET = "scorecard_emails"


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
    lines = ["| status | team | recipient | attempts | error | PDF |", "|---|---|---|---:|---|---|"]
    for r in df.itertuples(index=False):
        error = str(r.error).replace("|", "/")
        lines.append(
            f"| {r.status} | {r.team} | {r.recipient} | {r.attempts} | {error} | `{r.pdf_sha256}` |"
        )
    return "\n".join(lines)


def explicit_request(tags: Mapping[str, str], config: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The explicit request to send that a run carries (its tag and its asset config), as text
    that compares equal between a run and its re-execution when the latter just copied it;
    empty when there is none."""
    config = config or {}
    parts = []
    if str(tags.get(SEND_TAG, "")).lower() == "true":
        parts.append(f"tag {SEND_TAG}=true")
    if config.get("send"):
        parts.append("config send: true")
    for key in ("resend", "confirm_sent"):
        if config.get(key):
            parts.append(f"config {key}: {', '.join(sorted(config[key]))}")
    return tuple(parts)


def asset_config(run_config: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The scorecard_emails config inside a run's config, {} when absent."""
    ops = (run_config or {}).get("ops") or {}
    return ((ops.get(ASSET) or {}).get("config")) or {}


def send_decision(
    tags: Mapping[str, str],
    months: list[str],
    request: tuple[str, ...],
    parent_run_id: str | None = None,
    parent_request: tuple[str, ...] | None = None,
) -> tuple[bool, str]:
    """Whether a run sends, and why (or why not).

    - A re-execution (it has a parent run) sends only if it carries an explicit request that its
      parent did not: Dagster copies the parent's tags and run config into a re-execution, so a
      copied request, or the copied schedule tags, do not count. `parent_request` None means the
      parent run could not be read: no send.
    - Any other run with an explicit request sends (a backfill too, if it asks).
    - Without one, only the schedule's own run for the month its tick asked for sends: Dagster's
      dagster/schedule_name is the schedule and scorecards/scheduled_month is the run's only
      partition. Backfills, UI and command-line materializations and sensor runs do not.
    """
    if parent_run_id:
        if request and parent_request is not None and request != parent_request:
            return True, (
                f"re-execution of run {parent_run_id} with an explicit request of its own "
                f"({'; '.join(request)})"
            )
        return False, (
            f"re-execution of run {parent_run_id}: a re-execution sends only with an explicit "
            f"request its parent did not carry (add the tag {SEND_TAG}=true, or send: true, "
            "when re-executing a run that had neither)"
        )
    if request:
        return True, f"explicit request ({'; '.join(request)})"
    if BACKFILL_TAG in tags or RANGE_TAG in tags or len(months) > 1:
        return False, f"backfill of {', '.join(months)}"
    month = months[0]
    if (
        tags.get(SCHEDULE_NAME_TAG) == SCHEDULE
        and tags.get(SCHEDULED_MONTH_TAG) == month
        and tags.get(PARTITION_TAG, month) == month
    ):
        return True, f"the schedule's run for {month}"
    if SENSOR_NAME_TAG in tags:
        return False, f"started by the sensor {tags[SENSOR_NAME_TAG]}"
    if SCHEDULE_NAME_TAG in tags:
        return False, (
            f"started by the schedule {tags[SCHEDULE_NAME_TAG]} for "
            f"{tags.get(SCHEDULED_MONTH_TAG, 'another month')}, not for {month}"
        )
    return False, f"{month}: not the schedule's run and no explicit request"


def _parent_request(
    instance: dg.DagsterInstance, parent_run_id: str | None
) -> tuple[str, ...] | None:
    if not parent_run_id:
        return None
    parent = instance.get_run_by_id(parent_run_id)
    if parent is None:
        return None
    return explicit_request(parent.tags, asset_config(parent.run_config))


def _doubt_alert(reports: list[DeliveryReport], run_id: str) -> tuple[str, list[str]]:
    """Subject and lines of the admins' alert about deliveries in doubt (and other failures)."""
    doubt = [(r.month, o) for r in reports for o in r.in_doubt]
    months = sorted({m for m, _ in doubt})
    lines = [
        f"{len(doubt)} scorecard e-mail(s) are in doubt: the mail server received them but did "
        "not confirm, so they may or may not have been delivered. They are not sent again "
        "automatically.",
        "",
    ]
    for month, o in doubt:
        lines += [
            f"- {month} {o.delivery.team} → {o.delivery.recipient}, Message-ID {o.message_id}",
        ]
    lines += [
        "",
        "What to check: the recipient's mailbox, or the mail server's log, for the Message-ID.",
        "How to release them: materialize scorecard_emails for the month with the run config",
        f"  ops: {{{ASSET}: {{config: {{confirm_sent: ['<address>']}}}}}}  if it arrived, or",
        f"  ops: {{{ASSET}: {{config: {{resend: ['<address>']}}}}}}  if it did not",
        "(docs/delivery.md, In doubt).",
    ]
    other = [(r.month, o) for r in reports for o in r.failures if o.status != IN_DOUBT]
    if other:
        lines += ["", "Other failed deliveries (the next run that sends tries them again):"]
        lines += [f"- {m} {o.delivery.team} → {o.delivery.recipient}: {o.error}" for m, o in other]
    lines += ["", f"Dagster run: {run_id}"]
    return f"Scorecard e-mails in doubt for {', '.join(months)}", lines


def _ledger_sent(settings, months: list[str]) -> dict[str, int]:
    """Messages the ledger records as delivered, per month (0 where none or no ledger yet)."""
    out = {m: 0 for m in months}
    try:
        with warehouse.connect(settings.warehouse, read_only=True) as con:
            if not warehouse.table_exists(con, "delivery_ledger"):
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
    context: dg.AssetExecutionContext, settings, months: list[str], note: str
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
        check_specs=[
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
        ],
        description="Each team's scorecard to its recipients and the overview to the overview "
        "recipients, recorded in the delivery_ledger table: a re-run sends nothing twice. Sends "
        "only if the delivery gate passes (else the admins get an alert), and only in the "
        "schedule's run for its month or when asked (tag "
        f"{SEND_TAG}=true or config send: true); re-executions, backfills and materializations "
        "from the UI send nothing unless asked (metadata 'emailed' and 'reason' say why).",
    )
    def scorecard_emails(
        context: dg.AssetExecutionContext,
        config: EmailConfig,
        scorecards: ScorecardsConfig,
        mail: MailResource,
    ):
        settings = scorecards.config.settings()
        months = list(context.partition_keys)
        tags = dict(context.run.tags)
        gates = [evaluate_gate(settings, m, now=now()) for m in months]
        for gate in gates:
            for check in gate.checks:
                context.log.info(f"gate {gate.month} {check.name}: {check.passed} - {check.detail}")
        parent_run_id = context.run.parent_run_id or tags.get(PARENT_RUN_TAG)
        sends, why = send_decision(
            tags,
            months,
            explicit_request(tags, config.model_dump()),
            parent_run_id,
            _parent_request(context.instance, parent_run_id),
        )
        context.log.info(f"{'sending' if sends else 'not sending'}: {why}")
        if not sends:
            note = (
                f"{why}: no e-mail sent (a run sends when the schedule started it for its month, "
                f"or with the tag {SEND_TAG}=true or the config send: true)"
            )
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
            lines = []
            for g in failed:
                lines += [f"Nothing was sent for {g.month}: the delivery gate failed.", ""]
                lines += [f"- {c.name}: {c.detail}" for c in g.failed] + [""]
            lines += [f"Dagster run: {context.run.run_id}"]
            checks = sorted({c.name for g in failed for c in g.failed})
            error = send_alert(
                settings,
                mail.transport(outbox_dir(settings, failed[0].month)),
                sender,
                f"Scorecards for {', '.join(g.month for g in failed)} not sent: "
                + ", ".join(checks),
                lines,
                clock=now,
            )
            if error:
                context.log.error(f"the admin alert could not be sent: {error}")
            yield _gate_result(gates, blocking=True)
            raise dg.Failure(
                description="delivery gate failed; nobody was sent a scorecard: "
                + "; ".join(f"{g.month} {c.name}: {c.detail}" for g in failed for c in g.failed),
                metadata={ALERTED: error is None},
            )
        reports: list[DeliveryReport] = []
        for month in months:
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
                    context.log.error(
                        f"{month} {o.delivery.team} → {o.delivery.recipient}: {o.error}"
                    )
                elif o.status == HELD:
                    context.log.warning(
                        f"{month} {o.delivery.team} → {o.delivery.recipient}: {o.error}"
                    )
            reports.append(report)

        last = reports[-1]
        metadata = {
            "emailed": dg.MetadataValue.bool(True),
            "reason": dg.MetadataValue.text(why),
            "transport": dg.MetadataValue.text(last.transport),
            "sent": dg.MetadataValue.int(sum(r.count(SENT) for r in reports)),
            "already_sent": dg.MetadataValue.int(sum(r.count(ALREADY_SENT) for r in reports)),
            "held_changed_after_send": dg.MetadataValue.int(sum(r.count(HELD) for r in reports)),
            "failed": dg.MetadataValue.int(sum(len(r.failures) for r in reports)),
            "in_doubt": dg.MetadataValue.int(sum(r.count(IN_DOUBT) for r in reports)),
            "confirmed_sent": dg.MetadataValue.int(sum(r.count(CONFIRMED) for r in reports)),
            "teams_without_recipients": dg.MetadataValue.text(
                ", ".join(last.no_recipients) or "none"
            ),
            "deliveries": dg.MetadataValue.md(_md(last)),
        }
        for report in reports:
            context.add_asset_metadata(_month_metadata(report), partition_key=report.month)
        # Recorded even when some failed: the UI then shows who did get the scorecard.
        yield dg.MaterializeResult(
            metadata=metadata,
            check_results=[_gate_result(gates, blocking=True), _sent_result(reports)],
        )
        with_failures = [r for r in reports if r.failures]
        if with_failures:
            alerted = False
            if any(r.in_doubt for r in reports):
                # The admins are told what to check and how to release them, with every other
                # failure of the run, so the run-failure sensor need not repeat it.
                what, lines = _doubt_alert(reports, context.run.run_id)
                error = send_alert(
                    settings,
                    mail.transport(outbox_dir(settings, months[-1])),
                    sender,
                    what,
                    lines,
                    clock=now,
                )
                if error:
                    context.log.error(f"the admin alert could not be sent: {error}")
                alerted = error is None
            # Everyone else was tried; the ledger has every outcome. Failed ones are tried again
            # by the next run that sends; in-doubt ones only when released.
            raise dg.Failure(
                description=f"{sum(len(r.failures) for r in with_failures)} delivery(ies) "
                "failed or in doubt: "
                + "; ".join(f"{r.month}: {r.failure_text()}" for r in with_failures),
                metadata={ALERTED: alerted},
            )

    return [scorecard_emails]
