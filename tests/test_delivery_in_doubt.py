# ruff: noqa: F811 - the fixtures env and built come from tests/test_delivery.py
"""In doubt means in doubt, no warehouse lock across SMTP, every form of the password scrubbed,
and "changed after send" decided on the scorecard's content: against a real aiosmtpd server
with the fault injected after the message's content, on a real DuckDB ledger."""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import sys
import textwrap

import duckdb
import pandas as pd
import pytest

from scorecards.delivery.send import deliver
from scorecards.delivery.smtp import SmtpSettings, SmtpTransport, secret_forms
from scorecards.render import batch
from scorecards.render import pdf as render
from tests.conftest import Env
from tests.smtp_server import LocalSmtpServer
from tests.test_delivery import (  # noqa: F401 - fixtures
    EVERYONE,
    MONTH,
    SENDER,
    _ledger,
    _received,
    _transport,
    built,
    env,
)

PINNED = dt.datetime(2031, 2, 28, 23, 59, tzinfo=dt.UTC)


@pytest.fixture
def server():  # noqa: ANN201
    # the server answers 3 s after the content, the client waits 1 s
    with LocalSmtpServer(tls=True, hang_seconds=3) as srv:
        yield srv


def _deliver(env: Env, srv: LocalSmtpServer, run_id: str, **kw):  # noqa: ANN003, ANN202
    return deliver(
        env.settings(),
        MONTH,
        _transport(srv, timeout=1),
        SENDER,
        run_id=run_id,
        clock=lambda: PINNED,
        **kw,
    )


def _outcome(report, recipient: str):  # noqa: ANN001, ANN202
    return next(o for o in report.outcomes if o.delivery.recipient == recipient)


@pytest.mark.parametrize(
    ("fault", "victim"),
    [
        # the server keeps the message and answers only after the client's timeout; the victim is
        # the last delivery, as a timeout stops the run's sending
        ("keep_hang", "boss@example.com"),
        # the server keeps the message and closes the connection before replying
        ("keep_drop", "a2@example.com"),
    ],
)
def test_a_message_transmitted_without_a_final_reply_is_in_doubt_and_never_retried(
    env: Env, server: LocalSmtpServer, fault: str, victim: str
) -> None:
    server.fault(victim, fault)
    first = _deliver(env, server, "run-1")
    got = _received(server)
    # exactly one copy reached the server, although max_attempts is 3
    assert len(got[victim]) == 1
    assert set(got) == EVERYONE and all(len(v) == 1 for v in got.values())
    doubt = _outcome(first, victim)
    assert doubt.status == "in_doubt" and doubt.attempts == 1
    mid = got[victim][0]["Message-ID"]
    assert doubt.message_id == mid
    # the report says what to check and how to release it
    assert mid in doubt.error and "mailbox" in doubt.error and "server's log" in doubt.error
    assert f"confirm_sent: ['{victim}']" in doubt.error and f"resend: ['{victim}']" in doubt.error
    assert [o.delivery.recipient for o in first.failures] == [victim]
    ledger = _ledger(env).set_index("recipient")
    row = ledger.loc[victim]
    assert row.status == "in_doubt" and row.attempts == 1 and mid in row.error
    assert row.updated_at == PINNED and pd.isna(row.sent_at)
    assert (ledger.drop(victim).status == "sent").all()
    assert (ledger.drop(victim).sent_at == PINNED).all()

    # The server behaves again: a re-run sends nothing and reports the delivery in doubt.
    server.handler.faults.clear()
    again = _deliver(env, server, "run-2")
    assert len(server.messages) == 4 and again.count("sent") == 0
    outcome = _outcome(again, victim)
    assert outcome.status == "in_doubt" and "run-1" in outcome.error and mid in outcome.error
    assert _ledger(env).set_index("recipient").loc[victim].status == "in_doubt"

    # Released by the documented run config: resend sends it once more, and then never again.
    released = _deliver(env, server, "run-3", resend=[victim])
    assert released.count("sent") == 1 and _outcome(released, victim).status == "sent"
    assert len(_received(server)[victim]) == 2 and len(server.messages) == 5
    assert _ledger(env).set_index("recipient").loc[victim].status == "sent"
    assert _deliver(env, server, "run-4", resend=[victim]).count("sent") == 0
    assert len(server.messages) == 5


