"""Mail building: the monthly scorecard message and the admin alerts, as `EmailMessage` objects.

Nothing here opens a connection (that is `scorecards.delivery.smtp`) or decides who is due a message
(`scorecards.delivery.send`). A message says the month in three parts, in the team's language: the
subject with the status ("Abrechnung, November 2026: 2 von 8 Zielen verfehlt, CSAT gesunken"),
the "what needs attention" sentences (`scorecards.report.attention`), and every headline KPI against its
target with its change against last month (never "better"/"worse" for a change the test calls
noise); then the analysts' manual note, if any. Plain text with an HTML alternative; the team's
PDF is attached as `Scorecard_<Team>_<YYYY-MM>.pdf`. Reply-To: the configured one, else the
admins (`default_reply_to`), so "just reply" reaches someone.

Header values pass through `header_text`, which turns CR, LF and every other control character
into a space, so a team name or a note can never start a header line of its own (no added
`Bcc:`); the body escapes them in HTML through Jinja's autoescape.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr
from pathlib import Path

import jinja2
import pandas as pd

from scorecards.contract.kpi_catalog import (
    ALL_TEAMS,
    KPI_BY_ID,
    LOW_SAMPLE_N,
    reason_text,
)
from scorecards.core import package_files
from scorecards.report.attention import overview_subject_status, quiet_sentence, subject_status
from scorecards.report.data import MonthData, OverviewReport, TeamReport
from scorecards.text import formatting as fmt

TEMPLATE_DIR = package_files.MAIL_TEMPLATES_DIR
# every headline KPI (the team's 3-5; the overview's columns)
HEADLINE_IN_MAIL = 8

T: dict[str, dict[str, str]] = {
    "de": {
        "subject": "Service-Scorecard {month}: {team}",
        "status_subject": "{team}, {month}: {status}",
        "attention": "Was Aufmerksamkeit braucht",
        "at_most": "höchstens ",
        "target_unjudged": "Ziel {v}, bei so wenigen Fällen nicht beurteilt",
        "overview_name": "Übersicht aller Teams",
        "overview_file": "Uebersicht",
        "greeting": "Guten Tag,",
        "intro": "anbei die Service-Scorecard für {team}, {month}.",
        "overview_intro": "anbei die Übersicht aller Service-Teams für {month}.",
        "at_a_glance": "Kennzahlen gegen Ziel",
        "vs_prev": "ggü. Vormonat",
        "note": "Hinweis",
        "manual_note": "Anmerkung aus dem Analytics-Team",
        "low_sample": "n = {n}, wenig belastbar",
        "details": "Zielwerte, Vorjahr, Stichprobengrößen und Konfidenzintervalle stehen im "
        "angehängten PDF ({file}).",
        "questions": "Fragen zu den Zahlen? Antworten Sie einfach auf diese E-Mail.",
        "signature": "Service Scorecards (automatisch erstellt)",
        "alert_subject": "[Service Scorecards] {what}",
    },
    "en": {
        "subject": "Service scorecard {month}: {team}",
        "status_subject": "{team}, {month}: {status}",
        "attention": "What needs attention",
        "at_most": "at most ",
        "target_unjudged": "target {v}, not judged on so few cases",
        "overview_name": "All teams overview",
        "overview_file": "Overview",
        "greeting": "Hello,",
        "intro": "attached is the service scorecard for {team}, {month}.",
        "overview_intro": "attached is the overview of all service teams for {month}.",
        "at_a_glance": "KPIs against target",
        "vs_prev": "vs last month",
        "note": "Note",
        "manual_note": "Note from the analytics team",
        "low_sample": "n = {n}, low sample",
        "details": "Targets, last year, sample sizes and confidence intervals are in the "
        "attached PDF ({file}).",
        "questions": "Questions about the numbers? Just reply to this e-mail.",
        "signature": "Service Scorecards (generated automatically)",
        "alert_subject": "[Service Scorecards] {what}",
    },
}

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


def header_text(text: str, limit: int = 200) -> str:
    """One line of header text: control characters (CR and LF above all) become a space."""
    one_line = " ".join(_CONTROL.sub(" ", text).split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def file_part(text: str) -> str:
    """A name as it can stand in a file name on every system: ASCII letters, digits, - and _."""
    text = text.translate(str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe"}))
    text = text.translate(str.maketrans({"Ü": "Ue", "ß": "ss", "&": "und"}))
    ascii_ = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9-]+", "_", ascii_).strip("_") or "Team"


def attachment_name(display_name: str, month: str) -> str:
    return f"Scorecard_{file_part(display_name)}_{month}.pdf"


def message_id(key: str, sender: str) -> str:
    """A Message-ID that is a function of the delivery (`key`): a retry carries the same id, so
    a receiving system that sees the message twice can tell."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "scorecards.invalid"
    return f"<scorecard.{hashlib.sha256(key.encode('utf-8')).hexdigest()[:40]}@{domain}>"


