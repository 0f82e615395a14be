"""Delivery: who is due which scorecard this month, sending each exactly once, and the ledger.

The ledger (`delivery_ledger` in the warehouse) has one row per month, team, recipient, scorecard
version and channel (SMTP or the file outbox, kept apart). A version is what the scorecard says:
the content hash rendering writes next to each PDF (scorecards/render/content.py), so a PDF whose bytes
differ only incidentally (another font subsetter, another WeasyPrint) is the same version. A PDF
without a content record matches by its bytes. A run sends only what the ledger does not record
as sent:

- this version already sent to the recipient: nothing happens (a re-run sends nothing new);
- this version in doubt (`in_doubt`: the server got the message but never confirmed it; or
  `sending` left by a run that crashed mid-send): it may have been delivered, so it is reported
  and never sent again automatically; `resend` sends it again, `confirm_sent` records it as sent;
- the recipient got an earlier version (the data was corrected after sending): this version is
  recorded as `held`, not delivered, unless the run asks to re-send the team;
- otherwise the message is sent. Each attempt is claimed in a short transaction of its own (the
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

from scorecards.config.settings import Settings
from scorecards.delivery.mail import (
    MailBuilder,
    MailSummary,
    envelope_address,
    message_id,
    overview_summary,
)
from scorecards.delivery.mail import team_summary as _team_summary
from scorecards.delivery.smtp import SendError, Transport
from scorecards.notes.rules import load_manual_notes
from scorecards.render.content import read_record
from scorecards.render.publish import OVERVIEW, scorecard_dir
from scorecards.report.data import load_month, overview_report, team_report
from scorecards.warehouse import store as warehouse
from scorecards.warehouse.teams import for_month

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]

# Ledger states
SENT, SENDING, FAILED, HELD, IN_DOUBT = "sent", "sending", "failed", "held", "in_doubt"
# Outcomes of one run that are not ledger states
ALREADY_SENT, NOT_ATTEMPTED, CONFIRMED = "already_sent", "not_attempted", "confirmed"
RESEND_ALL = "*"
DOUBTFUL = (SENDING, IN_DOUBT)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Delivery:
    period: str
    team: str  # team id, or "overview"
    recipient: str
    pdf: Path
    sha256: str  # the PDF's bytes; "" when the PDF is missing
    content: str = ""  # what the scorecard says (scorecards/render/content.py); "" when unknown

    @property
    def version(self) -> str:
        """The scorecard version this delivery is about: its content, else its bytes."""
        return self.content or self.sha256


@dataclass
class Outcome:
    delivery: Delivery
    status: str  # sent, already_sent, held, failed, in_doubt, not_attempted, confirmed
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


@dataclass
class Plan:
    deliveries: list[Delivery]
    no_recipients: list[str]  # teams (or "overview") without recipients
    pdfs: dict[str, bytes]  # team -> the PDF's bytes, read once: what is hashed is what is sent


def plan(settings: Settings, month: str) -> Plan:
    """Every (team, recipient) due the month's scorecard, with the PDF as it is on disk now and
    its content hash from the record rendering wrote next to it (if it matches these bytes).
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
        sha = content = ""
        if pdf.exists():
            out.pdfs[team] = pdf.read_bytes()
            sha = hashlib.sha256(out.pdfs[team]).hexdigest()
            record = read_record(pdf, sha)
            content = record["content_sha256"] if record else ""
        # A recipient listed twice for one team (in any spelling of case) gets one message.
        seen: set[str] = set()
        for r in recipients:
            if r.lower() not in seen:
                seen.add(r.lower())
                out.deliveries.append(Delivery(month, team, r, pdf, sha, content))
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


_COLUMNS = (
    "period, team, recipient, pdf_sha256, channel, status, message_id, attempts, updated_at, "
    "sent_at, run_id, error, content_sha256"
)


# Exactly once on both warehouse backends (docs/delivery.md, "Two runs at once"):
#
# DuckDB file: opening the warehouse for writing takes DuckDB's single-writer lock, so every
# ledger step (read and claim, record an outcome) of every run is alone on the ledger.
#
# DuckLake: any number of processes write at once, the lake has no PRIMARY KEY to stop two
# inserts of one row, and both of two concurrent claims of one message could commit. So each
# ledger step holds a PostgreSQL advisory lock per (month, channel) in the catalog database
# (`warehouse.named_lock`), taken before the lake is opened: the steps of one month's ledger
# are serialised as on the DuckDB file, and each starts from a snapshot that includes the
# previous step's commit. Ledger writes of *other* months can still conflict with ours inside
# DuckLake (same table); those are retried whole by `warehouse.write_transaction`, which reads
# and decides again. An advisory lock rather than a ledger table in PostgreSQL: the ledger stays
# in the warehouse with the same SQL and the same dump on both backends, and the lock dies with
# the session of a crashed run (a `sending` row it leaves is reported in doubt, as before).
#
# On both backends claim, send and record of one team's messages also hold `send_lock`
# (month, channel, team): a second run that starts at the same time waits for the first one's
# outcome instead of reporting its `sending` row as in doubt, then finds it `already_sent`.
SEND_LOCK_WAIT_S = 1800.0


