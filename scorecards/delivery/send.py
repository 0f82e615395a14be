"""Delivery: sending each of the month's due scorecards exactly once.

What is due comes from scorecards/delivery/planning.py and the ledger
(scorecards/delivery/ledger.py). Each attempt is claimed in a short transaction of its own (the
ledger is read again and the row set to `sending`, committed), the warehouse is closed while
the server is talked to, and the outcome is recorded in another short transaction: no run
holds DuckDB's write lock across network I/O. Claim, send and record of one team's messages
run under a lock per month, channel and team (`send_lock`), so a second run of the same month
started at the same time waits and then finds the message sent. Failures before the server accepted DATA are
retried (transient ones, with a doubling wait, up to `max_attempts`; never a timeout); 5xx are
recorded at once. A failed row is tried again by the next run that sends.

One recipient's failure never stops the others. Only a broken connection does: when the server
cannot be reached, refuses the login or stops answering, or three messages in a row failed, the
remaining messages are recorded as failed (not attempted) without trying each one.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from scorecards.config.settings import Settings
from scorecards.delivery.ledger import (
    CONFIRMED,
    FAILED,
    HELD,
    IN_DOUBT,
    NOT_ATTEMPTED,
    SENT,
    Clock,
    Delivery,
    Ledger,
    Outcome,
    doubt_text,
    send_lock,
    utc_now,
)
from scorecards.delivery.mail import MailBuilder, envelope_address, message_id
from scorecards.delivery.planning import Plan, check_names, plan, split, targets
from scorecards.delivery.smtp import SendError, Transport
from scorecards.render.content import SummaryUnreadable, read_summary
from scorecards.report.summary import MailSummary
from scorecards.warehouse.teams import for_month

log = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    month: str
    transport: str
    outcomes: list[Outcome] = field(default_factory=list)
    no_recipients: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def failures(self) -> list[Outcome]:
        """Failed, in doubt and not attempted deliveries; the in-doubt ones first."""
        return sorted((o for o in self.outcomes if o.failed), key=lambda o: o.status != IN_DOUBT)

    @property
    def in_doubt(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == IN_DOUBT]

    def failure_text(self) -> str:
        return "; ".join(
            f"{o.delivery.team} → {o.delivery.recipient}: {o.error}" for o in self.failures
        )

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "team": o.delivery.team,
                    "recipient": o.delivery.recipient,
                    "status": o.status,
                    "attempts": o.attempts,
                    "pdf_sha256": o.delivery.sha256[:12],
                    "message_id": o.message_id,
                    "error": o.error,
                }
                for o in self.outcomes
            ],
            columns=[
                "team",
                "recipient",
                "status",
                "attempts",
                "pdf_sha256",
                "message_id",
                "error",
            ],
        )


@dataclass(frozen=True)
class Sender:
    """The From and Reply-To of every message, and how hard to retry."""

    address: str
    reply_to: str | None = None
    max_attempts: int = 4
    backoff_seconds: float = 2.0
    max_backoff_seconds: float = 30.0

    def wait(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return min(self.backoff_seconds * 2 ** (attempt - 1), self.max_backoff_seconds)


def outbox_dir(settings: Settings, month: str) -> Path:
    """Where the file outbox writes a month's messages when no SMTP server is configured."""
    return settings.out_dir / month / "outbox"


def _summaries(due: list[Delivery]) -> tuple[dict[str, MailSummary], list[Outcome]]:
    """Each due team's e-mail summary, as rendering wrote it next to the PDF (no report is built
    again), and a failed outcome, naming the file, for each delivery whose summary is missing
    or unreadable: a scorecard is never sent without what its e-mail says."""
    found: dict[str, MailSummary] = {}
    errors: dict[str, str] = {}
    for d in due:
        if d.team not in found and d.team not in errors:
            try:
                found[d.team] = read_summary(d.pdf, d.team, d.period)
            except SummaryUnreadable as exc:
                log.error("%s %s: %s", d.period, d.team, exc)
                errors[d.team] = str(exc)
    return found, [Outcome(d, FAILED, error=errors[d.team]) for d in due if d.team in errors]


def _outbox_name(d: Delivery) -> str:
    who = re.sub(r"[^A-Za-z0-9@._+-]", "_", d.recipient)
    return f"{d.team}__{who}__{d.sha256[:12]}"


