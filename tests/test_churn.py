"""Churn-risk scoring: every signal on hand-built rows, no information from the future, a
backtest where churn follows a known rule, the team KPIs, pseudonymous ids and the config."""

from __future__ import annotations

import copy
import hashlib
import hmac
import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scorecards.churn.model import FEATURE_IDS, Model, auc, design, fit, lift_top
from scorecards.churn.scoring import (
    RISK_COLUMNS,
    build_churn_risk,
    display_ids,
    explain,
    training_months,
)
from scorecards.churn.signals import compute_signals
from scorecards.config.settings import ConfigError
from scorecards.contract.datasets import CUSTOMERS, SURVEYS, TICKETS
from scorecards.core.periods import month_bounds, month_range
from scorecards.ingest.load import ingest_customers, ingest_events
from scorecards.kpis.engine import compute_team_kpis
from scorecards.warehouse import store as warehouse
from tests.conftest import TEAMS, Env, customer, survey, ticket

# every test here runs on the DuckDB file and on DuckLake (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("warehouse_backend")

TZ = "Europe/Berlin"


def _teams(**churn: object) -> dict:
    teams = copy.deepcopy(TEAMS)
    teams["churn"] = {"min_training_months": 1, **churn}
    return teams


# --- signals on hand-built rows ----------------------------------------------------------------

# April 2026 ends at 2026-05-01 00:00 Berlin time; the 90-day window starts 2026-01-31 00:00 and
# the 180-day disengagement history before it on 2025-08-04.
P = "2026-04"


def _t(tid: str, cid: str, created: str, **kw: object) -> dict:
    return ticket(tid, created, customer_id=cid, **kw)


