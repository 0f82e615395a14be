"""The churn tests' shared ground (tests/test_churn_*.py): the teams file with a churn section,
and a generated year of customers, tickets and surveys where churn follows a known rule, written
to landing, loaded and read back."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from scorecards.contract.datasets import CUSTOMERS, SURVEYS, TICKETS
from scorecards.core.periods import month_bounds, month_range
from scorecards.ingest.load import ingest_customers, ingest_events
from scorecards.warehouse.connection import connect
from tests.conftest import TEAMS, Env

TZ = "Europe/Berlin"
MONTHS = month_range("2025-01", "2025-12")
SCORED = "2025-09"


def churn_teams(**churn: object) -> dict:
    """The test teams with a churn section that scores from the first training month on."""
    teams = copy.deepcopy(TEAMS)
    teams["churn"] = {"min_training_months": 1, **churn}
    return teams


def iso(ts: object) -> list[str]:
    return ["" if pd.isna(t) else pd.Timestamp(t).isoformat() for t in ts]


def make_history(seed: int = 11, n: int = 1500) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
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


def write_landing(
    env: Env, customers: pd.DataFrame, tickets: pd.DataFrame, surveys: pd.DataFrame
) -> None:
    """The generated data as the landing CSVs of tickets, surveys and customers."""
    t = tickets.copy()
    for col in ("created_at", "first_response_at", "resolved_at"):
        t[col] = iso(t[col])
    t["contacts"], t["reopened"], t["channel"] = 1, "false", "email"
    t["escalated"] = np.where(tickets.escalated, "true", "false")
    for col in TICKETS.column_names:
        if col not in t:
            t[col] = ""
    (env.landing / "tickets").mkdir(parents=True, exist_ok=True)
    t[list(TICKETS.column_names)].to_csv(env.landing / "tickets" / "tickets.csv", index=False)
    s = surveys.copy()
    s["submitted_at"] = iso(s.submitted_at)
    s["ticket_id"], s["comment"] = "", ""
    (env.landing / "surveys").mkdir(parents=True, exist_ok=True)
    s[list(SURVEYS.column_names)].to_csv(env.landing / "surveys" / "surveys.csv", index=False)
    c = customers.copy()
    c["churned_at"] = iso(c.churned_at)
    for col in CUSTOMERS.column_names:
        if col not in c:
            c[col] = ""
    (env.landing / "customers").mkdir(parents=True, exist_ok=True)
    c[list(CUSTOMERS.column_names)].to_csv(env.landing / "customers" / "customers.csv", index=False)


def as_of(
    customers: pd.DataFrame, tickets: pd.DataFrame, surveys: pd.DataFrame, cut: datetime
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The export as it looked at `cut`: nothing created, answered, resolved or churned later."""
    t = tickets[tickets.created_at < cut].copy()
    for col in ("first_response_at", "resolved_at"):
        t[col] = [v if v < cut else None for v in t[col]]
    c = customers.copy()
    c["churned_at"] = [v if v is not None and v < cut else None for v in c.churned_at]
    return c, t, surveys[surveys.submitted_at < cut]


def load_months(env: Env, months: list[str]) -> None:
    """Ingest the landing files: tickets and surveys of `months`, and the customers."""
    settings = env.settings()
    ingest_events(settings, months)
    ingest_customers(settings)


def month_rows(env: Env, table: str, month: str) -> list[tuple]:
    with connect(env.settings().warehouse, read_only=True) as con:
        return con.execute(
            f"SELECT * FROM {table} WHERE period = ? ORDER BY ALL", [month]
        ).fetchall()
