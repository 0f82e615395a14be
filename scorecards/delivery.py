"""Delivery: who is due which scorecard this month, sending each exactly once, and the ledger.

The ledger (`delivery_ledger` in the warehouse) has one row per month, team, recipient, PDF
version (its SHA-256) and channel (SMTP or the file outbox, kept apart). A run sends only what
the ledger does not record as sent:

- the same PDF already sent to the recipient: nothing happens (a re-run sends nothing new);
- a row left as `sending` by an earlier run that did not finish: the message may or may not
  have gone out, so it is reported as in doubt and not sent again unless asked (`resend`);
- the recipient got an older version of the scorecard (the data was corrected after sending):
  the new version is recorded as `held`, not delivered, unless the run asks to re-send the team;
- otherwise the message is sent: before each attempt the row is set to `sending` (and committed),
  after it to `sent` or `failed`. Transient errors are retried with a doubling wait up to
  `max_attempts`; permanent ones (5xx) are recorded at once. A failed row is tried again by the
  next run.

One recipient's failure never stops the others. Only a broken connection does: when the server
cannot be reached or refuses the login even after the retries, or three messages in a row failed
on transient errors, the remaining messages are recorded as failed without trying each one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import re
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from scorecards import warehouse
from scorecards.mail import MailBuilder, MailSummary, envelope_address, message_id, overview_summary
from scorecards.mail import team_summary as _team_summary
from scorecards.notes import load_manual_notes
from scorecards.publish import OVERVIEW, scorecard_dir
from scorecards.report_data import load_month, overview_report, team_report
from scorecards.settings import Settings
from scorecards.smtp import SendError, Transport
from scorecards.teams import for_month

log = logging.getLogger(__name__)

SENT, SENDING, FAILED, HELD = "sent", "sending", "failed", "held"
# Outcomes of one run that are not ledger states
ALREADY_SENT, IN_DOUBT, NOT_ATTEMPTED = "already_sent", "in_doubt", "not_attempted"
RESEND_ALL = "*"


@dataclass(frozen=True)
class Delivery:
    period: str
    team: str  # team id, or "overview"
    recipient: str
    pdf: Path
    sha256: str  # "" when the PDF is missing


@dataclass
class Outcome:
    delivery: Delivery
    status: str  # sent, already_sent, held, failed, in_doubt, not_attempted
    attempts: int = 0
    message_id: str = ""
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.status in (FAILED, IN_DOUBT, NOT_ATTEMPTED)


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
        return [o for o in self.outcomes if o.failed]

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
                    "error": o.error,
                }
                for o in self.outcomes
            ],
            columns=["team", "recipient", "status", "attempts", "pdf_sha256", "error"],
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


@dataclass
class Plan:
    deliveries: list[Delivery]
    no_recipients: list[str]  # teams (or "overview") without recipients
    pdfs: dict[str, bytes]  # team -> the PDF's bytes, read once: what is hashed is what is sent


def plan(settings: Settings, month: str) -> Plan:
    """Every (team, recipient) due the month's scorecard, with the PDF as it is on disk now.
    The teams are `settings.teams`: `deliver` passes the month's (teams.for_month)."""
    folder = scorecard_dir(settings, month)
    wanted = [(t.id, t.recipients) for t in settings.teams.values()]
    wanted.append((OVERVIEW, settings.teams_file.overview.recipients))
    out = Plan([], [], {})
    for team, recipients in wanted:
        if not recipients:
            out.no_recipients.append(team)
            continue
        pdf = folder / f"{team}.pdf"
        sha = ""
        if pdf.exists():
            out.pdfs[team] = pdf.read_bytes()
            sha = hashlib.sha256(out.pdfs[team]).hexdigest()
        # A recipient listed twice for one team (in any spelling of case) gets one message.
        seen: set[str] = set()
        for r in recipients:
            if r.lower() not in seen:
                seen.add(r.lower())
                out.deliveries.append(Delivery(month, team, r, pdf, sha))
    return out


def _summaries(settings: Settings, month: str, teams: set[str]) -> dict[str, MailSummary]:
    data = load_month(settings, month)
    manual = load_manual_notes(settings.config_dir, month, list(settings.teams))
    out = {
        t: _team_summary(team_report(settings, data, settings.teams[t], manual))
        for t in teams
        if t != OVERVIEW
    }
    if OVERVIEW in teams:
        out[OVERVIEW] = overview_summary(overview_report(settings, data, manual), data, OVERVIEW)
    return out


