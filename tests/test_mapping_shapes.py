"""Export shapes beyond one row per record, from landing file to warehouse rows: event logs (the
latest row wins), filtered rows, two datasets from one file, customers with a tenure and a churn
flag, a survey-only landing folder, literal file names."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from scorecards.ingest.landing import InputFileError
from scorecards.ingest.load import ingest_customers, ingest_events, landing_months
from tests.conftest import Env
from tests.mapping_env import (
    BERLIN,
    check_identity,
    mapping_env,
    warehouse_rows,
    write_export,
    write_sources,
)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return mapping_env(tmp_path)


SERVICENOW_EVENTS = """\
number,incident_state,caller_id,assignment_group,contact_type,opened_at,resolved_at,reopen_count,sys_mod_count,sys_updated_at
INC001,New,Caller 1,Service Desk,Phone,29/2/2016 01:16,?,0,0,29/2/2016 01:16
INC001,Active,Caller 1,Service Desk,Phone,29/2/2016 01:16,?,0,2,29/2/2016 09:00
INC001,Resolved,Caller 1,Service Desk,Phone,29/2/2016 01:16,1/3/2016 10:00,0,4,1/3/2016 10:00
INC002,New,Caller 2,Network,Email,3/3/2016 12:00,?,0,0,3/3/2016 12:00
INC002,New,Caller 2,Network,Email,3/3/2016 12:00,?,0,0,3/3/2016 12:00
INC003,Active,Caller 3,Network,Phone,5/3/2016 12:00,?,1,3,6/3/2016 12:00
INC003,Resolved,Caller 3,Network,Phone,5/3/2016 12:00,4/3/2016 12:00,1,5,7/3/2016 12:00
"""


def test_event_log_latest_row_wins_earlier_rows_are_superseded(env: Env) -> None:
    write_export(env, "tickets", "incident_event_log.csv", SERVICENOW_EVENTS)
    # INC002's second row is an exact copy of its latest row: a duplicate, not history
    write_sources(
        env,
        {
            "tickets": {
                "columns": {
                    "ticket_id": "number",
                    "customer_id": "caller_id",
                    "team": "assignment_group",
                    "channel": {
                        "from": "contact_type",
                        "values": {"Phone": "phone", "Email": "email"},
                    },
                    "created_at": "opened_at",
                    "resolved_at": "resolved_at",
                    "reopened": {"from": "reopen_count", "true_if": "nonzero"},
                    "contacts": {"constant": 1},
                    "escalated": {"absent": True},
                },
                "timestamp_formats": ["%d/%m/%Y %H:%M"],
                "event_log": {
                    "order_by": [
                        {"column": "sys_updated_at", "formats": ["%d/%m/%Y %H:%M"]},
                        "sys_mod_count",
                    ]
                },
            }
        },
    )
    rep = ingest_events(env.settings(), ["2016-02", "2016-03"])["tickets"]
    check_identity(rep)
    t = rep.totals()
    assert t == {
        "rows_read": 7, "accepted": 2, "quarantined": 1, "duplicates_dropped": 1,
        "superseded": 3, "filtered": 0,
    }  # fmt: skip
    got = {
        r[0]: r[1:]
        for r in warehouse_rows(env, "SELECT ticket_id, resolved_at, escalated, team FROM tickets")
    }
    assert got["INC001"][0] == datetime(2016, 3, 1, 10, 0, tzinfo=BERLIN)  # the resolved row won
    assert got["INC001"][1] is None  # escalation absent from the export: empty, not false
    assert got["INC002"][0] is None
    # INC003's latest row says it was resolved before it was opened: quarantined, and the older
    # row does not stand in for it
    assert "INC003" not in got
    assert list(rep.reasons.reason) == ["resolved before creation"]


CALLS = """\
Call ID,Agent,Queue,Date,Time,Answered (Y/N),Resolved,Satisfaction rating
C1,Ann,Billing,2021-01-01,09:12:00,Y,Y,5
C2,Ann,Billing,2021-01-01,09:20:00,N,N,
C3,Bob,Billing,2021-01-02,10:00:00,Y,N,2
C4,Bob,Billing,2021-01-02,11:00:00,Y,Y,9
"""


def test_unanswered_calls_are_filtered_not_quarantined(env: Env) -> None:
    write_export(env, "tickets", "calls.csv", CALLS)
    write_sources(
        env,
        {
            "tickets": {
                "columns": {
                    "ticket_id": "Call ID",
                    "customer_id": {"from": "Call ID"},
                    "team": "Queue",
                    "agent_id": "Agent",
                    "channel": {"constant": "phone"},
                    "created_at": {"date": "Date", "time": "Time"},
                    "contacts": {"constant": 1},
                    "reopened": {"constant": False},
                    "escalated": {"absent": True},
                }  # fmt: skip
            },
            "surveys": {
                "match": "tickets/calls*.csv",
                "columns": {
                    "response_id": "Call ID",
                    "ticket_id": "Call ID",
                    "customer_id": "Call ID",
                    "team": "Queue",
                    "survey_type": {"constant": "csat"},
                    "score": "Satisfaction rating",
                    "submitted_at": {"date": "Date", "time": "Time"},
                },  # fmt: skip
                "filters": [{"missing": "score", "label": "unanswered call"}],
            },
        },
    )
    reps = ingest_events(env.settings(), ["2021-01"])
    for r in reps.values():
        check_identity(r)
    s = reps["survey_responses"].totals()
    assert (s["accepted"], s["filtered"], s["quarantined"]) == (2, 1, 1)  # 9 is out of 1..5
    assert reps["survey_responses"].filters["filter"].tolist() == ["unanswered call"]
    assert reps["survey_responses"].quarantined_share("2021-01") == pytest.approx(1 / 3)


def test_tenure_and_churn_flag_customers(env: Env) -> None:
    write_export(
        env,
        "customers",
        "telco.csv",
        "customerID,tenure,Churn,Contract\nA,1,No,Month-to-month\nB,34,Yes,One year\nC,x,No,Two year\n",
    )
    write_sources(
        env,
        {
            "customers": {
                "columns": {
                    "customer_id": "customerID",
                    "customer_since": {"from": "tenure", "months_before": "2026-10-31"},
                    "churned_at": {"from": "Churn", "when_true": "2026-10-31"},
                    "segment": "Contract",
                }
            }
        },
    )
    rep = ingest_customers(env.settings())
    check_identity(rep)
    got = {
        r[0]: r[1:]
        for r in warehouse_rows(
            env, "SELECT customer_id, customer_since, churned_at FROM customers"
        )
    }
    assert got["A"] == (datetime(2026, 9, 30, tzinfo=BERLIN), None)
    assert got["B"] == (
        datetime(2023, 12, 31, tzinfo=BERLIN),
        datetime(2026, 10, 31, tzinfo=BERLIN),
    )
    assert list(rep.reasons.reason) == ["unparsable timestamp: customer_since"]


def test_file_names_are_literal_and_unmatched_files_are_errors(env: Env) -> None:
    body = "ticket_id,customer_id,team,channel,created_at,contacts,reopened,escalated\n"
    write_export(env, "tickets", "tickets_*.csv", body + "T1,C1,alpha,email,2026-04-01,1,n/a,no\n")
    write_export(env, "tickets", "tickets_2.csv", body + "T2,C1,alpha,email,2026-04-02,1,no,no\n")
    rep = ingest_events(env.settings(), ["2026-04"])["tickets"]
    # a name with "*" is one file, not a pattern over its neighbours
    assert dict(zip(rep.files.file, rep.files.rows_read, strict=True)) == {
        "tickets/tickets_*.csv": 1,
        "tickets/tickets_2.csv": 1,
    }
    assert rep.reasons.reason.tolist() == ["missing required value: reopened"]
    write_sources(env, {"tickets": [{"match": "tickets/tickets_2*.csv"}]})
    with pytest.raises(InputFileError, match=r"tickets_\*\.csv: no tickets mapping"):
        ingest_events(env.settings(), ["2026-04"])


def test_survey_only_landing_and_months_from_the_mapping(env: Env) -> None:
    write_export(
        env,
        "surveys",
        "nps.csv",
        "Response,Respondent,Team,Submitted,Score\nR1,C1,alpha,03/02/2025,9\nR2,C2,alpha,15/03/2025,3\n",
    )
    write_sources(
        env,
        {
            "surveys": {
                "columns": {
                    "response_id": "Response",
                    "customer_id": "Respondent",
                    "team": "Team",
                    "submitted_at": {"from": "Submitted", "formats": ["%d/%m/%Y"]},
                    "score": "Score",
                    "survey_type": {"constant": "nps"},
                }
            }
        },
    )
    settings = env.settings()
    assert landing_months(settings) == ["2025-02", "2025-03"]
    rep = ingest_events(settings, ["2025-02", "2025-03"])["survey_responses"]
    assert rep.totals()["accepted"] == 2
