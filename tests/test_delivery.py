"""Delivery against a real SMTP server (aiosmtpd on 127.0.0.1): STARTTLS with a throwaway CA,
AUTH, the ledger's exactly-once rules, and injected faults (550, 451 then OK, a dropped
connection, a server that stops answering). Messages are parsed with the `email` package."""

from __future__ import annotations

import shutil
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pandas as pd
import pytest
import yaml

from scorecards.delivery.gate import evaluate_gate
from scorecards.delivery.ledger import SENDING, Ledger
from scorecards.delivery.planning import plan
from scorecards.delivery.send import Sender, deliver
from scorecards.delivery.smtp import FileOutbox, SmtpSettings, SmtpTransport
from scorecards.ingest.load import ingest_customers, ingest_events
from scorecards.kpis.engine import build_team_kpis
from scorecards.render import batch
from scorecards.warehouse.connection import connect
from tests.conftest import Env, clone_warehouse
from tests.smtp_server import LocalSmtpServer
from tests.test_dagster import _fill

MONTH = "2026-04"
TEAMS = {
    "timezone": "Europe/Berlin",
    "quarantine_threshold": 0.02,
    "overview": {"locale": "en", "recipients": ["boss@example.com"]},
    "delivery": {"admins": ["admin@example.com"], "backoff_seconds": 0, "max_attempts": 3},
    "teams": [
        {
            "id": "alpha",
            "name": "Team Alpha",
            "locale": "de",
            "targets": {"csat": 80, "first_response_time": 60},
            "recipients": ["a1@example.com", "a2@example.com"],
        },
        {"id": "beta", "name": "Team Beta", "locale": "en", "recipients": ["b1@example.com"]},
    ],
}
EVERYONE = {"a1@example.com", "a2@example.com", "b1@example.com", "boss@example.com"}
# every test here runs on the DuckDB file and on DuckLake (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("warehouse_backend")

SENDER = Sender("Service Scorecards <scorecards@example.com>", "analytics@example.com", 3, 0, 0)


@pytest.fixture(scope="module")
def built(warehouse_backend: object, tmp_path_factory: pytest.TempPathFactory) -> Env:
    """Two months loaded and the April scorecards rendered, once for the module."""
    env = Env(tmp_path_factory.mktemp("delivery"), teams=TEAMS)
    _fill(env)
    settings = env.settings()
    ingest_events(settings, ["2026-03", MONTH])
    ingest_customers(settings)
    build_team_kpis(settings, ["2026-03", MONTH], "2026-03")
    result = batch.build_scorecards(settings, MONTH, workers=1)
    assert not result.failures
    return env


@pytest.fixture
def env(warehouse_backend: object, built: Env, tmp_path: Path) -> Env:
    """A copy of the built data dir: every test starts with an empty ledger."""
    copy = Env.__new__(Env)
    copy.root, copy.config = tmp_path, built.config
    copy.data = tmp_path / "data"
    copy.landing = copy.data / "landing"
    shutil.copytree(built.data, copy.data)
    clone_warehouse(warehouse_backend, built.data, copy.data)
    return copy


@pytest.fixture
def server():
    with LocalSmtpServer(tls=True, hang_seconds=3) as srv:
        yield srv


def _transport(
    srv: LocalSmtpServer, password: str | None = None, timeout: float = 5
) -> SmtpTransport:
    return SmtpTransport(
        SmtpSettings(
            "127.0.0.1",
            srv.port,
            "starttls",
            srv.user,
            password or srv.password,
            timeout=timeout,
            ca_file=srv.ca_file,
        )
    )


def _ledger(env: Env) -> pd.DataFrame:
    with connect(env.settings().warehouse, read_only=True) as con:
        return con.execute("SELECT * FROM delivery_ledger ORDER BY team, recipient").df()


