"""Monthly partitions in the configured time zone, from the first month of data."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from scorecards.ingest import first_data_month
from scorecards.periods import last_complete_month
from scorecards.settings import Settings

MONTH_FMT = "%Y-%m"


def first_month(settings: Settings) -> str:
    """First partition: config's first_month, else the first month of landing data, else last month."""
    return first_data_month(settings) or last_complete_month(datetime.now(UTC), settings.timezone)


def monthly_partitions(settings: Settings) -> dg.MonthlyPartitionsDefinition:
    # end_offset=0: the newest partition is the last complete month, never the running one.
    return dg.MonthlyPartitionsDefinition(
        start_date=first_month(settings),
        timezone=settings.timezone,
        fmt=MONTH_FMT,
        end_offset=0,
    )
