"""The source mapping language on exports shaped like real ones: each quirk from landing file to
warehouse rows, with the accounting identity checked per file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from scorecards.config.settings import ConfigError
from scorecards.ingest.landing import InputFileError
from scorecards.ingest.load import ingest_customers, ingest_events, landing_months
from scorecards.warehouse import store as warehouse
from tests.conftest import TEAMS, Env

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def env(tmp_path: Path) -> Env:
    # These exports are a few rows each, so one bad row is a large share: the blocking
    # quarantine check is tested elsewhere, here every row's fate is checked one by one.
    return Env(tmp_path, teams={**TEAMS, "quarantine_threshold": 1.0})


def _write(env: Env, dataset: str, name: str, text: str, encoding: str = "utf-8") -> Path:
    folder = env.landing / dataset
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def _sources(env: Env, sources: dict) -> None:
    (env.config / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True))


def _rows(env: Env, sql: str) -> list[tuple]:
    with warehouse.connect(env.settings().warehouse_path, read_only=True) as con:
        con.execute("SET TimeZone = 'Europe/Berlin'")
        return con.execute(sql).fetchall()


def _identity(report) -> None:
    for f in report.files.itertuples():
        assert f.rows_read == (
            f.accepted + f.quarantined + f.duplicates_dropped + f.superseded + f.filtered
        ), f


# An export in the shape of a helpdesk's: its own column names, day-first timestamps, "?" for
# missing values, Y/N flags, a reopen count, no channel column, team names with spaces.
DAY_FIRST = """\
Ticket;Kunde;Gruppe;Erstellt;Erste Antwort;Gelöst;Bearbeitungszeit (min);Wiedereröffnet;Eskaliert;Notiz;
1001;K1;Kundenservice Süd;31.01.2026 14:05;31.01.2026 14:35;01.02.2026 09:00;12,5;0;N;x;
1002;K2;Kundenservice Süd;01.02.2026 08:00;?;?;?;2;Y;;
1003;K3;IT Service Desk;15.02.2026 23:30;16.02.2026 00:10;?;1.234,5;0;N;;
1004;K4;?;16.02.2026 10:00;?;?;?;0;N;;
"""
DAY_FIRST_MAP = {
    "tickets": {
        "columns": {
            "ticket_id": "Ticket",
            "customer_id": "Kunde",
            "team": "Gruppe",
            "created_at": "Erstellt",
            "first_response_at": "Erste Antwort",
            "resolved_at": "Gelöst",
            "handle_time_s": {"from": "Bearbeitungszeit (min)", "unit": "minutes"},
            "reopened": {"from": "Wiedereröffnet", "true_if": "nonzero"},
            "escalated": {"from": "Eskaliert", "true": ["Y"], "false": ["N"]},
            "channel": {"constant": "email"},
            "contacts": {"constant": 1},
        },
        "timestamp_formats": ["%d.%m.%Y %H:%M"],
        "numbers": {"decimal": ",", "thousands": "."},
    }
}


def test_day_first_export_with_tokens_flags_constants_and_decimal_comma(env: Env) -> None:
    _write(env, "tickets", "export.csv", DAY_FIRST, encoding="cp1252")
    _sources(env, DAY_FIRST_MAP)
    rep = ingest_events(env.settings(), ["2026-01", "2026-02"])["tickets"]
    _identity(rep)
    assert rep.totals()["accepted"] == 3
    assert rep.totals()["quarantined"] == 1  # "?" as team: missing, never a team called "?"
    assert list(rep.reasons.reason) == ["missing required value: team"]
    # the trailing ";" gives an empty header name: ignored with a warning, not a Binder Error
    assert any("no header name" in w for w in rep.warnings)
    got = {
        r[0]: r[1:]
        for r in _rows(
            env,
            "SELECT ticket_id, team, created_at, first_response_at, resolved_at, handle_time_s, "
            "reopened, escalated, channel, contacts, period FROM tickets ORDER BY 1",
        )
    }
    t1 = got["1001"]
    assert t1[0] == "kundenservice_sued"
    assert t1[1] == datetime(2026, 1, 31, 14, 5, tzinfo=BERLIN)
    assert t1[2] == datetime(2026, 1, 31, 14, 35, tzinfo=BERLIN)
    assert t1[4] == pytest.approx(12.5 * 60)
    assert t1[5:9] == (False, False, "email", 1)
    assert t1[9] == "2026-01"
    t2 = got["1002"]
    assert t2[2] is None and t2[3] is None and t2[4] is None  # "?" is no value, not an error
    assert t2[5:7] == (True, True)  # 2 reopens -> reopened; Y -> escalated
    assert got["1003"][0] == "it_service_desk"
    assert got["1003"][4] == pytest.approx(1234.5 * 60)
    # the team's name as the data spells it, for the scorecard's title
    names = dict(_rows(env, "SELECT team, name FROM team_names"))
    assert names == {
        "kundenservice_sued": "Kundenservice Süd",
        "it_service_desk": "IT Service Desk",
    }


US_AND_MIXED = """\
id,customer,team,channel,created,contacts,reopened,escalated
A1,C1,alpha,phone,1/18/2021,1,no,no
A2,C1,alpha,phone,01-09-2021,1,no,no
A3,C1,alpha,phone,12/31/2021 5:30 PM,1,no,no
"""


def test_mixed_formats_in_one_column_when_unambiguous(env: Env) -> None:
    _write(env, "tickets", "calls.csv", US_AND_MIXED)
    _sources(
        env,
        {
            "tickets": {
                "columns": {
                    "ticket_id": "id",
                    "customer_id": "customer",
                    "created_at": {
                        "from": "created",
                        "formats": ["%m/%d/%Y", "%d-%m-%Y", "%m/%d/%Y %I:%M %p"],
                    },
                }  # fmt: skip
            }
        },
    )
    rep = ingest_events(env.settings(), ["2021-01", "2021-09", "2021-12"])["tickets"]
    _identity(rep)
    got = dict(_rows(env, "SELECT ticket_id, created_at FROM tickets"))
    assert got["A1"] == datetime(2021, 1, 18, tzinfo=BERLIN)
    assert got["A2"] == datetime(2021, 9, 1, tzinfo=BERLIN)  # day first with dashes
    assert got["A3"] == datetime(2021, 12, 31, 17, 30, tzinfo=BERLIN)


def test_ambiguous_formats_stop_the_run_naming_column_and_examples(env: Env) -> None:
    _write(
        env,
        "tickets",
        "amb.csv",
        "id,customer,team,channel,created,contacts,reopened,escalated\n"
        "A1,C1,alpha,phone,01/09/2021,1,no,no\nA2,C1,alpha,phone,1/18/2021,1,no,no\n",
    )
    _sources(
        env,
        {
            "tickets": {
                "columns": {"ticket_id": "id", "customer_id": "customer", "created_at": "created"},
                "timestamp_formats": ["%d/%m/%Y", "%m/%d/%Y"],
            }
        },
    )
    with pytest.raises(InputFileError) as err:
        ingest_events(env.settings(), ["2021-01"])
    msg = str(err.value)
    assert "amb.csv" in msg and "column created_at" in msg and "'01/09/2021'" in msg
    assert "1/18/2021" not in msg  # only one format reads that one


def test_split_date_and_time_epoch_and_time_zone(env: Env) -> None:
    _write(
        env,
        "tickets",
        "split.csv",
        "id,customer,team,channel,date,time,answered_ms,contacts,reopened,escalated\n"
        "S1,C1,alpha,phone,2026-03-29,01:30:00,1774748000000,1,no,no\n"
        "S2,C1,alpha,phone,2026-03-31,23:30:00,,1,no,no\n",
    )
    _sources(
        env,
        {
            "tickets": {
                "columns": {
                    "ticket_id": "id",
                    "customer_id": "customer",
                    "created_at": {"date": "date", "time": "time", "timezone": "UTC"},
                    "first_response_at": {"from": "answered_ms", "formats": ["epoch_ms"]},
                }
            }
        },
    )
    rep = ingest_events(env.settings(), ["2026-03", "2026-04"])["tickets"]
    _identity(rep)
    got = {
        r[0]: r[1:]
        for r in _rows(env, "SELECT ticket_id, created_at, first_response_at, period FROM tickets")
    }
    assert got["S1"][0] == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert got["S1"][1] == datetime.fromtimestamp(1774748000, UTC)
    # 23:30 UTC on 31 March is 1:30 on 1 April in Berlin: the month follows the configured zone
    assert got["S2"][2] == "2026-04"


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
    _write(env, "tickets", "incident_event_log.csv", SERVICENOW_EVENTS)
    # INC002's second row is an exact copy of its latest row: a duplicate, not history
    _sources(
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
    _identity(rep)
    t = rep.totals()
    assert t == {
        "rows_read": 7, "accepted": 2, "quarantined": 1, "duplicates_dropped": 1,
        "superseded": 3, "filtered": 0,
    }  # fmt: skip
    got = {
        r[0]: r[1:]
        for r in _rows(env, "SELECT ticket_id, resolved_at, escalated, team FROM tickets")
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
    _write(env, "tickets", "calls.csv", CALLS)
    _sources(
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
        _identity(r)
    s = reps["survey_responses"].totals()
    assert (s["accepted"], s["filtered"], s["quarantined"]) == (2, 1, 1)  # 9 is out of 1..5
    assert reps["survey_responses"].filters["filter"].tolist() == ["unanswered call"]
    assert reps["survey_responses"].quarantined_share("2021-01") == pytest.approx(1 / 3)


def test_tenure_and_churn_flag_customers(env: Env) -> None:
    _write(
        env,
        "customers",
        "telco.csv",
        "customerID,tenure,Churn,Contract\nA,1,No,Month-to-month\nB,34,Yes,One year\nC,x,No,Two year\n",
    )
    _sources(
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
    _identity(rep)
    got = {
        r[0]: r[1:]
        for r in _rows(env, "SELECT customer_id, customer_since, churned_at FROM customers")
    }
    assert got["A"] == (datetime(2026, 9, 30, tzinfo=BERLIN), None)
    assert got["B"] == (
        datetime(2023, 12, 31, tzinfo=BERLIN),
        datetime(2026, 10, 31, tzinfo=BERLIN),
    )
    assert list(rep.reasons.reason) == ["unparsable timestamp: customer_since"]


def test_file_names_are_literal_and_unmatched_files_are_errors(env: Env) -> None:
    body = "ticket_id,customer_id,team,channel,created_at,contacts,reopened,escalated\n"
    _write(env, "tickets", "tickets_*.csv", body + "T1,C1,alpha,email,2026-04-01,1,n/a,no\n")
    _write(env, "tickets", "tickets_2.csv", body + "T2,C1,alpha,email,2026-04-02,1,no,no\n")
    rep = ingest_events(env.settings(), ["2026-04"])["tickets"]
    # a name with "*" is one file, not a pattern over its neighbours
    assert dict(zip(rep.files.file, rep.files.rows_read, strict=True)) == {
        "tickets/tickets_*.csv": 1,
        "tickets/tickets_2.csv": 1,
    }
    assert rep.reasons.reason.tolist() == ["missing required value: reopened"]
    _sources(env, {"tickets": [{"match": "tickets/tickets_2*.csv"}]})
    with pytest.raises(InputFileError, match=r"tickets_\*\.csv: no tickets mapping"):
        ingest_events(env.settings(), ["2026-04"])


def test_values_mapped_to_null_and_missing_tokens_per_column(env: Env) -> None:
    _write(
        env,
        "tickets",
        "t.csv",
        "ticket_id,customer_id,team,channel,created_at,contacts,reopened,escalated,resolved_at\n"
        "T1,C1,alpha,email,2026-04-01,1,no,no,pending\n"
        "T2,C1,Unassigned,email,2026-04-01,1,no,no,\n",
    )
    _sources(
        env,
        {
            "tickets": {
                "values": {"team": {"Unassigned": None}},
                "columns": {"resolved_at": {"missing": ["pending"]}},
            }
        },  # fmt: skip
    )
    rep = ingest_events(env.settings(), ["2026-04"])["tickets"]
    assert rep.totals()["accepted"] == 1
    assert rep.reasons.reason.tolist() == ["missing required value: team"]


def test_survey_only_landing_and_months_from_the_mapping(env: Env) -> None:
    _write(
        env,
        "surveys",
        "nps.csv",
        "Response,Respondent,Team,Submitted,Score\nR1,C1,alpha,03/02/2025,9\nR2,C2,alpha,15/03/2025,3\n",
    )
    _sources(
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


def test_mapping_errors_name_the_problem(env: Env) -> None:
    _write(env, "tickets", "t.csv", "ticket_id,customer_id,team,created_at\nT1,C1,a,2026-04-01\n")
    _sources(env, {"tickets": {"columns": {"channel": {"from": "Kanal"}}}})
    with pytest.raises(InputFileError, match=r"t\.csv: required column\(s\) missing after mapping: "
                       r"channel \(source column 'Kanal'\), contacts, reopened, escalated"):  # fmt: skip
        ingest_events(env.settings(), ["2026-04"])
    _sources(env, {"tickets": {"columns": {"team": {"absent": True}}}})
    with pytest.raises(InputFileError, match="team identifies or places a row"):
        ingest_events(env.settings(), ["2026-04"])
    _sources(env, {"tickets": {"preset": "no_such_vendor"}})
    with pytest.raises(ConfigError, match="unknown preset 'no_such_vendor'"):
        env.settings()
    _sources(env, {"tickets": {"columns": {"created_at": {"formats": ["dd.mm.yyyy"]}}}})
    with pytest.raises(ConfigError, match="neither a strptime pattern"):
        env.settings()


def test_future_timestamps_are_quarantined_against_an_injected_clock(env: Env) -> None:
    body = "ticket_id,customer_id,team,channel,created_at,resolved_at,contacts,reopened,escalated\n"
    _write(
        env,
        "tickets",
        "t.csv",
        body + "T1,C1,alpha,email,2026-04-01 10:00,2031-01-01 00:00,1,no,no\n"
        "T2,C1,alpha,email,2099-01-01 00:00,,1,no,no\n"
        "T3,C1,alpha,email,2026-04-30 23:00,2026-05-01 08:00,1,no,no\n",
    )
    now = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)  # T3's resolution is 2 hours ahead: tolerated
    rep = ingest_events(env.settings(), ["2026-04"], clock=lambda: now)["tickets"]
    _identity(rep)
    assert rep.totals()["accepted"] == 1
    assert sorted(rep.reasons.reason) == [
        "timestamp in the future: created_at",
        "timestamp in the future: resolved_at",
    ]
    # the future-dated row is reported with the undated ones (they count against every month)
    assert set(rep.reasons.period) == {"2026-04", "undated"}
    assert rep.undated == 1
    assert (env.data / "quarantine" / "tickets" / "undated.csv").exists()


def test_csv_outputs_are_spreadsheet_safe_and_control_characters_refused(env: Env) -> None:
    body = "ticket_id,customer_id,team,channel,created_at,contacts,reopened,escalated\n"
    _write(
        env,
        "tickets",
        "t.csv",
        body + 'T1,"=HYPERLINK(""http://x.example/"")",alpha,fax,2026-04-01,1,no,no\n'
        '"T2\r\nBcc: someone@example.com",C1,alpha,email,2026-04-01,1,no,no\n'
        "T3,-3,alpha,fax,2026-04-01,1,no,no\n",
    )
    rep = ingest_events(env.settings(), ["2026-04"])["tickets"]
    assert "control character in ticket_id" in set(rep.reasons.reason)
    text = (env.data / "quarantine" / "tickets" / "2026-04.csv").read_text()
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text
    assert ",-3," in text  # a number stays a number


def test_day_first_export_to_team_kpis_csv_and_pdf(env: Env) -> None:
    """The quirky export all the way: KPI table figures computed by hand, and a PDF titled with
    the team's name as the data spells it."""
    import pandas as pd
    from pypdf import PdfReader

    from scorecards.kpis.engine import build_team_kpis, kpi_csv_path
    from scorecards.render import publish

    _write(env, "tickets", "export.csv", DAY_FIRST, encoding="cp1252")
    _sources(env, DAY_FIRST_MAP)
    settings = env.settings()
    ingest_events(settings, ["2026-01", "2026-02"])
    build_team_kpis(settings, ["2026-01", "2026-02"], "2026-01")
    kpis = pd.read_csv(kpi_csv_path(settings, "2026-02")).set_index(["team", "kpi"])
    # February: 1002 (Süd, open, escalated) and 1003 (IT desk, open); 1001 was resolved on 1 Feb
    assert kpis.loc[("kundenservice_sued", "ticket_volume"), "value"] == 1
    assert kpis.loc[("it_service_desk", "ticket_volume"), "value"] == 1
    assert kpis.loc[("ALL", "escalation_rate"), "value"] == pytest.approx(50.0)
    # 1001: created 31 Jan 14:05, resolved 1 Feb 09:00 -> 18.9167 h
    assert kpis.loc[("kundenservice_sued", "average_resolution_time"), "value"] == pytest.approx(
        18 + 55 / 60, abs=1e-3
    )
    # 1003 answered after 40 minutes, the only first response created in February
    assert kpis.loc[("it_service_desk", "first_response_time"), "value"] == pytest.approx(40.0)
    # no surveys in this export: CSAT is no data, and says why
    assert pd.isna(kpis.loc[("ALL", "csat"), "value"])
    assert "survey" in kpis.loc[("ALL", "csat"), "no_data_reason"]
    result = publish.build_scorecards(settings, "2026-02", workers=1)
    assert not result.failures, result.failures
    pdf = next(f.path for f in result.files if f.path.name.startswith("kundenservice_sued"))
    text = "".join(p.extract_text() for p in PdfReader(str(pdf)).pages)
    assert "Kundenservice Süd" in text


