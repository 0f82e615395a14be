"""The months the landing data covers, as of the last successful read of it.

Written by every successful ingest and by the CLI's scan, read when the Dagster definitions load
(pipelines/partitions.py), which must never read a landing file itself. Reading never raises.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from scorecards.config.settings import Settings
from scorecards.core.periods import parse_month

STATE_VERSION = 1

Clock = Callable[[], datetime]

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def state_path(settings: Settings) -> Path:
    return settings.data_dir / ".state" / "months.json"


@dataclass(frozen=True)
class MonthsState:
    """What the last successful landing scan found, or why there is nothing to use."""

    months: tuple[str, ...]
    problem: str | None = None  # None: usable


def read_state(settings: Settings) -> MonthsState:
    """The months of the last scan. Never raises: any problem is returned as text."""
    path = state_path(settings)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return MonthsState((), f"{path} does not exist (no landing scan yet)")
    except (OSError, ValueError) as exc:  # unreadable, not UTF-8, not JSON
        return MonthsState((), f"{path} is unreadable ({type(exc).__name__}: {exc})")
    try:
        months = raw["months"]
        if not isinstance(months, list):
            raise TypeError("'months' is not a list")
        for m in months:
            if not isinstance(m, str):
                raise TypeError(f"not a month: {m!r}")
            parse_month(m)  # ValueError for anything but YYYY-MM
    except (KeyError, TypeError, ValueError) as exc:
        return MonthsState((), f"{path} is not a months state file ({exc})")
    if not months:
        return MonthsState((), f"{path} lists no months (the last scan found no data)")
    return MonthsState(tuple(sorted(set(months))))


def write_state(settings: Settings, months: list[str], clock: Clock = utc_now) -> Path | None:
    """Record the months of a successful scan (atomically). A data dir that cannot be written only
    costs the default partition start next time, so that is logged, not raised."""
    path = state_path(settings)
    body = {
        "version": STATE_VERSION,
        "months": sorted(set(months)),
        "scanned_at": clock().astimezone(UTC).isoformat(timespec="seconds"),
        "landing_dir": str(settings.landing_dir),
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not write %s: %s", path, exc)
        tmp.unlink(missing_ok=True)
        return None
    return path
