"""Validation and quarantine: every reason, the per-file identity, and nothing lost."""

from __future__ import annotations

import pandas as pd
import pytest

from scorecards.ingest.load import ingest_customers, ingest_events
from scorecards.warehouse.connection import connect
from tests.conftest import Env, customer, survey, ticket

OK = "2026-04-10T10:00:00+02:00"


def _quarantine(env: Env, dataset: str, month: str) -> pd.DataFrame:
    return pd.read_csv(
        env.data / "quarantine" / dataset / f"{month}.csv", dtype=str, keep_default_na=False
    )


def test_every_ticket_reason_is_quarantined_with_original_values(env: Env) -> None:
    env.tickets(
        [
            ticket("T-ok", OK),
            ticket("T-chan", OK, channel="Fax"),
            ticket("T-ts", "2026-04-31 10:00"),  # April has 30 days
            ticket("T-resp", OK, first_response_at="2026-04-10T09:00:00+02:00"),
            ticket("T-res", OK, resolved_at="2026-04-09T09:00:00+02:00"),
            ticket("T-miss", OK, team=""),
            ticket("T-neg", OK, handle_time_s="-3"),
            ticket("T-nan", OK, wait_time_s="abc"),
            ticket("T-cont", OK, contacts=0),
            ticket("T-int", OK, contacts="1.5"),
            ticket("T-bool", OK, reopened="maybe"),
            ticket("T-dup", OK),
            ticket("T-dup", OK),
            ticket("T-conf", OK, agent_id="A1"),
            ticket("T-conf", OK, agent_id="A2"),
        ]
    )
    reports = ingest_events(env.settings(), ["2026-04"])
    t = reports["tickets"]
    assert t.totals() == {
        "rows_read": 15,
        "accepted": 2,
        "quarantined": 12,
        "duplicates_dropped": 1,
        "superseded": 0,
        "filtered": 0,
    }
    q = _quarantine(env, "tickets", "2026-04").set_index("ticket_id")
    assert q.loc["T-chan", "reason"] == "unknown channel"
    assert q.loc["T-chan", "channel"] == "Fax"  # original spelling kept
    assert q.loc["T-resp", "reason"] == "first response before creation"
    assert q.loc["T-res", "reason"] == "resolved before creation"
    assert q.loc["T-miss", "reason"] == "missing required value: team"
    assert q.loc["T-neg", "reason"] == "negative value: handle_time_s"
    assert q.loc["T-nan", "reason"] == "not a number: wait_time_s"
    assert q.loc["T-cont", "reason"] == "contacts below 1"
    assert q.loc["T-int", "reason"] == "not a whole number: contacts"
    assert q.loc["T-bool", "reason"] == "not a boolean: reopened"
    assert (
        list(q.loc["T-conf", "reason"])
        == ["duplicate ticket_id with conflicting values in: agent_id"] * 2
    )
    assert list(q.loc["T-conf", "agent_id"]) == ["A1", "A2"]
    assert q.loc["T-chan", "source_file"] == "tickets/tickets.csv"
    assert int(q.loc["T-chan", "source_row"]) == 2
    # A timestamp that cannot be read has no month: it goes to undated.csv, not lost.
    undated = _quarantine(env, "tickets", "undated")
    assert list(undated.ticket_id) == ["T-ts"]
    assert undated.reason[0] == "unparsable timestamp: created_at"
    assert undated.created_at[0] == "2026-04-31 10:00"
    with connect(env.settings().warehouse_path, read_only=True) as con:
        ids = [r[0] for r in con.execute("SELECT ticket_id FROM tickets ORDER BY 1").fetchall()]
    assert ids == ["T-dup", "T-ok"]


