"""Mail building: the monthly scorecard message and the admin alerts, as `EmailMessage` objects.

Nothing here opens a connection (that is `scorecards.delivery.smtp`) or decides who is due a message
(`scorecards.delivery.planning`). A scorecard message is made from the `MailSummary` that rendering
wrote next to the PDF (`scorecards.report.summary`): the subject with the status ("Abrechnung,
November 2026: 2 von 8 Zielen verfehlt, CSAT gesunken"), the "what needs attention" sentences,
every headline KPI against its target with its change against last month; then the analysts'
manual note, if any. Plain text with an HTML alternative; the team's PDF is attached as
`Scorecard_<Team>_<YYYY-MM>.pdf`. Reply-To: the configured one, else the admins
(`default_reply_to`), so "just reply" reaches someone.

Header values pass through `header_text`, which turns CR, LF and every other control character
into a space, so a team name or a note can never start a header line of its own (no added
`Bcc:`); the body escapes them in HTML through Jinja's autoescape.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr
from pathlib import Path

import jinja2

from scorecards.core import package_files
from scorecards.report.summary import MailSummary
from scorecards.text import formatting as fmt
from scorecards.text.catalog import N_, text, texts

TEMPLATE_DIR = package_files.MAIL_TEMPLATES_DIR

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
        t = texts(summary.locale, "mail")
        overview = summary.name == "overview"
        month = fmt.month_name(summary.month, summary.locale)
        filename = attachment_name(
            t("mail.overview_file") if overview else summary.display_name, summary.month
        )
        intro = N_("mail.overview_intro") if overview else N_("mail.intro")
        context = {
            "t": t,
            "s": summary,
            "team": header_text(summary.display_name),
            "month": month,
            "file": filename,
            "intro": t(intro, team=header_text(summary.display_name), month=month),
        }
        msg = _envelope(sender, [to], reply_to, msg_id, date)
        if summary.status:
            subject = t(
                "mail.status_subject", team=summary.display_name, month=month, status=summary.status
            )
        else:
            subject = t("mail.subject", month=month, team=summary.display_name)
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
        msg["Subject"] = header_text(text(locale, "mail.alert_subject", what=what))
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