class Ledger:
    """The delivery ledger's rows for one month, on one open warehouse connection. Every change
    is committed (DuckDB autocommit) before the next step, so a crash leaves at worst a `sending`
    row, which the next run reports as in doubt."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, month: str, run_id: str, channel: str
    ) -> None:
        self.con, self.month, self.run_id, self.channel = con, month, run_id, channel

    @classmethod
    @contextlib.contextmanager
    def open(cls, path: Path, month: str, run_id: str, channel: str) -> Iterator[Ledger]:
        # One connection for a run's writes: opening the warehouse costs ~30 ms, two writes a
        # message would otherwise cost more than the SMTP exchange. It also holds DuckDB's
        # file lock, so no other process can send for this month meanwhile.
        with warehouse.connect(path) as con:
            yield cls(con, month, run_id, channel)

    def rows(self) -> pd.DataFrame:
        """The month's rows for this channel: a message written to the file outbox is not one
        delivered by the SMTP server, and the other way round."""
        return self.con.execute(
            "SELECT * FROM delivery_ledger WHERE period = ? AND channel = ? "
            "ORDER BY team, recipient",
            [self.month, self.channel],
        ).df()

    def write(
        self,
        d: Delivery,
        status: str,
        *,
        message_id: str = "",
        attempt: bool = False,
        error: str = "",
    ) -> None:
        now = dt.datetime.now(dt.UTC)
        self.con.execute(
            """
            INSERT INTO delivery_ledger AS l VALUES
                ($period, $team, $recipient, $sha, $channel, $status, $mid, $att, $now,
                 CASE WHEN $status = 'sent' THEN $now END, $run, $error)
            ON CONFLICT (period, team, recipient, pdf_sha256, channel) DO UPDATE SET
                status = excluded.status,
                message_id = coalesce(nullif(excluded.message_id, ''), l.message_id),
                attempts = l.attempts + excluded.attempts,
                updated_at = excluded.updated_at,
                sent_at = coalesce(excluded.sent_at, l.sent_at),
                run_id = excluded.run_id,
                error = excluded.error
            """,
            {
                "period": d.period,
                "team": d.team,
                "recipient": d.recipient,
                "sha": d.sha256,
                "channel": self.channel,
                "status": status,
                "mid": message_id,
                "att": int(attempt),
                "now": now,
                "run": self.run_id,
                "error": error,
            },
        )


def _by_recipient(rows: pd.DataFrame) -> dict[tuple[str, str], pd.DataFrame]:
    """Ledger rows by (team, address); addresses compare without case, so respelling one in the
    config does not send again."""
    key = rows.recipient.astype(str).str.lower()
    return {(t, r): g for (t, r), g in rows.groupby([rows.team, key], sort=False)}


def _decide(mine: pd.DataFrame, d: Delivery, resend: bool) -> tuple[str, str]:
    """What to do for one delivery given its ledger rows (`mine`): (action, reason)."""
    this = mine[mine.pdf_sha256 == d.sha256]
    status = this.status.iloc[0] if len(this) else None
    if status == SENT:
        return ALREADY_SENT, ""
    if status == SENDING and not resend:
        row = this.iloc[0]
        return IN_DOUBT, (
            f"in doubt: run {row.run_id} started sending at {row.updated_at} and did not record "
            "the outcome; check the recipient's mailbox, then re-send with resend if it is missing"
        )
    older = mine[(mine.status == SENT) & (mine.pdf_sha256 != d.sha256)]
    if len(older) and not resend:
        when = older.sent_at.max()
        return HELD, (
            f"scorecard changed after the version of {when} was sent; this version is not "
            "delivered unless the run is asked to re-send it (resend)"
        )
    return "send", ""


def _outbox_name(d: Delivery) -> str:
    who = re.sub(r"[^A-Za-z0-9@._+-]", "_", d.recipient)
    return f"{d.team}__{who}__{d.sha256[:12]}"


# After this many messages in a row failed on transient errors even after their retries, the
# server is taken to be down (accepting connections but not answering, say): the rest are
# recorded as not attempted rather than each waiting through its own timeouts.
BROKEN_AFTER = 3


def _split(
    rows: pd.DataFrame, p: Plan, resend: Collection[str]
) -> tuple[list[Delivery], list[Outcome]]:
    """The deliveries to send, and the outcomes of those that need no sending (missing PDF,
    already sent, held, in doubt)."""
    due, skipped = [], []
    groups = _by_recipient(rows)
    none = rows.iloc[:0]
    for d in p.deliveries:
        if not d.sha256:
            error = f"no scorecard {d.pdf}: materialize team_scorecards for {d.period} first"
            skipped.append(Outcome(d, FAILED, error=error))
            continue
        mine = groups.get((d.team, d.recipient.lower()), none)
        action, reason = _decide(mine, d, RESEND_ALL in resend or d.team in resend)
        if action == "send":
            due.append(d)
        else:
            skipped.append(Outcome(d, action, error=reason))
    return due, skipped


def _record_skipped(ledger: Ledger, skipped: list[Outcome], report: DeliveryReport) -> None:
    for o in skipped:
        if o.status in (FAILED, HELD):
            ledger.write(o.delivery, o.status, error=o.error)
        report.outcomes.append(o)


def deliver(
    settings: Settings,
    month: str,
    transport: Transport,
    sender: Sender,
    *,
    resend: Collection[str] = (),
    run_id: str = "",
    builder: MailBuilder | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryReport:
    """Send the month's scorecards that the ledger does not record as sent; return what happened.

    `resend`: team ids (or "overview", or "*" for all) whose current PDF is sent to every
    recipient who has not received this exact version, including held and in-doubt ones.
    """
    settings = for_month(settings, month)
    known = {*settings.teams, OVERVIEW, RESEND_ALL}
    unknown = sorted(set(resend) - known)
    if unknown:
        raise ValueError(
            f"resend names unknown team(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    p = plan(settings, month)
    for team in p.no_recipients:
        from_data = team in settings.teams and team not in settings.configured_teams
        log.info(
            "%s %s: no recipients, its scorecard is not e-mailed%s",
            month,
            team,
            " (a team from the data: team_defaults.recipients is empty)" if from_data else "",
        )
    report = DeliveryReport(month, transport.describe(), no_recipients=p.no_recipients)
    path, channel = settings.warehouse_path, transport.channel
    try:
        with Ledger.open(path, month, run_id, channel) as ledger:
            due, skipped = _split(ledger.rows(), p, resend)
            if not due:
                _record_skipped(ledger, skipped, report)
                return report
        # The summaries read the warehouse read-only, which DuckDB allows only while this
        # process does not hold it open for writing: so before the send loop's connection.
        summaries = _summaries(settings, month, {d.team for d in due})
        builder = builder or MailBuilder()
        envelope_from = envelope_address(sender.address)
        with Ledger.open(path, month, run_id, channel) as ledger:
            # Decided again under the file lock the send loop holds: another run may have
            # sent some of them since the first look.
            due, skipped = _split(ledger.rows(), p, resend)
            _record_skipped(ledger, skipped, report)
            broken: str | None = None
            streak = 0  # messages in a row that failed on transient errors
            for d in due:
                if broken:
                    error = f"not attempted: {broken}"
                    ledger.write(d, FAILED, error=error)
                    report.outcomes.append(Outcome(d, NOT_ATTEMPTED, error=error))
                    continue
                outcome, exc = _send_one(
                    d,
                    p.pdfs[d.team],
                    summaries[d.team],
                    transport,
                    sender,
                    envelope_from,
                    builder,
                    ledger,
                    sleep,
                )
                report.outcomes.append(outcome)
                streak = streak + 1 if exc is not None and exc.transient else 0
                if exc is not None and exc.connection:
                    broken = str(exc)
                elif streak >= BROKEN_AFTER:
                    broken = f"the last {streak} messages failed: {exc}"
    finally:
        transport.close()
    return report


def _send_one(
    d: Delivery,
    pdf: bytes,
    summary: MailSummary,
    transport: Transport,
    sender: Sender,
    envelope_from: str,
    builder: MailBuilder,
    ledger: Ledger,
    sleep: Callable[[float], None],
) -> tuple[Outcome, SendError | None]:
    """Send one message with retries; the outcome, and the last error if it failed."""
    mid = message_id(f"{d.period}|{d.team}|{d.recipient}|{d.sha256}", sender.address)
    try:
        msg = builder.scorecard(
            summary,
            pdf,
            sender=sender.address,
            reply_to=sender.reply_to,
            to=d.recipient,
            msg_id=mid,
        )
    except Exception as exc:  # noqa: BLE001 - one recipient's failure must not stop the others
        error = f"cannot build the message: {type(exc).__name__}: {exc}"
        ledger.write(d, FAILED, message_id=mid, error=error)
        return Outcome(d, FAILED, 0, mid, error), SendError(error, transient=False)
    attempts = 0
    while True:
        attempts += 1
        ledger.write(d, SENDING, message_id=mid, attempt=True)
        try:
            transport.send(msg, envelope_from, [d.recipient], _outbox_name(d))
        except Exception as exc:  # noqa: BLE001 - recorded as failed, never left "sending"
            err = (
                exc
                if isinstance(exc, SendError)
                else SendError(
                    f"unexpected {type(exc).__name__}: {transport.scrub(str(exc))}",
                    transient=False,
                )
            )
            retry = err.transient and attempts < sender.max_attempts
            log.warning(
                "%s → %s, attempt %d: %s%s",
                d.team,
                d.recipient,
                attempts,
                err,
                " (will retry)" if retry else "",
            )
            ledger.write(d, FAILED, error=str(err))
            if not retry:
                return Outcome(d, FAILED, attempts, mid, str(err)), err
            sleep(sender.wait(attempts))
            continue
        ledger.write(d, SENT)
        return Outcome(d, SENT, attempts, mid), None


def send_alert(
    settings: Settings,
    transport: Transport,
    sender: Sender,
    what: str,
    lines: list[str],
    builder: MailBuilder | None = None,
) -> str | None:
    """E-mail the admins; returns the error if it could not be sent (never raises for SMTP)."""
    admins = settings.teams_file.delivery.admins
    if not admins:
        return "no admins configured (delivery.admins in teams.yaml)"
    builder = builder or MailBuilder()
    now = dt.datetime.now(dt.UTC)
    mid = message_id(f"alert|{what}|{now.isoformat()}", sender.address)
    msg = builder.alert(what, lines, sender=sender.address, to=admins, msg_id=mid, date=now)
    name = "alert__" + now.strftime("%Y%m%dT%H%M%S%fZ")
    try:
        transport.send(msg, envelope_address(sender.address), list(admins), name)
    except SendError as exc:
        return str(exc)
    finally:
        transport.close()
    return None
