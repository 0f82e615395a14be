"""The source mapping language on exports shaped like real ones: each quirk of a value (formats,
tokens, flags, decimal commas, time zones, encodings) from landing file to warehouse rows, with
the accounting identity checked per file. Whole export shapes: tests/test_mapping_shapes.py."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from scorecards.config.settings import ConfigError
from scorecards.ingest.landing import InputFileError
from scorecards.ingest.load import ingest_events
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
    write_export(env, "tickets", "export.csv", DAY_FIRST, encoding="cp1252")
    write_sources(env, DAY_FIRST_MAP)
    rep = ingest_events(env.settings(), ["2026-01", "2026-02"])["tickets"]
    check_identity(rep)
    assert rep.totals()["accepted"] == 3
    assert rep.totals()["quarantined"] == 1  # "?" as team: missing, never a team called "?"
    assert list(rep.reasons.reason) == ["missing required value: team"]
    # the trailing ";" gives an empty header name: ignored with a warning, not a Binder Error
    assert any("no header name" in w for w in rep.warnings)
    got = {
        r[0]: r[1:]
        for r in warehouse_rows(
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
    names = dict(warehouse_rows(env, "SELECT team, name FROM team_names"))
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
    write_export(env, "tickets", "calls.csv", US_AND_MIXED)
    write_sources(
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
    check_identity(rep)
    got = dict(warehouse_rows(env, "SELECT ticket_id, created_at FROM tickets"))
    assert got["A1"] == datetime(2021, 1, 18, tzinfo=BERLIN)
    assert got["A2"] == datetime(2021, 9, 1, tzinfo=BERLIN)  # day first with dashes
    assert got["A3"] == datetime(2021, 12, 31, 17, 30, tzinfo=BERLIN)


def test_ambiguous_formats_stop_the_run_naming_column_and_examples(env: Env) -> None:
    write_export(
        env,
        "tickets",
        "amb.csv",
        "id,customer,team,channel,created,contacts,reopened,escalated\n"
        "A1,C1,alpha,phone,01/09/2021,1,no,no\nA2,C1,alpha,phone,1/18/2021,1,no,no\n",
    )
    write_sources(
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
    write_export(
        env,
        "tickets",
        "split.csv",
        "id,customer,team,channel,date,time,answered_ms,contacts,reopened,escalated\n"
        "S1,C1,alpha,phone,2026-03-29,01:30:00,1774748000000,1,no,no\n"
        "S2,C1,alpha,phone,2026-03-31,23:30:00,,1,no,no\n",
    )
    write_sources(
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
    check_identity(rep)
    got = {
        r[0]: r[1:]
        for r in warehouse_rows(
            env, "SELECT ticket_id, created_at, first_response_at, period FROM tickets"
        )
    }
    assert got["S1"][0] == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert got["S1"][1] == datetime.fromtimestamp(1774748000, UTC)
    # 23:30 UTC on 31 March is 1:30 on 1 April in Berlin: the month follows the configured zone
    assert got["S2"][2] == "2026-04"


def test_values_mapped_to_null_and_missing_tokens_per_column(env: Env) -> None:
    write_export(
        env,
        "tickets",
        "t.csv",
        "ticket_id,customer_id,team,channel,created_at,contacts,reopened,escalated,resolved_at\n"
        "T1,C1,alpha,email,2026-04-01,1,no,no,pending\n"
        "T2,C1,Unassigned,email,2026-04-01,1,no,no,\n",
    )
    write_sources(
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


def test_mapping_errors_name_the_problem(env: Env) -> None:
    write_export(
        env, "tickets", "t.csv", "ticket_id,customer_id,team,created_at\nT1,C1,a,2026-04-01\n"
    )
    write_sources(env, {"tickets": {"columns": {"channel": {"from": "Kanal"}}}})
    with pytest.raises(InputFileError, match=r"t\.csv: required column\(s\) missing after mapping: "
                       r"channel \(source column 'Kanal'\), contacts, reopened, escalated"):  # fmt: skip
        ingest_events(env.settings(), ["2026-04"])
    write_sources(env, {"tickets": {"columns": {"team": {"absent": True}}}})
    with pytest.raises(InputFileError, match="team identifies or places a row"):
        ingest_events(env.settings(), ["2026-04"])
    write_sources(env, {"tickets": {"preset": "no_such_vendor"}})
    with pytest.raises(ConfigError, match="unknown preset 'no_such_vendor'"):
        env.settings()
    write_sources(env, {"tickets": {"columns": {"created_at": {"formats": ["dd.mm.yyyy"]}}}})
    with pytest.raises(ConfigError, match="neither a strptime pattern"):
        env.settings()


def test_future_timestamps_are_quarantined_against_an_injected_clock(env: Env) -> None:
    body = "ticket_id,customer_id,team,channel,created_at,resolved_at,contacts,reopened,escalated\n"
    write_export(
        env,
        "tickets",
        "t.csv",
        body + "T1,C1,alpha,email,2026-04-01 10:00,2031-01-01 00:00,1,no,no\n"
        "T2,C1,alpha,email,2099-01-01 00:00,,1,no,no\n"
        "T3,C1,alpha,email,2026-04-30 23:00,2026-05-01 08:00,1,no,no\n",
    )
    now = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)  # T3's resolution is 2 hours ahead: tolerated
    rep = ingest_events(env.settings(), ["2026-04"], clock=lambda: now)["tickets"]
    check_identity(rep)
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
    write_export(
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
    from scorecards.render import batch

    write_export(env, "tickets", "export.csv", DAY_FIRST, encoding="cp1252")
    write_sources(env, DAY_FIRST_MAP)
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
    result = batch.build_scorecards(settings, "2026-02", workers=1)
    assert not result.failures, result.failures
    pdf = next(f.path for f in result.files if f.path.name.startswith("kundenservice_sued"))
    text = "".join(p.extract_text() for p in PdfReader(str(pdf)).pages)
    assert "Kundenservice Süd" in text


def test_utf8_bom_and_tab_delimited(env: Env) -> None:
    body = "Ticket ID\tcustomer_id\tteam\tchannel\tcreated_at\tcontacts\treopened\tescalated\n"
    write_export(
        env,
        "tickets",
        "t.tsv.csv",
        "\ufeff" + body + "T1\tC1\tälpha\temail\t2026-04-01\t1\tno\tno\n",
    )
    write_sources(env, {"tickets": {"columns": {"ticket_id": "Ticket ID"}}})
    rep = ingest_events(env.settings(), ["2026-04"])["tickets"]
    assert rep.totals()["accepted"] == 1
    assert warehouse_rows(env, "SELECT ticket_id, team FROM tickets") == [("T1", "aelpha")]


def test_a_huge_field_fails_with_a_short_clear_message(env: Env) -> None:
    body = "ticket_id,customer_id,team,channel,created_at,contacts,reopened,escalated\n"
    write_export(
        env,
        "tickets",
        "big.csv",
        body + "T2," + "x" * 17_000_000 + ",alpha,email,2026-04-01,1,no,no\n",
    )
    with pytest.raises(InputFileError) as err:
        ingest_events(env.settings(), ["2026-04"])
    msg = str(err.value)
    assert "big.csv" in msg and "Maximum line size" in msg and len(msg) < 800
