"""Every KPI on tiny hand-built data, with answers worked out by hand in the comments."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from scorecards.config.months_needed import kpi_input_months
from scorecards.contract.kpi_catalog import KPIS
from scorecards.core.periods import month_range
from scorecards.ingest.load import ingest_customers, ingest_events
from scorecards.kpis.engine import MissingMonthsError, build_team_kpis, compute_team_kpis
from scorecards.kpis.stats import p_welch
from scorecards.warehouse.connection import connect
from tests.conftest import Env, customer, survey, ticket

# every test here runs on the DuckDB file and on DuckLake (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("warehouse_backend")

MONTHS = ["2026-02", "2026-03", "2026-04"]


def _april_tickets() -> list[dict]:
    """April of team alpha, with the months around it the KPIs compare with."""
    return [
        # April, team alpha (times are Berlin summer time, +02:00)
        ticket(
            "A1",
            "2026-04-01T10:00:00+02:00",
            first_response_at="2026-04-01T10:30:00+02:00",
            resolved_at="2026-04-01T12:00:00+02:00",
            handle_time_s=600,
            wait_time_s=60,
        ),
        ticket(
            "A2",
            "2026-04-02T10:00:00+02:00",
            channel="phone",
            first_response_at="2026-04-02T11:30:00+02:00",
            resolved_at="2026-04-02T20:00:00+02:00",
            handle_time_s=1200,
            contacts=2,
            escalated="yes",
        ),
        ticket(
            "A3",
            "2026-04-03T10:00:00+02:00",
            channel="chat",
            first_response_at="2026-04-03T11:00:00+02:00",
            resolved_at="2026-05-02T10:00:00+02:00",
        ),
        ticket("A4", "2026-04-04T10:00:00+02:00", channel="self_service"),
        ticket(
            "A5",
            "2026-04-05T10:00:00+02:00",
            channel="self_service",
            first_response_at="2026-04-05T10:15:00+02:00",
            resolved_at="2026-04-05T11:00:00+02:00",
            reopened="1",
        ),
        # March: M1 is resolved in April after 48 h; M2 spans the switch to summer time
        # (01:30 CET -> 03:30 CEST is one real hour, not two).
        ticket(
            "M1",
            "2026-03-30T10:00:00+02:00",
            customer_id="C1",
            resolved_at="2026-04-01T10:00:00+02:00",
            handle_time_s=300,
        ),
        ticket("M2", "2026-03-29 01:30:00", resolved_at="2026-03-29 03:30:00"),
        # February, team beta, serves customer C2
        ticket("F1", "2026-02-10T10:00:00+01:00", team="beta", customer_id="C2"),
        # May: data reaches beyond April
        ticket("Y1", "2026-05-03T10:00:00+02:00"),
    ]


def _april_surveys() -> list[dict]:
    return [
        *[
            survey(f"S{i}", "2026-04-20T10:00:00+02:00", "csat", s)
            for i, s in enumerate([5, 4, 3, 2])
        ],
        survey("S-noteam", "2026-04-20T10:00:00+02:00", "csat", 5, team="", ticket_id="A1"),
        *[
            survey(f"N{i}", "2026-04-20T10:00:00+02:00", "nps", s)
            for i, s in enumerate([10, 9, 8, 6, 0])
        ],
        *[survey(f"E{i}", "2026-04-20T10:00:00+02:00", "ces", s) for i, s in enumerate([7, 5, 6])],
        survey("March", "2026-03-31T10:00:00+02:00", "csat", 1),
    ]


@pytest.fixture(scope="module")
def kpis(warehouse_backend: object, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    env = Env(tmp_path_factory.mktemp("kpis"))
    env.tickets(_april_tickets())
    env.surveys(_april_surveys())
    env.customers(
        [
            customer("C1", "2025-01-01", churned="2026-04-15T12:00:00+02:00"),
            customer("C2", "2025-01-01"),
            customer("C3", "2026-04-10"),  # joined during April: not active at its start
            customer("C4", "2025-01-01", churned="2026-03-20"),  # left before April
        ]
    )
    settings = env.settings()
    ingest_events(settings, MONTHS)
    ingest_customers(settings)
    return build_team_kpis(settings, ["2026-04"], first_month="2026-02")["2026-04"]


def _get(df: pd.DataFrame, team: str, kpi: str) -> pd.Series:
    rows = df[(df.team == team) & (df.kpi == kpi)]
    assert len(rows) == 1, (team, kpi)
    return rows.iloc[0]


def _wilson(k: int, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return 100 * (c - h), 100 * (c + h)


@pytest.mark.parametrize(
    ("kpi", "value", "n"),
    [
        ("ticket_volume", 5, 5),
        ("first_response_time", 45.0, 4),  # A1 30, A2 90, A3 60, A5 15 min; A4 has none
        # within alpha's 60-minute target: A1, A3 (exactly 60 counts) and A5, not A2
        ("first_response_within_target", 75.0, 4),
        ("average_resolution_time", 15.25, 4),  # resolved in April: A1 2h, A2 10h, A5 1h, M1 48h
        ("average_handling_time", 700 / 60, 3),  # A1 600 s, A2 1200 s, M1 300 s
        ("wait_time", 1.0, 1),  # only A1 has a wait time
        ("first_contact_resolution", 50.0, 4),  # A1, M1 (A2 two contacts, A5 reopened)
        ("resolution_rate", 60.0, 5),  # A1, A2, A5 by 30 April; A3 in May, A4 open
        ("escalation_rate", 20.0, 5),  # A2
        ("reopen_rate", 25.0, 4),  # A5 of four resolved in April
        ("self_service_rate", 20.0, 5),  # A5 (A4 self-service but open)
        ("csat", 60.0, 5),  # 5, 4, 5 of 5,4,3,2,5 (the last via ticket A1's team)
        ("nps", 0.0, 5),  # 2 promoters (10, 9) - 2 detractors (6, 0) of 5
        ("ces", 6.0, 3),
        ("churn_rate", 100.0, 1),  # alpha served C1 in the 90 days before April; C1 left
    ],
)
def test_alpha_april(kpis: pd.DataFrame, kpi: str, value: float, n: int) -> None:
    row = _get(kpis, "alpha", kpi)
    assert row.value == pytest.approx(value, abs=1e-6)
    assert row.n == n
    assert bool(row.low_sample) is True  # every n here is below 30


def test_company_and_empty_team(kpis: pd.DataFrame) -> None:
    # ALL churn: C1 and C2 were active on 1 April, C1 churned.
    assert _get(kpis, "ALL", "churn_rate").value == pytest.approx(50.0)
    assert _get(kpis, "ALL", "churn_rate").n == 2
    # beta served C2 (February ticket), who stayed.
    assert _get(kpis, "beta", "churn_rate").value == 0.0
    # beta has no April tickets or surveys: counts are 0, everything else empty, never 0.
    assert _get(kpis, "beta", "ticket_volume").value == 0
    for kpi in (
        "first_response_time",
        "average_resolution_time",
        "csat",
        "nps",
        "ces",
        "resolution_rate",
    ):
        row = _get(kpis, "beta", kpi)
        assert pd.isna(row.value) and row.n == 0 and pd.isna(row.ci_low), kpi


def test_intervals(kpis: pd.DataFrame) -> None:
    fcr = _get(kpis, "alpha", "first_contact_resolution")
    lo, hi = _wilson(2, 4)
    assert (fcr.ci_low, fcr.ci_high) == (pytest.approx(lo, abs=1e-5), pytest.approx(hi, abs=1e-5))
    nps = _get(kpis, "alpha", "nps")
    # p9 = p06 = 0.4: se = 100·sqrt((0.8 − 0)/5) = 40 points
    assert nps.ci_low == pytest.approx(-1.959964 * 40, abs=1e-4)
    assert nps.ci_high == pytest.approx(1.959964 * 40, abs=1e-4)
    ces = _get(kpis, "alpha", "ces")  # 7, 5, 6: sd 1
    assert ces.ci_high - ces.value == pytest.approx(1.959964 / math.sqrt(3), abs=1e-5)
    # Four response times are too few for a 95% order-statistic interval: left empty.
    frt = _get(kpis, "alpha", "first_response_time")
    assert pd.isna(frt.ci_low) and pd.isna(frt.ci_high)
    assert pd.isna(_get(kpis, "alpha", "ticket_volume").ci_low)


def test_previous_month_target_and_yoy(kpis: pd.DataFrame) -> None:
    vol = _get(kpis, "alpha", "ticket_volume")
    assert vol.prev_value == 2  # M1, M2
    assert pd.isna(vol.yoy_value)  # April 2025 is before the first month of data
    art = _get(kpis, "alpha", "average_resolution_time")
    assert art.prev_value == pytest.approx(1.0)  # M2: one real hour across the DST switch
    csat = _get(kpis, "alpha", "csat")
    assert csat.prev_value == 0.0 and csat.target == 80
    assert _get(kpis, "alpha", "first_response_time").target == 60
    assert pd.isna(_get(kpis, "beta", "csat").target)


def test_service_level_without_a_target_is_no_data(kpis: pd.DataFrame) -> None:
    # alpha has no resolution-time target, beta no target at all, the company none here
    for team, kpi, reason in (
        ("alpha", "resolved_within_target", "no resolution-time target configured"),
        ("beta", "first_response_within_target", "no first-response-time target configured"),
        ("ALL", "resolved_within_target", "no resolution-time target configured"),
    ):
        row = _get(kpis, team, kpi)
        assert pd.isna(row.value) and row.n == 0 and row.no_data_reason == reason, (team, kpi)
    fr = _get(kpis, "alpha", "first_response_within_target")
    assert (fr.ci_low, fr.ci_high) == tuple(pytest.approx(x, abs=1e-5) for x in _wilson(3, 4))
    assert pd.isna(fr.prev_value)  # March's tickets M1, M2 have no first response: 0 of 0


def test_table_shape(kpis: pd.DataFrame) -> None:
    assert list(kpis.columns) == [
        "period",
        "team",
        "kpi",
        "value",
        "n",
        "ci_low",
        "ci_high",
        "low_sample",
        "prev_value",
        "yoy_value",
        "target",
        "change_significant",
        "no_data_reason",
    ]
    assert list(kpis.team.unique()) == ["ALL", "alpha", "beta"]
    assert len(kpis) == 3 * len(KPIS)


def test_missing_input_month_is_an_error(env: Env) -> None:
    env.tickets(
        [ticket("T1", "2026-04-02T10:00:00+02:00"), ticket("T2", "2026-03-02T10:00:00+02:00")]
    )
    settings = env.settings()
    ingest_events(settings, ["2026-04"])  # March not loaded
    with (
        connect(settings.warehouse) as con,
        pytest.raises(MissingMonthsError, match="tickets for 2026-03"),
    ):
        compute_team_kpis(con, settings, "2026-04", first_month="2026-03")


def test_unknown_team_is_reported_under_its_id(env: Env) -> None:
    env.tickets([ticket("T1", "2026-04-02T10:00:00+02:00", team="gamma")])
    settings = env.settings()
    report = ingest_events(settings, ["2026-04"])["tickets"]
    assert report.unknown_teams == ["gamma"]
    df = build_team_kpis(settings, ["2026-04"], first_month="2026-04")["2026-04"]
    assert _get(df, "gamma", "ticket_volume").value == 1


def test_the_months_a_kpi_month_reads() -> None:
    # P, P−1 and P−12, and the tickets of the 90 days before each (the customers a team served):
    # 90 days before 2025-04-01 is 2025-01-01, before 2025-05-01 (Feb + Mar + Apr = 89 days)
    # it is 2025-01-31, so May reaches one month further back.
    april = kpi_input_months("2026-04", first_month="2020-01")
    assert april["tickets"] == month_range("2025-01", "2026-04")
    assert april["survey_responses"] == ["2025-04", "2026-03", "2026-04"]
    assert kpi_input_months("2026-05", "2020-01")["tickets"][0] == "2025-01"
    # nothing before the first month of data
    assert kpi_input_months("2026-04", first_month="2026-03") == {
        "tickets": ["2026-03", "2026-04"],
        "survey_responses": ["2026-03", "2026-04"],
    }


@pytest.mark.parametrize(
    ("args", "p"),
    [
        # worked out with the Welch–Satterthwaite degrees of freedom before scipy did it
        ((10.0, 2.0, 40, 11.0, 3.0, 50), 0.062172809377874845),
        ((4.2, 1.1, 12, 3.1, 0.4, 7), 0.006857018672319148),
        ((5.0, 1.0, 2, 5.5, 2.0, 2), 0.7908737916352747),
        # no spread in either month: the same mean is no change, another one certainly is
        ((100.0, 0.0, 5, 100.0, 0.0, 9), 1.0),
        ((1.0, 0.0, 5, 2.0, 0.0, 9), 0.0),
    ],
)
def test_welch_known_values(args: tuple[float, ...], p: float) -> None:
    assert p_welch(*args) == pytest.approx(p, rel=1e-12, abs=1e-15)


def test_welch_needs_two_values_a_side() -> None:
    assert math.isnan(p_welch(10.0, 2.0, 1, 11.0, 3.0, 50))
    assert math.isnan(p_welch(10.0, math.nan, 40, 11.0, 3.0, 50))
