"""Who is due which scorecard of a month, and which of them a run sends.

A run sends what the ledger does not record as sent (scorecards/delivery/ledger.py); `resend` and
`confirm_sent` name teams, "overview", recipients' addresses or "*" for all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass

import pandas as pd

from scorecards.config.settings import Settings
from scorecards.delivery.ledger import (
    CONFIRMED,
    DOUBTFUL,
    FAILED,
    IN_DOUBT,
    SEND,
    SENT,
    Delivery,
    Outcome,
    decide,
    same_version,
    sending_doubt,
)
from scorecards.render.batch import OVERVIEW, scorecard_dir
from scorecards.render.content import read_record

RESEND_ALL = "*"


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


def targets(d: Delivery, names: Collection[str]) -> bool:
    """Whether a resend/confirm_sent list names this delivery: '*', its team, or its address."""
    lowered = {n.lower() for n in names}
    return RESEND_ALL in names or d.team in names or d.recipient.lower() in lowered


def split(
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
        if targets(d, confirm):
            this = mine[same_version(mine, d)]
            if this.status.isin(DOUBTFUL).any() and not (this.status == SENT).any():
                mid = str(this[this.status.isin(DOUBTFUL)].message_id.iloc[0] or "")
                skipped.append(Outcome(d, CONFIRMED, message_id=mid))
                continue
        action, reason = decide(mine, d, targets(d, resend))
        if action == SEND or (action == IN_DOUBT and sending_doubt(mine, d)):
            # A `sending` row may be another run's message on its way right now: that is
            # decided in the claim, under the team's send lock, once the other run has recorded
            # its outcome (already sent), or has died without recording it (in doubt).
            due.append(d)
        else:
            skipped.append(Outcome(d, action, error=reason))
    return due, skipped


def check_names(settings: Settings, names: Collection[str], what: str) -> None:
    known = {*settings.teams, OVERVIEW, RESEND_ALL}
    unknown = sorted(n for n in set(names) - known if "@" not in n)
    if unknown:
        raise ValueError(
            f"{what} names unknown team(s) {', '.join(unknown)}; known: "
            f"{', '.join(sorted(known))}, or a recipient's address"
        )