@pytest.fixture(scope="module")
def signals(warehouse_backend: object, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    env = Env(tmp_path_factory.mktemp("signals"), teams=_teams())
    done = {"resolved_at": "2026-04-20T12:00:00+02:00"}
    rows = [
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
    env.tickets(rows)
    env.surveys(
        [
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
    )
    env.customers(
        [customer(f"C{i}", "2025-01-01") for i in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18)]
        + [
            customer("C12", "2025-12-01"),
            customer("C13", "2025-01-01", churned="2026-04-15"),
            customer("C14", "2025-01-01", churned="2026-05-10"),
            customer("C15", "2026-05-02"),
        ]
    )
    settings = env.settings()
    ingest_events(settings, month_range("2025-08", "2026-05"))
    ingest_customers(settings)
    with warehouse.connect(settings.warehouse, read_only=True) as con:
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


# --- the model ---------------------------------------------------------------------------------


def test_fit_recovers_known_weights() -> None:
    rng = np.random.default_rng(3)
    n = 200_000
    x = np.minimum(rng.poisson(0.4, (n, len(FEATURE_IDS))), 3).astype(float)
    true = np.linspace(0.0, 0.9, len(FEATURE_IDS))
    y = rng.random(n) < 1 / (1 + np.exp(-(-3.0 + x @ true)))
    pats, inv = np.unique(x, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    model = fit(pats, np.bincount(inv), np.bincount(inv, weights=y), l2=1.0)
    assert model.intercept == pytest.approx(-3.0, abs=0.1)
    np.testing.assert_allclose(model.coef, true, atol=0.08)
    assert (model.coef >= 0).all()


def test_fit_needs_churners() -> None:
    with pytest.raises(ValueError, match="0 churners"):
        fit(np.zeros((1, len(FEATURE_IDS))), np.array([10]), np.array([0]), l2=1.0)


def test_auc_and_lift_count_ties_fairly() -> None:
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    # Scores 9..0: the churner at 9 beats all 8 others, the one at 7 beats 7 of them.
    assert auc(np.arange(10)[::-1], y) == pytest.approx((8 + 7) / 16)
    assert auc(np.ones(10), y) == 0.5
    # All tied: the top 10% holds the average churn rate, a lift of exactly 1.
    assert lift_top(np.ones(10), y) == pytest.approx(1.0)
    # The single best-scored customer churned: 100% against 20%.
    assert lift_top(np.arange(10)[::-1], y) == pytest.approx(5.0)


def test_reasons_are_the_largest_positive_contributions_in_words() -> None:
    weights = {"detractor": 1.0, "escalations": 0.6, "open_over_7d": 0.5, "tickets": 0.1}
    model = Model(-3.0, np.array([weights.get(f, 0.0) for f in FEATURE_IDS]), ("2026-01",), 1, 1)
    sig = pd.DataFrame(
        {c: [0, 0] for c in ("csat_low", "ces_min", "max_tickets_30d", "multi_contact")}
        | {
            "detractor": [1, 0],
            "nps_latest": [3, None],
            "escalations": [2, 0],
            "reopened": [0, 0],
            "open_over_7d": [1, 0],
            "oldest_open_days": [12, None],
            "slow_responses": [0, 0],
            "disengaged": [0, 0],
            "tickets": [3, 0],
            "usual_tickets": [None, None],
            "repeat_30d": [0, 0],
            "ces_low": [0, 0],
        }
    )
    de, en = explain(model, design(sig), sig)
    assert de[0] == "2 Eskalationen · Kritiker (NPS 3) · Ticket seit 12 Tagen offen"
    assert en[0] == "2 escalations · Detractor (NPS 3) · Ticket open for 12 days"
    assert de[1] == "" and en[1] == ""


# --- generated history where churn follows a known rule ------------------------------------------

MONTHS = month_range("2025-01", "2025-12")
SCORED = "2025-09"


def _iso(ts: object) -> list[str]:
    return ["" if pd.isna(t) else pd.Timestamp(t).isoformat() for t in ts]


def _history(seed: int = 11, n: int = 1500) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Customers file tickets at their own rate; a customer's first ticket of a month is
    escalated with p = 0.12; 30% of tickets get an NPS answer, a detractor's 3 with p = 0.5 after
    an escalation and 0.1 otherwise. The rule: a customer with an escalation or a detractor vote
    in the last three months churns in the next month with p = 0.35, anyone else with p = 0.01."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(0.8, 1.0, n)
    churn = [None] * n
    bad = np.zeros((n, 3), dtype=bool)
    tickets, surveys = [], []
    for mi, month in enumerate(MONTHS):
        start, end = month_bounds(month, TZ)
        alive = np.array([c is None or c >= start for c in churn])
        k = np.where(alive, rng.poisson(rate), 0)
        bad_now = np.zeros(n, dtype=bool)
        for cid in np.flatnonzero(k).tolist():
            stop = churn[cid] or end
            for j in range(k[cid]):
                created = start + timedelta(
                    seconds=float(rng.random()) * (stop - start).total_seconds()
                )
                # One chance per customer and month, however many tickets: volume alone does
                # not make an escalation (or the churn that follows it) more likely.
                esc = j == 0 and bool(rng.random() < 0.12)
                bad_now[cid] |= esc
                tid = f"T{mi:02d}{cid:05d}{j}"
                tickets.append(
                    {
                        "ticket_id": tid,
                        "customer_id": f"C{cid:05d}",
                        "team": "alpha" if cid % 3 else "beta",
                        "created_at": created,
                        "first_response_at": created + timedelta(minutes=5 + 20 * (cid % 4)),
                        "resolved_at": created + timedelta(hours=3 + 30 * esc),
                        "escalated": esc,
                    }
                )
                if rng.random() < 0.3:
                    score = 3 if rng.random() < (0.5 if esc else 0.1) else 9
                    bad_now[cid] |= score == 3
                    surveys.append(
                        {
                            "response_id": f"S{tid}",
                            "customer_id": f"C{cid:05d}",
                            "team": tickets[-1]["team"],
                            "survey_type": "nps",
                            "score": score,
                            "submitted_at": created + timedelta(hours=5 + 30 * esc),
                        }
                    )
        bad = np.column_stack([bad_now, bad[:, :2]])
        if mi + 1 < len(MONTHS):
            n_start, n_end = month_bounds(MONTHS[mi + 1], TZ)
            hazard = np.where(bad.any(1), 0.35, 0.01)
            leave = alive & np.array([c is None for c in churn]) & (rng.random(n) < hazard)
            for cid in np.flatnonzero(leave).tolist():
                churn[cid] = n_start + (n_end - n_start) * float(rng.random())
    customers = pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "customer_since": "2024-06-01",
            "churned_at": churn,
            "segment": "smb",
        }
    )
    return customers, pd.DataFrame(tickets), pd.DataFrame(surveys)


def _write(env: Env, customers: pd.DataFrame, tickets: pd.DataFrame, surveys: pd.DataFrame) -> None:
    t = tickets.copy()
    for col in ("created_at", "first_response_at", "resolved_at"):
        t[col] = _iso(t[col])
    t["contacts"], t["reopened"], t["channel"] = 1, "false", "email"
    t["escalated"] = np.where(tickets.escalated, "true", "false")
    for col in TICKETS.column_names:
        if col not in t:
            t[col] = ""
    (env.landing / "tickets").mkdir(parents=True, exist_ok=True)
    t[list(TICKETS.column_names)].to_csv(env.landing / "tickets" / "tickets.csv", index=False)
    s = surveys.copy()
    s["submitted_at"] = _iso(s.submitted_at)
    s["ticket_id"], s["comment"] = "", ""
    (env.landing / "surveys").mkdir(parents=True, exist_ok=True)
    s[list(SURVEYS.column_names)].to_csv(env.landing / "surveys" / "surveys.csv", index=False)
    c = customers.copy()
    c["churned_at"] = _iso(c.churned_at)
    for col in CUSTOMERS.column_names:
        if col not in c:
            c[col] = ""
    (env.landing / "customers").mkdir(parents=True, exist_ok=True)
    c[list(CUSTOMERS.column_names)].to_csv(env.landing / "customers" / "customers.csv", index=False)


def _as_of(
    customers: pd.DataFrame, tickets: pd.DataFrame, surveys: pd.DataFrame, cut: datetime
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The export as it looked at `cut`: nothing created, answered, resolved or churned later."""
    t = tickets[tickets.created_at < cut].copy()
    for col in ("first_response_at", "resolved_at"):
        t[col] = [v if v < cut else None for v in t[col]]
    c = customers.copy()
    c["churned_at"] = [v if v is not None and v < cut else None for v in c.churned_at]
    return c, t, surveys[surveys.submitted_at < cut]


@pytest.fixture(scope="module")
def history() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return _history()


def _load(env: Env, months: list[str]) -> None:
    settings = env.settings()
    ingest_events(settings, months)
    ingest_customers(settings)


@pytest.fixture(scope="module")
def full(
    warehouse_backend: object, tmp_path_factory: pytest.TempPathFactory, history: tuple
) -> Env:
    """The whole year loaded and every month scored."""
    env = Env(tmp_path_factory.mktemp("full"), teams=_teams())
    _write(env, *history)
    _load(env, MONTHS)
    build_churn_risk(env.settings(), MONTHS, MONTHS[0])
    return env


def _month_rows(env: Env, table: str, month: str) -> list[tuple]:
    with warehouse.connect(env.settings().warehouse, read_only=True) as con:
        return con.execute(
            f"SELECT * FROM {table} WHERE period = ? ORDER BY ALL", [month]
        ).fetchall()


def test_scoring_a_month_ignores_everything_after_it(
    tmp_path: Path, history: tuple, full: Env
) -> None:
    # The export as it was at the end of September, scored on its own ...
    cut = month_bounds(SCORED, TZ)[1]
    then = Env(tmp_path / "then", teams=_teams())
    _write(then, *_as_of(*history, cut))
    _load(then, month_range(MONTHS[0], SCORED))
    results, _ = build_churn_risk(then.settings(), [SCORED], MONTHS[0])
    assert results[SCORED].scored
    # ... and again after three more months of tickets, surveys, answers and churn arrived.
    later = Env(tmp_path / "later", teams=_teams())
    _write(later, *history)
    _load(later, MONTHS)
    build_churn_risk(later.settings(), [SCORED], MONTHS[0])
    for table in ("customer_churn_risk", "churn_model", "churn_signals"):
        before = _month_rows(then, table, SCORED)
        assert before, table
        assert _month_rows(later, table, SCORED) == before, table
    csv = Path("out") / SCORED / "churn_risk.csv"
    assert (later.data / csv).read_bytes() == (then.data / csv).read_bytes()
    # Scoring every month in one run gives the same month as well.
    assert _month_rows(full, "customer_churn_risk", SCORED) == _month_rows(
        then, "customer_churn_risk", SCORED
    )


def test_model_is_fitted_only_on_months_with_known_outcome(full: Env) -> None:
    settings = full.settings()
    start = month_bounds(MONTHS[0], TZ)[0]
    # September ends on 1 October: June's 90 days end on 29 September, July's on 30 October.
    assert training_months(SCORED, settings, start) == ["2025-03", "2025-04", "2025-05", "2025-06"]
    model = pd.DataFrame(
        _month_rows(full, "churn_model", SCORED),
        columns=["period", "term", "coef", "or", "from", "to", "months", "n", "k"],
    )
    assert set(model["from"]) == {"2025-03"} and set(model["to"]) == {"2025-06"}
    coef = model.set_index("term").coef
    # Escalations and detractors drive churn here; the fit finds them.
    assert coef["escalations"] > 0.5 and coef["detractor"] > 0.3


def test_backtest_beats_the_volume_baseline(full: Env) -> None:
    with warehouse.connect(full.settings().warehouse, read_only=True) as con:
        bt = con.execute("SELECT * FROM churn_backtest ORDER BY period, model").df()
    # Scored from June (first month with a training month), outcome known up to September.
    assert sorted(set(bt.period)) == ["2025-06", "2025-07", "2025-08", "2025-09"]
    wide = bt.pivot(index="period", columns="model", values="auc")
    lift = bt.pivot(index="period", columns="model", values="lift_top10")
    assert (wide.model > wide.baseline + 0.05).all(), wide
    assert wide.model.mean() > wide.baseline.mean() + 0.06, wide
    assert (lift.model > lift.baseline).all(), lift
    assert wide.model.min() > 0.7


def test_output_rows_bands_and_csv(full: Env) -> None:
    rows = pd.DataFrame(
        _month_rows(full, "customer_churn_risk", SCORED),
    )
    with warehouse.connect(full.settings().warehouse, read_only=True) as con:
        risk = con.execute("SELECT * FROM customer_churn_risk WHERE period = ?", [SCORED]).df()
    assert len(rows) == len(risk)
    assert risk.score.between(0, 1).all()
    # Customers without a ticket in the window are scored too, without a primary team.
    quiet = risk[risk.team.isna()]
    assert len(quiet) and (quiet.tickets == 0).all()
    # Nobody who left before the end of the month is scored.
    with warehouse.connect(full.settings().warehouse, read_only=True) as con:
        gone = con.execute(
            "SELECT count(*) FROM customer_churn_risk r JOIN customers c USING (customer_id) "
            "WHERE r.period = ? AND c.churned_at < ?",
            [SCORED, month_bounds(SCORED, TZ)[1]],
        ).fetchone()[0]
    assert gone == 0
    bands = full.settings().teams_file.churn.bands
    expect = np.where(
        risk.score >= bands.high, "high", np.where(risk.score >= bands.medium, "medium", "low")
    )
    assert (risk.band == expect).all()
    assert "high" in set(risk.band)
    # Everyone with an escalation in the window has it among the reasons, in both languages.
    esc = risk[risk.escalations > 0]
    assert len(esc) and esc.reasons_en.str.contains("escalation").all()
    assert esc.reasons_de.str.contains("Eskalation").all()
    assert (risk[risk.score == risk.score.min()].reasons_en == "").all()
    csv = pd.read_csv(full.data / "out" / SCORED / "churn_risk.csv", keep_default_na=False)
    assert len(csv) == len(risk)
    assert list(risk.columns) == list(RISK_COLUMNS)
    assert list(csv.columns) == [c for c in RISK_COLUMNS if c != "period"]
    assert csv.score.is_monotonic_decreasing
    assert set(csv.customer_id) == set(risk.customer_id)  # no pseudonyms unless configured


def test_months_without_enough_history_are_not_scored(full: Env) -> None:
    assert _month_rows(full, "customer_churn_risk", "2025-05") == []
    assert _month_rows(full, "churn_signals", "2025-05")  # but their signals are kept
    assert not (full.data / "out" / "2025-05" / "churn_risk.csv").exists()


def test_at_risk_kpis_read_the_scores(full: Env) -> None:
    settings = full.settings()
    with warehouse.connect(settings.warehouse) as con:
        kpis = compute_team_kpis(con, settings, SCORED, MONTHS[0])
        early = compute_team_kpis(con, settings, "2025-05", MONTHS[0])
        risk = con.execute(
            "SELECT team, count(*) n, count(*) FILTER (band = 'high') k "
            "FROM customer_churn_risk WHERE period = ? GROUP BY ALL",
            [SCORED],
        ).df()
        nps = con.execute(
            "SELECT team, count(*) n, count(*) FILTER (score <= 6) k FROM survey_responses "
            "WHERE period = ? GROUP BY team",
            [SCORED],
        ).df()
    k = kpis.set_index(["team", "kpi"])
    for team in ("alpha", "beta"):
        r = risk[risk.team == team].iloc[0]
        assert k.at[(team, "at_risk_customers"), "value"] == r.k
        assert k.at[(team, "at_risk_customers"), "n"] == r.n
        assert k.at[(team, "at_risk_share"), "value"] == pytest.approx(100 * r.k / r.n, abs=1e-6)
        s = nps[nps.team == team].iloc[0]
        assert k.at[(team, "detractor_share"), "value"] == pytest.approx(100 * s.k / s.n, abs=1e-6)
        assert k.at[(team, "detractor_share"), "n"] == s.n
    assert k.at[("ALL", "at_risk_customers"), "n"] == risk.n.sum()
    assert k.at[("ALL", "at_risk_customers"), "value"] == risk.k.sum()
    # August was scored too: its value is the previous one.
    assert not math.isnan(k.at[("ALL", "at_risk_share"), "prev_value"])
    # May could not be scored: no data, never a silent zero.
    e = early.set_index(["team", "kpi"])
    for team in ("ALL", "alpha", "beta"):
        for kpi in ("at_risk_customers", "at_risk_share"):
            assert math.isnan(e.at[(team, kpi), "value"]) and e.at[(team, kpi), "n"] == 0


def test_team_without_customers_gets_empty_at_risk_rows(tmp_path: Path, history: tuple) -> None:
    teams = _teams()
    teams["teams"].append({"id": "gamma", "name": "Team Gamma"})
    env = Env(tmp_path, teams=teams)
    _write(env, *history)
    months = month_range(MONTHS[0], "2025-07")
    _load(env, months)
    build_churn_risk(env.settings(), months, MONTHS[0])
    settings = env.settings()
    with warehouse.connect(settings.warehouse) as con:
        k = compute_team_kpis(con, settings, "2025-07", MONTHS[0]).set_index(["team", "kpi"])
    assert k.at[("gamma", "at_risk_customers"), "value"] == 0
    assert k.at[("gamma", "at_risk_customers"), "n"] == 0
    assert math.isnan(k.at[("gamma", "at_risk_share"), "value"])
    assert k.at[("gamma", "at_risk_share"), "n"] == 0
    assert k.at[("alpha", "at_risk_share"), "n"] > 0


def test_missing_input_months_are_named(tmp_path: Path, history: tuple) -> None:
    from scorecards.churn.scoring import ChurnInputError

    env = Env(tmp_path, teams=_teams())
    _write(env, *history)
    settings = env.settings()
    ingest_events(settings, ["2025-06", "2025-07"])
    ingest_customers(settings)
    # July's window starts on 3 May: April is not needed, May is.
    with pytest.raises(ChurnInputError, match="tickets for 2025-05; survey_responses for 2025-05"):
        build_churn_risk(settings, ["2025-07"], "2025-04")


# --- ids shown outside the warehouse and the configuration ---------------------------------------


def test_display_ids_are_keyed_pseudonyms(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = pd.Series(["C1", "C0000002", "C1"], index=[5, 6, 7])
    assert display_ids(env.settings(), ids).tolist() == ids.tolist()

    teams = _teams(pseudonymise_ids=True, id_key_env="TEST_CHURN_KEY")
    on = Env(env.root / "on", teams=teams)
    monkeypatch.delenv("TEST_CHURN_KEY", raising=False)
    with pytest.raises(ConfigError, match="TEST_CHURN_KEY"):
        display_ids(on.settings(), ids)
    monkeypatch.setenv("TEST_CHURN_KEY", "s3cret")
    got = display_ids(on.settings(), ids)
    want = "K-" + hmac.new(b"s3cret", b"C0000002", hashlib.sha256).hexdigest()[:12]
    assert got.loc[6] == want
    assert got.loc[5] == got.loc[7] != got.loc[6]
    assert list(got.index) == [5, 6, 7]
    long_key = "k" * 100  # longer than SHA-256's block: hashed first, as HMAC prescribes
    monkeypatch.setenv("TEST_CHURN_KEY", long_key)
    assert (
        display_ids(on.settings(), ids).loc[5]
        == "K-" + hmac.new(long_key.encode(), b"C1", hashlib.sha256).hexdigest()[:12]
    )


@pytest.mark.parametrize(
    "churn, message",
    [
        ({"bands": {"high": 0.1, "medium": 0.2}}, "churn.bands: medium (0.2) must be below high"),
        ({"bands": {"high": 1.5}}, "churn.bands.high"),
        ({"window_dayz": 90}, "churn.window_dayz: unknown key"),
        ({"training_months": 2, "min_training_months": 3}, "min_training_months (3)"),
    ],
)
def test_bad_churn_config_names_the_key(env: Env, churn: dict, message: str) -> None:
    bad = Env(env.root / "bad", teams={**TEAMS, "churn": churn})
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        bad.settings()
    assert "teams.yaml" in str(info.value)


def test_csv_shows_pseudonyms_when_configured(
    full: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from scorecards.churn.scoring import write_risk_csv

    conf = Env(tmp_path / "conf", teams=_teams(pseudonymise_ids=True))
    settings = dataclasses.replace(
        conf.settings(), data_dir=tmp_path / "elsewhere"
    )  # the scores of `full`, written under another data dir
    monkeypatch.setenv("SCORECARDS_ID_KEY", "k3y")
    with warehouse.connect(full.settings().warehouse, read_only=True) as con:
        path = write_risk_csv(con, settings, SCORED)
        real = con.execute(
            "SELECT customer_id FROM customer_churn_risk WHERE period = ? "
            "ORDER BY score DESC, customer_id",
            [SCORED],
        ).df()["customer_id"]
    shown = pd.read_csv(path, keep_default_na=False).customer_id
    assert shown.str.fullmatch(r"K-[0-9a-f]{12}").all()
    assert sorted(shown) == sorted(display_ids(settings, real))
    assert not set(shown) & set(real)
    monkeypatch.delenv("SCORECARDS_ID_KEY")
    with (
        warehouse.connect(full.settings().warehouse, read_only=True) as con,
        pytest.raises(ConfigError, match="SCORECARDS_ID_KEY"),
    ):
        write_risk_csv(con, settings, SCORED)
