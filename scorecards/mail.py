"""Mail building: the monthly scorecard message and the admin alerts, as `EmailMessage` objects.

Nothing here opens a connection (that is `scorecards.smtp`) or decides who is due a message
(`scorecards.delivery`). A message says, in the team's language, which month it is about, the
three headline KPIs with their change against last month, and the first context note, in plain
text with an HTML alternative; the team's PDF is attached as `Scorecard_<Team>_<YYYY-MM>.pdf`.

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

from scorecards import formatting as fmt
from scorecards.kpi_catalog import ALL_TEAMS, LOW_SAMPLE_N, reason_text, without_absent_inputs
from scorecards.notes import context_notes
from scorecards.report_data import MonthData, OverviewReport, TeamReport

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "reports" / "templates" / "mail"
HEADLINE_IN_MAIL = 3

T: dict[str, dict[str, str]] = {
    "de": {
        "subject": "Service-Scorecard {month}: {team}",
        "overview_name": "Übersicht aller Teams",
        "overview_file": "Uebersicht",
        "greeting": "Guten Tag,",
        "intro": "anbei die Service-Scorecard für {team}, {month}.",
        "overview_intro": "anbei die Übersicht aller Service-Teams für {month}.",
        "at_a_glance": "Auf einen Blick",
        "vs_prev": "ggü. Vormonat",
        "noise": "im Rahmen der Zufallsschwankung",
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
        "overview_name": "All teams overview",
        "overview_file": "Overview",
        "greeting": "Hello,",
        "intro": "attached is the service scorecard for {team}, {month}.",
        "overview_intro": "attached is the overview of all service teams for {month}.",
        "at_a_glance": "At a glance",
        "vs_prev": "vs last month",
        "noise": "within normal variation",
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


def _headline(rows: pd.DataFrame, kpis: Sequence[str], locale: str) -> list[HeadlineKpi]:
    """The first three of `kpis` that have a row in `rows` (this month's KPI rows by id)."""
    t = T[locale]
    out = []
    for kpi in [k for k in kpis if k in rows.index][:HEADLINE_IN_MAIL]:
        row = rows.loc[kpi]
        value = float(row.value) if row.value is not None else math.nan
        ch = fmt.change(kpi, value, float(row.prev_value), locale)
        change = ""
        if ch["arrow"]:
            # A change the test cannot tell from noise is not called better or worse.
            sig = row.change_significant
            noise = not pd.isna(sig) and not bool(sig)
            verdict = t["noise"] if noise else ch["judgement"]
            change = f"{ch['text']} {t['vs_prev']}" + (f", {verdict}" if verdict else "")
        n = float(row.n) if row.n is not None else math.nan
        reason = "" if math.isfinite(value) else reason_text(row.get("no_data_reason"), locale)
        low = (
            t["low_sample"].format(n=fmt.count(n, locale))
            if math.isfinite(n) and n < LOW_SAMPLE_N and not reason
            else ""
        )
        out.append(
            HeadlineKpi(
                label=fmt.kpi_label(kpi, locale),
                value=fmt.kpi_value(kpi, value, locale),
                change=change,
                arrow=ch["arrow"],
                low_sample=low,
                reason=reason,
            )
        )
    return out


def team_summary(report: TeamReport) -> MailSummary:
    note = report.notes[0] if report.notes else None
    return MailSummary(
        name=report.team_id,
        display_name=report.team_name,
        locale=report.locale,
        month=report.month,
        headline=_headline(report.current(), report.headline, report.locale),
        note=note.text if note else "",
        note_is_manual=bool(note and note.manual),
    )


def overview_summary(o: OverviewReport, data: MonthData, name: str) -> MailSummary:
    """The company figures of the overview's first KPIs, and the first note for all teams."""
    company = data.kpis[data.kpis.team == ALL_TEAMS]
    manual = {ALL_TEAMS: [n.text for n in o.notes]}
    notes = context_notes(
        without_absent_inputs(company),
        ALL_TEAMS,
        o.month,
        o.locale,
        manual=manual,
        headline=o.columns,
    )
    current = company[company.period == o.month].set_index("kpi")
    return MailSummary(
        name=name,
        display_name=T[o.locale]["overview_name"],
        locale=o.locale,
        month=o.month,
        headline=_headline(current, o.columns, o.locale),
        note=notes[0].text if notes else "",
        note_is_manual=bool(notes and notes[0].manual),
    )


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
        msg["Subject"] = header_text(t["subject"].format(month=month, team=summary.display_name))
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
        msg["Reply-To"] = _address_header(reply_to)
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


def envelope_address(value: str) -> str:
    """The bare address of a header value ("Name <a@b>" → "a@b"), for the SMTP envelope."""
    return _address_header(value).addr_spec
