"""Partial data sets: tickets only (without resolved_at or an escalation flag), surveys only, no
customers file. Every KPI whose inputs exist is computed and checked against figures worked
out here from the rows written; the others are "no data" with the reason, in team_kpis.csv,
in the PDF (de and en) and in the e-mail. The churn step and the delivery gate cope.

Real components throughout: landing CSVs in contract column names, the real ingest into a DuckDB
file, the churn step, the KPI engine, WeasyPrint PDFs read back with pypdf.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from assets import checks
from scorecards.churn.scoring import build_churn_risk
from scorecards.delivery.gate import evaluate_gate
from scorecards.delivery.mail import MailBuilder
from scorecards.ingest.load import ingest_customers, ingest_events
from scorecards.kpis.engine import build_team_kpis, kpi_csv_path
from scorecards.render import batch
from scorecards.report.data import load_month, team_report
from scorecards.report.summary import team_summary
from scorecards.warehouse.connection import connect
from tests.conftest import TEAMS, Env, customer, survey, ticket

# every test here runs on the DuckDB file and on DuckLake (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("warehouse_backend")

MONTHS = ["2026-03", "2026-04"]
MONTH = "2026-04"
FIRST = "2026-03"
TEAMS_CFG = {**TEAMS, "first_month": FIRST}

TICKET_KPIS_NEEDING_RESOLVED = (
    "average_resolution_time",
    "average_handling_time",
    "first_contact_resolution",
    "resolution_rate",
    "reopen_rate",
    "self_service_rate",
)
SURVEY_KPIS = ("csat", "nps", "ces", "detractor_share")
TICKET_KPIS = (
    "ticket_volume",
    "first_response_time",
    "wait_time",
    "escalation_rate",
    *TICKET_KPIS_NEEDING_RESOLVED,
)


def _csv(settings, month: str = MONTH) -> pd.DataFrame:  # noqa: ANN001
    return pd.read_csv(kpi_csv_path(settings, month), keep_default_na=False, na_values=[""])


def _get(df: pd.DataFrame, team: str, kpi: str) -> pd.Series:
    rows = df[(df.team == team) & (df.kpi == kpi)]
    assert len(rows) == 1, (team, kpi)
    return rows.iloc[0]


def _no_data(df: pd.DataFrame, team: str, kpi: str, reason: str) -> None:
    row = _get(df, team, kpi)
    assert pd.isna(row.value), (team, kpi, row.value)
    assert row.no_data_reason == reason, (team, kpi, row.no_data_reason)


def _pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(str(path)).pages)


def _flat(path: Path) -> str:
    """The PDF's text with every run of whitespace as one space (table cells wrap)."""
    return " ".join(_pdf_text(path).split())


def _line(text: str, start: str) -> str:
    """The first line of extracted PDF text that starts with `start`."""
    return next(ln for ln in text.splitlines() if ln.startswith(start))


# --- tickets only: no resolved_at, no escalation flag, no surveys, no customers ---------------


def _tickets_only_rows() -> list[dict]:
    rows = []
    for month, days in (("2026-03", 31), ("2026-04", 30)):
        for day in range(1, days + 1):
            for k in range(2):
                team = "alpha" if k == 0 else "beta"
                rows.append(
                    ticket(
                        f"{month}-{day:02d}-{k}",
                        f"{month}-{day:02d}T10:00:00+02:00",
                        team=team,
                        customer_id=f"C{day % 5}",
                        # first response after (day·7 mod 50) + 5 minutes; every third without
                        first_response_at=""
                        if day % 3 == 0
                        else f"{month}-{day:02d}T10:{(day * 7) % 50 + 5:02d}:00+02:00",
                        wait_time_s=60 * (day % 4) if day % 2 else "",
                        escalated="true" if day % 5 == 0 else "false",
                    )
                )
    return rows


