"""The words of the scorecards that are not sentences of a template: short tile titles, plain
KPI definitions for the appendix, dataset and column names, and the stored (English) quarantine
reasons in the report's language. The texts are in the catalogue (scorecards.text.catalog),
mostly under "render.*"; the templates read theirs as t.<name>.
"""

from __future__ import annotations

from scorecards.contract.kpi_catalog import KPI_BY_ID, LOW_SAMPLE_N
from scorecards.text import formatting as fmt
from scorecards.text.catalog import N_, text
from scorecards.text.kpi_texts import kpi_definition

# The author in every PDF's metadata.
AUTHOR = "Service Scorecards"

DATASETS: dict[str, str] = {
    "tickets": N_("dataset.tickets"),
    "survey_responses": N_("dataset.survey_responses"),
    "customers": N_("dataset.customers"),
}
_BETTER: dict[str, str] = {
    "higher": N_("render.better_higher"),
    "lower": N_("render.better_lower"),
    "none": N_("render.better_none"),
}

# Headline tiles are a quarter of the page wide: their titles must fit on one line, so the long
# catalogue labels get a short form here (the table on page 2 prints the full label). KPIs not
# listed print their full label.
TILE_LABELS: dict[str, str] = {
    "first_response_time": N_("render.tile.first_response_time"),
    "first_response_within_target": N_("render.tile.first_response_within_target"),
    "average_resolution_time": N_("render.tile.average_resolution_time"),
    "resolved_within_target": N_("render.tile.resolved_within_target"),
    "average_handling_time": N_("render.tile.average_handling_time"),
    "first_contact_resolution": N_("render.tile.first_contact_resolution"),
    "resolution_rate": N_("render.tile.resolution_rate"),
    "escalation_rate": N_("render.tile.escalation_rate"),
    "reopen_rate": N_("render.tile.reopen_rate"),
    "self_service_rate": N_("render.tile.self_service_rate"),
    "csat": N_("render.tile.csat"),
    "nps": N_("render.tile.nps"),
    "ces": N_("render.tile.ces"),
    "churn_rate": N_("render.tile.churn_rate"),
    "at_risk_customers": N_("render.tile.at_risk_customers"),
    "at_risk_share": N_("render.tile.at_risk_share"),
    "detractor_share": N_("render.tile.detractor_share"),
}

# The appendix explains each KPI in plain words, without the data contract's column names
# (`handle_time_s`, `contacts = 1`): the catalogue's definitions are written for analysts and
# docs/metrics.md. KPIs not listed here print the catalogue's text.
PLAIN_DEFINITIONS: dict[str, str] = {
    "first_response_time": N_("render.definition.first_response_time"),
    "average_resolution_time": N_("render.definition.average_resolution_time"),
    "average_handling_time": N_("render.definition.average_handling_time"),
    "wait_time": N_("render.definition.wait_time"),
    "first_contact_resolution": N_("render.definition.first_contact_resolution"),
    "self_service_rate": N_("render.definition.self_service_rate"),
    "churn_rate": N_("render.definition.churn_rate"),
    "at_risk_customers": N_("render.definition.at_risk_customers"),
}