@dataclass(frozen=True)
class HeadlineKpi:
    label: str
    value: str
    change: str  # "−3,0 Min. ggü. Vormonat, besser"; "" when there is no previous month
    arrow: str
    low_sample: str  # "n = 12, wenig belastbar" below the sample threshold, else ""
    reason: str = ""  # why there is no value: "keine Umfrageantworten in den Daten"; else ""
    target: str = ""  # "✗ Ziel verfehlt: 82,0 %", "✓ target met: at most 60.0 min"; "" = none
    missed: bool = False  # the target is missed (as the tile says)


@dataclass(frozen=True)
class MailSummary:
    """What a scorecard e-mail says about its PDF."""

    name: str  # team id, or "overview"
    display_name: str
    locale: str
    month: str
    headline: list[HeadlineKpi] = field(default_factory=list)
    note: str = ""
    note_is_manual: bool = False
    status: str = ""  # for the subject: "2 von 8 Zielen verfehlt, CSAT gesunken"; "" = none
    attention: list[str] = field(default_factory=list)  # what needs attention, at most 3


def _headline(rows: pd.DataFrame, kpis: Sequence[str], locale: str) -> list[HeadlineKpi]:
    """The first HEADLINE_IN_MAIL of `kpis` that have a row in `rows` (this month's KPI rows by
    id), each against its target and last month, judged as the tiles judge them."""
    t = T[locale]
    out = []
    for kpi in [k for k in kpis if k in rows.index][:HEADLINE_IN_MAIL]:
        row = rows.loc[kpi]
        value = _float(row.get("value"))
        sig = row.get("change_significant")
        sig = None if sig is None or pd.isna(sig) else bool(sig)
        ch = fmt.change(kpi, value, _float(row.get("prev_value")), locale, significant=sig)
        change = ""
        if ch["judgement"] or ch["arrow"]:
            verdict = ch["judgement"]
            change = f"{ch['text']} {t['vs_prev']}" + (f", {verdict}" if verdict else "")
        n = _float(row.get("n"))
        reason = "" if math.isfinite(value) else reason_text(row.get("no_data_reason"), locale)
        low = (
            t["low_sample"].format(n=fmt.count(n, locale))
            if math.isfinite(n) and n < LOW_SAMPLE_N and not reason
            else ""
        )
        target = _float(row.get("target"))
        # As on the tile: too few cases to say met or missed.
        status = "" if low else fmt.target_status(kpi, value, target)
        target_text = ""
        if low and math.isfinite(target):
            at_most = t["at_most"] if KPI_BY_ID[kpi].better == "lower" else ""
            target_text = t["target_unjudged"].format(
                v=at_most + fmt.kpi_value(kpi, target, locale)
            )
        elif status:
            at_most = t["at_most"] if KPI_BY_ID[kpi].better == "lower" else ""
            target_text = (
                f"{fmt.status_text(status, locale)}: {at_most}{fmt.kpi_value(kpi, target, locale)}"
            )
        out.append(
            HeadlineKpi(
                label=fmt.kpi_label(kpi, locale),
                value=fmt.kpi_value(kpi, value, locale),
                change=change,
                arrow=ch["arrow"],
                low_sample=low,
                reason=reason,
                target=target_text,
                missed=status == "missed",
            )
        )
    return out


def _float(x: object) -> float:
    try:
        return math.nan if x is None or pd.isna(x) else float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _manual(notes: Sequence) -> tuple[str, bool]:
    """The first manual note: the attention sentences say what the generated notes would."""
    first = next((n for n in notes if getattr(n, "manual", False)), None)
    return (first.text, True) if first else ("", False)


def team_summary(report: TeamReport) -> MailSummary:
    note, manual = _manual(report.notes)
    status = getattr(report, "status", None)
    attention = list(getattr(report, "attention", []) or [])
    if status is not None and not attention:
        attention = [quiet_sentence(status, report.locale)]
    return MailSummary(
        name=report.team_id,
        display_name=report.team_name,
        locale=report.locale,
        month=report.month,
        headline=_headline(report.current(), report.headline, report.locale),
        note=note,
        note_is_manual=manual,
        status=subject_status(status, report.locale) if status is not None else "",
        attention=attention,
    )


def overview_summary(o: OverviewReport, data: MonthData, name: str) -> MailSummary:
    """The teams that need attention (one line each), the company figures of the overview's
    KPIs against their targets, and the first manual note for all teams."""
    company = data.kpis[data.kpis.team == ALL_TEAMS]
    current = company[company.period == o.month].set_index("kpi")
    note, manual = _manual(o.notes)
    attention = [a.text for a in getattr(o, "attention", [])]
    statuses = list(getattr(o, "statuses", []))
    if statuses and not attention:
        attention = [overview_subject_status(statuses, o.locale) + "."]
        attention[0] = attention[0][0].upper() + attention[0][1:]
    return MailSummary(
        name=name,
        display_name=T[o.locale]["overview_name"],
        locale=o.locale,
        month=o.month,
        headline=_headline(current, o.columns, o.locale),
        note=note,
        note_is_manual=manual,
        status=overview_subject_status(statuses, o.locale) if statuses else "",
        attention=attention,
    )