def test_survey_and_customer_reasons(env: Env) -> None:
    env.tickets([ticket("T1", OK, team="beta")])
    env.surveys(
        [
            survey("R-ok", "2026-04-11T10:00:00+02:00", "CSAT", 5),
            survey("R-range", "2026-04-11T10:00:00+02:00", "csat", 9),
            survey("R-nps-range", "2026-04-11T10:00:00+02:00", "nps", -1),
            survey("R-type", "2026-04-11T10:00:00+02:00", "ces2", 3),
            survey("R-team", "2026-04-11T10:00:00+02:00", "nps", 9, team="", ticket_id="T1"),
            survey("R-noteam", "2026-04-11T10:00:00+02:00", "nps", 9, team=""),
            survey("R-unknown", "2026-04-11T10:00:00+02:00", "nps", 9, team="", ticket_id="T404"),
            survey("R-early", "2026-04-09T10:00:00+02:00", "nps", 9, ticket_id="T1"),
            survey("R-miss", "2026-04-11T10:00:00+02:00", "nps", ""),
        ]
    )
    env.customers(
        [
            customer("C1", "2025-01-01"),
            customer("C2", "2025-01-01", churned="2024-12-31"),
            customer("C3", "yesterday"),
            customer("", "2025-01-01"),
        ]
    )
    settings = env.settings()
    s = ingest_events(settings, ["2026-04"])["survey_responses"]
    assert s.totals() == {"rows_read": 9, "accepted": 2, "quarantined": 7, "duplicates_dropped": 0,
                          "superseded": 0, "filtered": 0}  # fmt: skip
    q = _quarantine(env, "surveys", "2026-04").set_index("response_id")
    assert q.loc["R-range", "reason"] == "score out of range"
    assert q.loc["R-nps-range", "reason"] == "score out of range"
    assert q.loc["R-type", "reason"] == "unknown survey type"
    assert q.loc["R-noteam", "reason"] == "no team and no ticket_id"
    assert q.loc["R-unknown", "reason"] == "no team and ticket_id not among accepted tickets"
    assert q.loc["R-early", "reason"] == "submitted before its ticket was created"
    assert q.loc["R-miss", "reason"] == "missing required value: score"
    with connect(settings.warehouse_path, read_only=True) as con:
        got = con.execute(
            "SELECT response_id, team, survey_type FROM survey_responses ORDER BY 1"
        ).fetchall()
    # The response without a team takes its ticket's team; survey types are normalised.
    assert got == [("R-ok", "alpha", "csat"), ("R-team", "beta", "nps")]

    c = ingest_customers(settings)
    assert c.totals() == {"rows_read": 4, "accepted": 1, "quarantined": 3, "duplicates_dropped": 0,
                          "superseded": 0, "filtered": 0}  # fmt: skip
    reasons = sorted(c.reasons.reason)
    assert reasons == [
        "churned before customer_since",
        "missing required value: customer_id",
        "unparsable timestamp: customer_since",
    ]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_identity_per_file_accepted_plus_quarantined_plus_duplicates(env: Env, fmt: str) -> None:
    rows_a = [ticket(f"A{i}", OK) for i in range(20)] + [
        ticket("A0", OK),
        ticket("bad", OK, channel="pigeon"),
    ]
    rows_b = [ticket(f"B{i}", "2026-05-02T10:00:00+02:00") for i in range(7)] + [ticket("A1", OK)]
    env.tickets(rows_a, "a.csv")
    if fmt == "parquet":
        df = pd.DataFrame(rows_b)
        df["contacts"] = df["contacts"].astype(int)
        (env.landing / "tickets").mkdir(parents=True, exist_ok=True)
        df.to_parquet(env.landing / "tickets" / "b.parquet")
    else:
        env.tickets(rows_b, "b.csv")
    report = ingest_events(env.settings(), ["2026-04", "2026-05"])["tickets"]
    files = report.files.set_index("file")
    read_back = {"tickets/a.csv": len(rows_a), f"tickets/b.{fmt}": len(rows_b)}
    for name, n in read_back.items():
        f = files.loc[name]
        assert f.rows_read == n
        assert f.accepted + f.quarantined + f.duplicates_dropped == f.rows_read
    # Rows in quarantine files + warehouse + dropped duplicates = every row read.
    q_rows = sum(len(pd.read_csv(p)) for p in (env.data / "quarantine" / "tickets").glob("*.csv"))
    with connect(env.settings().warehouse_path, read_only=True) as con:
        stored = con.execute("SELECT count(*) FROM tickets").fetchone()[0]
    assert stored + q_rows + int(files.duplicates_dropped.sum()) == sum(read_back.values())
    assert stored == 27 and q_rows == 1


def test_months_follow_local_time_and_dst(env: Env) -> None:
    env.tickets(
        [
            ticket("T-utc", "2026-03-31T22:30:00Z"),  # 00:30 on 1 April in Berlin
            ticket("T-local", "2026-03-31 23:59:59"),  # naive: read in Europe/Berlin
            ticket("T-dst", "2026-10-31T23:30:00Z"),  # 00:30 CET on 1 November
            ticket("T-oct", "2026-10-31T22:30:00Z"),  # 23:30 CET on 31 October
        ]
    )
    settings = env.settings()
    ingest_events(settings, ["2026-03", "2026-04", "2026-10", "2026-11"])
    with connect(settings.warehouse_path, read_only=True) as con:
        got = dict(con.execute("SELECT ticket_id, period FROM tickets").fetchall())
    assert got == {"T-utc": "2026-04", "T-local": "2026-03", "T-dst": "2026-11", "T-oct": "2026-10"}