def _received(srv: LocalSmtpServer) -> dict[str, list]:
    out: dict[str, list] = {}
    for r in srv.messages:
        assert len(r.rcpt_tos) == 1
        out.setdefault(r.rcpt_tos[0], []).append(r.message())
    return out


def _pdf(env: Env, team: str) -> bytes:
    return (env.data / "out" / MONTH / "scorecards" / f"{team}.pdf").read_bytes()


def test_each_recipient_gets_their_own_scorecard_over_starttls(env: Env, server) -> None:
    report = deliver(env.settings(), MONTH, _transport(server), SENDER, run_id="run-1")
    assert report.count("sent") == 4 and not report.failures
    got = _received(server)
    assert set(got) == EVERYONE and all(len(v) == 1 for v in got.values())
    # one session for the whole run: the connection is reused
    assert server.sessions == 1

    de = got["a1@example.com"][0]
    assert de["Subject"].startswith("Team Alpha, April 2026: ")  # then the month's status
    assert de["From"] == "Service Scorecards <scorecards@example.com>"
    assert de["Reply-To"] == "analytics@example.com"
    assert de["To"] == "a1@example.com" and de["Cc"] is None and de["Bcc"] is None
    assert de["Content-Language"] == "de"
    text = de.get_body(("plain",)).get_content()
    html = de.get_body(("html",)).get_content()
    assert "Guten Tag" in text and "April 2026" in text and "ggü. Vormonat" in text
    assert '<html lang="de">' in html and "Kennzahlen gegen Ziel" in html
    [att] = list(de.iter_attachments())
    assert att.get_filename() == "Scorecard_Team_Alpha_2026-04.pdf"
    assert att.get_content_type() == "application/pdf"
    assert att.get_content() == _pdf(env, "alpha")

    en = got["b1@example.com"][0]
    assert en["Subject"].startswith("Team Beta, April 2026: ")
    assert "Hello" in en.get_body(("plain",)).get_content()
    assert [a.get_content() for a in en.iter_attachments()] == [_pdf(env, "beta")]

    boss = got["boss@example.com"][0]
    assert [a.get_filename() for a in boss.iter_attachments()] == ["Scorecard_Overview_2026-04.pdf"]
    boss_text = boss.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert boss["Subject"].startswith("All teams overview, April 2026: ")
    # every overview KPI against its target, after what needs attention
    kpis = boss_text.split("KPIs against target:\n")[1].split("\n\n")[0]
    assert kpis.count("- ") == len(env.settings().teams_file.overview.kpis)

    ledger = _ledger(env)
    assert list(ledger.status) == ["sent"] * 4
    assert set(ledger.recipient) == EVERYONE
    assert (ledger.attempts == 1).all() and ledger.sent_at.notna().all()
    alpha_sha = ledger[ledger.recipient == "a1@example.com"].pdf_sha256.iloc[0]
    import hashlib

    assert alpha_sha == hashlib.sha256(_pdf(env, "alpha")).hexdigest()
    # the Message-ID is the ledger's, and a function of the delivery
    assert de["Message-ID"] == ledger[ledger.recipient == "a1@example.com"].message_id.iloc[0]
    assert de["Message-ID"] != got["a2@example.com"][0]["Message-ID"]


@pytest.mark.parametrize("security", ["ssl", "none"])
def test_implicit_tls_and_plain_servers(env: Env, security: str) -> None:
    tls = "implicit" if security == "ssl" else False
    with LocalSmtpServer(tls=tls) as srv:
        auth = (srv.user, srv.password) if tls else (None, None)
        t = SmtpTransport(
            SmtpSettings("127.0.0.1", srv.port, security, *auth, timeout=5, ca_file=srv.ca_file)
        )
        report = deliver(env.settings(), MONTH, t, SENDER)
        assert report.count("sent") == 4 and set(_received(srv)) == EVERYONE