def test_confirm_sent_records_an_in_doubt_delivery_without_sending(
    env: Env, server: LocalSmtpServer
) -> None:
    victim = "b1@example.com"
    server.fault(victim, "keep_drop")
    _deliver(env, server, "run-1")
    server.handler.faults.clear()
    report = _deliver(env, server, "run-2", confirm_sent=[victim])
    assert _outcome(report, victim).status == "confirmed" and not report.failures
    assert len(server.messages) == 4
    row = _ledger(env).set_index("recipient").loc[victim]
    assert row.status == "sent" and "confirmed" in row.error and row.sent_at == PINNED
    assert _deliver(env, server, "run-3").count("sent") == 0 and len(server.messages) == 4


def test_any_exception_after_the_content_was_handed_over_is_in_doubt(
    env: Env, server: LocalSmtpServer
) -> None:
    """Not only timeouts and drops: whatever goes wrong once the content is on its way (here a
    bug-like ValueError while reading the reply) leaves the message in doubt."""
    victim = "a1@example.com"
    t = _transport(server, timeout=5)
    connect = t._connect

    def connect_with_a_faulty_reply():  # noqa: ANN202
        conn = connect()
        send, getreply = conn.send, conn.getreply
        state = {"content": False}

        def spying_send(data):  # noqa: ANN001, ANN202
            if isinstance(data, bytes) and data.endswith(b"\r\n.\r\n") and victim.encode() in data:
                state["content"] = True
            return send(data)

        def faulty_getreply():  # noqa: ANN202
            reply = getreply()
            if state.pop("content", False):
                raise ValueError("reply parser exploded")
            return reply

        conn.send, conn.getreply = spying_send, faulty_getreply
        return conn

    t._connect = connect_with_a_faulty_reply  # type: ignore[method-assign]
    report = deliver(env.settings(), MONTH, t, SENDER, run_id="run-1")
    assert _outcome(report, victim).status == "in_doubt"
    assert _outcome(report, victim).attempts == 1
    assert len(_received(server)[victim]) == 1  # the server did keep it
    assert report.count("sent") == 3


def test_failures_before_data_are_still_retried(env: Env, server: LocalSmtpServer) -> None:
    server.fault("a2@example.com", "busy_once")  # 451 at RCPT
    server.fault("b1@example.com", "data_busy_once")  # 451 as the final reply: a clear refusal
    report = _deliver(env, server, "run-1")
    assert report.count("sent") == 4 and not report.failures
    assert _outcome(report, "a2@example.com").attempts == 2
    assert _outcome(report, "b1@example.com").attempts == 2
    assert all(len(v) == 1 for v in _received(server).values())