def test_clean_rerun_removes_stale_quarantine_file(env: Env) -> None:
    env.tickets([ticket("T1", OK, channel="fax")])
    ingest_events(env.settings(), ["2026-04"])
    path = env.data / "quarantine" / "tickets" / "2026-04.csv"
    assert path.exists()
    env.tickets([ticket("T1", OK, channel="email")])  # the analyst fixed the file
    report = ingest_events(env.settings(), ["2026-04"])["tickets"]
    assert not path.exists()
    assert report.totals()["accepted"] == 1


def test_value_spellings_and_column_names_from_sources_yaml(tmp_path) -> None:
    sources = {
        "tickets": {
            "columns": {
                "ticket_id": "Ticket ID",
                "customer_id": "Requester ID",
                "team": "Group",
                "channel": "Via",
                "created_at": "Created at",
                "contacts": "Contacts",
                "reopened": "Reopens",
                "escalated": "Escalated",
            },
            "values": {
                "channel": {"Web Widget": "web", "Mobile SDK": "chat"},
                "reopened": {"ja": "true", "nein": "false"},
            },
            "csv": {"delimiter": ";"},
        }
    }
    e = Env(tmp_path, sources=sources)
    folder = e.landing / "tickets"
    folder.mkdir(parents=True)
    (folder / "zendesk.csv").write_text(
        "Ticket ID;Requester ID;Group;Via;Created at;Contacts;Reopens;Escalated\n"
        "101;R9;alpha;Web Widget;2026-04-02 09:00;1;nein;no\n"
        "102;R9;alpha;mobile sdk;2026-04-02 10:00;2;Ja;yes\n"
        "103;R9;alpha;Carrier Pigeon;2026-04-02 11:00;1;nein;no\n"
    )
    settings = e.settings()
    report = ingest_events(settings, ["2026-04"])["tickets"]
    assert report.totals()["accepted"] == 2
    with connect(settings.warehouse_path, read_only=True) as con:
        got = con.execute(
            "SELECT ticket_id, channel, reopened, escalated FROM tickets ORDER BY 1"
        ).fetchall()
    assert got == [("101", "web", False, False), ("102", "chat", True, True)]
    q = pd.read_csv(e.data / "quarantine" / "tickets" / "2026-04.csv", dtype=str)
    assert q.channel[0] == "Carrier Pigeon" and q.reason[0] == "unknown channel"


def test_the_walk_through_in_docs_sources_md_works_as_written(tmp_path) -> None:
    import re
    from pathlib import Path

    import yaml

    doc = (Path(__file__).resolve().parents[1] / "docs" / "sources.md").read_text()
    example = doc.split("## Walk-through")[1]
    export = re.search(r"```text\n(.*?)```", example, re.S).group(1)
    mapping = yaml.safe_load(re.search(r"```yaml\n(.*?)```", example, re.S).group(1))
    teams = {
        "timezone": "Europe/Berlin",
        "teams": [{"id": "billing", "name": "Abrechnung", "locale": "de"}],
    }
    e = Env(tmp_path, teams=teams, sources=mapping)
    folder = e.landing / "tickets"
    folder.mkdir(parents=True)
    (folder / "incidents.csv").write_bytes(
        (export + "V-1003;K-19;Technik;Brieftaube;02.02.2026 09:00;?;1,0;nein;;\n").encode("cp1252")
    )
    settings = e.settings()
    report = ingest_events(settings, ["2026-01", "2026-02"])["tickets"]
    assert report.totals() == {
        "rows_read": 3, "accepted": 2, "quarantined": 1, "duplicates_dropped": 0,
        "superseded": 0, "filtered": 0,
    }  # fmt: skip
    with connect(settings.warehouse_path, read_only=True) as con:
        got = con.execute(
            "SELECT ticket_id, team, channel, escalated, contacts, reopened, handle_time_s,"
            " resolved_at IS NULL, strftime(timezone('UTC', created_at), '%H:%M') FROM tickets"
            " ORDER BY 1"
        ).fetchall()
    assert got == [
        # 14:05 in Berlin (CET); a configured team's name gives its id, others a slug
        ("V-1001", "technik", "phone", False, None, None, 750.0, False, "13:05"),
        ("V-1002", "billing", "email", True, None, None, 180.0, True, "07:00"),
    ]
    q = pd.read_csv(e.data / "quarantine" / "tickets" / "2026-02.csv", dtype=str)
    assert q.channel.tolist() == ["Brieftaube"] and q.reason.tolist() == ["unknown channel"]