def test_untrusted_certificate_is_refused(env: Env, server) -> None:
    t = SmtpTransport(
        SmtpSettings("127.0.0.1", server.port, "starttls", server.user, server.password, timeout=5)
    )
    report = deliver(env.settings(), MONTH, t, SENDER)
    assert not server.messages and len(report.failures) == 4
    assert "TLS" in report.outcomes[0].error and "certificate" in report.outcomes[0].error
    assert report.outcomes[0].attempts == 1  # a certificate problem is not retried


def test_a_rerun_sends_nothing(env: Env, server) -> None:
    deliver(env.settings(), MONTH, _transport(server), SENDER, run_id="run-1")
    before = _ledger(env)
    again = deliver(env.settings(), MONTH, _transport(server), SENDER, run_id="run-2")
    assert again.count("already_sent") == 4 and again.count("sent") == 0
    assert len(server.messages) == 4
    pd.testing.assert_frame_equal(before, _ledger(env))


@pytest.mark.parametrize(
    ("fault", "status_first", "attempts_first"),
    [
        ("reject", "failed", 1),  # 550: permanent, not retried
        ("busy_once", "sent", 2),  # 451 at RCPT, then accepted
        ("data_busy_once", "sent", 2),  # 451 after DATA, then accepted
        # a drop or a hang after the content: in doubt, never retried (test_delivery_in_doubt.py)
    ],
)
def test_faults_leave_a_true_ledger_and_a_rerun_loses_and_duplicates_nothing(
    env: Env, server, fault: str, status_first: str, attempts_first: int
) -> None:
    victim = "a2@example.com"
    server.fault(victim, fault)
    first = deliver(env.settings(), MONTH, _transport(server, timeout=1), SENDER, run_id="run-1")
    # everyone else got their message regardless
    got = _received(server)
    assert set(got) - {victim} == EVERYONE - {victim}
    assert all(len(v) == 1 for v in got.values())
    row = _ledger(env).set_index("recipient").loc[victim]
    assert row.status == status_first and row.attempts == attempts_first
    outcome = next(o for o in first.outcomes if o.delivery.recipient == victim)
    assert outcome.status == status_first
    if status_first == "failed":
        assert victim not in got
        assert "550" in row.error
        assert [o.delivery.recipient for o in first.failures] == [victim]
    else:
        assert len(got[victim]) == 1 and row.error == ""

    # The fault is gone; a re-run sends exactly what is missing.
    server.handler.faults.clear()
    second = deliver(env.settings(), MONTH, _transport(server), SENDER, run_id="run-2")
    got = _received(server)
    assert set(got) == EVERYONE and all(len(v) == 1 for v in got.values())
    assert second.count("sent") == (1 if status_first == "failed" else 0)
    ledger = _ledger(env)
    assert list(ledger.status) == ["sent"] * 4


def test_wrong_password_fails_everyone_without_leaking_it(env: Env, server) -> None:
    wrong = "Wr0ng-Secret-Passw0rd"
    report = deliver(env.settings(), MONTH, _transport(server, password=wrong), SENDER)
    assert len(report.failures) == 4 and not server.messages
    # the login is tried for the first message; the others are not attempted once it is refused
    assert report.outcomes[0].status == "failed" and report.outcomes[0].attempts == 1
    assert {o.status for o in report.outcomes[1:]} == {"not_attempted"}
    ledger = _ledger(env)
    assert "535" in ledger.error.iloc[0] or "refused" in ledger.error.iloc[0]
    dump = ledger.to_csv() + report.failure_text() + repr(report)
    assert wrong not in dump
    assert wrong not in repr(_transport(server, password=wrong).settings)