def _mid(d: Delivery, sender: Sender) -> str:
    # a function of the delivery and its version: a retry carries the same Message-ID
    return message_id(f"{d.period}|{d.team}|{d.recipient}|{d.version}", sender.address)


# After this many messages in a row failed on transient errors (or in doubt) even after their
# retries, the server is taken to be down: the rest are recorded as not attempted rather than
# each waiting through its own timeouts.
BROKEN_AFTER = 3


def _record_skipped(ledger: Ledger, skipped: list[Outcome], report: DeliveryReport) -> None:
    for o in skipped:
        if o.status in (FAILED, HELD):
            ledger.write(o.delivery, o.status, error=o.error)
        elif o.status == CONFIRMED:
            ledger.write(o.delivery, SENT, error=f"confirmed as delivered by run {ledger.run_id}")
        report.outcomes.append(o)


def _log_no_recipients(settings: Settings, month: str, teams: list[str]) -> None:
    for team in teams:
        from_data = team in settings.teams and team not in settings.configured_teams
        log.info(
            "%s %s: no recipients, its scorecard is not e-mailed%s",
            month,
            team,
            " (a team from the data: team_defaults.recipients is empty)" if from_data else "",
        )


@dataclass(frozen=True)
class _Channel:
    """How a run's messages go out: the transport and sender, the ledger opened for each short
    step, and the lock held from each claim until its outcome is recorded (`lock(team)`)."""

    transport: Transport
    sender: Sender
    envelope_from: str
    builder: MailBuilder
    ledger: Callable[[], contextlib.AbstractContextManager[Ledger]]
    sleep: Callable[[float], None]
    lock: Callable[[str], contextlib.AbstractContextManager[None]]


def deliver(
    settings: Settings,
    month: str,
    transport: Transport,
    sender: Sender,
    *,
    resend: Collection[str] = (),
    confirm_sent: Collection[str] = (),
    run_id: str = "",
    builder: MailBuilder | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Clock = utc_now,
) -> DeliveryReport:
    """Send the month's scorecards that the ledger does not record as sent; return what happened.

    `resend`: team ids, "overview", recipients' addresses, or "*" for all, whose current
    scorecard is sent to every recipient (of those) who has not received this version, including
    held and in-doubt ones. `confirm_sent`: the same kinds of names; their in-doubt deliveries
    are recorded as sent without sending (someone checked that the message arrived).
    `clock` gives the ledger's timestamps.
    """
    settings = for_month(settings, month)
    check_names(settings, resend, "resend")
    check_names(settings, confirm_sent, "confirm_sent")
    p = plan(settings, month)
    _log_no_recipients(settings, month, p.no_recipients)
    report = DeliveryReport(month, transport.describe(), no_recipients=p.no_recipients)
    path, channel = settings.warehouse, transport.channel

    @contextlib.contextmanager
    def ledger() -> Iterator[Ledger]:
        # a short step on the warehouse: opened, written, committed and closed again
        with Ledger.open(path, month, run_id, channel, clock) as led:
            yield led

    try:
        with ledger() as led:
            led.adopt(p.deliveries)
            due, skipped = split(led.rows(), p, resend, confirm_sent)
            summaries, unreadable = _summaries(due)
            due = [d for d in due if d.team in summaries]
            _record_skipped(led, skipped + unreadable, report)
        if not due:
            return report
        out = _Channel(
            transport,
            sender,
            envelope_address(sender.address),
            builder or MailBuilder(),
            ledger,
            sleep,
            lambda team: send_lock(path, month, channel, team),
        )
        _send_due(due, p, summaries, resend, out, report)
    finally:
        transport.close()
    return report


def _send_due(
    due: list[Delivery],
    p: Plan,
    summaries: dict[str, MailSummary],
    resend: Collection[str],
    out: _Channel,
    report: DeliveryReport,
) -> None:
    """Send the due messages one after the other, until the connection is found broken: the
    rest are then recorded as not attempted."""
    broken: str | None = None
    streak = 0  # messages in a row that failed on transient errors or in doubt
    for d in due:
        if broken:
            error = f"not attempted: {broken}"
            with out.ledger() as led:
                led.write(d, FAILED, error=error)
            report.outcomes.append(Outcome(d, NOT_ATTEMPTED, error=error))
            continue
        outcome, exc = _send_one(d, p.pdfs[d.team], summaries[d.team], targets(d, resend), out)
        report.outcomes.append(outcome)
        bad = exc is not None and (exc.transient or exc.in_doubt)
        streak = streak + 1 if bad else 0
        if exc is not None and exc.connection:
            broken = str(exc)
        elif streak >= BROKEN_AFTER:
            broken = f"the last {streak} messages failed: {exc}"