def send_lock(
    where: warehouse.WarehouseTarget | Path, month: str, channel: str, team: str
) -> contextlib.AbstractContextManager[None]:
    """The lock held while one of `team`'s messages of `month` is claimed, sent and recorded."""
    return warehouse.named_lock(where, f"delivery|{month}|{channel}|{team}", SEND_LOCK_WAIT_S)


class Ledger:
    """The delivery ledger's rows for one month and channel, on a connection that is open only
    for a short step (read and claim, or record an outcome): DuckDB's write lock is never held
    while a message is on its way."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        month: str,
        run_id: str,
        channel: str,
        clock: Clock = utc_now,
    ) -> None:
        self.con, self.month, self.run_id, self.channel = con, month, run_id, channel
        self.clock = clock

    @classmethod
    @contextlib.contextmanager
    def open(
        cls,
        where: warehouse.WarehouseTarget | Path,
        month: str,
        run_id: str,
        channel: str,
        clock: Clock = utc_now,
    ) -> Iterator[Ledger]:
        target = warehouse.as_target(where)
        with contextlib.ExitStack() as stack:
            if target.kind == "ducklake":
                # before the lake is opened: see the comment above `send_lock`
                stack.enter_context(
                    warehouse.named_lock(target, f"ledger|{month}|{channel}", SEND_LOCK_WAIT_S)
                )
            con = stack.enter_context(warehouse.connect(target))
            yield cls(con, month, run_id, channel, clock)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def rows(self) -> pd.DataFrame:
        """The month's rows for this channel: a message written to the file outbox is not one
        delivered by the SMTP server, and the other way round."""
        return self.con.execute(
            f"SELECT {_COLUMNS} FROM delivery_ledger WHERE period = ? AND channel = ? "
            "ORDER BY team, recipient",
            [self.month, self.channel],
        ).df()

    def rows_for(self, d: Delivery) -> pd.DataFrame:
        """One recipient's rows for one team (the address compared without case)."""
        return self.con.execute(
            f"SELECT {_COLUMNS} FROM delivery_ledger WHERE period = ? AND channel = ? "
            "AND team = ? AND lower(recipient) = lower(?)",
            [self.month, self.channel, d.team, d.recipient],
        ).df()

    def _version_row(self, d: Delivery) -> tuple[int, str, str] | None:
        """(rowid, recipient, pdf_sha256) of the row about this delivery's version: the same
        content, or (for rows and PDFs without a content hash) the same PDF bytes."""
        got = self.con.execute(
            """
            SELECT rowid, recipient, pdf_sha256 FROM delivery_ledger
            WHERE period = $period AND channel = $channel AND team = $team
              AND lower(recipient) = lower($recipient)
              AND (content_sha256 = nullif($content, '') OR pdf_sha256 = $sha)
            ORDER BY coalesce(content_sha256 = nullif($content, ''), false) DESC,
                     updated_at DESC
            LIMIT 1
            """,
            {
                "period": d.period,
                "channel": self.channel,
                "team": d.team,
                "recipient": d.recipient,
                "content": d.content,
                "sha": d.sha256,
            },
        ).fetchone()
        return (int(got[0]), str(got[1]), str(got[2])) if got else None

    def write(
        self,
        d: Delivery,
        status: str,
        *,
        message_id: str = "",
        attempt: bool = False,
        error: str = "",
    ) -> None:
        """Record `status` for this delivery's version (one transaction, committed)."""
        now = self.clock()
        values = {
            "status": status,
            "mid": message_id,
            "att": int(attempt),
            "now": now,
            "run": self.run_id,
            "error": error,
            "content": d.content,
        }

        def write() -> None:
            row = self._version_row(d)
            if row is None:
                self.con.execute(
                    f"""
                    INSERT INTO delivery_ledger ({_COLUMNS}) VALUES
                        ($period, $team, $recipient, $sha, $channel, $status, $mid, $att, $now,
                         CASE WHEN $status = 'sent' THEN $now END, $run, $error,
                         nullif($content, ''))
                    """,
                    values
                    | {
                        "period": d.period,
                        "team": d.team,
                        "recipient": d.recipient,
                        "sha": d.sha256,
                        "channel": self.channel,
                    },
                )
                return
            rowid, recipient, pdf = row
            # The PDF attached last, unless another row of this recipient already names it.
            taken = (
                pdf != d.sha256
                and self.con.execute(
                    "SELECT count(*) FROM delivery_ledger WHERE period = ? AND team = ? "
                    "AND recipient = ? AND channel = ? AND pdf_sha256 = ?",
                    [d.period, d.team, recipient, self.channel, d.sha256],
                ).fetchone()[0]
            )
            self.con.execute(
                """
                UPDATE delivery_ledger SET
                    status = $status,
                    message_id = coalesce(nullif($mid, ''), message_id),
                    attempts = attempts + $att,
                    updated_at = $now,
                    sent_at = CASE WHEN $status = 'sent' THEN $now ELSE sent_at END,
                    run_id = $run,
                    error = $error,
                    content_sha256 = coalesce(nullif($content, ''), content_sha256),
                    pdf_sha256 = $pdf
                WHERE rowid = $rowid
                """,
                values | {"rowid": rowid, "pdf": pdf if taken else d.sha256},
            )

        warehouse.write_transaction(self.con, write, f"delivery ledger {d.period} {d.team}")

    def adopt(self, p: Plan) -> None:
        """Rows without a content hash (from before content hashes were recorded) that name a
        PDF of the plan by its bytes take on that PDF's content hash: from then on they match
        the scorecard whatever its bytes."""

        def write() -> None:
            for team, d in {d.team: d for d in p.deliveries if d.content}.items():
                self.con.execute(
                    "UPDATE delivery_ledger SET content_sha256 = ? WHERE period = ? "
                    "AND team = ? AND channel = ? AND pdf_sha256 = ? AND content_sha256 IS NULL",
                    [d.content, self.month, team, self.channel, d.sha256],
                )

        warehouse.write_transaction(self.con, write, f"delivery ledger {self.month}")

    def claim(self, d: Delivery, release: bool, message_id: str) -> Outcome | None:
        """Decide again from the ledger as it is now and, if the message is still due, set the
        row to `sending` (committed) before it goes out. Returns the outcome when it is not due
        any more (sent or claimed by another run meanwhile)."""
        with self.transaction():
            action, reason = _decide(self.rows_for(d), d, release)
            if action != "send":
                return Outcome(d, action, error=reason)
        self.write(d, SENDING, message_id=message_id, attempt=True)
        return None