def test_server_down_is_retried_then_recorded_for_all(env: Env) -> None:
    with LocalSmtpServer() as srv:
        port = srv.port  # a port that was just free and now is closed again
    t = SmtpTransport(SmtpSettings("127.0.0.1", port, "none", timeout=1))
    waits: list[float] = []
    sender = Sender("s@example.com", max_attempts=3, backoff_seconds=1, max_backoff_seconds=1.5)
    report = deliver(env.settings(), MONTH, t, sender, sleep=waits.append)
    assert waits == [1, 1.5]  # bounded backoff, for the first message only
    assert report.outcomes[0].attempts == 3
    assert {o.status for o in report.outcomes[1:]} == {"not_attempted"}
    assert set(_ledger(env).status) == {"failed"}


def test_changed_scorecard_is_held_and_only_resent_when_asked(env: Env, server) -> None:
    settings = env.settings()
    deliver(settings, MONTH, _transport(server), SENDER, run_id="run-1")
    pdf = env.data / "out" / MONTH / "scorecards" / "alpha.pdf"
    pdf.write_bytes(pdf.read_bytes() + b"\n% corrected\n")

    report = deliver(settings, MONTH, _transport(server), SENDER, run_id="run-2")
    assert report.count("held") == 2 and report.count("sent") == 0 and not report.failures
    assert len(server.messages) == 4
    ledger = _ledger(env)
    alpha = ledger[ledger.team == "alpha"]
    assert sorted(alpha.status) == ["held", "held", "sent", "sent"]
    held = alpha[alpha.status == "held"]
    assert (held.sent_at.isna()).all() and held.error.str.contains("not delivered").all()

    report = deliver(settings, MONTH, _transport(server), SENDER, resend=["alpha"], run_id="run-3")
    assert report.count("sent") == 2
    new = [m for m in _received(server)["a1@example.com"] if m]
    assert len(new) == 2
    assert list(new[-1].iter_attachments())[0].get_content() == pdf.read_bytes()
    assert new[0]["Message-ID"] != new[-1]["Message-ID"]
    # and asking again sends nothing more: that version is delivered
    again = deliver(settings, MONTH, _transport(server), SENDER, resend=["alpha"], run_id="run-4")
    assert again.count("sent") == 0 and len(server.messages) == 6


def test_in_doubt_delivery_is_reported_not_resent(env: Env, server) -> None:
    settings = env.settings()
    d = next(x for x in plan(settings, MONTH).deliveries if x.recipient == "b1@example.com")
    # what a run that crashed between claiming and recording leaves behind
    with Ledger.open(settings.warehouse, MONTH, "crashed-run", "smtp") as ledger:
        ledger.write(d, SENDING, attempt=True)
    report = deliver(settings, MONTH, _transport(server), SENDER, run_id="run-2")
    outcome = next(o for o in report.outcomes if o.delivery.recipient == "b1@example.com")
    assert outcome.status == "in_doubt" and "crashed-run" in outcome.error
    assert "b1@example.com" not in _received(server)
    report = deliver(settings, MONTH, _transport(server), SENDER, resend=["beta"], run_id="run-3")
    assert len(_received(server)["b1@example.com"]) == 1


def test_missing_scorecard_is_a_recorded_failure(env: Env, server) -> None:
    (env.data / "out" / MONTH / "scorecards" / "beta.pdf").unlink()
    report = deliver(env.settings(), MONTH, _transport(server), SENDER)
    [failure] = report.failures
    assert failure.delivery.team == "beta" and "materialize team_scorecards" in failure.error
    assert len(server.messages) == 3


def test_outbox_writes_eml_files_a_mail_client_can_open(env: Env) -> None:
    outbox = env.data / "out" / MONTH / "outbox"
    report = deliver(env.settings(), MONTH, FileOutbox(outbox), SENDER)
    assert report.count("sent") == 4
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 4 and not list(outbox.glob("*.tmp"))
    for path in files:
        raw = path.read_bytes()
        assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # RFC 5322 line ends
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        assert not msg.defects
        assert msg["To"] in EVERYONE and msg["Message-ID"].startswith("<scorecard.")
        assert msg.get_body(("plain",)) is not None and msg.get_body(("html",)) is not None
        [att] = list(msg.iter_attachments())
        team = path.name.split("__")[0]
        assert att.get_content() == _pdf(env, team)
    # a second run writes nothing new
    assert deliver(env.settings(), MONTH, FileOutbox(outbox), SENDER).count("sent") == 0
    assert len(list(outbox.glob("*.eml"))) == 4