def _send_one(
    d: Delivery,
    pdf: bytes,
    summary: MailSummary,
    release: bool,
    out: _Channel,
) -> tuple[Outcome, SendError | None]:
    """Send one message with retries; the outcome, and the last error if it failed. The ledger
    is opened for each step and closed while the message is on its way; `out.lock(team)` is
    held from each claim until its outcome is recorded."""
    transport, sender, ledger = out.transport, out.sender, out.ledger
    mid = _mid(d, sender)
    try:
        msg = out.builder.scorecard(
            summary,
            pdf,
            sender=sender.address,
            reply_to=sender.reply_to,
            to=d.recipient,
            msg_id=mid,
        )
    except Exception as exc:  # noqa: BLE001 - one recipient's failure must not stop the others
        error = f"cannot build the message: {type(exc).__name__}: {exc}"
        with ledger() as led:
            led.write(d, FAILED, message_id=mid, error=error)
        return Outcome(d, FAILED, 0, mid, error), SendError(error, transient=False)
    attempts = 0
    while True:
        # claim, send and record under the team's lock; the pause before a retry outside it
        with out.lock(d.team):
            with ledger() as led:
                gone = led.claim(d, release, mid)
            if gone is not None:  # sent, or claimed, by another run since this one looked
                gone.attempts, gone.message_id = attempts, mid
                return gone, None
            attempts += 1
            try:
                transport.send(msg, out.envelope_from, [d.recipient], _outbox_name(d))
            except Exception as exc:  # noqa: BLE001 - recorded as failed or in doubt, never "sending"
                err = (
                    exc
                    if isinstance(exc, SendError)
                    else SendError(
                        f"unexpected {type(exc).__name__}: {transport.scrub(str(exc))}",
                        transient=False,
                    )
                )
                if err.in_doubt:
                    log.error(
                        "%s → %s, attempt %d: in doubt: %s", d.team, d.recipient, attempts, err
                    )
                    with ledger() as led:
                        led.write(d, IN_DOUBT, error=f"{err}. Message-ID {mid}")
                    return Outcome(d, IN_DOUBT, attempts, mid, doubt_text(d, mid, str(err))), err
                retry = err.retryable and attempts < sender.max_attempts
                log.warning(
                    "%s → %s, attempt %d: %s%s",
                    d.team,
                    d.recipient,
                    attempts,
                    err,
                    " (will retry)" if retry else "",
                )
                with ledger() as led:
                    led.write(d, FAILED, error=str(err))
                if not retry:
                    return Outcome(d, FAILED, attempts, mid, str(err)), err
            else:
                with ledger() as led:
                    led.write(d, SENT)
                return Outcome(d, SENT, attempts, mid), None
        out.sleep(sender.wait(attempts))


def send_alert(
    settings: Settings,
    transport: Transport,
    sender: Sender,
    what: str,
    lines: list[str],
    builder: MailBuilder | None = None,
    clock: Clock = utc_now,
) -> str | None:
    """E-mail the admins; returns the error if it could not be sent (never raises for SMTP)."""
    admins = settings.teams_file.delivery.admins
    if not admins:
        return "no admins configured (delivery.admins in teams.yaml)"
    builder = builder or MailBuilder()
    now = clock()
    # the text is part of the key: two alerts at one (pinned) instant stay two messages
    digest = hashlib.sha256("\n".join([what, *lines]).encode()).hexdigest()[:8]
    mid = message_id(f"alert|{what}|{now.isoformat()}|{digest}", sender.address)
    msg = builder.alert(what, lines, sender=sender.address, to=admins, msg_id=mid, date=now)
    name = "alert__" + now.strftime("%Y%m%dT%H%M%S%fZ") + "_" + digest
    try:
        transport.send(msg, envelope_address(sender.address), list(admins), name)
    except SendError as exc:
        return str(exc)
    finally:
        transport.close()
    return None
