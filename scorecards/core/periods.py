"""Calendar months in the configured time zone: keys like "2026-04" and their exact bounds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


def parse_month(month: str) -> date:
    try:
        d = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise ValueError(f"not a month key (YYYY-MM): {month!r}") from None
    return d


def month_key(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def shift_month(month: str, k: int) -> str:
    d = parse_month(month)
    idx = d.year * 12 + (d.month - 1) + k
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}"


def month_range(first: str, last: str) -> list[str]:
    out, m = [], first
    while m <= last:
        out.append(m)
        m = shift_month(m, 1)
    return out


def month_bounds(month: str, tz: str) -> tuple[datetime, datetime]:
    """[start, end) of the month as UTC datetimes: local midnights, so DST is handled."""
    zone = ZoneInfo(tz)
    d = parse_month(month)
    start = datetime(d.year, d.month, 1, tzinfo=zone)
    nxt = parse_month(shift_month(month, 1))
    end = datetime(nxt.year, nxt.month, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def days_before(month: str, days: int, tz: str) -> datetime:
    """Local midnight `days` calendar days before the month starts, as UTC."""
    zone = ZoneInfo(tz)
    d = parse_month(month)
    local = datetime(d.year, d.month, 1, tzinfo=zone) - timedelta(days=days)
    return datetime(local.year, local.month, local.day, tzinfo=zone).astimezone(UTC)


def days_in_month(month: str) -> int:
    d = parse_month(month)
    nxt = parse_month(shift_month(month, 1))
    return (nxt - d).days


def last_complete_month(now: datetime, tz: str) -> str:
    local = now.astimezone(ZoneInfo(tz))
    return shift_month(month_key(local.date()), -1)
