"""`sources suggest` and `sources check` on realistic exports written here: day-first, US, mixed,
split date/time, '?' tokens, event logs, empty header names, decimal commas, cp1252."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scorecards.config.sources import SourceMapping, SourcesFile
from scorecards.ingest.source_tools.check import check
from scorecards.ingest.source_tools.cli import main_sources
from scorecards.ingest.source_tools.suggest import suggest, suggest_text, validate_suggestion
from scorecards.ingest.source_tools.values import guess_timestamp


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def drafted(path: Path, dataset: str | None = None) -> tuple[str, SourceMapping, str]:
    """The YAML, the mapping it validates as (alone and as a whole sources.yaml), the dataset."""
    text = suggest_text(path, dataset)
    data = yaml.safe_load(text)
    ((ds, raw),) = data.items()
    SourcesFile.model_validate(data)
    return text, validate_suggestion(text), ds


def col(m: SourceMapping, name: str):
    return m.column(name)


# --- suggest ---------------------------------------------------------------------------------

ZENDESK_DE = (
    "Ticket ID;Requester ID;Group;Via;Erstellt am;First reply at;Gelöst am;Handle time;"
    "Reopens;Escalated;Kontakte\n"
    "4711;88123;Abrechnung;Web Widget;31.01.2026 14:05;31.01.2026 14:35;?;00:05:30;0;N;1\n"
    "4712;88124;Technik;Telefon;01.02.2026 08:00;;02.02.2026 09:00;00:10:00;2;Y;2\n"
    "4713;88125;Technik;Mail;03.02.2026 09:12;03.02.2026 10:00;04.02.2026 11:00;00:01:10;0;N;1\n"
)


def test_day_first_german_semicolon_bom(tmp_path: Path) -> None:
    path = write(tmp_path / "export.csv", "\ufeff" + ZENDESK_DE)
    text, m, ds = drafted(path)
    assert ds == "tickets"
    assert "UTF-8 with BOM" in text and m.csv.delimiter == ";"
    assert col(m, "ticket_id").from_ == "Ticket ID"
    assert col(m, "customer_id").from_ == "Requester ID"
    assert col(m, "team").from_ == "Group"
    assert col(m, "channel").from_ == "Via"
    assert col(m, "channel").values == {"Mail": "email", "Telefon": "phone", "Web Widget": "web"}
    assert col(m, "created_at").from_ == "Erstellt am"
    assert col(m, "created_at").formats == ["%d.%m.%Y %H:%M"]
    assert col(m, "resolved_at").from_ == "Gelöst am"
    assert col(m, "first_response_at").from_ == "First reply at"
    assert col(m, "handle_time_s").unit == "duration"
    assert col(m, "reopened").true_if == "nonzero"
    assert (col(m, "escalated").true, col(m, "escalated").false) == (["Y"], ["N"])
    assert col(m, "contacts").from_ == "Kontakte"
    assert "'?' x1" in text  # the token is reported where it was found
    assert "AMBIGUOUS" not in text  # 31.01. settles the order for every column of the file


def test_us_dates_ambiguous_is_said_and_unambiguous_is_not(tmp_path: Path) -> None:
    amb = write(
        tmp_path / "a.csv",
        "Id,Created at,Group,Via,Requester\n1,1/5/2021 2:05 PM,A,email,c1\n"
        "2,3/7/2021 11:00 AM,A,email,c2\n3,12/11/2021 9:30 AM,B,phone,c3\n",
    )
    text, m, _ = drafted(amb, "tickets")
    assert col(m, "created_at").formats == ["%m/%d/%Y %I:%M %p"]
    assert "AMBIGUOUS day/month order" in text and "%d/%m/%Y %I:%M %p" in text
    clear = write(tmp_path / "b.csv", "Id,Created at,Group\n1,1/18/2021,A\n2,2/3/2021,B\n")
    text, m, _ = drafted(clear, "tickets")
    assert col(m, "created_at").formats == ["%m/%d/%Y"]
    assert "AMBIGUOUS" not in text


def test_mixed_formats_in_one_column(tmp_path: Path) -> None:
    path = write(
        tmp_path / "calls.csv",
        "Call ID,Date,Agent,Queue,Satisfaction\n"
        "1,01-09-2021,a1,Sales,4\n2,1/18/2021,a2,Sales,5\n3,13-09-2021,a1,Support,3\n"
        "4,2/20/2021,a2,Support,2\n",
    )
    text, m, _ = drafted(path, "tickets")
    assert col(m, "created_at").formats == ["%d-%m-%Y", "%m/%d/%Y"]
    assert "mixed formats in one column" in text
    # both formats read every value the other reads only one way: no clash
    g = guess_timestamp(["01-09-2021", "1/18/2021", "13-09-2021", "2/20/2021"])
    assert g is not None and g.mixed_both_ways == [] and g.unreadable == []
    # a call log without a channel column is phone calls, to check
    assert col(m, "channel").constant == "phone"


def test_split_date_and_time_and_jira_style(tmp_path: Path) -> None:
    path = write(
        tmp_path / "split.csv",
        "Ticket,Datum,Uhrzeit,Team,Kanal,Kunde\n"
        "T1,31.01.2026,14:05,Support,Telefon,K1\nT2,01.02.2026,08:00:10,Support,E-Mail,K2\n",
    )
    _, m, _ = drafted(path, "tickets")
    spec = col(m, "created_at")
    assert (spec.date, spec.time) == ("Datum", "Uhrzeit")
    assert sorted(spec.formats) == ["%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S"]
    jira = write(
        tmp_path / "jira.csv",
        "Issue key,Created,Resolved,Reporter,Team\n"
        "SD-1,18/Jan/21 2:05 PM,19/Jan/21 9:00 AM,r1,IT\nSD-2,20/Feb/21 11:40 AM,,r2,IT\n",
    )
    _, m, _ = drafted(jira, "tickets")
    assert col(m, "ticket_id").from_ == "Issue key"
    assert col(m, "created_at").formats == ["%d/%b/%y %I:%M %p"]
    assert col(m, "resolved_at").from_ == "Resolved"


def test_missing_tokens_empty_header_names_and_missing_required(tmp_path: Path) -> None:
    path = write(
        tmp_path / "t.csv",
        "number,opened_at,assignment_group,contact_type,caller_id,resolved_at,,\n"
        "INC1,2021-03-01 10:00:00,Service Desk,Phone,u1,N/A,,\n"
        "INC2,2021-03-02 11:00:00,Service Desk,Self-service,?,2021-03-02 12:00:00,,\n"
        "INC3,2021-03-03 11:00:00,Network,email,u3,#N/A,,\n",
    )
    text, m, _ = drafted(path)
    assert "column 7 has an empty name: ignored" in text
    assert "column 8 has an empty name: ignored" in text
    assert col(m, "ticket_id").from_ == "number"
    assert col(m, "created_at").from_ == "opened_at" and col(m, "created_at").formats == []
    assert col(m, "team").from_ == "assignment_group"
    # contract spellings in any case need no entry
    assert col(m, "channel").values == {"Self-service": "self_service"}
    assert col(m, "customer_id").from_ == "caller_id"
    # defaults cover ?, N/A and #N/A: nothing extra to declare, but it is reported
    assert col(m, "resolved_at").missing == []
    assert "'N/A' x1" in text and "'#N/A' x1" in text
    # required columns the export lacks are proposed, marked to check
    for c in ("contacts", "reopened", "escalated"):
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(f"{c}:"))
        assert "to check" in line
        spec = col(m, c)
        assert spec.absent or spec.constant is not None


def test_event_log_shape(tmp_path: Path) -> None:
    path = write(
        tmp_path / "incident_events.csv",
        "number,opened_at,sys_updated_on,incident_state,assignment_group,contact_type,caller_id,"
        "reassignment_count,reopen_count,sys_mod_count\n"
        "INC001,2016-02-29 01:16:00,2016-02-29 01:23:00,New,G1,Phone,C1,0,0,0\n"
        "INC001,2016-02-29 01:16:00,2016-02-29 08:53:00,Active,G1,Phone,C1,1,0,2\n"
        "INC001,2016-02-29 01:16:00,2016-02-29 11:29:00,Resolved,G2,Phone,C1,1,0,4\n"
        "INC002,2016-02-29 04:40:00,2016-02-29 04:57:00,New,G3,Email,C2,0,0,0\n",
    )
    text, m, ds = drafted(path)
    assert ds == "tickets"
    assert m.event_log is not None
    assert [o.column for o in m.event_log.order_by] == ["sys_updated_on"]
    assert "event log" in text and "superseded" in text
    assert col(m, "reopened").from_ == "reopen_count"
    assert col(m, "reopened").true_if == "nonzero"


def test_decimal_comma_and_cp1252(tmp_path: Path) -> None:
    path = write(
        tmp_path / "export.csv",
        "Vorgangsnummer;Kundennummer;Gruppe;Kanal;Erstellt am;Gelöst am;"
        "Bearbeitungszeit (min);Wartezeit;Eskaliert;Wiedereröffnet\n"
        "V1;K1;Büro;Telefon;31.01.2026 14:05;31.01.2026 15:00;12,5;30;ja;nein\n"
        "V2;K2;Büro;E-Mail;30.01.2026 08:00;;1.234,5;45;nein;nein\n",
        encoding="cp1252",
    )
    text, m, _ = drafted(path)
    assert m.csv.encoding == "cp1252" and "cp1252" in text
    assert col(m, "resolved_at").from_ == "Gelöst am"
    assert col(m, "reopened").from_ == "Wiedereröffnet"
    hts = col(m, "handle_time_s")
    assert (hts.from_, hts.decimal, hts.thousands, hts.unit) == (
        "Bearbeitungszeit (min)",
        ",",
        ".",
        "minutes",
    )
    assert col(m, "wait_time_s").from_ == "Wartezeit"
    assert (col(m, "escalated").true, col(m, "escalated").false) == (["ja"], ["nein"])


def test_survey_export_type_from_score_and_unanswered_filtered(tmp_path: Path) -> None:
    path = write(
        tmp_path / "nps.csv",
        "Response ID,Ticket ID,Customer ID,NPS,Comment,Submitted at\n"
        "R1,4711,88123,9,great,2026-01-31T14:05:00Z\n"
        "R2,4712,88124,,,2026-01-31T15:05:00Z\n"
        "R3,4713,88125,3,slow,2026-02-01T09:00:00Z\n",
    )
    text, m, ds = drafted(path)
    assert ds == "surveys"
    assert col(m, "score").from_ == "NPS"
    assert col(m, "survey_type").constant == "nps"
    assert [f.missing for f in m.filters] == ["score"]
    assert col(m, "submitted_at").formats == []


def test_epoch_timestamps(tmp_path: Path) -> None:
    path = write(
        tmp_path / "e.csv",
        "id,created,team\n1,1706710000,A\n2,1706720000,B\n",
    )
    _, m, _ = drafted(path, "tickets")
    assert col(m, "created_at").formats == ["epoch_s"]
    ms = write(tmp_path / "ms.csv", "id,created,team\n1,1706710000123,A\n")
    _, m, _ = drafted(ms, "tickets")
    assert col(m, "created_at").formats == ["epoch_ms"]


def test_suggest_through_the_cli_entry(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = write(tmp_path / "export.csv", ZENDESK_DE)
    assert main_sources("suggest", str(path), "tickets") == 0
    out = capsys.readouterr().out
    assert validate_suggestion(out).column("ticket_id").from_ == "Ticket ID"
    assert main_sources("suggest", str(tmp_path / "nope.csv")) == 2


def test_preset_is_mentioned_when_the_header_matches(tmp_path: Path) -> None:
    from scorecards.config.sources import load_preset, preset_names

    names = [n for n in preset_names() if load_preset(n)["dataset"] == "tickets"]
    if not names:
        pytest.skip("no ticket presets yet")
    name = names[0]
    cols = []
    for spec in load_preset(name)["mapping"].get("columns", {}).values():
        if isinstance(spec, str):
            cols.append(spec)
        elif isinstance(spec, dict):
            cols += [spec[k] for k in ("from", "date", "time") if isinstance(spec.get(k), str)]
    cols = list(dict.fromkeys(cols))
    if len(cols) < 3:
        pytest.skip("preset names too few columns")
    path = write(tmp_path / "p.csv", ",".join(cols) + "\n" + ",".join("x" for _ in cols) + "\n")
    s = suggest(path, "tickets")
    assert name in [p for p, _, _ in s.presets]
    assert f"preset: {name}" in s.yaml()


# --- check -----------------------------------------------------------------------------------


class Box:
    """A data dir and config dir whose sources.yaml is what `suggest` drafted."""

    def __init__(self, root: Path) -> None:
        from tests.conftest import TEAMS

        self.data = root / "data"
        self.config = root / "config"
        self.config.mkdir(parents=True)
        (self.config / "teams.yaml").write_text(yaml.safe_dump(TEAMS))
        self.landing = self.data / "landing"

    def use(self, text: str) -> None:
        (self.config / "sources.yaml").write_text(text, encoding="utf-8")

    def settings(self):
        from scorecards.config.settings import load_settings

        return load_settings(self.data, self.config)


def months(result) -> dict[str, dict[str, int]]:
    return {
        r["period"]: {k: int(v) for k, v in r.items() if k != "period"}
        for r in result.months.to_dict("records")
    }


def test_check_counts_a_day_first_export_by_month_and_reason(tmp_path: Path) -> None:
    box = Box(tmp_path)
    path = write(
        box.landing / "tickets" / "export.csv",
        ZENDESK_DE
        + "4714;88126;Technik;Mail;31.13.2026 09:12;;;00:01:10;0;N;1\n"  # month 13
        + "4715;88127;Technik;Carrier Pigeon;03.02.2026 09:12;;;00:01:10;0;N;1\n"  # unknown channel
        + "4713;88125;Technik;Mail;03.02.2026 09:12;03.02.2026 10:00;04.02.2026 11:00;00:01:10;0;N;1\n",
    )
    box.use(suggest_text(path, "tickets"))
    res = check(path, settings=box.settings())
    assert res.ok, res.text
    got = months(res)
    assert got["2026-01"] == {
        "rows_read": 1,
        "accepted": 1,
        "quarantined": 0,
        "duplicates_dropped": 0,
        "superseded": 0,
        "filtered": 0,
    }
    assert got["2026-02"]["accepted"] == 2 and got["2026-02"]["quarantined"] == 1
    assert got["2026-02"]["duplicates_dropped"] == 1
    assert got["undated"]["quarantined"] == 1
    reasons = dict(res.reasons.itertuples(index=False))
    assert reasons == {"unparsable timestamp: created_at": 1, "unknown channel": 1}
    assert "created_at='31.13.2026 09:12'" in res.text
    assert "channel='Carrier Pigeon'" in res.text
    # accounting identity, per month and in total
    for m in got.values():
        assert m["rows_read"] == sum(v for k, v in m.items() if k != "rows_read")
    assert "total: 6 read = 3 accepted + 2 quarantined + 1 duplicates" in res.text
    # what it says about the file and the KPIs
    assert "delimiter:  ';'" in res.text and "Erstellt am" in res.text
    assert "first 5 rows as parsed" in res.text and "row 1 accepted" in res.text
    assert res.kpis["wait_time"] == "no data: wait_time_s not mapped"
    assert res.kpis["first_contact_resolution"].startswith("yes")


def test_check_event_log_supersedes_and_survey_filter(tmp_path: Path) -> None:
    box = Box(tmp_path)
    events = write(
        box.landing / "tickets" / "incident_events.csv",
        "number,opened_at,sys_updated_on,assignment_group,contact_type,caller_id,reopen_count\n"
        "INC001,2016-02-29 01:16:00,2016-02-29 01:23:00,alpha,Phone,C1,0\n"
        "INC001,2016-02-29 01:16:00,2016-02-29 08:53:00,alpha,Phone,C1,0\n"
        "INC001,2016-02-29 01:16:00,2016-02-29 11:29:00,beta,Phone,C1,1\n"
        "INC002,2016-03-01 04:40:00,2016-03-01 04:57:00,beta,Email,C2,0\n",
    )
    survey = write(
        box.landing / "surveys" / "calls.csv",
        "Response ID,Ticket ID,Customer ID,Rating,Submitted at\n"
        "R1,INC001,C1,5,2016-03-02 10:00:00\n"
        "R2,INC002,C2,,2016-03-02 11:00:00\n"
        "R3,INC002,C2,4,2016-03-02 12:00:00\n",
    )
    tickets_yaml = suggest_text(events, "tickets")
    surveys_yaml = suggest_text(survey, "surveys")
    box.use(tickets_yaml + surveys_yaml)
    res = check(events, settings=box.settings())
    assert res.ok, res.text
    got = months(res)
    assert got["2016-02"]["superseded"] == 2 and got["2016-02"]["accepted"] == 1
    assert got["2016-03"]["accepted"] == 1
    assert res.kpis["escalation_rate"] == "no data: escalated not mapped"
    res = check(survey, settings=box.settings())
    assert res.ok, res.text
    got = months(res)
    assert got["2016-03"] == {
        "rows_read": 3,
        "accepted": 2,
        "quarantined": 0,
        "duplicates_dropped": 0,
        "superseded": 0,
        "filtered": 1,
    }
    assert "no score: not a response" in res.text
    assert res.kpis["csat"].startswith("yes")
    assert res.kpis["nps"] == "no data: no nps responses in this file"


def test_check_file_outside_landing_and_refused_file(tmp_path: Path) -> None:
    box = Box(tmp_path)
    path = write(tmp_path / "elsewhere" / "t.csv", "Id,Created at,Group\n1,2026-01-05,alpha\n")
    box.use("tickets:\n  columns: {ticket_id: Id, created_at: Created at, team: Group}\n")
    res = check(path, "tickets", settings=box.settings())
    assert "outside the landing folder" in res.text
    assert not res.ok  # customer_id and more are required and not mapped
    assert "THE PIPELINE WOULD REFUSE THIS FILE" in res.text
    assert "customer_id" in res.text
