"""Completeness that cannot be fooled: a month is judged from its own days, in a real DuckDB
warehouse, with the clock injected (these tests pass on any day of any year)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import yaml

from scorecards.config.settings import ConfigError
from scorecards.core.periods import month_range
from scorecards.delivery.gate import evaluate_gate
from scorecards.ingest.completeness import poisson_cdf
from scorecards.ingest.load import ingest_events
from tests.conftest import TEAMS, Env, survey, ticket

ZONE = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
MONTHS = month_range("2026-07", "2026-11")
NOV = "2026-11"
END, DAYS = "data_reaches_month_end", "days_have_usual_volume"


def clock() -> datetime:
    return NOW


def usual_volume(day: date, team: str) -> int:
    """30 tickets a weekday and 10 a weekend day per team."""
    return 30 if day.weekday() < 5 else 10


def at(day: date, minute_of_day: int) -> str:
    local = datetime(day.year, day.month, day.day, tzinfo=ZONE) + timedelta(minutes=minute_of_day)
    return local.isoformat()


def days_of(months: list[str]) -> list[date]:
    first = date.fromisoformat(months[0] + "-01")
    last_month = date.fromisoformat(months[-1] + "-01")
    stop = date(last_month.year + (last_month.month == 12), last_month.month % 12 + 1, 1)
    return [first + timedelta(days=k) for k in range((stop - first).days)]


def event_rows(
    months: list[str],
    volume: Callable[[date, str], int] = usual_volume,
    make: Callable[..., dict] | None = None,
    prefix: str = "T",
) -> list[dict]:
    """Rows spread from 07:00 to 21:00 local on every day of `months`, per team alpha/beta."""
    rows: list[dict] = []
    for day in days_of(months):
        for team in ("alpha", "beta"):
            n = volume(day, team)
            for i in range(n):
                rid = f"{prefix}{day:%Y%m%d}{team[0]}{i:04d}"
                when = at(day, 420 + i * 840 // n)
                if make is None:
                    rows.append(ticket(rid, when, team=team, customer_id=f"C{i % 40}"))
                else:
                    rows.append(make(rid, when, team))
    return rows


def load(env: Env, rows: list[dict], months: list[str] = MONTHS) -> None:
    env.tickets(rows)
    ingest_events(env.settings(), months, clock=clock)


def gate_checks(env: Env, month: str = NOV, now: datetime = NOW) -> dict[str, tuple[bool, str]]:
    gate = evaluate_gate(env.settings(), month, now=now)
    return {c.name: (c.passed, c.detail) for c in gate.checks}


def with_completeness(tmp_path: Path, **cfg: object) -> Env:
    return Env(tmp_path, teams={**TEAMS, "completeness": cfg})


def test_complete_months_with_daily_noise_pass(env: Env) -> None:
    rng = np.random.default_rng(7)
    load(env, event_rows(MONTHS, lambda d, t: int(rng.poisson(usual_volume(d, t)))))
    checks = gate_checks(env)
    assert checks[END][0], checks[END]
    assert checks[DAYS][0], checks[DAYS]
    assert "ends at 2026-11-30" in checks[END][1]
    assert "30 of 30 days of 2026-11" in checks[DAYS][1]


def test_a_ticket_in_2099_does_not_complete_a_month_cut_off_on_the_20th(env: Env) -> None:
    rows = [r for r in event_rows(MONTHS) if r["created_at"][:10] <= "2026-11-20"]
    rows.append(ticket("LATE", at(date(2026, 11, 20), 23 * 60 + 10)))
    rows.append(ticket("FUTURE", "2099-01-01T10:00:00+01:00"))
    load(env, rows)
    checks = gate_checks(env)
    passed, detail = checks[END]
    assert not passed
    assert "ends at 2026-11-20 23:10 (20 November 23:10)" in detail
    assert "2026-11 has 30 days" in detail and "incomplete" in detail
    # the tail is the end's explanation; the days up to it are complete
    assert checks[DAYS][0], checks[DAYS]
    # the timestamp in the future is quarantined with its reason, not accepted into no month
    undated = (env.data / "quarantine" / "tickets" / "undated.csv").read_text()
    assert "FUTURE" in undated and "timestamp in the future: created_at" in undated


def test_a_month_missing_the_5th_to_the_25th_is_blocked_with_the_gap_named(env: Env) -> None:
    def volume(day: date, team: str) -> int:
        return 0 if day.month == 11 and 5 <= day.day <= 25 else usual_volume(day, team)

    load(env, event_rows(MONTHS, volume))
    checks = gate_checks(env)
    assert checks[END][0]  # the data reaches the 30th
    passed, detail = checks[DAYS]
    assert not passed
    # 15 weekdays at 60 and 6 weekend days at 20 a day for the company: 49 on average
    assert "no tickets from 5 to 25 November; usual 49 a day" in detail
    assert "team alpha: no tickets from 5 to 25 November; usual 24 a day" in detail
    assert "company: 21 low day(s), 9 of 30 days with data" in detail


def test_one_team_missing_from_the_export_is_blocked_unless_teams_are_not_judged(
    tmp_path: Path,
) -> None:
    def volume(day: date, team: str) -> int:
        gone = team == "beta" and day.month == 11 and 10 <= day.day <= 20
        return 0 if gone else usual_volume(day, team)

    rows = event_rows(MONTHS, volume)
    env = Env(tmp_path / "a")
    load(env, rows)
    passed, detail = gate_checks(env)[DAYS]
    assert not passed
    assert detail.startswith("2026-11 is incomplete: team beta: no tickets from 10 to 20 November")
    assert "beta: 11 low day(s)" in detail and "company:" not in detail

    lenient = with_completeness(tmp_path / "b", judge_teams=False)
    load(lenient, rows)
    assert gate_checks(lenient)[DAYS][0]


def test_a_few_low_days_pass_and_one_more_than_allowed_blocks(tmp_path: Path) -> None:
    def volume(low: set[int]) -> Callable[[date, str], int]:
        return lambda d, t: 3 if d.month == 11 and d.day in low else usual_volume(d, t)

    env = Env(tmp_path / "a")
    load(env, event_rows(MONTHS, volume({3, 17})))  # a Tuesday each, 6 instead of 60
    passed, detail = gate_checks(env)[DAYS]
    assert passed and "2 low day(s)" in detail
    env = Env(tmp_path / "b")
    load(env, event_rows(MONTHS, volume({3, 17, 24})))
    passed, detail = gate_checks(env)[DAYS]
    assert not passed
    assert "only 6 tickets a day on 3 November; usual 60 a day" in detail


def test_a_month_may_end_on_days_that_never_have_data(env: Env) -> None:
    # A business helpdesk: no tickets at weekends. October 2026 ends on a Saturday.
    months = month_range("2026-06", "2026-10")
    load(env, event_rows(months, lambda d, t: 0 if d.weekday() >= 5 else 30), months)
    passed, detail = gate_checks(env, "2026-10")[END]
    assert passed and "usually have no tickets" in detail
    # ... but not when a working day is missing at the end
    cut = event_rows(months, lambda d, t: 0 if d.weekday() >= 5 else 30)
    env.tickets([r for r in cut if r["created_at"][:10] <= "2026-10-29"])
    ingest_events(env.settings(), ["2026-10"], clock=clock)
    passed, detail = gate_checks(env, "2026-10")[END]
    assert not passed and "ends at 2026-10-29" in detail


def test_a_month_that_has_not_ended_is_not_complete(env: Env) -> None:
    load(env, event_rows(MONTHS))
    passed, detail = gate_checks(env, now=datetime(2026, 11, 30, 12, 0, tzinfo=UTC))[END]
    assert not passed and "2026-11 has not ended yet" in detail
    assert gate_checks(env, now=datetime(2026, 11, 30, 23, 0, tzinfo=UTC))[END][0]  # 00:00 CET


def test_the_first_month_has_no_usual_pattern_and_says_so(env: Env) -> None:
    def volume(day: date, team: str) -> int:
        return 0 if 5 <= day.day <= 25 else usual_volume(day, team)

    load(env, event_rows([NOV], volume), [NOV])
    checks = gate_checks(env)
    assert checks[END][0] and checks[DAYS][0]
    assert "no earlier month with tickets to compare 2026-11's days with" in checks[DAYS][1]


def test_survey_only_installations_are_judged_on_their_survey_days(env: Env) -> None:
    def volume(day: date, team: str) -> int:
        return 0 if day.month == 11 and 5 <= day.day <= 25 else usual_volume(day, team)

    def make(rid: str, when: str, team: str) -> dict:
        return survey(rid, when, "csat", 5, team=team)

    env.surveys(event_rows(MONTHS, volume, make=make, prefix="S"))
    ingest_events(env.settings(), MONTHS, clock=clock)
    passed, detail = gate_checks(env)[DAYS]
    assert not passed
    assert "no survey responses from 5 to 25 November; usual 49 a day" in detail
    assert "judged on survey responses" in detail


def test_the_completeness_block_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"completeness\.low_day_ratio"):
        with_completeness(tmp_path / "a", low_day_ratio=2).settings()
    with pytest.raises(ConfigError, match=r"completeness\.max_low_day: unknown key"):
        with_completeness(tmp_path / "b", max_low_day=3).settings()
    env = with_completeness(tmp_path / "c", max_low_days=5, history_months=3)
    cfg = env.settings().teams_file.completeness
    assert (cfg.max_low_days, cfg.history_months, cfg.low_day_ratio) == (5, 3, 0.25)
    # the shipped teams.yaml documents and sets the block
    shipped = yaml.safe_load((Path(__file__).parent.parent / "config" / "teams.yaml").read_text())
    assert set(shipped["completeness"]) <= set(type(cfg).model_fields)


def test_poisson_tail() -> None:
    assert poisson_cdf(0, 7.0) == pytest.approx(math.exp(-7.0))
    assert poisson_cdf(2, 3.0) == pytest.approx(math.exp(-3) * (1 + 3 + 4.5))
    assert poisson_cdf(15, 60.0) < 1e-9 < poisson_cdf(45, 60.0)


def test_the_future_tolerance_comes_from_the_config(tmp_path: Path) -> None:
    soon = (NOW + timedelta(hours=2)).isoformat()  # two hours after the injected now
    for hours, quarantined in ((24, False), (1, True)):
        env = with_completeness(tmp_path / str(hours), future_tolerance_hours=hours)
        load(env, [*event_rows([NOV]), ticket("SOON", soon)], [NOV])
        undated = env.data / "quarantine" / "tickets" / "undated.csv"
        assert (undated.exists() and "SOON" in undated.read_text()) is quarantined


def test_the_share_of_days_with_data_is_judged_on_its_own(tmp_path: Path) -> None:
    def volume(day: date, team: str) -> int:
        return 0 if day.month == 11 and day.day in {3, 4, 10, 17, 24} else usual_volume(day, team)

    # five empty weekdays: within max_low_days=6, but 25 of 30 days is below 90 %
    env = with_completeness(tmp_path / "a", max_low_days=6)
    load(env, event_rows(MONTHS, volume))
    passed, detail = gate_checks(env)[DAYS]
    assert not passed and "company: 5 low day(s), 25 of 30 days with data" in detail
    env = with_completeness(tmp_path / "b", max_low_days=6, min_day_coverage=0.8)
    load(env, event_rows(MONTHS, volume))
    assert gate_checks(env)[DAYS][0]
