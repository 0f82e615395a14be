"""The KPI catalogue: one place that names every KPI, its unit, its good direction and kind.

The engine, the config validation, the CSV and the documentation all read this list, so a
KPI cannot exist in one of them and be missing from another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
KPI_IDS: tuple[str, ...] = tuple(k.id for k in KPIS)

# The company figure is reported under this team id.
ALL_TEAMS = "ALL"
# Below this denominator a KPI is flagged as a small sample.
LOW_SAMPLE_N = 30
