"""The facts the context notes and the attention sentences read from a team's KPI rows.

`kpi_rows` turns the `team_kpis` rows of one team into a `KpiRow` per month and KPI; from those
`real_changes` finds the month's changes the test calls real and large enough to say, and
`target_misses` the targets missed with how long. The notes (`scorecards.notes.rules`), the
attention list and the e-mail all judge from here, so none of them calls a change real or a
target missed that another calls noise or met. docs/context-notes.md explains each threshold.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from scorecards.contract.kpi_catalog import KPI_BY_ID, KPI_IDS, LOW_SAMPLE_N
from scorecards.core.periods import shift_month
from scorecards.kpis.stats import Z95
from scorecards.text import formatting as fmt

# The KPIs the rules judge: every KPI of the catalogue (churn rate, at-risk and detractor share,
# and whatever is added later), in catalogue order, except those that only repeat another one:
# the count of customers at high risk says what `at_risk_share` says, without a base.
NOT_JUDGED: tuple[str, ...] = ("at_risk_customers",)
RULE_KPIS: tuple[str, ...] = tuple(k for k in KPI_IDS if k not in NOT_JUDGED)

# --- thresholds (docs/context-notes.md explains each) ------------------------------------------

# Rule 2: a change "looks large" (worth saying it is only noise, or worth reporting on a
# non-headline KPI) from this size on: shares in percentage points or relative, NPS in points,
# everything else relative to last month.
LARGE_SHARE_PP = 2.0
LARGE_SHARE_REL = 0.25  # small rates (churn, reopen) move little in points but a lot relative
LARGE_NPS_POINTS = 5.0
LARGE_REL_CHANGE = 0.10
# ...but a time that moved by less than a minute (an hour for resolution time) is not worth a
# line, however large relative to a tiny time.
MIN_TIME_CHANGE = 1.0
# A significant change on a headline KPI is reported from this fraction of "large" on.
HEADLINE_SCALE = 0.5
# Real changes are ranked by their weight: the size (a multiple of "looks large"), times how
# far beyond the 5% level the test is (z / 1.96, from the 95% intervals of both months, between
# 1 and SIGNIFICANCE_CAP), times HEADLINE_WEIGHT for a headline KPI. A headline KPI thus wins
# among changes of a like size, but a collapse elsewhere is not cut for a small headline move.
SIGNIFICANCE_CAP = 3.0
HEADLINE_WEIGHT = 1.5

# Attention and the ranking of missed targets: NPS (which may be 0 or negative) is off its
# target by so many points per unit of relative distance.
NPS_GAP_SCALE = 50.0


def _missing(x: Any) -> bool:
    if x is None or x is pd.NA or x is pd.NaT:
        return True
    try:
        return math.isnan(float(x))
    except (TypeError, ValueError):
        return True  # text where a number belongs cannot be judged


def _num(x: Any) -> float | None:
    return None if _missing(x) else float(x)


def _flag(x: Any) -> bool | None:
    """True / False / None (unknown) from a bool, numpy bool, NA or a CSV's 'true'/'false'."""
    if x is None or x is pd.NA:
        return None
    if isinstance(x, str):
        return {"true": True, "false": False}.get(x.strip().lower())
    if isinstance(x, float) and math.isnan(x):
        return None
    return bool(x)


@dataclass(frozen=True)
class KpiRow:
    kpi: str
    value: float | None
    n: float | None
    prev: float | None
    target: float | None
    significant: bool | None
    low_sample: bool
    ci_low: float | None = None
    ci_high: float | None = None

    @property
    def se(self) -> float | None:
        """The standard error the 95% interval implies (half its width / 1.96)."""
        if self.ci_low is None or self.ci_high is None or self.ci_high < self.ci_low:
            return None
        return (self.ci_high - self.ci_low) / (2 * Z95)

    @property
    def readable(self) -> bool:
        """A value the rules may judge: present and on enough observations."""
        return self.value is not None and not self.low_sample

    @property
    def delta(self) -> float | None:
        if self.value is None or self.prev is None:
            return None
        return self.value - self.prev

    @property
    def rel(self) -> float | None:
        d = self.delta
        if d is None or self.prev == 0:
            return None
        assert self.prev is not None
        return d / abs(self.prev)

    def misses_target(self) -> bool | None:
        """Worse than target (per the KPI's good direction); None when it cannot be told."""
        better = KPI_BY_ID[self.kpi].better
        if not self.readable or self.target is None or better == "none":
            return None
        assert self.value is not None
        return self.value < self.target if better == "higher" else self.value > self.target


def kpi_rows(history: pd.DataFrame, team: str, month: str) -> dict[tuple[str, str], KpiRow]:
    """(period, kpi) → row for the team's KPIs the rules know, up to `month`."""
    if history is None or history.empty:
        return {}
    df = history.reindex(
        columns=["period", "team", "kpi", "value", "n", "prev_value", "target"]
        + ["change_significant", "low_sample", "ci_low", "ci_high"]
    )
    df = df[(df.team.astype(str) == team) & df.kpi.isin([k for k in RULE_KPIS if k in KPI_BY_ID])]
    df = df.assign(period=df.period.astype(str))
    df = df[df.period <= month]
    out: dict[tuple[str, str], KpiRow] = {}
    # itertuples keeps the last of duplicated (period, kpi) rows, deterministically.
    for r in df.itertuples(index=False):
        n = _num(r.n)
        low = _flag(r.low_sample) is True or (n is not None and n < LOW_SAMPLE_N)
        out[(r.period, r.kpi)] = KpiRow(
            kpi=r.kpi,
            value=_num(r.value),
            n=n,
            prev=_num(r.prev_value),
            target=_num(r.target),
            significant=_flag(r.change_significant),
            low_sample=low,
            ci_low=_num(r.ci_low),
            ci_high=_num(r.ci_high),
        )
    return out