def _same_version(mine: pd.DataFrame, d: Delivery) -> pd.Series:
    same = mine.pdf_sha256 == d.sha256
    if d.content:
        same |= mine.content_sha256.fillna("") == d.content
    return same


def doubt_text(d: Delivery, mid: str, why: str) -> str:
    """What an in-doubt delivery means and what to do about it."""
    return (
        f"in doubt: {why}. The message may have been delivered, so it is not sent again "
        f"automatically. Check {d.recipient}'s mailbox or the mail server's log for Message-ID "
        f"{mid}; then release it with the run config confirm_sent: ['{d.recipient}'] if it "
        f"arrived, or resend: ['{d.recipient}'] if it did not (docs/delivery.md, In doubt)"
    )


def _sending(mine: pd.DataFrame, d: Delivery) -> bool:
    """Whether this version's doubt is a `sending` row (claimed, outcome not recorded yet)."""
    this = mine[_same_version(mine, d)]
    doubtful = this[this.status.isin(DOUBTFUL)]
    return bool(len(doubtful)) and doubtful.iloc[0].status == SENDING


def _decide(mine: pd.DataFrame, d: Delivery, release: bool) -> tuple[str, str]:
    """What to do for one delivery given its ledger rows (`mine`): (action, reason)."""
    same = _same_version(mine, d)
    this = mine[same]
    if (this.status == SENT).any():
        return ALREADY_SENT, ""
    doubtful = this[this.status.isin(DOUBTFUL)]
    if len(doubtful) and not release:
        row = doubtful.iloc[0]
        if row.status == SENDING:
            why = (
                f"run {row.run_id} started sending at {row.updated_at} and has not recorded the "
                "outcome (it crashed or was stopped, or it is still sending)"
            )
        else:
            why = f"run {row.run_id} at {row.updated_at}: {str(row.error).split('. ')[0]}"
        return IN_DOUBT, doubt_text(d, str(row.message_id or ""), why)
    older = mine[(mine.status == SENT) & ~same]
    if len(older) and not release:
        when = older.sent_at.max()
        return HELD, (
            f"scorecard changed after the version of {when} was sent (its data, notes or "
            "template differ); this version is not delivered unless the run is asked to "
            "re-send it (resend)"
        )
    return "send", ""


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


def _targets(d: Delivery, names: Collection[str]) -> bool:
    """Whether a resend/confirm_sent list names this delivery: '*', its team, or its address."""
    lowered = {n.lower() for n in names}
    return RESEND_ALL in names or d.team in names or d.recipient.lower() in lowered


