"""The KPI catalogue: one place that names every KPI, its unit, its good direction and kind.

The engine, the config validation, the CSV and the documentation all read this list, so a
KPI cannot exist in one of them and be missing from another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd

Kind = Literal["count", "share", "mean", "median", "nps"]
Better = Literal["higher", "lower", "none"]


@dataclass(frozen=True)
class Kpi:
    id: str
    unit: str
    better: Better
    kind: Kind
    # The base in English as the stored reason of an empty base quotes it ("0 tickets resolved
    # in the month": empty_base_reason). What the KPI is called and counts, in German and
    # English, is in the text catalogue (scorecards/text/kpi_texts.py).
    denominator_en: str


KPIS: tuple[Kpi, ...] = (
    Kpi("ticket_volume", "count", "none", "count", "none (a count)"),
    Kpi(
        "first_response_time",
        "minutes",
        "lower",
        "median",
        "tickets created in the month with a first response",
    ),
    Kpi(
        "first_response_within_target",
        "%",
        "higher",
        "share",
        "tickets created in the month with a first response",
    ),
    Kpi("average_resolution_time", "hours", "lower", "mean", "tickets resolved in the month"),
    Kpi("resolved_within_target", "%", "higher", "share", "tickets resolved in the month"),
    Kpi(
        "average_handling_time",
        "minutes",
        "lower",
        "mean",
        "tickets resolved in the month with a handling time",
    ),
    Kpi("wait_time", "minutes", "lower", "mean", "tickets created in the month with a wait time"),
    Kpi("first_contact_resolution", "%", "higher", "share", "tickets resolved in the month"),
    Kpi("resolution_rate", "%", "higher", "share", "tickets created in the month"),
    Kpi("escalation_rate", "%", "lower", "share", "tickets created in the month"),
    Kpi("reopen_rate", "%", "lower", "share", "tickets resolved in the month"),
    Kpi("self_service_rate", "%", "higher", "share", "tickets created in the month"),
    Kpi("csat", "%", "higher", "share", "CSAT responses submitted in the month"),
    Kpi("nps", "points", "higher", "nps", "NPS responses submitted in the month"),
    Kpi("ces", "score", "higher", "mean", "CES responses submitted in the month"),
    Kpi(
        "churn_rate",
        "%",
        "lower",
        "share",
        "customers active at the start of the month (for a team: served by it)",
    ),
    Kpi(
        "at_risk_customers",
        "count",
        "lower",
        "count",
        "customers scored in the month (for a team: those whose primary team it is)",
    ),
    Kpi(
        "at_risk_share",
        "%",
        "lower",
        "share",
        "customers scored in the month (for a team: those whose primary team it is)",
    ),
    Kpi("detractor_share", "%", "lower", "share", "NPS responses submitted in the month"),
)

KPI_BY_ID: dict[str, Kpi] = {k.id: k for k in KPIS}

# Service level: the share of tickets within the time target of another KPI (the target is read
# in that KPI's unit: minutes for first response, hours for resolution).
SERVICE_LEVEL: dict[str, str] = {
    "first_response_within_target": "first_response_time",
    "resolved_within_target": "average_resolution_time",
}
KPI_IDS: tuple[str, ...] = tuple(k.id for k in KPIS)

# The company figure is reported under this team id.
ALL_TEAMS = "ALL"
# Below this denominator a KPI is flagged as a small sample.
LOW_SAMPLE_N = 30
# Customers count as served by a team when it had a ticket of theirs this many days before the
# month (the base of a team's churn rate).
SERVED_WINDOW_DAYS = 90
# Floats (KPIs, churn scores and models) are rounded to this many decimals before storage:
# parallel aggregation may differ in the last bits between runs, and a re-run must give
# byte-identical output.
DECIMALS = 6

# --- what each KPI needs, and why it is "no data" when the data lacks it -----------------------

# The inputs a KPI reads, in the order their absence is reported: a dataset ("tickets",
# "surveys", "customers"), a contract column of the tickets ("resolved_at", ...), the responses
# of one survey type ("csat", "nps", "ces"), the month's churn-risk scores ("churn_scores") or
# the team's time target a service-level KPI measures against ("frt_target", "art_target": the
# targets of first_response_time and average_resolution_time; judged per team, not per month).
# An input is absent for a month when the data has nothing of it: no rows of the dataset, a
# column that is NULL on every ticket created or resolved in the month, no responses of the type,
# no scores. A team's churn rate also needs tickets (the customers a team served).
INPUTS: dict[str, tuple[str, ...]] = {
    "ticket_volume": ("tickets",),
    "first_response_time": ("tickets", "first_response_at"),
    "first_response_within_target": ("tickets", "first_response_at", "frt_target"),
    "resolved_within_target": ("tickets", "resolved_at", "art_target"),
    "average_resolution_time": ("tickets", "resolved_at"),
    "average_handling_time": ("tickets", "resolved_at", "handle_time_s"),
    "wait_time": ("tickets", "wait_time_s"),
    "first_contact_resolution": ("tickets", "resolved_at", "contacts", "reopened"),
    "resolution_rate": ("tickets", "resolved_at"),
    "escalation_rate": ("tickets", "escalated"),
    "reopen_rate": ("tickets", "resolved_at", "reopened"),
    "self_service_rate": ("tickets", "resolved_at", "channel"),
    "csat": ("surveys", "csat"),
    "nps": ("surveys", "nps"),
    "ces": ("surveys", "ces"),
    "churn_rate": ("customers",),
    "at_risk_customers": ("customers", "churn_scores"),
    "at_risk_share": ("customers", "churn_scores"),
    "detractor_share": ("surveys", "nps"),
}
# A team's KPI needs these on top of INPUTS (the company figure does not).
TEAM_INPUTS: dict[str, tuple[str, ...]] = {"churn_rate": ("tickets",)}

# Why a KPI is "no data", as team_kpis.csv and the warehouse store it in `no_data_reason`; the
# scorecards print it in their language (scorecards/text/kpi_texts.py, reason_text).
NO_DATA_REASONS: dict[str, str] = {
    "tickets": "no tickets in the data",
    "first_response_at": "no first-response timestamp in the data",
    "resolved_at": "no resolved timestamp in the data",
    "handle_time_s": "no handling time in the data",
    "wait_time_s": "no wait time in the data",
    "contacts": "no contact count in the data",
    "reopened": "no reopened flag in the data",
    "escalated": "no escalation flag in the data",
    "channel": "no channel in the data",
    "surveys": "no survey responses in the data",
    "csat": "no CSAT responses in the data",
    "nps": "no NPS responses in the data",
    "ces": "no CES responses in the data",
    "customers": "no customers data",
    # the service-level KPIs measure against the team's (or the company's) time target; a team
    # without one has nothing to measure against (config/teams.yaml, targets)
    "frt_target": "no first-response-time target configured",
    "art_target": "no resolution-time target configured",
    # churn_scores: the churn-risk step says why it did not score a month (scorecards/churn/scoring.py)
    "not_scored_customers": "not scored: no customers data",
    "not_scored_tickets": "not scored: no tickets in the data",
    "not_scored_history": "not scored: too little history to fit the churn model",
    "not_scored_fit": "not scored: the churn model could not be fitted",
    "not_scored_missing": "not scored: churn risk was not materialized for this month",
}


def no_data_reason(key: str) -> str:
    """The stored (English) reason for an input key of NO_DATA_REASONS."""
    return NO_DATA_REASONS[key]


def empty_base_reason(kpi_id: str) -> str:
    """The reason of a KPI whose inputs exist but whose denominator is 0 for this team ("0 CSAT
    responses submitted in the month")."""
    return f"0 {KPI_BY_ID[kpi_id].denominator_en}"


_ABSENT_INPUT: frozenset[str] = frozenset(NO_DATA_REASONS.values())


def absent_input(reason: object) -> bool:
    """Whether a stored reason says the data lacks an input (not merely an empty base)."""
    return isinstance(reason, str) and reason in _ABSENT_INPUT


def without_absent_inputs(kpis: pd.DataFrame) -> pd.DataFrame:
    """KPI rows minus those whose inputs the data lacks: the context notes judge figures, and
    "too few survey responses (n = 0)" is wrong where there are no surveys at all."""
    if "no_data_reason" not in kpis.columns:
        return kpis
    return kpis[~kpis.no_data_reason.map(absent_input).astype(bool)]
