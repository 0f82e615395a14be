"""What each KPI is called and counts, and why it has no value, in the scorecard's language.

The KPI catalogue (`scorecards.contract.kpi_catalog`) says which KPIs exist and what the data
stores; the words for them are in the text catalogue (`scorecards.text.catalog`), under the keys
listed here, one per KPI, so that extraction finds every one.

A reason a KPI has no value is stored in English (`team_kpis.no_data_reason`, kpis.csv): the
scorecards print it through the catalogue, in either language.
"""

from __future__ import annotations

from scorecards.contract.kpi_catalog import KPIS, NO_DATA_REASONS
from scorecards.text.catalog import N_, text

# The KPI's full name (fmt.kpi_label), as the tables, the e-mails and the notes print it.
LABEL_KEYS: dict[str, str] = {
    "ticket_volume": N_("kpi.ticket_volume.label"),
    "first_response_time": N_("kpi.first_response_time.label"),
    "first_response_within_target": N_("kpi.first_response_within_target.label"),
    "average_resolution_time": N_("kpi.average_resolution_time.label"),
    "resolved_within_target": N_("kpi.resolved_within_target.label"),
    "average_handling_time": N_("kpi.average_handling_time.label"),
    "wait_time": N_("kpi.wait_time.label"),
    "first_contact_resolution": N_("kpi.first_contact_resolution.label"),
    "resolution_rate": N_("kpi.resolution_rate.label"),
    "escalation_rate": N_("kpi.escalation_rate.label"),
    "reopen_rate": N_("kpi.reopen_rate.label"),
    "self_service_rate": N_("kpi.self_service_rate.label"),
    "csat": N_("kpi.csat.label"),
    "nps": N_("kpi.nps.label"),
    "ces": N_("kpi.ces.label"),
    "churn_rate": N_("kpi.churn_rate.label"),
    "at_risk_customers": N_("kpi.at_risk_customers.label"),
    "at_risk_share": N_("kpi.at_risk_share.label"),
    "detractor_share": N_("kpi.detractor_share.label"),
}

# What the KPI counts, exactly, for analysts (docs/metrics.md quotes it) and the appendix.
DEFINITION_KEYS: dict[str, str] = {
    "ticket_volume": N_("kpi.ticket_volume.definition"),
    "first_response_time": N_("kpi.first_response_time.definition"),
    "first_response_within_target": N_("kpi.first_response_within_target.definition"),
    "average_resolution_time": N_("kpi.average_resolution_time.definition"),
    "resolved_within_target": N_("kpi.resolved_within_target.definition"),
    "average_handling_time": N_("kpi.average_handling_time.definition"),
    "wait_time": N_("kpi.wait_time.definition"),
    "first_contact_resolution": N_("kpi.first_contact_resolution.definition"),
    "resolution_rate": N_("kpi.resolution_rate.definition"),
    "escalation_rate": N_("kpi.escalation_rate.definition"),
    "reopen_rate": N_("kpi.reopen_rate.definition"),
    "self_service_rate": N_("kpi.self_service_rate.definition"),
    "csat": N_("kpi.csat.definition"),
    "nps": N_("kpi.nps.definition"),
    "ces": N_("kpi.ces.definition"),
    "churn_rate": N_("kpi.churn_rate.definition"),
    "at_risk_customers": N_("kpi.at_risk_customers.definition"),
    "at_risk_share": N_("kpi.at_risk_share.definition"),
    "detractor_share": N_("kpi.detractor_share.definition"),
}

# The cases the KPI is computed over: the appendix's "Basis".
DENOMINATOR_KEYS: dict[str, str] = {
    "ticket_volume": N_("kpi.ticket_volume.denominator"),
    "first_response_time": N_("kpi.first_response_time.denominator"),
    "first_response_within_target": N_("kpi.first_response_within_target.denominator"),
    "average_resolution_time": N_("kpi.average_resolution_time.denominator"),
    "resolved_within_target": N_("kpi.resolved_within_target.denominator"),
    "average_handling_time": N_("kpi.average_handling_time.denominator"),
    "wait_time": N_("kpi.wait_time.denominator"),
    "first_contact_resolution": N_("kpi.first_contact_resolution.denominator"),
    "resolution_rate": N_("kpi.resolution_rate.denominator"),
    "escalation_rate": N_("kpi.escalation_rate.denominator"),
    "reopen_rate": N_("kpi.reopen_rate.denominator"),
    "self_service_rate": N_("kpi.self_service_rate.denominator"),
    "csat": N_("kpi.csat.denominator"),
    "nps": N_("kpi.nps.denominator"),
    "ces": N_("kpi.ces.denominator"),
    "churn_rate": N_("kpi.churn_rate.denominator"),
    "at_risk_customers": N_("kpi.at_risk_customers.denominator"),
    "at_risk_share": N_("kpi.at_risk_share.denominator"),
    "detractor_share": N_("kpi.detractor_share.denominator"),
}

# Why a KPI has no value, per input key of kpi_catalog.NO_DATA_REASONS.
REASON_KEYS: dict[str, str] = {
    "tickets": N_("no_data_reason.tickets"),
    "first_response_at": N_("no_data_reason.first_response_at"),
    "resolved_at": N_("no_data_reason.resolved_at"),
    "handle_time_s": N_("no_data_reason.handle_time_s"),
    "wait_time_s": N_("no_data_reason.wait_time_s"),
    "contacts": N_("no_data_reason.contacts"),
    "reopened": N_("no_data_reason.reopened"),
    "escalated": N_("no_data_reason.escalated"),
    "channel": N_("no_data_reason.channel"),
    "surveys": N_("no_data_reason.surveys"),
    "csat": N_("no_data_reason.csat"),
    "nps": N_("no_data_reason.nps"),
    "ces": N_("no_data_reason.ces"),
    "customers": N_("no_data_reason.customers"),
    "frt_target": N_("no_data_reason.frt_target"),
    "art_target": N_("no_data_reason.art_target"),
    "not_scored_customers": N_("no_data_reason.not_scored_customers"),
    "not_scored_tickets": N_("no_data_reason.not_scored_tickets"),
    "not_scored_history": N_("no_data_reason.not_scored_history"),
    "not_scored_fit": N_("no_data_reason.not_scored_fit"),
    "not_scored_missing": N_("no_data_reason.not_scored_missing"),
}

# A stored reason → its key; "0 " + a KPI's English base (kpi_catalog.empty_base_reason) → the KPI.
_REASON_BY_STORED: dict[str, str] = {
    stored: REASON_KEYS[key] for key, stored in NO_DATA_REASONS.items()
}
_EMPTY_BASE: dict[str, str] = {f"0 {k.denominator_en}": k.id for k in KPIS}


def kpi_definition(kpi_id: str, locale: str) -> str:
    return text(locale, DEFINITION_KEYS[kpi_id])


def kpi_denominator(kpi_id: str, locale: str) -> str:
    return text(locale, DENOMINATOR_KEYS[kpi_id])


def reason_text(reason: object, locale: str) -> str:
    """A stored reason in the scorecard's language; "" when there is none. An unknown reason
    (written by a later version) is shown as it was stored rather than dropped."""
    if not isinstance(reason, str) or not reason:
        return ""
    if reason in _REASON_BY_STORED:
        return text(locale, _REASON_BY_STORED[reason])
    if reason in _EMPTY_BASE:
        # Translators: {base} is the KPI's base (kpi.*.denominator), of which there are none
        return text(
            locale, "no_data_reason.empty_base", base=kpi_denominator(_EMPTY_BASE[reason], locale)
        )
    return reason