def change_size(row: KpiRow) -> float:
    """The change as a multiple of what "looks large" for its unit (1.0 = just large)."""
    d, rel = row.delta, row.rel
    if d is None:
        return 0.0
    unit = KPI_BY_ID[row.kpi].unit
    by_rel = abs(rel) if rel is not None else 0.0
    if unit == "%":
        return max(abs(d) / LARGE_SHARE_PP, by_rel / LARGE_SHARE_REL)
    if unit == "points":
        return abs(d) / LARGE_NPS_POINTS
    if unit in ("minutes", "hours") and abs(d) < MIN_TIME_CHANGE:
        return 0.0
    return by_rel / LARGE_REL_CHANGE


def significance(row: KpiRow, prev: KpiRow | None) -> float:
    """How far beyond the 5% level a change is: z / 1.96 from both months' 95% intervals,
    between 1 and SIGNIFICANCE_CAP; 1 when an interval is unknown."""
    if row.delta is None or prev is None or row.se is None or prev.se is None:
        return 1.0
    se = math.hypot(row.se, prev.se)
    if se <= 0:
        return SIGNIFICANCE_CAP
    return min(max(abs(row.delta) / se / Z95, 1.0), SIGNIFICANCE_CAP)


def direction_good(row: KpiRow) -> bool | None:
    """True when the change is in the KPI's good direction; None without one (volume)."""
    better = KPI_BY_ID[row.kpi].better
    if row.delta is None or row.delta == 0 or better == "none":
        return None
    return (row.delta > 0) == (better == "higher")


@dataclass(frozen=True)
class Change:
    """A change against last month that the test calls real and that is large enough to say."""

    row: KpiRow
    size: float  # a multiple of what "looks large" for the unit
    weight: float  # size x significance x headline weight: the rank among real changes
    good: bool | None  # better / worse per the KPI's direction; None without one

    @property
    def kpi(self) -> str:
        return self.row.kpi


def real_changes(
    rows: Mapping[tuple[str, str], KpiRow],
    month: str,
    headline: Collection[str] = (),
    kpis: Sequence[str] = RULE_KPIS,
) -> list[Change]:
    """The month's real changes (significant, and large, or half as large on a headline KPI),
    heaviest first. The notes, the attention list and the e-mail all read them from here, so
    none of them calls a change better or worse that the test cannot tell from noise."""
    out = []
    for kpi in kpis:
        row = rows.get((month, kpi))
        if row is None or not row.readable or row.delta is None or row.delta == 0:
            continue
        if row.significant is not True:
            continue
        size = change_size(row)
        if size < (HEADLINE_SCALE if kpi in headline else 1.0):
            continue
        sig = significance(row, rows.get((shift_month(month, -1), kpi)))
        weight = size * sig * (HEADLINE_WEIGHT if kpi in headline else 1.0)
        out.append(Change(row, size, weight, direction_good(row)))
    return sorted(out, key=lambda c: -c.weight)


def target_streak(
    rows: Mapping[tuple[str, str], KpiRow], month: str, kpi: str, start: int, missed: bool
) -> int:
    """How many months in a row, from `start` months back, the target was missed (or met)."""
    k = start
    while True:
        row = rows.get((shift_month(month, -k), kpi))
        if row is None or row.misses_target() is not missed:
            return k - start
        k += 1


@dataclass(frozen=True)
class Miss:
    """A target missed in the report month: the row, how far off and how long."""

    row: KpiRow
    gap: float  # relative distance to the target (target_gap)
    months: int  # months in a row the target has been missed, this one included

    @property
    def kpi(self) -> str:
        return self.row.kpi


def target_gap(row: KpiRow) -> float:
    """How far the value is from its target, relative to the target: 50,4 h against at most
    12 h is 3.2, 60,4 % against 88 % is 0.31. NPS, which can be 0 or negative, is measured in
    NPS_GAP_SCALE points. 0 when there is nothing to measure."""
    if row.value is None or row.target is None:
        return 0.0
    gap = abs(row.value - row.target)
    if KPI_BY_ID[row.kpi].unit == "points":
        return gap / NPS_GAP_SCALE
    return gap / max(abs(row.target), 1.0)


def target_misses(
    rows: Mapping[tuple[str, str], KpiRow], month: str, kpis: Sequence[str] = RULE_KPIS
) -> tuple[list[str], list[Miss]]:
    """The KPIs whose target can be judged this month, and those missed (by more than the
    shown precision), the farthest first. The streak counts over every month in `rows`."""
    judged, missed = [], []
    for kpi in kpis:
        row = rows.get((month, kpi))
        state = row.misses_target() if row else None
        if row is None or state is None:
            continue
        judged.append(kpi)
        if not state:
            continue
        if fmt.target_status(kpi, row.value, row.target) != "missed":
            # missed by less than the shown precision: the tile says "met", and so do the notes
            continue
        missed.append(Miss(row, target_gap(row), target_streak(rows, month, kpi, 0, missed=True)))
    return judged, sorted(missed, key=lambda m: -m.gap)