def test_the_warehouse_is_not_locked_while_a_message_is_at_the_server(
    env: Env, server: LocalSmtpServer
) -> None:
    """While the server holds a message, another process can open the warehouse for writing and
    sees the delivery claimed (sending, committed)."""
    path = env.data / "warehouse.duckdb"
    seen: list[str] = []
    probe = textwrap.dedent(
        f"""
        import duckdb
        con = duckdb.connect({str(path)!r})
        con.execute("CREATE TABLE IF NOT EXISTS probe (x INTEGER)")
        print(con.execute(
            "SELECT status FROM delivery_ledger WHERE recipient = 'b1@example.com'"
        ).fetchone()[0])
        """
    )

    def on_message(received) -> None:  # noqa: ANN001
        if received.rcpt_tos == ["b1@example.com"]:
            out = subprocess.run(
                [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
            )
            seen.append(out.stdout.strip() or out.stderr.strip().splitlines()[-1])

    server.handler.on_message = on_message
    t = _transport(server, timeout=60)
    report = deliver(env.settings(), MONTH, t, SENDER, run_id="run-1")
    assert report.count("sent") == 4
    assert seen == ["sending"]


def test_every_form_of_the_password_is_scrubbed(env: Env) -> None:
    password = "Sup3r-S3cret!"
    with LocalSmtpServer(tls=True, echo_auth=True) as srv:
        t = SmtpTransport(
            SmtpSettings(
                "127.0.0.1", srv.port, "starttls", srv.user, password, 5, ca_file=srv.ca_file
            )
        )
        report = deliver(env.settings(), MONTH, t, SENDER, run_id="run-1")
    assert len(report.failures) == 4 and "535" in report.outcomes[0].error
    # the server echoed what it got, in each encoding; none of it survives
    assert report.outcomes[0].error.count("***") >= 2
    forms = secret_forms(srv.user, password)
    b64 = base64.b64encode
    assert b64(password.encode()).decode() in forms  # AUTH LOGIN's password line
    assert b64(f"\0{srv.user}\0{password}".encode()).decode() in forms  # AUTH PLAIN
    dump = _ledger(env).to_csv() + report.failure_text() + repr(report)
    for form in forms:
        assert form not in dump


def _rerender(env: Env, tweak=None) -> None:  # noqa: ANN001
    """Render the month again, optionally changing every PDF's bytes the way another machine's
    WeasyPrint or font subsetter would: not what it says."""
    with pytest.MonkeyPatch.context() as mp:
        if tweak is not None:
            real = render.Renderer._pdf

            def other_machine(self, html, created, attachments=()):  # noqa: ANN001, ANN202
                out = real(self, html, created, attachments)
                return render.Rendered(tweak(out.pdf), out.pages)

            mp.setattr(render.Renderer, "_pdf", other_machine)
        result = batch.build_scorecards(env.settings(), MONTH, workers=1)
    assert not result.failures


def _records(env: Env) -> dict[str, dict]:
    folder = env.data / "out" / MONTH / "scorecards"
    return {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}


def test_changed_after_send_means_changed_content_not_changed_bytes(
    env: Env, server: LocalSmtpServer
) -> None:
    before = _records(env)
    assert set(before) == {"alpha", "beta", "overview"}
    assert all(len(r["content_sha256"]) == 64 and r["template_version"] for r in before.values())
    first = _deliver(env, server, "run-1")
    assert first.count("sent") == 4

    # Rendered elsewhere: other bytes (producer, font streams), the same content.
    _rerender(env, tweak=lambda pdf: pdf.replace(b"%%EOF", b"% rendered elsewhere\n%%EOF"))
    after = _records(env)
    for team in before:
        assert after[team]["pdf_sha256"] != before[team]["pdf_sha256"]
        assert after[team]["content_sha256"] == before[team]["content_sha256"]
    again = _deliver(env, server, "run-2")
    assert again.count("already_sent") == 4 and again.count("held") == 0
    assert len(server.messages) == 4 and not again.failures

    # The data changes: alpha's scorecard (and the overview, which shows every team) is held.
    con = duckdb.connect(str(env.data / "warehouse.duckdb"))
    con.execute(
        "UPDATE team_kpis SET value = value + 1 WHERE period = ? AND team = 'alpha' "
        "AND kpi = 'csat'",
        [MONTH],
    )
    con.close()
    _rerender(env)
    changed = _records(env)
    assert changed["alpha"]["content_sha256"] != after["alpha"]["content_sha256"]
    assert changed["beta"]["content_sha256"] == after["beta"]["content_sha256"]
    third = _deliver(env, server, "run-3")
    held = sorted(o.delivery.recipient for o in third.outcomes if o.status == "held")
    assert held == ["a1@example.com", "a2@example.com", "boss@example.com"]
    assert _outcome(third, "b1@example.com").status == "already_sent"
    assert len(server.messages) == 4
    ledger = _ledger(env)
    assert ledger.content_sha256.notna().all()
    assert sorted(ledger[ledger.status == "held"].recipient) == held


def test_a_ledger_from_before_content_hashes_is_migrated_in_place(
    env: Env, server: LocalSmtpServer
) -> None:
    """An old ledger (no content_sha256 column, rows keyed by PDF bytes) gains the column; its
    rows still count for the PDFs they name."""
    first = _deliver(env, server, "run-1")
    assert first.count("sent") == 4
    path = env.data / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE old AS SELECT * EXCLUDE (content_sha256) FROM delivery_ledger")
    con.execute("DROP TABLE delivery_ledger")
    con.execute(
        """CREATE TABLE delivery_ledger (
        period VARCHAR, team VARCHAR, recipient VARCHAR, pdf_sha256 VARCHAR, channel VARCHAR,
        status VARCHAR, message_id VARCHAR, attempts INTEGER, updated_at TIMESTAMPTZ,
        sent_at TIMESTAMPTZ, run_id VARCHAR, error VARCHAR,
        PRIMARY KEY (period, team, recipient, pdf_sha256, channel))"""
    )
    con.execute("INSERT INTO delivery_ledger SELECT * FROM old")
    con.execute("DROP TABLE old")
    con.close()
    again = _deliver(env, server, "run-2")
    assert again.count("already_sent") == 4 and len(server.messages) == 4
    # the old rows matched by their PDF bytes and took on the content hash of those PDFs
    ledger = _ledger(env)
    assert ledger.content_sha256.notna().all()
    # so a render elsewhere (other bytes, same content) is still recognised as sent
    _rerender(env, tweak=lambda pdf: pdf + b"\n% rendered elsewhere\n")
    third = _deliver(env, server, "run-3")
    assert third.count("already_sent") == 4 and third.count("held") == 0
    assert len(server.messages) == 4


@pytest.fixture(scope="module")
def warehouse_backend() -> str:
    """The fixtures imported from test_delivery run on both backends; these tests open the
    DuckDB file directly (or run the Dagster code location on it), so the file only."""
    return "duckdb"
