"""The data contract: what a valid ticket, survey response and customer is.

Each dataset lists its columns with type and whether they are required; the validation room
turns this into SQL, the warehouse into table schemas, the demo generator into files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColType = Literal["string", "timestamp", "number", "integer", "boolean"]

CHANNELS: tuple[str, ...] = ("phone", "email", "chat", "social", "web", "self_service")
SURVEY_TYPES: tuple[str, ...] = ("csat", "nps", "ces")
# Inclusive score ranges per survey type.
SCORE_RANGES: dict[str, tuple[int, int]] = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}
TRUE_WORDS: tuple[str, ...] = ("true", "1", "yes")
FALSE_WORDS: tuple[str, ...] = ("false", "0", "no")


@dataclass(frozen=True)
class Column:
    name: str
    type: ColType
    required: bool = False


@dataclass(frozen=True)
class Dataset:
    name: str  # folder name under landing/ and quarantine/
    table: str  # warehouse table and Dagster asset name
    id_column: str
    period_column: str  # the timestamp that puts a row into a month
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


TICKETS = Dataset(
    name="tickets",
    table="tickets",
    id_column="ticket_id",
    period_column="created_at",
    columns=(
        Column("ticket_id", "string", True),
        Column("customer_id", "string", True),
        Column("team", "string", True),
        Column("agent_id", "string"),
        Column("channel", "string", True),
        Column("created_at", "timestamp", True),
        Column("first_response_at", "timestamp"),
        Column("resolved_at", "timestamp"),
        Column("handle_time_s", "number"),
        Column("wait_time_s", "number"),
        Column("contacts", "integer", True),
        Column("reopened", "boolean", True),
        Column("escalated", "boolean", True),
    ),
)

SURVEYS = Dataset(
    name="surveys",
    table="survey_responses",
    id_column="response_id",
    period_column="submitted_at",
    columns=(
        Column("response_id", "string", True),
        Column("ticket_id", "string"),
        Column("customer_id", "string", True),
        Column("team", "string"),
        Column("survey_type", "string", True),
        Column("score", "integer", True),
        Column("submitted_at", "timestamp", True),
        Column("comment", "string"),
    ),
)

CUSTOMERS = Dataset(
    name="customers",
    table="customers",
    id_column="customer_id",
    period_column="customer_since",
    columns=(
        Column("customer_id", "string", True),
        Column("customer_since", "timestamp", True),
        Column("churned_at", "timestamp"),
        Column("segment", "string"),
        # What the scorecards show next to a customer at risk (a name, an account owner): any
        # source column mapped onto it; churn.label_column chooses which customers column is shown.
        Column("label", "string"),
    ),
)

DATASETS: dict[str, Dataset] = {d.name: d for d in (TICKETS, SURVEYS, CUSTOMERS)}

# Rows whose period timestamp cannot be read are quarantined under this name instead of a month.
UNDATED = "undated"
