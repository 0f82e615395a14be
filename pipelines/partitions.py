"""Monthly partitions in the configured time zone, decided without reading any landing data.

Loading the Dagster definitions must never read a landing file: one unreadable file would take
the code location down, and with it the schedule and the failure-alert sensor. The first
partition therefore comes, in this order, from

1. `first_month` in config/teams.yaml,
2. the state file `<data dir>/.state/months.json`, written by `python -m pipelines.cli run` and
   `... months` after a successful scan of the landing folder (`record_landing_months`),
3. a default: DEFAULT_HISTORY_MONTHS months before the last complete month.

Reading the state file never raises: a missing or unreadable one falls back to the default, and
the source used is logged. The newest partition is the last complete month (end_offset=0),
evaluated when asked, so a long-running code server moves on by itself each month.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import dagster as dg

from scorecards.config.settings import Settings
from scorecards.core.periods import last_complete_month, shift_month
from scorecards.ingest.load import landing_months as scan_landing_months
from scorecards.ingest.months_state import (
    Clock,
    read_state,
    state_path,
    utc_now,
    write_state,
)

MONTH_FMT = "%Y-%m"
DEFAULT_HISTORY_MONTHS = 24

log = logging.getLogger(__name__)


def landing_months(settings: Settings) -> list[str]:
    """Months with accepted-looking data in the landing folder. Reads files: never call this
    while the definitions load. Raises scorecards.ingest.landing.InputFileError for a bad file."""
    return sorted(set(scan_landing_months(settings)))


def record_landing_months(settings: Settings, clock: Clock = utc_now) -> list[str]:
    """Scan the landing folder and, when that succeeds, write the state file the next load of
    the definitions starts its partitions from. Raises InputFileError like the scan."""
    months = landing_months(settings)
    write_state(settings, months, clock)
    return months


@dataclass(frozen=True)
class PartitionStart:
    month: str
    source: str  # "config" | "state" | "default"
    detail: str  # one line for the log and the CLI


def partition_start(settings: Settings, clock: Clock = utc_now) -> PartitionStart:
    """The first partition, from config, the state file or the default; reads no landing data."""
    configured = settings.teams_file.first_month
    if configured:
        return PartitionStart(
            configured, "config", f"first_month {configured} from {settings.config_dir}/teams.yaml"
        )
    last = last_complete_month(clock(), settings.timezone)
    state = read_state(settings)
    if state.problem is None:
        first = min(state.months[0], last)  # data only in the running month: still one partition
        return PartitionStart(
            first,
            "state",
            f"first month of data {state.months[0]} from the last landing scan "
            f"({state_path(settings)})",
        )
    first = shift_month(last, -DEFAULT_HISTORY_MONTHS)
    return PartitionStart(
        first,
        "default",
        f"default start {first} ({DEFAULT_HISTORY_MONTHS} months before {last}): no first_month "
        f"in teams.yaml and {state.problem}; run `python -m pipelines.cli months` to scan the "
        "landing folder, or set first_month",
    )


def first_month(settings: Settings, clock: Clock = utc_now) -> str:
    """First partition month (see partition_start), logged with where it came from."""
    start = partition_start(settings, clock)
    (log.warning if start.source == "default" else log.info)("partitions start: %s", start.detail)
    return start.month


def monthly_partitions(
    settings: Settings, start: str | None = None, clock: Clock | None = None
) -> dg.MonthlyPartitionsDefinition:
    """Calendar months from `start` (default: first_month) to the last complete month.

    Without a clock the end moves with Dagster's own clock (end_offset=0: the newest partition is
    the last complete month, never the running one). With an injected clock the end is pinned to
    that clock's last complete month, so tests see the same partitions on any day.
    """
    start = start or first_month(settings, clock or utc_now)
    end = None
    if clock is not None:
        end = shift_month(last_complete_month(clock(), settings.timezone), 1)  # exclusive
    return dg.MonthlyPartitionsDefinition(
        start_date=start,
        end_date=end,
        timezone=settings.timezone,
        fmt=MONTH_FMT,
        end_offset=0,
    )


def partition_keys(partitions: dg.PartitionsDefinition, clock: Clock | None = None) -> list[str]:
    """The partition keys as of the clock (Dagster's own clock without one)."""
    return list(partitions.get_partition_keys(current_time=clock() if clock else None))
