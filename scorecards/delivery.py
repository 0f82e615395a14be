"""Delivery: who is due which scorecard this month, sending each exactly once, and the ledger.

The ledger (`delivery_ledger` in the warehouse) has one row per month, team, recipient and PDF
version (its SHA-256). A run sends only what the ledger does not record as sent:

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
cannot be reached or refuses the login even after the retries, the remaining messages are
recorded as failed without trying each one.
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


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def plan(settings: Settings, month: str) -> tuple[list[Delivery], list[str]]:
    """Every (team, recipient) due the month's scorecard, with the PDF as it is on disk now;
    and the teams without recipients."""
    folder = scorecard_dir(settings, month)
    wanted = [(t.id, t.recipients) for t in settings.teams_file.teams]
    wanted.append((OVERVIEW, settings.teams_file.overview.recipients))
    out, nobody = [], []
    for team, recipients in wanted:
        if not recipients:
            nobody.append(team)
            continue
        pdf = folder / f"{team}.pdf"
        sha = _sha256(pdf) if pdf.exists() else ""
        # A recipient listed twice for one team still gets one message.
        for r in dict.fromkeys(recipients):
            out.append(Delivery(month, team, r, pdf, sha))
    return out, nobody


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

    def __init__(self, con: duckdb.DuckDBPyConnection, month: str, run_id: str) -> None:
        self.con, self.month, self.run_id = con, month, run_id

    @classmethod
    @contextlib.contextmanager
    def open(cls, path: Path, month: str, run_id: str) -> Iterator[Ledger]:
        # One connection for a run's writes: opening the warehouse costs ~30 ms, two writes a
        # message would otherwise cost more than the SMTP exchange.
        with warehouse.connect(path) as con:
            yield cls(con, month, run_id)

    def rows(self) -> pd.DataFrame:
        return self.con.execute(
            "SELECT * FROM delivery_ledger WHERE period = ? ORDER BY team, recipient",
            [self.month],
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
                ($period, $team, $recipient, $sha, $status, $mid, $att, $now,
                 CASE WHEN $status = 'sent' THEN $now END, $run, $error)
            ON CONFLICT (period, team, recipient, pdf_sha256) DO UPDATE SET
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
                "status": status,
                "mid": message_id,
                "att": int(attempt),
                "now": now,
                "run": self.run_id,
                "error": error,
            },
        )


def _decide(rows: pd.DataFrame, d: Delivery, resend: bool) -> tuple[str, str]:
    """What to do for one delivery given its ledger rows: (action, reason)."""
    mine = rows[(rows.team == d.team) & (rows.recipient == d.recipient)]
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
    deliveries, nobody = plan(settings, month)
    report = DeliveryReport(month, transport.describe(), no_recipients=nobody)
    decided = []
    with Ledger.open(settings.warehouse_path, month, run_id) as ledger:
        rows = ledger.rows()
        for d in deliveries:
            if not d.sha256:
                error = f"no scorecard {d.pdf}: materialize team_scorecards for {month} first"
                ledger.write(d, FAILED, error=error)
                report.outcomes.append(Outcome(d, FAILED, error=error))
                continue
            forced = RESEND_ALL in resend or d.team in resend
            action, reason = _decide(rows, d, forced)
            if action == HELD:
                ledger.write(d, HELD, error=reason)
            if action != "send":
                report.outcomes.append(Outcome(d, action, error=reason))
                continue
            decided.append(d)
    if not decided:
        transport.close()
        return report

    # Read (read-only) before the ledger is opened again for writing: DuckDB allows one
    # configuration per file and process.
    summaries = _summaries(settings, month, {d.team for d in decided})
    builder = builder or MailBuilder()
    envelope_from = envelope_address(sender.address)
    broken: str | None = None  # set when the connection itself cannot be had
    try:
        with Ledger.open(settings.warehouse_path, month, run_id) as ledger:
            for d in decided:
                if broken:
                    error = f"not attempted: {broken}"
                    ledger.write(d, FAILED, error=error)
                    report.outcomes.append(Outcome(d, NOT_ATTEMPTED, error=error))
                    continue
                outcome = _send_one(
                    d, summaries[d.team], transport, sender, envelope_from, builder, ledger, sleep
                )
                report.outcomes.append(outcome)
                if outcome.status == FAILED and outcome.error.startswith("connection: "):
                    broken = outcome.error.removeprefix("connection: ")
    finally:
        transport.close()
    return report


def _send_one(
    d: Delivery,
    summary: MailSummary,
    transport: Transport,
    sender: Sender,
    envelope_from: str,
    builder: MailBuilder,
    ledger: Ledger,
    sleep: Callable[[float], None],
) -> Outcome:
    mid = message_id(f"{d.period}|{d.team}|{d.recipient}|{d.sha256}", sender.address)
    try:
        msg = builder.scorecard(
            summary,
            d.pdf.read_bytes(),
            sender=sender.address,
            reply_to=sender.reply_to,
            to=d.recipient,
            msg_id=mid,
        )
    except Exception as exc:  # noqa: BLE001 - one recipient's failure must not stop the others
        error = f"cannot build the message: {type(exc).__name__}: {exc}"
        ledger.write(d, FAILED, message_id=mid, error=error)
        return Outcome(d, FAILED, 0, mid, error)
    attempts = 0
    while True:
        attempts += 1
        ledger.write(d, SENDING, message_id=mid, attempt=True)
        try:
            transport.send(msg, envelope_from, [d.recipient], _outbox_name(d))
        except SendError as exc:
            error = str(exc)
            retry = exc.transient and attempts < sender.max_attempts
            log.warning(
                "%s → %s, attempt %d: %s%s",
                d.team,
                d.recipient,
                attempts,
                error,
                " (will retry)" if retry else "",
            )
            if not retry:
                if exc.connection:
                    error = f"connection: {error}"
                ledger.write(d, FAILED, error=error)
                return Outcome(d, FAILED, attempts, mid, error)
            ledger.write(d, FAILED, error=error)
            sleep(sender.wait(attempts))
            continue
        ledger.write(d, SENT)
        return Outcome(d, SENT, attempts, mid)


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