def test_gate_passes_on_complete_data_and_names_what_fails(env: Env) -> None:
    settings = env.settings()
    assert evaluate_gate(settings, MONTH).passed
    # not loaded at all
    june = evaluate_gate(settings, "2026-06")
    assert "no tickets were loaded for 2026-06" in june.failed[0].detail
    # May has data for its first 5 days only
    ingest_events(settings, ["2026-05"])
    may = evaluate_gate(settings, "2026-05")
    assert [c.name for c in may.failed] == ["data_reaches_month_end"]
    assert "2026-05-05" in may.failed[0].detail and "incomplete" in may.failed[0].detail
    teams = yaml.safe_load((env.config / "teams.yaml").read_text())
    teams["quarantine_threshold"] = 0.0
    strict = env.root / "strict"
    strict.mkdir()
    (strict / "teams.yaml").write_text(yaml.safe_dump(teams))
    with connect(env.settings().warehouse) as con:
        con.execute(
            "UPDATE ingest_months SET quarantined = 3 WHERE period = ? AND dataset = 'tickets'",
            [MONTH],
        )
        con.execute("DELETE FROM tickets WHERE period = ? AND team = 'beta'", [MONTH])
    from scorecards.config.settings import load_settings

    gate = evaluate_gate(load_settings(env.data, strict), MONTH)
    assert {c.name for c in gate.failed} == {
        "no_team_without_tickets",
        "quarantine_share_below_threshold",
    }
    assert "beta" in next(c.detail for c in gate.failed if c.name == "no_team_without_tickets")


def test_smtp_settings_refuse_what_would_leak_or_cannot_work() -> None:
    with pytest.raises(ValueError, match="unencrypted"):
        SmtpSettings("smtp.example.com", 25, "none", "user", "pw")
    with pytest.raises(ValueError, match="together"):
        SmtpSettings("smtp.example.com", 587, "starttls", "user", None)
    with pytest.raises(ValueError, match="none, starttls, ssl"):
        SmtpSettings("smtp.example.com", 587, "tls")  # type: ignore[arg-type]
    s = SmtpSettings("smtp.example.com", None, "ssl", "user", "very-secret")
    assert s.effective_port == 465 and "very-secret" not in repr(s) + s.describe()


def test_outbox_does_not_count_as_delivered_by_the_server(env: Env, server) -> None:
    settings = env.settings()
    outbox = FileOutbox(env.data / "out" / MONTH / "outbox")
    assert deliver(settings, MONTH, outbox, SENDER).count("sent") == 4
    # SMTP_HOST set later: the month still goes out, once
    assert deliver(settings, MONTH, _transport(server), SENDER).count("sent") == 4
    assert deliver(settings, MONTH, _transport(server), SENDER).count("sent") == 0
    assert set(_received(server)) == EVERYONE and len(server.messages) == 4
    assert sorted(_ledger(env).channel.unique()) == ["outbox", "smtp"]


def test_unexpected_error_is_recorded_and_the_rest_still_go(env: Env, server) -> None:
    t = _transport(server)
    real = t.send

    def flaky(msg, sender, recipients, name=""):  # noqa: ANN001, ANN202
        if recipients == ["a2@example.com"]:
            raise RuntimeError("disk on fire")
        return real(msg, sender, recipients, name)

    t.send = flaky  # type: ignore[method-assign]
    report = deliver(env.settings(), MONTH, t, SENDER)
    [failure] = report.failures
    assert failure.delivery.recipient == "a2@example.com" and "disk on fire" in failure.error
    assert failure.attempts == 1  # not retried: nothing says it would work the next time
    assert set(_received(server)) == EVERYONE - {"a2@example.com"}
    row = _ledger(env).set_index("recipient").loc["a2@example.com"]
    assert row.status == "failed"  # not left "sending", which would read as in doubt