@pytest.fixture(scope="module")
def tickets_only(warehouse_backend: object, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    env = Env(tmp_path_factory.mktemp("tickets_only"), teams=TEAMS_CFG)
    rows = _tickets_only_rows()
    env.tickets(rows)  # no surveys folder, no customers folder
    settings = env.settings()
    ingest_events(settings, MONTHS)
    ingest_customers(settings)
    with connect(settings.warehouse) as con:
        # What the source mapping writes when it declares a contract flag absent from the
        # export: NULL in every row. The ingest of today still requires the column, so the test
        # puts the warehouse into that state itself.
        con.execute("UPDATE tickets SET escalated = NULL")
    churn, _ = build_churn_risk(settings, MONTHS, FIRST)
    build_team_kpis(settings, MONTHS, FIRST)
    result = batch.build_scorecards(settings, MONTH, workers=1)
    assert not result.failures, result.failures
    return env, settings, rows, churn


def test_tickets_only_kpis_computed_where_inputs_exist(tickets_only) -> None:
    env, settings, rows, _ = tickets_only
    df = _csv(settings)
    april = [r for r in rows if r["created_at"].startswith(MONTH)]
    for team in ("alpha", "beta"):
        mine = [r for r in april if r["team"] == team]
        assert _get(df, team, "ticket_volume").value == len(mine)
        frt = [int(r["first_response_at"][14:16]) for r in mine if r["first_response_at"]]
        row = _get(df, team, "first_response_time")
        assert row.value == pytest.approx(statistics.median(frt))
        assert row.n == len(frt) and pd.isna(row.no_data_reason)
        waits = [r["wait_time_s"] / 60 for r in mine if r["wait_time_s"] != ""]
        row = _get(df, team, "wait_time")
        assert row.value == pytest.approx(statistics.mean(waits)) and row.n == len(waits)
    assert _get(df, "ALL", "ticket_volume").value == len(april)
    # The March figure is the April row's previous month.
    march = [r for r in rows if r["created_at"].startswith("2026-03") and r["team"] == "alpha"]
    assert _get(df, "alpha", "ticket_volume").prev_value == len(march)


def test_tickets_only_missing_inputs_are_no_data_with_reason(tickets_only) -> None:
    _, settings, _, _ = tickets_only
    df = _csv(settings)
    for team in ("ALL", "alpha", "beta"):
        for kpi in TICKET_KPIS_NEEDING_RESOLVED:
            _no_data(df, team, kpi, "no resolved timestamp in the data")
        # Escalated was NULL on every row: not 0 %, no data.
        _no_data(df, team, "escalation_rate", "no escalation flag in the data")
        for kpi in SURVEY_KPIS:
            _no_data(df, team, kpi, "no survey responses in the data")
        for kpi in ("churn_rate", "at_risk_customers", "at_risk_share"):
            _no_data(df, team, kpi, "no customers data")
    # The invariant: a row has a reason exactly when it has no value.
    assert (df.value.isna() == df.no_data_reason.notna()).all()
    # The previous month of a KPI without input is no data as well, never 0.
    assert _get(df, "alpha", "escalation_rate").prev_value != 0
    assert pd.isna(_get(df, "alpha", "escalation_rate").prev_value)


def test_no_customers_churn_is_not_scored_and_says_why(tickets_only) -> None:
    env, settings, _, churn = tickets_only
    for m in MONTHS:
        assert not churn[m].scored
        assert churn[m].reason == "not scored: no customers data"
        assert not (env.data / "out" / m / "churn_risk.csv").exists()
    with connect(settings.warehouse, read_only=True) as con:
        status = con.execute(
            "SELECT period, scored, reason FROM churn_status ORDER BY 1"
        ).fetchall()
    assert status == [(m, False, "not scored: no customers data") for m in MONTHS]


def test_tickets_only_pdf_says_no_data_with_reason(tickets_only) -> None:
    env, _, _, _ = tickets_only
    folder = env.data / "out" / MONTH / "scorecards"
    de = _flat(folder / "alpha.pdf")  # alpha reads German
    en = _flat(folder / "beta.pdf")
    # The all-KPIs table: each row without input says no data and why, never "0,0 %".
    assert (
        "Eskalationsrate niedriger ist besser keine Daten: kein Eskalations-Kennzeichen in den Daten"
        in de
    )
    assert "Eskalationsrate niedriger ist besser 0" not in de
    assert (
        "Lösungsquote beim Erstkontakt (FCR) höher ist besser keine Daten: kein "
        "Lösungszeitpunkt in den Daten" in de
    )
    assert "Kundenabwanderungsrate niedriger ist besser keine Daten: keine Kundendaten" in de
    assert (
        "Average resolution time (ART) lower is better no data: no resolved timestamp in the data"
        in en
    )
    assert "Escalation rate lower is better no data: no escalation flag in the data" in en
    assert "Customer satisfaction (CSAT) higher is better no data: no survey responses" in en
    # Headline tiles: FCR and CSAT say no data and why.
    # (pypdf runs the value and the reason below it together: "keine Datenkein ...")
    assert "keine Datenkein Lösungszeitpunkt in den Daten kein Ziel" in de
    assert "no datano survey responses in the data no target" in en
    # The churn section says why it is missing.
    assert "Abwanderungsrisiko berechnet (keine Kundendaten)" in de
    assert "churn risk was not scored for this month (no customers data)" in en
    # No note about "too few survey responses (n = 0)" where there are no surveys at all.
    assert "n = 0" not in de and "n = 0" not in en
    # Computed KPIs keep their figures (FRT: median 31 minutes, worked out in the test above).
    assert "First response time (FRT) lower is better 31.0 min" in en
    overview = _flat(folder / "overview.pdf")
    assert "kein Lösungszeitpunkt in den Daten" in overview  # the overview reads German


def test_tickets_only_mail_names_the_reason(tickets_only) -> None:
    _, settings, _, _ = tickets_only
    data = load_month(settings, MONTH)
    cfg = {t.id: t for t in settings.teams_file.teams}
    msg = MailBuilder().scorecard(
        team_summary(team_report(settings, data, cfg["beta"])),
        b"%PDF-1.7",
        sender="scorecards@example.com",
        to="lead@example.com",
        msg_id="<x@example.com>",
    )
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    fcr = _line(text, "- First contact resolution")
    assert "no data (no resolved timestamp in the data)" in fcr
    assert "low sample" not in fcr
    assert "no data (no survey responses in the data)" in _line(text, "- Customer satisfaction")
    assert "no survey responses in the data" in html
    # FRT has a value and no reason.
    assert "(no " not in _line(text, "- First response time")


# --- surveys only -----------------------------------------------------------------------------

SCORES = {
    # (team, type): April scores
    ("alpha", "csat"): [5, 4, 4, 3, 1, 5, 2],
    ("beta", "csat"): [5, 5, 4],
    ("alpha", "nps"): [10, 9, 8, 7, 6, 0, 10],
    ("beta", "nps"): [3, 9],
    ("alpha", "ces"): [7, 6, 5],
}


def _survey_rows() -> list[dict]:
    rows = []
    for (team, kind), scores in SCORES.items():
        for i, s in enumerate(scores):
            day = 1 + (i * 4) % 28
            rows.append(
                survey(
                    f"{team}-{kind}-{i}", f"2026-04-{day:02d}T12:00:00+02:00", kind, s, team=team
                )
            )
            # March, one per type and team
            if i == 0:
                rows.append(
                    survey(f"M-{team}-{kind}", "2026-03-20T12:00:00+02:00", kind, s, team=team)
                )
    # The data reaches the end of April.
    rows.append(survey("last", "2026-04-30T18:00:00+02:00", "csat", 4, team="alpha"))
    return rows


@pytest.fixture(scope="module")
def surveys_only(warehouse_backend: object, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    env = Env(tmp_path_factory.mktemp("surveys_only"), teams=TEAMS_CFG)
    env.surveys(_survey_rows())  # no tickets folder
    env.customers(
        [
            customer("C1", "2025-01-01", churned="2026-04-10T12:00:00+02:00"),
            customer("C2", "2025-01-01"),
            customer("C3", "2025-06-01"),
        ]
    )
    settings = env.settings()
    reports = ingest_events(settings, MONTHS)
    ingest_customers(settings)
    churn, _ = build_churn_risk(settings, MONTHS, FIRST)
    build_team_kpis(settings, MONTHS, FIRST)
    result = batch.build_scorecards(settings, MONTH, workers=1)
    assert not result.failures, result.failures
    return env, settings, reports, churn


def test_surveys_only_survey_kpis_per_team(surveys_only) -> None:
    _, settings, _, _ = surveys_only
    df = _csv(settings)
    for team in ("alpha", "beta"):
        csat = SCORES[(team, "csat")] + ([4] if team == "alpha" else [])
        row = _get(df, team, "csat")
        assert row.value == pytest.approx(100 * sum(s >= 4 for s in csat) / len(csat))
        assert row.n == len(csat)
        nps = SCORES[(team, "nps")]
        promoters = sum(s >= 9 for s in nps) / len(nps)
        detractors = sum(s <= 6 for s in nps) / len(nps)
        assert _get(df, team, "nps").value == pytest.approx(100 * (promoters - detractors))
        assert _get(df, team, "detractor_share").value == pytest.approx(100 * detractors)
        for kpi in TICKET_KPIS:
            _no_data(df, team, kpi, "no tickets in the data")
    assert _get(df, "alpha", "ces").value == pytest.approx(
        statistics.mean(SCORES[("alpha", "ces")])
    )
    # beta has surveys but no CES answers while alpha has: an empty base, not absent input.
    _no_data(df, "beta", "ces", "0 CES responses submitted in the month")
    all_csat = SCORES[("alpha", "csat")] + [4] + SCORES[("beta", "csat")]
    assert _get(df, "ALL", "csat").value == pytest.approx(
        100 * sum(s >= 4 for s in all_csat) / len(all_csat)
    )
    # Company churn needs customers only: C1, C2 and C3 were active on 1 April, C1 left in it.
    assert _get(df, "ALL", "churn_rate").value == pytest.approx(100 / 3, abs=1e-5)
    assert _get(df, "ALL", "churn_rate").n == 3
    # A team's churn rate needs the customers it served, i.e. tickets.
    _no_data(df, "alpha", "churn_rate", "no tickets in the data")
    for team in ("ALL", "alpha"):
        _no_data(df, team, "at_risk_share", "not scored: no tickets in the data")
    assert (df.value.isna() == df.no_data_reason.notna()).all()


def test_surveys_only_churn_and_pdf(surveys_only) -> None:
    env, _, _, churn = surveys_only
    assert churn[MONTH].reason == "not scored: no tickets in the data"
    folder = env.data / "out" / MONTH / "scorecards"
    de = _flat(folder / "alpha.pdf")
    assert "Ticket-Volumen ohne Wertung keine Daten: keine Tickets in den Daten" in de
    assert "nicht berechnet: keine Tickets in den Daten" in de
    en = _flat(folder / "beta.pdf")
    # beta's CSAT: 5, 5, 4 are all top-two answers.
    assert "Customer satisfaction (CSAT) higher is better 100.0%" in en
    assert "Ticket volume not judged no data: no tickets in the data" in en
    assert "Customer effort score (CES) higher is better no data: 0 CES responses" in en


def test_surveys_only_passes_the_gate_and_completeness_check(surveys_only) -> None:
    _, settings, reports, _ = surveys_only
    gate = evaluate_gate(settings, MONTH)
    assert gate.passed, [(c.name, c.detail) for c in gate.failed]
    end = next(c for c in gate.checks if c.name == "data_reaches_month_end")
    assert "survey data ends at 2026-04-30" in end.detail
    res = checks.completeness_result(
        reports["tickets"], settings.timezone, fallback=reports["survey_responses"]
    )
    # Judged on each month's own days: March's survey data ends on the 20th, so the load of
    # March and April fails for March (the newest survey of April no longer covers for it).
    assert not res.passed and "judged on survey_responses" in res.description
    assert "ends at 2026-03-20" in res.description and "2026-04 " not in res.description
    # Without the fallback the tickets alone cannot tell: the check fails, as before.
    assert not checks.completeness_result(reports["tickets"], settings.timezone).passed


def test_surveys_only_gate_fails_when_surveys_end_early(tmp_path: Path) -> None:
    env = Env(tmp_path, teams=TEAMS_CFG)
    env.surveys(
        [
            survey("a", "2026-03-10T12:00:00+01:00", "csat", 5, team="alpha"),
            survey("b", "2026-03-12T12:00:00+01:00", "csat", 5, team="beta"),
            survey("c", "2026-04-10T12:00:00+02:00", "csat", 4, team="alpha"),
        ]
    )
    settings = env.settings()
    reports = ingest_events(settings, MONTHS)
    gate = evaluate_gate(settings, MONTH)
    failed = {c.name: c.detail for c in gate.failed}
    assert "survey data ends at 2026-04-10" in failed["data_reaches_month_end"]
    # beta answered surveys in March and none in April: judged on surveys, it went silent.
    assert "beta" in failed["no_team_without_tickets"]
    assert "survey responses" in failed["no_team_without_tickets"]
    res = checks.completeness_result(
        reports["tickets"], settings.timezone, fallback=reports["survey_responses"]
    )
    assert not res.passed and "2026-04" in res.description


# --- NULL flags next to present ones ----------------------------------------------------------


def test_null_reopened_flag_is_no_data_and_null_rows_leave_the_base(tmp_path: Path) -> None:
    env = Env(tmp_path, teams=TEAMS_CFG)
    rows = [
        ticket(
            f"T{i}",
            f"2026-04-{1 + i:02d}T10:00:00+02:00",
            resolved_at=f"2026-04-{1 + i:02d}T14:00:00+02:00" if i % 4 else "",
            escalated="true" if i % 3 == 0 else "false",
        )
        for i in range(20)
    ]
    rows.append(ticket("M", "2026-03-20T10:00:00+01:00"))
    env.tickets(rows)
    settings = env.settings()
    ingest_events(settings, MONTHS)
    with connect(settings.warehouse) as con:
        con.execute("UPDATE tickets SET reopened = NULL")
        # Half of the April tickets come from an export without the escalation flag.
        con.execute("UPDATE tickets SET escalated = NULL WHERE ticket_id IN ('T1', 'T2', 'T3')")
    df = build_team_kpis(settings, [MONTH], FIRST)[MONTH]
    resolved = [r for r in rows if r["resolved_at"]]
    row = _get(df, "alpha", "resolution_rate")
    assert row.value == pytest.approx(100 * len(resolved) / 20)
    assert row.n == 20
    for kpi in ("reopen_rate", "first_contact_resolution"):
        _no_data(df, "alpha", kpi, "no reopened flag in the data")
    # 17 tickets have the flag; of them T0, T6, T9, T12, T15, T18 were escalated (T3 is NULL).
    flagged = [r for r in rows[:20] if r["ticket_id"] not in ("T1", "T2", "T3")]
    escalated = sum(r["escalated"] == "true" for r in flagged)
    esc = _get(df, "alpha", "escalation_rate")
    assert esc.n == len(flagged) == 17
    assert esc.value == pytest.approx(100 * escalated / 17)
    assert math.isfinite(_get(df, "alpha", "average_resolution_time").value)


# --- the Dagster run without a customers file -------------------------------------------------


def test_dagster_run_without_customers_file_succeeds(tmp_path: Path) -> None:
    import dagster as dg

    from pipelines.definitions import build_definitions

    env = Env(tmp_path, teams=TEAMS_CFG)
    env.tickets(_tickets_only_rows())  # no customers folder, no surveys folder
    defs = build_definitions(env.settings())
    instance = dg.DagsterInstance.ephemeral()

    def run(selection: list[str], **kw) -> dg.ExecuteInProcessResult:  # noqa: ANN003
        return dg.materialize(
            list(defs.assets),
            selection=selection,
            resources=defs.resources,
            instance=instance,
            raise_on_error=False,
            **kw,
        )

    assert run(["customers"]).success
    result = run(
        ["tickets", "survey_responses", "customer_churn_risk", "team_kpis"],
        tags={
            "dagster/asset_partition_range_start": MONTHS[0],
            "dagster/asset_partition_range_end": MONTHS[-1],
        },
    )
    assert result.success
    mats = {
        e.event_specific_data.materialization.asset_key.to_user_string(): (
            e.event_specific_data.materialization.metadata
        )
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
    }
    assert mats["customer_churn_risk"]["status"].value == "not scored: no customers data"
    df = _csv(env.settings())
    _no_data(df, "ALL", "churn_rate", "no customers data")
    _no_data(df, "ALL", "at_risk_share", "no customers data")
    assert _get(df, "ALL", "ticket_volume").value == 60