def default_reply_to(configured: str | None, admins: Sequence[str]) -> str | None:
    """The Reply-To of the scorecard e-mails: the configured one (SMTP_REPLY_TO), else the
    admins of `delivery.admins`, so that "just reply to this e-mail" reaches someone."""
    if configured and configured.strip():
        return configured.strip()
    return ", ".join(a for a in admins if a.strip()) or None


class MailBuilder:
    """Compiled mail templates: plain text (no escaping) and HTML (autoescaped)."""

    def __init__(self, template_dir: Path = TEMPLATE_DIR) -> None:
        loader = jinja2.FileSystemLoader(template_dir)
        self.text = jinja2.Environment(
            loader=loader,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
        )
        self.html = jinja2.Environment(
            loader=loader, autoescape=True, undefined=jinja2.StrictUndefined
        )

    def scorecard(
        self,
        summary: MailSummary,
        pdf: bytes,
        *,
        sender: str,
        to: str,
        msg_id: str,
        reply_to: str | None = None,
        date: dt.datetime | None = None,
    ) -> EmailMessage:
        t = T[summary.locale]
        month = fmt.month_name(summary.month, summary.locale)
        filename = attachment_name(
            t["overview_file"] if summary.name == "overview" else summary.display_name,
            summary.month,
        )
        context = {
            "t": t,
            "s": summary,
            "team": header_text(summary.display_name),
            "month": month,
            "file": filename,
            "intro": (t["overview_intro"] if summary.name == "overview" else t["intro"]).format(
                team=header_text(summary.display_name), month=month
            ),
        }
        msg = _envelope(sender, [to], reply_to, msg_id, date)
        if summary.status:
            subject = t["status_subject"].format(
                team=summary.display_name, month=month, status=summary.status
            )
        else:
            subject = t["subject"].format(month=month, team=summary.display_name)
        msg["Subject"] = header_text(subject)
        msg.set_content(self.text.get_template("scorecard.txt.j2").render(context))
        msg.add_alternative(
            self.html.get_template("scorecard.html.j2").render(context), subtype="html"
        )
        msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
        # after the parts: setting content moves or drops Content-* headers
        msg["Content-Language"] = summary.locale
        return msg

    def alert(
        self,
        what: str,
        lines: Sequence[str],
        *,
        sender: str,
        to: Sequence[str],
        msg_id: str,
        locale: str = "en",
        date: dt.datetime | None = None,
    ) -> EmailMessage:
        """A plain-text alert for the admins: one line of subject, the details as lines."""
        msg = _envelope(sender, list(to), None, msg_id, date)
        msg["Subject"] = header_text(T[locale]["alert_subject"].format(what=what))
        msg.set_content(
            self.text.get_template("alert.txt.j2").render({"what": what, "lines": list(lines)})
        )
        return msg


def _envelope(
    sender: str,
    to: list[str],
    reply_to: str | None,
    msg_id: str,
    date: dt.datetime | None,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = _address_header(sender)
    msg["To"] = tuple(_address_header(a) for a in to)
    if reply_to:
        # one address or several, comma-separated (the admins)
        msg["Reply-To"] = _address_list(reply_to)
    msg["Date"] = format_datetime(date or dt.datetime.now(dt.UTC))
    msg["Message-ID"] = msg_id
    msg["Auto-Submitted"] = "auto-generated"
    return msg


def _address_header(value: str) -> Address:
    """One address (optionally with a display name), refusing anything that is not exactly one."""
    parsed = getaddresses([header_text(value)])
    if len(parsed) != 1 or "@" not in parsed[0][1]:
        raise ValueError(f"not a single e-mail address: {value!r}")
    name, addr = parsed[0]
    local, _, domain = addr.rpartition("@")
    return Address(display_name=name, username=local, domain=domain)


def _address_list(value: str) -> tuple[Address, ...]:
    """One or more addresses, comma-separated (quoted display names may hold commas)."""
    out = []
    for name, addr in getaddresses([header_text(value)]):
        if "@" not in addr:
            raise ValueError(f"not an e-mail address list: {value!r}")
        local, _, domain = addr.rpartition("@")
        out.append(Address(display_name=name, username=local, domain=domain))
    if not out:
        raise ValueError(f"not an e-mail address list: {value!r}")
    return tuple(out)


def envelope_address(value: str) -> str:
    """The bare address of a header value ("Name <a@b>" → "a@b"), for the SMTP envelope."""
    return _address_header(value).addr_spec