def test_a_server_that_stops_answering_costs_one_timeout_not_one_per_attempt(env: Env) -> None:
    teams = yaml.safe_load((env.config / "teams.yaml").read_text())
    teams["teams"][0]["recipients"] = [f"a{i}@example.com" for i in range(6)]
    conf = env.root / "many"
    conf.mkdir()
    (conf / "teams.yaml").write_text(yaml.safe_dump(teams))
    from scorecards.config.settings import load_settings

    settings = load_settings(env.data, conf)
    with LocalSmtpServer(hang_seconds=3) as srv:
        for r in [*teams["teams"][0]["recipients"], "b1@example.com", "boss@example.com"]:
            srv.fault(r, "hang")
        t = SmtpTransport(SmtpSettings("127.0.0.1", srv.port, "none", timeout=0.5))
        waits: list[float] = []
        report = deliver(settings, MONTH, t, SENDER, sleep=waits.append)
    statuses = [o.status for o in report.outcomes]
    # The content was transmitted, then no answer: in doubt, not retried although max_attempts
    # is 3, and the rest are not attempted rather than each waiting for its own timeout.
    assert statuses[0] == "in_doubt" and report.outcomes[0].attempts == 1 and waits == []
    assert statuses[1:] == ["not_attempted"] * (len(statuses) - 1)
    assert "no answer" in report.outcomes[-1].error


def test_a_recipient_of_two_teams_gets_each_teams_scorecard_once(env: Env, server) -> None:
    teams = yaml.safe_load((env.config / "teams.yaml").read_text())
    teams["teams"][1]["recipients"] = ["b1@example.com", "A1@example.com", "b1@example.com"]
    conf = env.root / "both"
    conf.mkdir()
    (conf / "teams.yaml").write_text(yaml.safe_dump(teams))
    from scorecards.config.settings import load_settings

    report = deliver(load_settings(env.data, conf), MONTH, _transport(server), SENDER)
    assert report.count("sent") == 5
    got = _received(server)
    assert len(got["b1@example.com"]) == 1  # listed twice for beta: one message
    both = got["a1@example.com"] + got.get("A1@example.com", [])
    files = sorted(a.get_filename() for m in both for a in m.iter_attachments())
    assert files == ["Scorecard_Team_Alpha_2026-04.pdf", "Scorecard_Team_Beta_2026-04.pdf"]


def test_unknown_team_in_resend_is_an_error(env: Env) -> None:
    with pytest.raises(ValueError, match="unknown team.*gamma"):
        deliver(env.settings(), MONTH, FileOutbox(env.root / "o"), SENDER, resend=["gamma"])


def test_error_texts_are_scrubbed_of_the_password() -> None:
    import smtplib

    t = SmtpTransport(SmtpSettings("mail.example.com", 587, "starttls", "bot", "S3cr3t!x"))
    exc = smtplib.SMTPAuthenticationError(
        535, b"5.7.8 bad credentials S3cr3t!x AGJvdABTM2NyM3QheA=="
    )
    text = t._reply(exc)
    assert "S3cr3t!x" not in text and "AGJvdABTM2NyM3QheA==" not in text and "535" in text


def test_non_ascii_password_fails_without_quoting_it(env: Env, server) -> None:
    t = SmtpTransport(
        SmtpSettings(
            "127.0.0.1", server.port, "starttls", server.user, "pässwort", 5, server.ca_file
        )
    )
    report = deliver(env.settings(), MONTH, t, SENDER)
    assert len(report.failures) == 4 and "non-ASCII" in report.outcomes[0].error
    assert "ä" not in report.failure_text() and "position" not in report.failure_text()
