"""Churn-risk signals on hand-built rows: every signal, cut at the end of the month."""

from __future__ import annotations

import pandas as pd
import pytest

from scorecards.churn.signals import compute_signals
from scorecards.core.periods import month_bounds, month_range
from scorecards.ingest.load import ingest_customers, ingest_events
from scorecards.warehouse.connection import connect
from tests.churn_env import TZ, churn_teams
from tests.conftest import Env, customer, survey, ticket

# every test here runs on the DuckDB file and on DuckLake (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("warehouse_backend")

# April 2026 ends at 2026-05-01 00:00 Berlin time; the 90-day window starts 2026-01-31 00:00 and
# the 180-day disengagement history before it on 2025-08-04.
P = "2026-04"


def _t(tid: str, cid: str, created: str, **kw: object) -> dict:
    return ticket(tid, created, customer_id=cid, **kw)


def _ticket_rows() -> list[dict]:
    done = {"resolved_at": "2026-04-20T12:00:00+02:00"}
    return [
        # C3: surveys only. C4: three tickets within 30 days (and one after P, ignored).
        _t("T4a", "C4", "2026-04-01T10:00:00+02:00", **done),
        _t("T4b", "C4", "2026-04-10T10:00:00+02:00", **done),
        _t("T4c", "C4", "2026-04-25T10:00:00+02:00", resolved_at="2026-04-26T10:00:00+02:00"),
        _t("T4d", "C4", "2026-05-03T10:00:00+02:00"),
        # C5: three tickets, never three within 30 days.
        _t("T5a", "C5", "2026-02-05T10:00:00+01:00", **done),
        _t("T5b", "C5", "2026-03-10T10:00:00+01:00", **done),
        _t("T5c", "C5", "2026-04-20T10:00:00+02:00", resolved_at="2026-04-21T10:00:00+02:00"),
        # C6: flags count once the ticket is resolved before P ends, not while it is open.
        _t("T6a", "C6", "2026-03-02T10:00:00+01:00", contacts=3, escalated="true", **done),
        _t("T6b", "C6", "2026-03-03T10:00:00+01:00", reopened="true", **done),
        _t(
            "T6c",
            "C6",
            "2026-04-29T10:00:00+02:00",
            contacts=2,
            escalated="true",
            reopened="true",
            resolved_at="2026-05-03T10:00:00+02:00",
        ),
        # C7: open at P's end for 20 and 25 days (one resolved only after P), one too recent.
        _t("T7a", "C7", "2026-04-10T10:00:00+02:00"),
        _t("T7b", "C7", "2026-04-05T10:00:00+02:00", resolved_at="2026-05-05T10:00:00+02:00"),
        _t("T7c", "C7", "2026-04-28T10:00:00+02:00"),
        # Team beta answers in 10 minutes nine times (C9) and once in 10 hours (C8), so its
        # 90th percentile is 10 + 0.1·590 = 69 minutes; C8's unanswered ticket has waited
        # longer than that by the end of P.
        *[
            _t(
                f"T9{i}",
                "C9",
                f"2026-04-{i + 1:02d}T09:00:00+02:00",
                team="beta",
                first_response_at=f"2026-04-{i + 1:02d}T09:10:00+02:00",
                **done,
            )
            for i in range(9)
        ],
        _t(
            "T8a",
            "C8",
            "2026-04-15T08:00:00+02:00",
            team="beta",
            first_response_at="2026-04-15T18:00:00+02:00",
            **done,
        ),
        _t("T8b", "C8", "2026-04-29T10:00:00+02:00", team="beta"),
        # C10 had 8 tickets in the history period and 1 in the window: usual 4, disengaged.
        # C11 had 8 and keeps 3. C12 became a customer during the history period.
        *[_t(f"T10{i}", "C10", f"2025-{9 + i % 3:02d}-1{i}T10:00:00+02:00") for i in range(8)],
        _t("T10w", "C10", "2026-03-01T10:00:00+01:00", **done),
        *[_t(f"T11{i}", "C11", f"2025-{9 + i % 3:02d}-1{i}T10:00:00+02:00") for i in range(8)],
        *[_t(f"T11w{i}", "C11", f"2026-03-0{i + 1}T10:00:00+01:00", **done) for i in range(3)],
        _t("T12", "C12", "2026-03-01T10:00:00+01:00", **done),
        # C13 churned during P, C15 joins after it: neither is scored. C14 leaves after P.
        _t("T13", "C13", "2026-04-02T10:00:00+02:00", escalated="true", **done),
        _t("T14", "C14", "2026-04-02T10:00:00+02:00", **done),
        # C17: two alpha tickets, one later beta ticket -> alpha. C18: one each -> the later.
        _t("T17a", "C17", "2026-03-01T10:00:00+01:00", **done),
        _t("T17b", "C17", "2026-03-02T10:00:00+01:00", **done),
        _t("T17c", "C17", "2026-04-02T10:00:00+02:00", team="beta", **done),
        _t("T18a", "C18", "2026-03-01T10:00:00+01:00", **done),
        _t("T18b", "C18", "2026-04-02T10:00:00+02:00", team="beta", **done),
        # Before the window: not counted anywhere.
        _t("T3old", "C3", "2026-01-20T10:00:00+01:00", escalated="true", **done),
    ]


