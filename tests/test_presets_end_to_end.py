"""Each preset (scorecards/presets/*.yaml) takes its sample export from landing to KPIs and a PDF
with figures that match an independent count of the sample file.

The expected figures are computed here with pandas straight from the sample CSV, not through the
mapping engine, so a preset that maps a column wrongly shows up as a wrong number.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.preset_samples import SAMPLE_OF, SAMPLES, TICKET_PRESETS, read_sample

TZ = "Europe/Berlin"
MONTHS = ["2026-01", "2026-02", "2026-03"]
LAST = MONTHS[-1]
# Team names in the samples -> team ids in the test's teams.yaml (a user's `values` override).
TEAM_IDS = {
    "IT Service Desk": "it_service_desk",
    "Kundenservice Süd": "kundenservice_sued",
    "Abrechnung & Verträge": "abrechnung",
}


# ------------------------------------------------------------------ independent expectations


def _month(ts: pd.Series, fmt: str) -> pd.Series:
    return pd.to_datetime(ts, format=fmt, errors="coerce").dt.strftime("%Y-%m")


def expected_tickets(name: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """The accepted tickets of a sample (team, month, resolved, fcr inputs) and the row
    accounting, computed from the CSV with plain pandas."""
    df = read_sample(SAMPLE_OF[name])
    n = len(df)
    acct = {
        "rows_read": n,
        "quarantined": 0,
        "duplicates_dropped": 0,
        "superseded": 0,
        "filtered": 0,
    }
    if name not in _TICKETS_OF:  # pragma: no cover - a new preset needs its expectation here
        raise AssertionError(name)
    out = _TICKETS_OF[name](df, acct)
    acct["accepted"] = len(out)
    return out.reset_index(drop=True), acct


def _zendesk(df: pd.DataFrame, acct: dict[str, int]) -> pd.DataFrame:
    bad = df["Group"].str.strip() == ""
    acct["quarantined"] = int(bad.sum())
    df = df[~bad]
    return pd.DataFrame(
        {
            "team": df["Group"],
            "month": _month(df["Created at"], "%Y-%m-%d %H:%M:%S"),
            "resolved_month": _month(df["Solved at"], "%Y-%m-%d %H:%M:%S"),
            "contacts": df["Replies"].astype(int).clip(lower=1),
            "reopened": df["Reopens"].astype(int) > 0,
        }
    )


def _freshdesk(df: pd.DataFrame, acct: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "team": df["Group"],
            "month": _month(df["Created time"], "%Y-%m-%d %H:%M:%S"),
            "resolved_month": _month(df["Resolved time"], "%Y-%m-%d %H:%M:%S"),
            "contacts": df["Customer interactions"].astype(int),
            "reopened": None,
        }
    )


def _servicenow(df: pd.DataFrame, acct: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "team": df["assignment_group"],
            "month": _month(df["opened_at"], "%Y-%m-%d %H:%M:%S"),
            "resolved_month": _month(df["resolved_at"], "%Y-%m-%d %H:%M:%S"),
            "contacts": 1,
            "reopened": df["reopen_count"].astype(int) > 0,
        }
    )


def _servicenow_event_log(df: pd.DataFrame, acct: dict[str, int]) -> pd.DataFrame:
    # The latest update per incident wins (sources.EventLog); an earlier row that repeats
    # it verbatim is a duplicate, every other earlier row is superseded.
    df = df.assign(_mod=df["sys_mod_count"].astype(int))
    last = df.sort_values(["number", "_mod"], kind="stable").groupby("number").tail(1)
    cols = [c for c in df.columns if c != "_mod"]
    copies = df.drop(index=last.index).merge(last[cols], on=cols, how="inner")
    acct["duplicates_dropped"] = len(copies)
    acct["superseded"] = len(df) - len(last) - len(copies)
    res = last["resolved_at"].replace("?", "")
    return pd.DataFrame(
        {
            "team": last["assignment_group"],
            "month": _month(last["opened_at"], "%d/%m/%Y %H:%M"),
            "resolved_month": _month(res, "%d/%m/%Y %H:%M"),
            "contacts": 1,
            "reopened": last["reopen_count"].astype(int) > 0,
        }
    )


def _jira_service_management(df: pd.DataFrame, acct: dict[str, int]) -> pd.DataFrame:
    fmt = "%d/%b/%y %I:%M %p"
    return pd.DataFrame(
        {
            "team": df["Component/s"],
            "month": _month(df["Created"], fmt),
            "resolved_month": _month(df["Resolved"], fmt),
            "contacts": None,
            "reopened": None,
        }
    )


def _call_centre(df: pd.DataFrame, acct: dict[str, int]) -> pd.DataFrame:
    unanswered = df["Answered (Y/N)"].str.upper() == "N"
    acct["filtered"] = int(unanswered.sum())
    df = df[~unanswered]
    month = _month(df["Date"], "%d.%m.%Y")
    return pd.DataFrame(
        {
            "team": df["Queue"],
            "month": month,
            "resolved_month": month,
            "contacts": (df["Resolved"].str.upper() != "Y").astype(int) + 1,
            "reopened": False,
        }
    )


# ticket preset -> its accepted tickets from the sample; fills in the accounting it changes.
_TICKETS_OF = {
    "zendesk": _zendesk,
    "freshdesk": _freshdesk,
    "servicenow": _servicenow,
    "servicenow_event_log": _servicenow_event_log,
    "jira_service_management": _jira_service_management,
    "call_centre": _call_centre,
}


def test_expectations_add_up() -> None:
    """The accounting identity on the expectations themselves (no engine needed)."""
    for name in TICKET_PRESETS:
        _, a = expected_tickets(name)
        parts = a["accepted"] + a["quarantined"] + a["duplicates_dropped"] + a["superseded"]
        assert a["rows_read"] == parts + a["filtered"], name
        # Each sample spreads over the three months.
        got, _ = expected_tickets(name)
        assert set(got.month) == set(MONTHS), name


# ------------------------------------------------------------------ end to end (needs the engine)


def _engine_ready() -> bool:
    try:
        import scorecards.ingest.landing as landing
    except ImportError:  # pragma: no cover
        return False
    return hasattr(landing, "resolve_files")


needs_engine = pytest.mark.skipif(
    not _engine_ready(), reason="needs the mapping engine (scorecards.ingest.landing.resolve_files)"
)


def _teams_yaml() -> dict:
    return {
        "timezone": TZ,
        "quarantine_threshold": 0.2,
        "first_month": MONTHS[0],
        "teams": [
            {"id": tid, "name": name, "locale": "de" if "Süd" in name else "en"}
            for name, tid in TEAM_IDS.items()
        ],
    }


def _team_values() -> dict:
    return {"team": dict(TEAM_IDS)}


def _env(tmp_path: Path, sources: dict, files: dict[str, str]):  # noqa: ANN202 - conftest.Env
    from tests.conftest import Env

    env = Env(tmp_path, teams=_teams_yaml(), sources=sources)
    for rel, sample in files.items():
        dest = env.landing / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SAMPLES / sample, dest)
    return env


def _file_row(report, rel: str) -> dict:  # noqa: ANN001 - IngestReport
    files = report.files
    col = "file" if "file" in files.columns else files.columns[0]
    row = files[files[col].astype(str).str.endswith(rel.split("/")[-1])]
    assert len(row) == 1, files
    return {
        k: int(row[k].iloc[0])
        for k in files.columns
        if k != col and pd.api.types.is_numeric_dtype(files[k])
    }


def _check_accounting(got: dict, want: dict) -> None:
    parts = ("accepted", "quarantined", "duplicates_dropped", "superseded", "filtered")
    assert got["rows_read"] == sum(got.get(k, 0) for k in parts), got
    for k in ("rows_read", *parts):
        assert got.get(k, 0) == want[k], (k, got, want)


def _kpi(df: pd.DataFrame, team: str, kpi: str) -> pd.Series:
    row = df[(df.team == team) & (df.kpi == kpi)]
    assert len(row) == 1, (team, kpi)
    return row.iloc[0]


def _render(settings, month: str) -> list[Path]:  # noqa: ANN001
    from pypdf import PdfReader

    from scorecards.render import batch

    result = batch.build_scorecards(settings, month, workers=1)
    assert not result.failures, result.failures
    paths = [f.path for f in result.files]
    for p in paths:
        assert p.stat().st_size > 1000
        assert len(PdfReader(str(p)).pages) >= 1
    return paths


@needs_engine
@pytest.mark.parametrize("name", TICKET_PRESETS)
def test_ticket_preset_from_landing_to_pdf(tmp_path: Path, name: str) -> None:
    from scorecards.ingest.load import ingest_events
    from scorecards.kpis.engine import build_team_kpis

    rel = f"tickets/{SAMPLE_OF[name]}"
    env = _env(
        tmp_path, {"tickets": {"preset": name, "values": _team_values()}}, {rel: SAMPLE_OF[name]}
    )
    settings = env.settings()
    reports = ingest_events(settings, MONTHS)
    want_rows, want_acct = expected_tickets(name)
    _check_accounting(_file_row(reports["tickets"], rel), want_acct)

    kpis = build_team_kpis(settings, [LAST], MONTHS[0])[LAST]
    last = want_rows[want_rows.month == LAST]
    for team_name, tid in TEAM_IDS.items():
        got = _kpi(kpis, tid, "ticket_volume")
        assert int(got.value) == int((last.team == team_name).sum()), (name, tid)
    total = _kpi(kpis, "ALL", "ticket_volume")
    assert int(total.value) == len(last)

    # FCR: resolved in the month with contacts = 1 and not reopened, when the export has both.
    fcr = _kpi(kpis, "ALL", "first_contact_resolution")
    if want_rows.contacts.isna().all() or want_rows.reopened.isna().all():
        assert pd.isna(fcr.value), (name, fcr.value)
    else:
        res = want_rows[want_rows.resolved_month == LAST]
        k = ((res.contacts == 1) & ~res.reopened.astype(bool)).sum()
        assert int(fcr.n) == len(res)
        assert fcr.value == pytest.approx(100.0 * k / len(res), abs=0.05), name
    if name == "call_centre":
        assert pd.isna(_kpi(kpis, "ALL", "escalation_rate").value)
    _render(settings, LAST)


def _survey_case(name: str) -> tuple[dict, dict[str, str], pd.DataFrame, dict[str, int]]:
    """sources.yaml, landing files, the expected accepted responses, their accounting."""
    values = _team_values()
    if name == "call_centre_survey":
        sources = {
            "tickets": {"preset": "call_centre", "match": "calls/*", "values": values},
            "surveys": {"preset": "call_centre_survey", "match": "calls/*", "values": values},
        }
        files = {"calls/call_centre.csv": "call_centre.csv"}
        df = read_sample("call_centre.csv")
        rated = df["Satisfaction rating"].str.strip() != ""
        want = pd.DataFrame(
            {
                "team": df.loc[rated, "Queue"],
                "month": _month(df.loc[rated, "Date"], "%d.%m.%Y"),
                "type": "csat",
                "score": df.loc[rated, "Satisfaction rating"].astype(int),
            }
        )
        return sources, files, want, {"filtered": int((~rated).sum()), "rows_read": len(df)}
    if name == "jira_service_management_survey":
        sources = {
            "tickets": {"preset": "jira_service_management", "match": "jira/*", "values": values},
            "surveys": {"preset": name, "match": "jira/*", "values": values},
        }
        files = {"jira/export.csv": "jira_service_management.csv"}
        df = read_sample("jira_service_management.csv")
        rated = df["Satisfaction rating"].str.strip() != ""
        want = pd.DataFrame(
            {
                "team": df.loc[rated, "Component/s"],
                "month": _month(
                    df.loc[rated, "Custom field (Satisfaction date)"], "%d/%b/%y %I:%M %p"
                ),
                "type": "csat",
                "score": df.loc[rated, "Satisfaction rating"].astype(int),
            }
        )
        return sources, files, want, {"filtered": int((~rated).sum()), "rows_read": len(df)}
    assert name == "survey"
    # The survey export beside a ticket export (tickets give the months their partitions).
    sources = {
        "tickets": {"preset": "zendesk", "values": values},
        "surveys": {"preset": "survey", "values": values},
    }
    files = {"tickets/zendesk.csv": "zendesk.csv", "surveys/responses.csv": "survey.csv"}
    df = read_sample("survey.csv")
    scored = df["Score"].str.strip() != ""
    kind = {"NPS": "nps", "CSAT": "csat", "Customer Effort Score": "ces"}
    want = pd.DataFrame(
        {
            "team": df.loc[scored, "Team"],
            "month": _month(df.loc[scored, "Date"], "%d.%m.%Y %H:%M"),
            "type": df.loc[scored, "Question Type"].map(kind),
            "score": df.loc[scored, "Score"].astype(int),
        }
    )
    return sources, files, want, {"filtered": int((~scored).sum()), "rows_read": len(df)}


@needs_engine
@pytest.mark.parametrize("name", [p for p in SAMPLE_OF if p not in TICKET_PRESETS])
def test_survey_preset_from_landing_to_pdf(tmp_path: Path, name: str) -> None:
    from scorecards.ingest.load import ingest_events
    from scorecards.kpis.engine import build_team_kpis

    sources, files, want, acct = _survey_case(name)
    env = _env(tmp_path, sources, files)
    settings = env.settings()
    reports = ingest_events(settings, MONTHS)
    survey_rel = next(r for r, s in files.items() if s == SAMPLE_OF[name])
    got = _file_row(reports["survey_responses"], survey_rel)
    _check_accounting(
        got,
        {
            "rows_read": acct["rows_read"],
            "accepted": len(want),
            "quarantined": 0,
            "duplicates_dropped": 0,
            "superseded": 0,
            "filtered": acct["filtered"],
        },
    )
    kpis = build_team_kpis(settings, [LAST], MONTHS[0])[LAST]
    last = want[want.month == LAST]
    for team_name, tid in TEAM_IDS.items():
        mine = last[last.team == team_name]
        csat = mine[mine.type == "csat"]
        row = _kpi(kpis, tid, "csat")
        assert int(row.n) == len(csat), (name, tid)
        if len(csat):
            assert row.value == pytest.approx(100.0 * (csat.score >= 4).mean(), abs=0.05)
        nps = mine[mine.type == "nps"]
        row = _kpi(kpis, tid, "nps")
        assert int(row.n) == len(nps)
        if len(nps):
            expect = 100.0 * ((nps.score >= 9).mean() - (nps.score <= 6).mean())
            assert row.value == pytest.approx(expect, abs=0.05)
    _render(settings, LAST)