# Quarantine reasons are stored in English (validation.py, mapping.py); the PDFs print them
# through the catalogue, the column names included. An unknown reason prints as stored rather
# than vanish.
_QUARANTINE_REASONS: dict[str, str] = {
    "unknown channel": N_("quarantine.unknown_channel"),
    "first response before creation": N_("quarantine.first_response_before_creation"),
    "resolved before creation": N_("quarantine.resolved_before_creation"),
    "contacts below 1": N_("quarantine.contacts_below_1"),
    "unknown survey type": N_("quarantine.unknown_survey_type"),
    "score out of range": N_("quarantine.score_out_of_range"),
    "churned before customer_since": N_("quarantine.churned_before_customer_since"),
    "no team and no ticket_id": N_("quarantine.no_team_no_ticket_id"),
    "no team and ticket_id not among accepted tickets": N_(
        "quarantine.no_team_ticket_not_accepted"
    ),
    "submitted before its ticket was created": N_("quarantine.submitted_before_ticket"),
}
# A reason naming columns: the stored prefix → the text, with the columns as {columns}.
_QUARANTINE_PREFIXES: dict[str, str] = {
    "missing required value: ": N_("quarantine.missing_required_value"),
    "unparsable timestamp: ": N_("quarantine.unparsable_timestamp"),
    "not a boolean: ": N_("quarantine.not_a_boolean"),
    "not a number: ": N_("quarantine.not_a_number"),
    "negative value: ": N_("quarantine.negative_value"),
    "not a whole number: ": N_("quarantine.not_a_whole_number"),
    "control character in ": N_("quarantine.control_character"),
    "timestamp in the future: ": N_("quarantine.timestamp_in_future"),
    "duplicate ticket_id with conflicting values in: ": N_("quarantine.duplicate_ticket_id"),
    "duplicate response_id with conflicting values in: ": N_("quarantine.duplicate_response_id"),
    "duplicate customer_id with conflicting values in: ": N_("quarantine.duplicate_customer_id"),
}
COLUMNS: dict[str, str] = {
    "ticket_id": N_("column.ticket_id"),
    "customer_id": N_("column.customer_id"),
    "agent_id": N_("column.agent_id"),
    "response_id": N_("column.response_id"),
    "team": N_("column.team"),
    "channel": N_("column.channel"),
    "created_at": N_("column.created_at"),
    "first_response_at": N_("column.first_response_at"),
    "resolved_at": N_("column.resolved_at"),
    "handle_time_s": N_("column.handle_time_s"),
    "wait_time_s": N_("column.wait_time_s"),
    "contacts": N_("column.contacts"),
    "reopened": N_("column.reopened"),
    "escalated": N_("column.escalated"),
    "survey_type": N_("column.survey_type"),
    "score": N_("column.score"),
    "submitted_at": N_("column.submitted_at"),
    "customer_since": N_("column.customer_since"),
    "churned_at": N_("column.churned_at"),
    "segment": N_("column.segment"),
}


def quarantine_reason(reason: str, locale: str) -> str:
    """A stored quarantine reason in the report's language ("; " joins several)."""
    if not isinstance(reason, str):
        return reason
    return "; ".join(_quarantine_part(part, locale) for part in reason.split("; "))


def _quarantine_part(part: str, locale: str) -> str:
    if part in _QUARANTINE_REASONS:
        return text(locale, _QUARANTINE_REASONS[part])
    for prefix, key in _QUARANTINE_PREFIXES.items():
        if part.startswith(prefix):
            cols = part[len(prefix) :].split(", ")
            names = ", ".join(text(locale, COLUMNS[c]) if c in COLUMNS else c for c in cols)
            # Translators: {columns} are column names (column.*), comma-separated
            return text(locale, key, columns=names)
    return part


def dataset_label(dataset: str, locale: str) -> str:
    return text(locale, DATASETS[dataset]) if dataset in DATASETS else dataset


def tile_label(kpi: str, locale: str) -> str:
    return text(locale, TILE_LABELS[kpi]) if kpi in TILE_LABELS else fmt.kpi_label(kpi, locale)


def definition(kpi: str, locale: str) -> str:
    if kpi in PLAIN_DEFINITIONS:
        return text(locale, PLAIN_DEFINITIONS[kpi])
    return kpi_definition(kpi, locale)


def better_text(kpi: str, locale: str) -> str:
    """Which direction is better for `kpi` ("higher is better")."""
    return text(locale, _BETTER[KPI_BY_ID[kpi].better])


def n_text(n: float, locale: str) -> str:
    """The sample size under a tile, with the warning below LOW_SAMPLE_N."""
    key = N_("render.n_low") if n < LOW_SAMPLE_N else N_("render.n_is")
    return text(locale, key, n=fmt.count(n, locale))
