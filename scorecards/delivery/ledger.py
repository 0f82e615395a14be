"""The delivery ledger: which scorecard version each recipient was sent, and what to do next.

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
- otherwise the message is sent (scorecards/delivery/send.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from scorecards.config.environment import WarehouseTarget, as_target
from scorecards.warehouse.connection import connect
from scorecards.warehouse.locks import named_lock
from scorecards.warehouse.transactions import transaction, write_transaction

Clock = Callable[[], dt.datetime]

# Ledger states
SENT, SENDING, FAILED, HELD, IN_DOUBT = "sent", "sending", "failed", "held", "in_doubt"
# Outcomes of one run that are not ledger states
ALREADY_SENT, NOT_ATTEMPTED, CONFIRMED = "already_sent", "not_attempted", "confirmed"
DOUBTFUL = (SENDING, IN_DOUBT)
# What `decide` returns for a delivery that is due
SEND = "send"


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
# (`named_lock`), taken before the lake is opened: the steps of one month's ledger are
# serialised as on the DuckDB file, and each starts from a snapshot that includes the
# previous step's commit. Ledger writes of *other* months can still conflict with ours inside
# DuckLake (same table); those are retried whole by `write_transaction`, which reads and
# decides again. An advisory lock rather than a ledger table in PostgreSQL: the ledger stays
# in the warehouse with the same SQL and the same dump on both backends, and the lock dies with
# the session of a crashed run (a `sending` row it leaves is reported in doubt, as before).
#
# On both backends claim, send and record of one team's messages also hold `send_lock`
# (month, channel, team): a second run that starts at the same time waits for the first one's
# outcome instead of reporting its `sending` row as in doubt, then finds it `already_sent`.
SEND_LOCK_WAIT_S = 1800.0


def send_lock(
    where: WarehouseTarget | Path, month: str, channel: str, team: str
) -> contextlib.AbstractContextManager[None]:
    """The lock held while one of `team`'s messages of `month` is claimed, sent and recorded."""
    return named_lock(where, f"delivery|{month}|{channel}|{team}", SEND_LOCK_WAIT_S)


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
        where: WarehouseTarget | Path,
        month: str,
        run_id: str,
        channel: str,
        clock: Clock = utc_now,
    ) -> Iterator[Ledger]:
        target = as_target(where)
        with contextlib.ExitStack() as stack:
            if target.kind == "ducklake":
                # before the lake is opened: see the comment above `send_lock`
                stack.enter_context(
                    named_lock(target, f"ledger|{month}|{channel}", SEND_LOCK_WAIT_S)
                )
            con = stack.enter_context(connect(target))
            yield cls(con, month, run_id, channel, clock)

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

        write_transaction(self.con, write, f"delivery ledger {d.period} {d.team}")

    def adopt(self, deliveries: Collection[Delivery]) -> None:
        """Rows without a content hash (from before content hashes were recorded) that name a
        PDF of the plan by its bytes take on that PDF's content hash: from then on they match
        the scorecard whatever its bytes."""

        def write() -> None:
            for team, d in {d.team: d for d in deliveries if d.content}.items():
                self.con.execute(
                    "UPDATE delivery_ledger SET content_sha256 = ? WHERE period = ? "
                    "AND team = ? AND channel = ? AND pdf_sha256 = ? AND content_sha256 IS NULL",
                    [d.content, self.month, team, self.channel, d.sha256],
                )

        write_transaction(self.con, write, f"delivery ledger {self.month}")

    def claim(self, d: Delivery, release: bool, message_id: str) -> Outcome | None:
        """Decide again from the ledger as it is now and, if the message is still due, set the
        row to `sending` (committed) before it goes out. Returns the outcome when it is not due
        any more (sent or claimed by another run meanwhile)."""
        with transaction(self.con):
            action, reason = decide(self.rows_for(d), d, release)
            if action != SEND:
                return Outcome(d, action, error=reason)
        self.write(d, SENDING, message_id=message_id, attempt=True)
        return None


def same_version(mine: pd.DataFrame, d: Delivery) -> pd.Series:
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


def sending_doubt(mine: pd.DataFrame, d: Delivery) -> bool:
    """Whether this version's doubt is a `sending` row (claimed, outcome not recorded yet)."""
    this = mine[same_version(mine, d)]
    doubtful = this[this.status.isin(DOUBTFUL)]
    return bool(len(doubtful)) and doubtful.iloc[0].status == SENDING


def decide(mine: pd.DataFrame, d: Delivery, release: bool) -> tuple[str, str]:
    """What to do for one delivery given its ledger rows (`mine`): (action, reason)."""
    same = same_version(mine, d)
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
    return SEND, ""
