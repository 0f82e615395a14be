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
    label_de: str
    label_en: str
    unit: str
    better: Better
    kind: Kind
    definition_en: str
    definition_de: str
    denominator_en: str
    denominator_de: str


KPIS: tuple[Kpi, ...] = (
    Kpi(
        "ticket_volume",
        "Ticket-Volumen",
        "Ticket volume",
        "count",
        "none",
        "count",
        "Tickets created in the month.",
        "Im Monat erstellte Tickets.",
        "none (a count)",
        "keiner (eine Anzahl)",
    ),
    Kpi(
        "first_response_time",
        "Erste Antwortzeit (FRT)",
        "First response time (FRT)",
        "minutes",
        "lower",
        "median",
        "Median of first_response_at − created_at over tickets created in the month that have "
        "a first response.",
        "Median von first_response_at − created_at über die im Monat erstellten Tickets mit "
        "erster Antwort.",
        "tickets created in the month with a first response",
        "im Monat erstellte Tickets mit erster Antwort",
    ),
    Kpi(
        "first_response_within_target",
        "Erstantwort in Zielzeit",
        "First response within target",
        "%",
        "higher",
        "share",
        "Share of the tickets created in the month with a first response that got it within "
        "the team's first-response target (the FRT target, in minutes; at most the target "
        "counts as within).",
        "Anteil der im Monat erstellten Tickets mit erster Antwort, die sie innerhalb des "
        "Ziels für die erste Antwortzeit des Teams bekamen (FRT-Ziel in Minuten; genau das "
        "Ziel zählt als eingehalten).",
        "tickets created in the month with a first response",
        "im Monat erstellte Tickets mit erster Antwort",
    ),
    Kpi(
        "average_resolution_time",
        "Durchschnittliche Lösungszeit (ART)",
        "Average resolution time (ART)",
        "hours",
        "lower",
        "mean",
        "Mean of resolved_at − created_at over tickets resolved in the month.",
        "Mittelwert von resolved_at − created_at über die im Monat gelösten Tickets.",
        "tickets resolved in the month",
        "im Monat gelöste Tickets",
    ),
    Kpi(
        "resolved_within_target",
        "Lösung in Zielzeit",
        "Resolved within target",
        "%",
        "higher",
        "share",
        "Share of the tickets resolved in the month that were resolved within the team's "
        "resolution-time target after they were created (the ART target, in hours; at most "
        "the target counts as within).",
        "Anteil der im Monat gelösten Tickets, die innerhalb des Ziels für die Lösungszeit des "
        "Teams nach ihrer Erstellung gelöst wurden (ART-Ziel in Stunden; genau das Ziel zählt "
        "als eingehalten).",
        "tickets resolved in the month",
        "im Monat gelöste Tickets",
    ),
    Kpi(
        "average_handling_time",
        "Bearbeitungszeit (AHT)",
        "Average handling time (AHT)",
        "minutes",
        "lower",
        "mean",
        "Mean handle_time_s over tickets resolved in the month that have it.",
        "Mittelwert von handle_time_s über die im Monat gelösten Tickets, die ihn haben.",
        "tickets resolved in the month with a handling time",
        "im Monat gelöste Tickets mit Bearbeitungszeit",
    ),
    Kpi(
        "wait_time",
        "Wartezeit",
        "Wait time",
        "minutes",
        "lower",
        "mean",
        "Mean wait_time_s over tickets created in the month that have it.",
        "Mittelwert von wait_time_s über die im Monat erstellten Tickets, die ihn haben.",
        "tickets created in the month with a wait time",
        "im Monat erstellte Tickets mit Wartezeit",
    ),
    Kpi(
        "first_contact_resolution",
        "Lösungsquote beim Erstkontakt (FCR)",
        "First contact resolution (FCR)",
        "%",
        "higher",
        "share",
        "Share of tickets resolved in the month with contacts = 1 and not reopened.",
        "Anteil der im Monat gelösten Tickets mit contacts = 1, die nicht wiedereröffnet wurden.",
        "tickets resolved in the month",
        "im Monat gelöste Tickets",
    ),
    Kpi(
        "resolution_rate",
        "Gesamtlösungsrate",
        "Resolution rate",
        "%",
        "higher",
        "share",
        "Share of tickets created in the month that are resolved before the month ends.",
        "Anteil der im Monat erstellten Tickets, die vor Monatsende gelöst sind.",
        "tickets created in the month",
        "im Monat erstellte Tickets",
    ),
    Kpi(
        "escalation_rate",
        "Eskalationsrate",
        "Escalation rate",
        "%",
        "lower",
        "share",
        "Share of tickets created in the month that were escalated.",
        "Anteil der im Monat erstellten Tickets, die eskaliert wurden.",
        "tickets created in the month",
        "im Monat erstellte Tickets",
    ),
    Kpi(
        "reopen_rate",
        "Wiedereröffnungsquote",
        "Reopen rate",
        "%",
        "lower",
        "share",
        "Share of tickets resolved in the month that were reopened.",
        "Anteil der im Monat gelösten Tickets, die wiedereröffnet wurden.",
        "tickets resolved in the month",
        "im Monat gelöste Tickets",
    ),
    Kpi(
        "self_service_rate",
        "Self-Service-Quote",
        "Self-service rate",
        "%",
        "higher",
        "share",
        "Share of tickets created in the month with channel self_service that are resolved "
        "before the month ends.",
        "Anteil der im Monat erstellten Tickets, die über Self-Service kamen und vor Monatsende "
        "gelöst sind.",
        "tickets created in the month",
        "im Monat erstellte Tickets",
    ),
    Kpi(
        "csat",
        "Kundenzufriedenheit (CSAT)",
        "Customer satisfaction (CSAT)",
        "%",
        "higher",
        "share",
        "Share of CSAT responses in the month with score 4 or 5.",
        "Anteil der CSAT-Antworten im Monat mit Wert 4 oder 5.",
        "CSAT responses submitted in the month",
        "im Monat abgegebene CSAT-Antworten",
    ),
    Kpi(
        "nps",
        "Net Promoter Score",
        "Net Promoter Score",
        "points",
        "higher",
        "nps",
        "% of NPS responses in the month scoring 9–10 minus % scoring 0–6.",
        "% der NPS-Antworten im Monat mit 9–10 minus % mit 0–6.",
        "NPS responses submitted in the month",
        "im Monat abgegebene NPS-Antworten",
    ),
    Kpi(
        "ces",
        "Customer Effort Score",
        "Customer effort score (CES)",
        "score",
        "higher",
        "mean",
        "Mean CES score in the month (1–7, 7 = very easy).",
        "Mittlerer CES-Wert im Monat (1–7, 7 = sehr einfach).",
        "CES responses submitted in the month",
        "im Monat abgegebene CES-Antworten",
    ),
    Kpi(
        "churn_rate",
        "Kundenabwanderungsrate",
        "Churn rate",
        "%",
        "lower",
        "share",
        "Of the customers active at the start of the month (customer_since before it, not "
        "churned before it) and, for a team, served by it (a ticket of that team created in "
        "the 90 days before the month starts): the share with churned_at in the month.",
        "Von den zu Monatsbeginn aktiven Kundinnen und Kunden (customer_since davor, nicht "
        "davor abgewandert) und, für ein Team, von ihm betreut (ein Ticket des Teams in den 90 "
        "Tagen vor Monatsbeginn): der Anteil mit churned_at im Monat.",
        "customers active at the start of the month (for a team: served by it)",
        "zu Monatsbeginn aktive Kundinnen und Kunden (für ein Team: von ihm betreut)",
    ),
    Kpi(
        "at_risk_customers",
        "Kunden mit hohem Abwanderungsrisiko",
        "Customers at high churn risk",
        "count",
        "lower",
        "count",
        "Customers active at the end of the month whose churn-risk score is in band high "
        "(docs/churn-risk.md); for a team, those whose primary team it is (most of their "
        "tickets in the scoring window, 90 days by default). Empty when the month could not be scored.",
        "Am Monatsende aktive Kundinnen und Kunden, deren Abwanderungsrisiko im Band hoch liegt "
        "(docs/churn-risk.md); für ein Team jene, deren Hauptteam es ist (die meisten ihrer "
        "Tickets im Bewertungsfenster, standardmäßig 90 Tage). Leer, wenn der Monat nicht bewertet werden konnte.",
        "customers scored in the month (for a team: those whose primary team it is)",
        "im Monat bewertete Kundinnen und Kunden (für ein Team: jene mit ihm als Hauptteam)",
    ),
    Kpi(
        "at_risk_share",
        "Anteil mit hohem Abwanderungsrisiko",
        "Share at high churn risk",
        "%",
        "lower",
        "share",
        "Share of the customers scored at the end of the month whose churn-risk score is in "
        "band high; for a team, of the customers whose primary team it is.",
        "Anteil der am Monatsende bewerteten Kundinnen und Kunden, deren Abwanderungsrisiko im "
        "Band hoch liegt; für ein Team unter jenen, deren Hauptteam es ist.",
        "customers scored in the month (for a team: those whose primary team it is)",
        "im Monat bewertete Kundinnen und Kunden (für ein Team: jene mit ihm als Hauptteam)",
    ),
    Kpi(
        "detractor_share",
        "Kritiker-Anteil (NPS 0–6)",
        "Detractor share (NPS 0–6)",
        "%",
        "lower",
        "share",
        "Share of NPS responses in the month scoring 0–6.",
        "Anteil der NPS-Antworten im Monat mit 0–6.",
        "NPS responses submitted in the month",
        "im Monat abgegebene NPS-Antworten",
    ),
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

# Why a KPI is "no data": (English, German). The English text is what team_kpis.csv and the
# warehouse store in `no_data_reason`; the scorecards translate it through this table.
NO_DATA_REASONS: dict[str, tuple[str, str]] = {
    "tickets": ("no tickets in the data", "keine Tickets in den Daten"),
    "first_response_at": (
        "no first-response timestamp in the data",
        "kein Zeitpunkt der ersten Antwort in den Daten",
    ),
    "resolved_at": ("no resolved timestamp in the data", "kein Lösungszeitpunkt in den Daten"),
    "handle_time_s": ("no handling time in the data", "keine Bearbeitungszeit in den Daten"),
    "wait_time_s": ("no wait time in the data", "keine Wartezeit in den Daten"),
    "contacts": ("no contact count in the data", "keine Kontaktanzahl in den Daten"),
    "reopened": ("no reopened flag in the data", "kein Wiedereröffnungs-Kennzeichen in den Daten"),
    "escalated": ("no escalation flag in the data", "kein Eskalations-Kennzeichen in den Daten"),
    "channel": ("no channel in the data", "kein Kanal in den Daten"),
    "surveys": ("no survey responses in the data", "keine Umfrageantworten in den Daten"),
    "csat": ("no CSAT responses in the data", "keine CSAT-Antworten in den Daten"),
    "nps": ("no NPS responses in the data", "keine NPS-Antworten in den Daten"),
    "ces": ("no CES responses in the data", "keine CES-Antworten in den Daten"),
    "customers": ("no customers data", "keine Kundendaten"),
    # the service-level KPIs measure against the team's (or the company's) time target; a team
    # without one has nothing to measure against (config/teams.yaml, targets)
    "frt_target": (
        "no first-response-time target configured",
        "kein Ziel für die erste Antwortzeit konfiguriert",
    ),
    "art_target": (
        "no resolution-time target configured",
        "kein Ziel für die Lösungszeit konfiguriert",
    ),
    # churn_scores: the churn-risk step says why it did not score a month (scorecards/churn/scoring.py)
    "not_scored_customers": ("not scored: no customers data", "nicht berechnet: keine Kundendaten"),
    "not_scored_tickets": (
        "not scored: no tickets in the data",
        "nicht berechnet: keine Tickets in den Daten",
    ),
    "not_scored_history": (
        "not scored: too little history to fit the churn model",
        "nicht berechnet: zu wenig Vorgeschichte für das Abwanderungsmodell",
    ),
    "not_scored_fit": (
        "not scored: the churn model could not be fitted",
        "nicht berechnet: das Abwanderungsmodell ließ sich nicht anpassen",
    ),
    "not_scored_missing": (
        "not scored: churn risk was not materialized for this month",
        "nicht berechnet: das Abwanderungsrisiko wurde für diesen Monat nicht erstellt",
    ),
}
_REASON_DE: dict[str, str] = {en: de for en, de in NO_DATA_REASONS.values()}
# A KPI whose inputs exist but whose base is empty for a team ("0 CSAT responses submitted in the
# month"): the reason is "0 " + its denominator.
for _k in KPIS:
    _REASON_DE[f"0 {_k.denominator_en}"] = f"0 {_k.denominator_de}"


def no_data_reason(key: str) -> str:
    """The stored (English) reason for an input key of NO_DATA_REASONS."""
    return NO_DATA_REASONS[key][0]


def empty_base_reason(kpi_id: str) -> str:
    """The reason of a KPI whose inputs exist but whose denominator is 0 for this team."""
    return f"0 {KPI_BY_ID[kpi_id].denominator_en}"


_ABSENT_INPUT: frozenset[str] = frozenset(en for en, _ in NO_DATA_REASONS.values())


def absent_input(reason: object) -> bool:
    """Whether a stored reason says the data lacks an input (not merely an empty base)."""
    return isinstance(reason, str) and reason in _ABSENT_INPUT


def without_absent_inputs(kpis: pd.DataFrame) -> pd.DataFrame:
    """KPI rows minus those whose inputs the data lacks: the context notes judge figures, and
    "too few survey responses (n = 0)" is wrong where there are no surveys at all."""
    if "no_data_reason" not in kpis.columns:
        return kpis
    return kpis[~kpis.no_data_reason.map(absent_input).astype(bool)]


def reason_text(reason: object, locale: str) -> str:
    """A stored reason in the scorecard's language; "" when there is none. An unknown reason
    (written by a later version) is shown as it was stored rather than dropped."""
    if not isinstance(reason, str) or not reason:
        return ""
    return _REASON_DE.get(reason, reason) if locale == "de" else reason