def _survey_rows() -> list[dict]:
    return [
        # C1: latest NPS in the window is 3. C2: an earlier 2, the latest 9, a later 1.
        survey("S1a", "2026-03-01T10:00:00+01:00", "nps", 9, customer_id="C1"),
        survey("S1b", "2026-04-10T10:00:00+02:00", "nps", 3, customer_id="C1"),
        survey("S2a", "2026-03-01T10:00:00+01:00", "nps", 2, customer_id="C2"),
        survey("S2b", "2026-04-10T10:00:00+02:00", "nps", 9, customer_id="C2"),
        survey("S2c", "2026-05-02T10:00:00+02:00", "nps", 1, customer_id="C2"),
        # C3: CSAT 1 and 2 (and a 4) in the window, a 1 before it; CES 3 and 6.
        survey("S3a", "2026-02-10T10:00:00+01:00", "csat", 1, customer_id="C3"),
        survey("S3b", "2026-03-10T10:00:00+01:00", "csat", 2, customer_id="C3"),
        survey("S3c", "2026-04-10T10:00:00+02:00", "csat", 4, customer_id="C3"),
        survey("S3d", "2026-01-20T10:00:00+01:00", "csat", 1, customer_id="C3"),
        survey("S3e", "2026-04-11T10:00:00+02:00", "ces", 3, customer_id="C3"),
        survey("S3f", "2026-04-12T10:00:00+02:00", "ces", 6, customer_id="C3"),
    ]


def _customer_rows() -> list[dict]:
    return [
        customer(f"C{i}", "2025-01-01") for i in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18)
    ] + [
        customer("C12", "2025-12-01"),
        customer("C13", "2025-01-01", churned="2026-04-15"),
        customer("C14", "2025-01-01", churned="2026-05-10"),
        customer("C15", "2026-05-02"),
    ]


@pytest.fixture(scope="module")
def signals(warehouse_backend: object, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    env = Env(tmp_path_factory.mktemp("signals"), teams=churn_teams())
    env.tickets(_ticket_rows())
    env.surveys(_survey_rows())
    env.customers(_customer_rows())
    settings = env.settings()
    ingest_events(settings, month_range("2025-08", "2026-05"))
    ingest_customers(settings)
    with connect(settings.warehouse, read_only=True) as con:
        df = compute_signals(con, P, settings.teams_file.churn, TZ, month_bounds("2025-08", TZ)[0])
    return df.set_index("customer_id")


def _s(df: pd.DataFrame, cid: str, col: str) -> object:
    v = df.at[cid, col]
    return None if pd.isna(v) else v


def test_population_is_active_at_month_end(signals: pd.DataFrame) -> None:
    ids = set(signals.index)
    assert "C13" not in ids  # churned before the end of P
    assert "C15" not in ids  # joined after it
    assert {"C14", "C16"} <= ids  # leaves later; never wrote a ticket
    assert _s(signals, "C16", "team") is None
    assert _s(signals, "C16", "tickets") == 0


def test_detractor_is_the_latest_nps_before_month_end(signals: pd.DataFrame) -> None:
    assert (_s(signals, "C1", "nps_latest"), _s(signals, "C1", "detractor")) == (3, 1)
    assert (_s(signals, "C2", "nps_latest"), _s(signals, "C2", "detractor")) == (9, 0)
    assert _s(signals, "C4", "nps_latest") is None and _s(signals, "C4", "detractor") == 0


def test_low_csat_and_ces_in_the_window(signals: pd.DataFrame) -> None:
    assert _s(signals, "C3", "csat_low") == 2
    assert _s(signals, "C3", "csat_min") == 1
    assert _s(signals, "C3", "ces_low") == 1
    assert _s(signals, "C3", "ces_min") == 3
    assert _s(signals, "C3", "tickets") == 0  # the escalated ticket is before the window


def test_repeat_contacts(signals: pd.DataFrame) -> None:
    assert (_s(signals, "C4", "max_tickets_30d"), _s(signals, "C4", "repeat_30d")) == (3, 1)
    assert _s(signals, "C4", "tickets") == 3  # the May ticket is after P
    assert (_s(signals, "C5", "max_tickets_30d"), _s(signals, "C5", "repeat_30d")) == (1, 0)


def test_flags_count_for_tickets_resolved_by_month_end(signals: pd.DataFrame) -> None:
    assert _s(signals, "C6", "multi_contact") == 1
    assert _s(signals, "C6", "escalations") == 1
    assert _s(signals, "C6", "reopened") == 1
    assert _s(signals, "C6", "tickets") == 3


def test_open_after_seven_days(signals: pd.DataFrame) -> None:
    assert _s(signals, "C7", "open_over_7d") == 2
    assert _s(signals, "C7", "oldest_open_days") == 25
    assert _s(signals, "C4", "open_over_7d") == 0
    assert _s(signals, "C4", "oldest_open_days") is None


def test_slow_first_response_against_the_team_p90(signals: pd.DataFrame) -> None:
    assert _s(signals, "C8", "slow_responses") == 2
    assert _s(signals, "C9", "slow_responses") == 0
    assert _s(signals, "C8", "team") == "beta"


def test_disengagement_where_history_allows(signals: pd.DataFrame) -> None:
    assert (_s(signals, "C10", "usual_tickets"), _s(signals, "C10", "disengaged")) == (4.0, 1)
    assert (_s(signals, "C11", "usual_tickets"), _s(signals, "C11", "disengaged")) == (4.0, 0)
    assert _s(signals, "C12", "usual_tickets") is None  # a customer for less than the history
    assert _s(signals, "C12", "disengaged") == 0


def test_primary_team(signals: pd.DataFrame) -> None:
    assert _s(signals, "C17", "team") == "alpha"
    assert _s(signals, "C18", "team") == "beta"