def _split(
    rows: pd.DataFrame, p: Plan, resend: Collection[str], confirm: Collection[str]
) -> tuple[list[Delivery], list[Outcome]]:
    """The deliveries to send, and the outcomes of those that need no sending (missing PDF,
    already sent, held, in doubt, confirmed)."""
    due, skipped = [], []
    key = rows.recipient.astype(str).str.lower()
    for d in p.deliveries:
        if not d.sha256:
            error = f"no scorecard {d.pdf}: materialize team_scorecards for {d.period} first"
            skipped.append(Outcome(d, FAILED, error=error))
            continue
        mine = rows[(rows.team == d.team) & (key == d.recipient.lower())]
        if _targets(d, confirm):
            this = mine[_same_version(mine, d)]
            if this.status.isin(DOUBTFUL).any() and not (this.status == SENT).any():
                mid = str(this[this.status.isin(DOUBTFUL)].message_id.iloc[0] or "")
                skipped.append(Outcome(d, CONFIRMED, message_id=mid))
                continue
        action, reason = _decide(mine, d, _targets(d, resend))
        if action == "send" or (action == IN_DOUBT and _sending(mine, d)):
            # A `sending` row may be another run's message on its way right now: that is
            # decided in the claim, under the team's send lock, once the other run has recorded
            # its outcome (already sent), or has died without recording it (in doubt).
            due.append(d)
        else:
            skipped.append(Outcome(d, action, error=reason))
    return due, skipped


def _record_skipped(ledger: Ledger, skipped: list[Outcome], report: DeliveryReport) -> None:
    for o in skipped:
        if o.status in (FAILED, HELD):
            ledger.write(o.delivery, o.status, error=o.error)
        elif o.status == CONFIRMED:
            ledger.write(o.delivery, SENT, error=f"confirmed as delivered by run {ledger.run_id}")
        report.outcomes.append(o)


def _check_names(settings: Settings, names: Collection[str], what: str) -> None:
    known = {*settings.teams, OVERVIEW, RESEND_ALL}
    unknown = sorted(n for n in set(names) - known if "@" not in n)
    if unknown:
        raise ValueError(
            f"{what} names unknown team(s) {', '.join(unknown)}; known: "
            f"{', '.join(sorted(known))}, or a recipient's address"
        )


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
    _check_names(settings, resend, "resend")
    _check_names(settings, confirm_sent, "confirm_sent")
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
    path, channel = settings.warehouse, transport.channel

    @contextlib.contextmanager
    def ledger() -> Iterator[Ledger]:
        # a short step on the warehouse: opened, written, committed and closed again
        with Ledger.open(path, month, run_id, channel, clock) as led:
            yield led

    try:
        with ledger() as led:
            led.adopt(p)
            due, skipped = _split(led.rows(), p, resend, confirm_sent)
            _record_skipped(led, skipped, report)
        if not due:
            return report
        # The summaries read the warehouse read-only, which DuckDB allows only while this
        # process does not hold it open for writing.
        summaries = _summaries(settings, month, {d.team for d in due})
        builder = builder or MailBuilder()
        envelope_from = envelope_address(sender.address)
        broken: str | None = None
        streak = 0  # messages in a row that failed on transient errors or in doubt
        for d in due:
            if broken:
                error = f"not attempted: {broken}"
                with ledger() as led:
                    led.write(d, FAILED, error=error)
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
                _targets(d, resend),
                sleep,
                lambda team: send_lock(path, month, channel, team),
            )
            report.outcomes.append(outcome)
            bad = exc is not None and (exc.transient or exc.in_doubt)
            streak = streak + 1 if bad else 0
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
    ledger: Callable[[], contextlib.AbstractContextManager[Ledger]],
    release: bool,
    sleep: Callable[[float], None],
    lock: Callable[[str], contextlib.AbstractContextManager[None]] = lambda team: (
        contextlib.nullcontext()
    ),
) -> tuple[Outcome, SendError | None]:
    """Send one message with retries; the outcome, and the last error if it failed. The ledger
    is opened for each step and closed while the message is on its way; `lock(team)` is held
    from each claim until its outcome is recorded."""
    mid = _mid(d, sender)
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
        with ledger() as led:
            led.write(d, FAILED, message_id=mid, error=error)
        return Outcome(d, FAILED, 0, mid, error), SendError(error, transient=False)
    attempts = 0
    while True:
        # claim, send and record under the team's lock; the pause before a retry outside it
        with lock(d.team):
            with ledger() as led:
                gone = led.claim(d, release, mid)
            if gone is not None:  # sent, or claimed, by another run since this one looked
                gone.attempts, gone.message_id = attempts, mid
                return gone, None
            attempts += 1
            try:
                transport.send(msg, envelope_from, [d.recipient], _outbox_name(d))
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
        sleep(sender.wait(attempts))


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
