"""The e-mail step: the month's scorecards to their recipients, once, behind the delivery gate."""

import datetime as dt

import dagster as dg

from pipelines.resources import MailResource, ScorecardsConfig
from scorecards.delivery import (
    ALREADY_SENT,
    HELD,
    SENT,
    DeliveryReport,
    deliver,
    outbox_dir,
    send_alert,
)
from scorecards.gate import GateResult, evaluate_gate
from scorecards.periods import last_complete_month

GROUP = "scorecards"
# Only the latest complete month is e-mailed on its own; a backfill or an older month sends
# nothing unless its run carries this tag (or the asset's config asks).
SEND_TAG = "scorecards/send_email"
BACKFILL_TAG = "dagster/backfill"
RANGE_TAG = "dagster/asset_partition_range_start"
GATE_CHECK = "delivery_gate"
# Marks a failure whose admin alert was already sent, so the run-failure sensor does not repeat it.
ALERTED = "admin_alert_sent"


class EmailConfig(dg.Config):
    send: bool = False
    """Send even though the run is a backfill or for a month before the latest (same as the run
    tag scorecards/send_email=true). The ledger still sends each recipient each version once."""
    resend: list[str] = []
    """Team ids ('overview' for the overview, '*' for all) whose current scorecard is sent to
    every recipient who has not received this exact version: corrected scorecards held back after
    an earlier send, and deliveries left in doubt by a crashed run."""


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


def is_backfill(tags: dict[str, str], partition_keys: list[str]) -> bool:
    """Runs launched by a backfill, and runs over a range of months (a single-run backfill or
    `dagster asset materialize --partition-range`)."""
    return BACKFILL_TAG in tags or RANGE_TAG in tags or len(partition_keys) > 1


def why_not_sent(tags: dict[str, str], months: list[str], latest: str) -> str | None:
    """Why a run sends no e-mail unless asked; None when it sends on its own: a run for the latest
    complete month alone, not part of a backfill. A re-executed backfill run can lose its
    backfill tag, and a one-month run of an old month has none: the month decides as well."""
    if is_backfill(tags, months):
        return f"backfill of {', '.join(months)}"
    if months != [latest]:
        return f"{months[0]} is not the latest complete month ({latest})"
    return None


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
) -> list[dg.AssetsDefinition]:
    @dg.asset(
        name="scorecard_emails",
        group_name=GROUP,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=["team_scorecards"],
        check_specs=[
            dg.AssetCheckSpec(
                GATE_CHECK,
                asset="scorecard_emails",
                description="The delivery gate: the month's data reaches its last day, no team "
                "with tickets the month before has none, the quarantined share is under the "
                "threshold. Nothing is sent unless it passes (scorecards/gate.py).",
            )
        ],
        description="Each team's scorecard to its recipients and the overview to the overview "
        "recipients, recorded in the delivery_ledger table: a re-run sends nothing twice. Sends "
        "only if the delivery gate passes (else the admins get an alert), and on its own only "
        f"for the latest complete month: backfills and older months need the tag {SEND_TAG}=true "
        "(metadata 'emailed' says which months went out).",
    )
    def scorecard_emails(
        context: dg.AssetExecutionContext,
        config: EmailConfig,
        scorecards: ScorecardsConfig,
        mail: MailResource,
    ):
        settings = scorecards.settings()
        months = list(context.partition_keys)
        tags = dict(context.run.tags)
        gates = [evaluate_gate(settings, m) for m in months]
        for gate in gates:
            for check in gate.checks:
                context.log.info(f"gate {gate.month} {check.name}: {check.passed} - {check.detail}")
        asked = config.send or tags.get(SEND_TAG, "").lower() == "true"
        reason = why_not_sent(tags, months, last_complete_month(_now(), settings.timezone))
        if reason and not asked:
            note = f"{reason}: no e-mail sent (tag the run {SEND_TAG}=true to send)"
            context.log.info(note)
            # Materialized all the same (a backfill expects every partition it covers to be),
            # with the reason; the ledger is what says who got what.
            yield dg.MaterializeResult(
                metadata={"emailed": dg.MetadataValue.bool(False), "reason": note},
                check_results=[_gate_result(gates, blocking=False)],
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
                run_id=context.run.run_id,
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
            "transport": dg.MetadataValue.text(last.transport),
            "sent": dg.MetadataValue.int(sum(r.count(SENT) for r in reports)),
            "already_sent": dg.MetadataValue.int(sum(r.count(ALREADY_SENT) for r in reports)),
            "held_changed_after_send": dg.MetadataValue.int(sum(r.count(HELD) for r in reports)),
            "failed": dg.MetadataValue.int(sum(len(r.failures) for r in reports)),
            "teams_without_recipients": dg.MetadataValue.text(
                ", ".join(last.no_recipients) or "none"
            ),
            "deliveries": dg.MetadataValue.md(_md(last)),
        }
        # Recorded even when some failed: the UI then shows who did get the scorecard.
        yield dg.MaterializeResult(
            metadata=metadata, check_results=[_gate_result(gates, blocking=True)]
        )
        with_failures = [r for r in reports if r.failures]
        if with_failures:
            # Everyone else was tried; the ledger has every outcome, and a re-run retries these.
            raise dg.Failure(
                description=f"{sum(len(r.failures) for r in with_failures)} delivery(ies) "
                "failed: " + "; ".join(f"{r.month}: {r.failure_text()}" for r in with_failures),
            )

    return [scorecard_emails]
