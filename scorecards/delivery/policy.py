"""The send policy: whether a run e-mails its months, and what the admins are told when it can't.

Sending is opt-in: a run sends only when the schedule started it for the month it targets, or
when it asks explicitly (the run tag `SEND_TAG`, or the asset config send: true, resend,
confirm_sent). Re-executions, backfills, UI materializations and sensor runs never send on their
own. The orchestration layer says what started a run (`RunStart`); this module decides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scorecards.delivery.gate import GateResult
from scorecards.delivery.ledger import IN_DOUBT
from scorecards.delivery.send import DeliveryReport

# The run tag of an explicit request to send.
SEND_TAG = "scorecards/send_email"
ASSET = "scorecard_emails"


@dataclass(frozen=True)
class RunStart:
    """What started a run, in plain values.

    `request`: the explicit request to send it carries (`explicit_request`). A re-execution has
    `parent_run_id`, and `parent_request` is its parent's request (None: the parent could not
    be read). `schedule`, `sensor`: the name of the schedule or sensor that started it;
    `own_schedule`: that schedule is the scorecards' monthly one, `scheduled_month` the month
    its tick asked for. `partition`: the run's partition tag, None when it has none."""

    months: Sequence[str]
    request: tuple[str, ...] = ()
    parent_run_id: str | None = None
    parent_request: tuple[str, ...] | None = None
    backfill: bool = False
    schedule: str | None = None
    own_schedule: bool = False
    scheduled_month: str | None = None
    partition: str | None = None
    sensor: str | None = None


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


def send_decision(run: RunStart) -> tuple[bool, str]:
    """Whether a run sends, and why (or why not).

    - A re-execution (it has a parent run) sends only if it carries an explicit request that its
      parent did not: Dagster copies the parent's tags and run config into a re-execution, so a
      copied request, or the copied schedule tags, do not count. `parent_request` None means the
      parent run could not be read: no send.
    - Any other run with an explicit request sends (a backfill too, if it asks).
    - Without one, only the schedule's own run for the month its tick asked for sends: the
      scorecards' schedule started it and the month it asked for is the run's only partition.
      Backfills, UI and command-line materializations and sensor runs do not.
    """
    request, months = run.request, list(run.months)
    if run.parent_run_id:
        if request and run.parent_request is not None and request != run.parent_request:
            return True, (
                f"re-execution of run {run.parent_run_id} with an explicit request of its own "
                f"({'; '.join(request)})"
            )
        return False, (
            f"re-execution of run {run.parent_run_id}: a re-execution sends only with an explicit "
            f"request its parent did not carry (add the tag {SEND_TAG}=true, or send: true, "
            "when re-executing a run that had neither)"
        )
    if request:
        return True, f"explicit request ({'; '.join(request)})"
    if run.backfill or len(months) > 1:
        return False, f"backfill of {', '.join(months)}"
    month = months[0]
    if run.own_schedule and run.scheduled_month == month and run.partition in (None, month):
        return True, f"the schedule's run for {month}"
    if run.sensor is not None:
        return False, f"started by the sensor {run.sensor}"
    if run.schedule is not None:
        asked = run.scheduled_month if run.scheduled_month is not None else "another month"
        return False, f"started by the schedule {run.schedule} for {asked}, not for {month}"
    return False, f"{month}: not the schedule's run and no explicit request"


def not_sent_note(why: str) -> str:
    """What a run that does not send says about it."""
    return (
        f"{why}: no e-mail sent (a run sends when the schedule started it for its month, "
        f"or with the tag {SEND_TAG}=true or the config send: true)"
    )


def gate_alert(failed: list[GateResult], run_id: str) -> tuple[str, list[str]]:
    """Subject and lines of the admins' alert when the delivery gate stopped the e-mails."""
    lines = []
    for g in failed:
        lines += [f"Nothing was sent for {g.month}: the delivery gate failed.", ""]
        lines += [f"- {c.name}: {c.detail}" for c in g.failed] + [""]
    lines += [f"Dagster run: {run_id}"]
    checks = sorted({c.name for g in failed for c in g.failed})
    subject = f"Scorecards for {', '.join(g.month for g in failed)} not sent: " + ", ".join(checks)
    return subject, lines


def gate_failure(failed: list[GateResult]) -> str:
    """Why the run failed when the gate stopped the e-mails."""
    return "delivery gate failed; nobody was sent a scorecard: " + "; ".join(
        f"{g.month} {c.name}: {c.detail}" for g in failed for c in g.failed
    )


def doubt_alert(reports: list[DeliveryReport], run_id: str) -> tuple[str, list[str]]:
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


def delivery_failure(reports: list[DeliveryReport]) -> str | None:
    """Why the run failed when some deliveries failed or are in doubt; None when none did."""
    with_failures = [r for r in reports if r.failures]
    if not with_failures:
        return None
    return (
        f"{sum(len(r.failures) for r in with_failures)} delivery(ies) "
        "failed or in doubt: " + "; ".join(f"{r.month}: {r.failure_text()}" for r in with_failures)
    )
