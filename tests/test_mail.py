"""Building the scorecard e-mail: language, parts, attachment name, and no header injection."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import pytest
import yaml

from scorecards.config.settings import ConfigError, load_settings
from scorecards.delivery.mail import (
    MailBuilder,
    attachment_name,
    envelope_address,
    header_text,
    message_id,
)
from scorecards.report.summary import HeadlineKpi, MailSummary
from tests.conftest import TEAMS

EVIL = "Team Süd\r\nBcc: everyone@evil.example\r\n\r\n<b>body</b>"


def _summary(locale: str = "de", name: str = "Abrechnung", note: str = "FCR fällt.") -> MailSummary:
    return MailSummary(
        name="billing",
        display_name=name,
        locale=locale,
        month="2026-10",
        headline=[
            HeadlineKpi(
                "Erste Antwortzeit (FRT)",
                "6,5 Min.",
                "+1,2 Min. ggü. Vormonat, schlechter",
                "▲",
                "",
            ),
            HeadlineKpi("CSAT", "79,5 %", "", "", "n = 12, wenig belastbar"),
        ],
        note=note,
    )


def _roundtrip(msg) -> object:  # noqa: ANN001
    return BytesParser(policy=policy.default).parsebytes(msg.as_bytes(policy=policy.SMTP))


def test_message_parts_language_and_attachment() -> None:
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 40
    msg = _roundtrip(
        MailBuilder().scorecard(
            _summary(),
            pdf,
            sender="Service Scorecards <scorecards@example.com>",
            to="lead@example.com",
            reply_to="analytics@example.com",
            msg_id="<x@example.com>",
        )
    )
    assert msg["Subject"] == "Service-Scorecard Oktober 2026: Abrechnung"
    assert msg["Content-Language"] == "de" and msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/mixed"
    text = msg.get_body(("plain",)).get_content()
    assert "Oktober 2026" in text
    assert "- Erste Antwortzeit (FRT): 6,5 Min. (+1,2 Min. ggü. Vormonat, schlechter)" in text
    assert "[n = 12, wenig belastbar]" in text and "Hinweis: FCR fällt." in text
    assert "Scorecard_Abrechnung_2026-10.pdf" in text
    assert "\n\n\n" not in text  # no template blank-line clutter
    html = msg.get_body(("html",)).get_content()
    assert '<html lang="de">' in html and "Kennzahlen gegen Ziel" in html
    [att] = list(msg.iter_attachments())
    assert att.get_filename() == "Scorecard_Abrechnung_2026-10.pdf"
    assert att.get_content() == pdf


def test_english_summary() -> None:
    msg = MailBuilder().scorecard(
        _summary("en", "Onboarding", "Volume up 12%."),
        b"%PDF",
        sender="s@example.com",
        to="x@example.com",
        msg_id="<y@example.com>",
    )
    assert msg["Subject"] == "Service scorecard October 2026: Onboarding"
    text = msg.get_body(("plain",)).get_content()
    assert text.startswith("Hello,") and "Note: Volume up 12%." in text
    assert msg["Reply-To"] is None


def test_cr_lf_in_team_name_or_note_cannot_add_headers_or_recipients() -> None:
    msg = MailBuilder().scorecard(
        _summary(name=EVIL, note="ok\r\nBcc: x@evil.example\n<script>alert(1)</script>"),
        b"%PDF",
        sender="s@example.com",
        to="lead@example.com",
        msg_id="<z@example.com>",
    )
    raw = msg.as_bytes(policy=policy.SMTP)
    parsed = _roundtrip(msg)
    assert parsed["Bcc"] is None and parsed["Cc"] is None
    assert parsed.get_all("To") == ["lead@example.com"]
    headers = raw.split(b"\r\n\r\n", 1)[0].decode()
    assert "everyone@evil.example" in parsed["Subject"]  # kept as text, on the subject line
    assert not any(line.lower().startswith("bcc") for line in headers.split("\r\n"))
    html = parsed.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html and "<b>body</b>" not in html
    [att] = list(parsed.iter_attachments())
    assert "\n" not in att.get_filename() and att.get_filename().startswith("Scorecard_Team_Sued_")


def test_recipient_must_be_exactly_one_address() -> None:
    b = MailBuilder()
    for bad in ("a@example.com, b@example.com", "no-address", "a@example.com\r\nBcc: b@x.de"):
        with pytest.raises(ValueError):
            b.scorecard(_summary(), b"%PDF", sender="s@example.com", to=bad, msg_id="<m@x>")
    assert envelope_address("Service <s@example.com>") == "s@example.com"


def test_helpers() -> None:
    assert header_text("a\r\nb\tc\x00d  e") == "a b c d e"
    assert (
        attachment_name("Versand & Logistik", "2026-10")
        == "Scorecard_Versand_und_Logistik_2026-10.pdf"
    )
    assert (
        attachment_name("Größe/Übersicht", "2026-10") == "Scorecard_Groesse_Uebersicht_2026-10.pdf"
    )
    a = message_id("2026-10|billing|x@example.com|abc", "Scorecards <s@example.com>")
    assert a == message_id("2026-10|billing|x@example.com|abc", "s@example.com")
    assert a != message_id("2026-10|billing|x@example.com|abd", "s@example.com")
    assert a.startswith("<scorecard.") and a.endswith("@example.com>")


def test_alert_message() -> None:
    msg = MailBuilder().alert(
        "Scorecards for 2026-10 not sent",
        ["- no_team_without_tickets: beta"],
        sender="s@example.com",
        to=["admin@example.com", "ops@example.com"],
        msg_id="<a@x>",
    )
    assert msg["Subject"] == "[Service Scorecards] Scorecards for 2026-10 not sent"
    assert msg["To"] == "admin@example.com, ops@example.com"
    assert "- no_team_without_tickets: beta" in msg.get_content()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda t: t.update({"delivery": {"admins": ["ops.example.com"]}}),
            r"delivery\.admins: invalid e-mail address 'ops\.example\.com'",
        ),
        (
            lambda t: t.update({"delivery": {"schedule": {"day_of_month": 31}}}),
            r"delivery\.schedule\.day_of_month",
        ),
        (
            lambda t: t["teams"][0].update({"recipients": ["a@example.com\nBcc: b@example.com"]}),
            r"teams\[alpha\]\.recipients: invalid e-mail address",
        ),
        (
            lambda t: t["teams"][0].update({"recipients": ["lead@example.com\n"]}),
            r"teams\[alpha\]\.recipients: invalid e-mail address",
        ),
        (
            lambda t: t["teams"][0].update({"recipients": ["lead@example.com)"]}),
            r"invalid e-mail address 'lead@example\.com\)'",
        ),
        (
            lambda t: t["teams"][1].update({"recipients": ["Boss <x(y)@example.com>"]}),
            r"teams\[beta\]\.recipients: invalid e-mail address",
        ),
    ],
)
def test_delivery_config_is_validated(tmp_path, change, message) -> None:  # noqa: ANN001
    teams = yaml.safe_load(yaml.safe_dump(TEAMS))
    change(teams)
    (tmp_path / "teams.yaml").write_text(yaml.safe_dump(teams))
    with pytest.raises(ConfigError, match=message):
        load_settings(tmp_path / "data", tmp_path)


def test_schedule_defaults() -> None:
    from scorecards.config.settings import DeliveryConfig

    d = DeliveryConfig()
    assert d.schedule.cron == "0 7 2 * *" and d.schedule.enabled and d.max_attempts == 4


def test_reply_to_defaults_to_the_admins_and_takes_several_addresses() -> None:
    from scorecards.delivery.mail import default_reply_to

    assert default_reply_to("help@example.com", ["a@example.com"]) == "help@example.com"
    assert (
        default_reply_to("", ["a@example.com", "b@example.com"]) == "a@example.com, b@example.com"
    )
    assert default_reply_to(None, []) is None
    msg = MailBuilder().scorecard(
        _summary(),
        b"%PDF",
        sender="s@example.com",
        to="lead@example.com",
        reply_to=default_reply_to(None, ["a@example.com", '"Ops, 2nd level" <b@example.com>']),
        msg_id="<r@example.com>",
    )
    parsed = _roundtrip(msg)
    assert [a.addr_spec for a in parsed["Reply-To"].addresses] == ["a@example.com", "b@example.com"]
    with pytest.raises(ValueError):
        MailBuilder().scorecard(
            _summary(),
            b"%PDF",
            sender="s@example.com",
            to="x@example.com",
            msg_id="<m@x>",
            reply_to="not-an-address",
        )


def test_a_long_status_subject_is_written_on_one_line(tmp_path) -> None:  # noqa: ANN001
    """Folded at 78 characters, Python puts such a subject on a continuation line after an empty
    first one, which clients show with a leading blank (or a doubled one inside umlaut words)."""
    from email.message import EmailMessage

    from scorecards.delivery.smtp import FileOutbox

    subject = "Enterprise Accounts, November 2026: 7 of 7 targets missed, Detractor share up"
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"], msg["To"] = "a@example.com", "b@example.com"
    msg.set_content("body")
    FileOutbox(tmp_path).send(msg, "a@example.com", ["b@example.com"], "m")
    raw = (tmp_path / "m.eml").read_bytes()
    assert f"Subject: {subject}\r\n".encode() in raw or f"Subject: {subject}\n".encode() in raw
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert parsed["Subject"] == subject