def test_utf8_bom_and_tab_delimited(env: Env) -> None:
    body = "Ticket ID\tcustomer_id\tteam\tchannel\tcreated_at\tcontacts\treopened\tescalated\n"
    _write(
        env,
        "tickets",
        "t.tsv.csv",
        "\ufeff" + body + "T1\tC1\tälpha\temail\t2026-04-01\t1\tno\tno\n",
    )
    _sources(env, {"tickets": {"columns": {"ticket_id": "Ticket ID"}}})
    rep = ingest_events(env.settings(), ["2026-04"])["tickets"]
    assert rep.totals()["accepted"] == 1
    assert _rows(env, "SELECT ticket_id, team FROM tickets") == [("T1", "aelpha")]


def test_a_huge_field_fails_with_a_short_clear_message(env: Env) -> None:
    body = "ticket_id,customer_id,team,channel,created_at,contacts,reopened,escalated\n"
    _write(
        env,
        "tickets",
        "big.csv",
        body + "T2," + "x" * 17_000_000 + ",alpha,email,2026-04-01,1,no,no\n",
    )
    with pytest.raises(InputFileError) as err:
        ingest_events(env.settings(), ["2026-04"])
    msg = str(err.value)
    assert "big.csv" in msg and "Maximum line size" in msg and len(msg) < 800
