"""Context notes: short sentences, made by documented rules from a team's KPI rows.

A KPI alone misleads: a shorter handling time means little if first contact resolution fell at
the same time, a slower first response little if the volume jumped. The rules here read the
`team_kpis` rows of one team and say such things in one plain sentence each, in the team's
language, with the numbers formatted by `scorecards.text.formatting`. Manual notes an analyst wrote
in `config/notes/<YYYY-MM>.yaml` come first. docs/context-notes.md describes every rule, its
thresholds and why it exists; the constants below are the thresholds it names.

The texts are plain text: the renderer escapes them, so nothing here produces or expects markup.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from babel.lists import format_list

from scorecards.config.settings import ConfigError
from scorecards.contract.kpi_catalog import ALL_TEAMS, KPI_BY_ID, KPI_IDS, LOW_SAMPLE_N
from scorecards.core.periods import parse_month, shift_month
from scorecards.kpis.stats import Z95
from scorecards.text import formatting as fmt

# The KPIs the rules judge: every KPI of the catalogue (churn rate, at-risk and detractor share,
# and whatever is added later), in catalogue order, except those that only repeat another one:
# the count of customers at high risk says what `at_risk_share` says, without a base.
NOT_JUDGED: tuple[str, ...] = ("at_risk_customers",)
RULE_KPIS: tuple[str, ...] = tuple(k for k in KPI_IDS if k not in NOT_JUDGED)

# --- thresholds (docs/context-notes.md explains each) ------------------------------------------

# Rule 1: a target missed this many months in a row is a pattern, not a bad month. From
# CHRONIC_MONTHS on it is old news: still said, but after this month's real changes.
TARGET_STREAK_MONTHS = 3
CHRONIC_MONTHS = 6
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
MAX_SIGNIFICANT_NOTES = 4
MAX_NOISE_NOTES = 2
# Rule 3: a time KPI moving by at least this much while the volume moved the same way by at
# least VOLUME_MOVE_MIN is probably load-driven.
TIME_MOVE_MIN = 0.15
VOLUME_MOVE_MIN = 0.10
VOLUME_TIME_KPIS = ("first_response_time", "average_resolution_time", "wait_time")
# Rule 4: AHT down by this much (relative) while FCR or CSAT fell by QUALITY_FALL_PP.
AHT_DROP_MIN = 0.05
QUALITY_FALL_PP = 1.0
# Rule 5: FCR up by FCR_RISE_PP while the reopen rate rose by REOPEN_RISE_PP.
FCR_RISE_PP = 1.0
REOPEN_RISE_PP = 0.5
# Rule 6: survey KPIs read only from LOW_SAMPLE_N responses on (the scorecard's own limit).
SURVEY_KPIS = ("csat", "nps", "ces")

# Attention and the ranking of missed targets: NPS (which may be 0 or negative) is off its
# target by so many points per unit of relative distance.
NPS_GAP_SCALE = 50.0

MAX_GENERATED = 6
# Severity: what a team lead should read first. A note about a headline KPI gets a bonus, so
# the KPIs the team steers by come before the rest of the same kind.
HEADLINE_BONUS = 10
SEVERITY: dict[str, int] = {
    "target_missed_3_months": 80,
    "target_missed_chronic": 55,
    "faster_but_quality_fell": 70,
    "closed_rather_than_solved": 70,
    "change_significant_worse": 60,
    "time_moved_with_volume": 50,
    "survey_too_few_responses": 45,
    "change_significant_better": 40,
    "change_significant": 35,  # a KPI without a good direction (volume)
    "change_within_noise": 30,
    "target_met_again": 25,
}

MANUAL = "manual"
LOCALES = ("de", "en")


@dataclass(frozen=True)
class Note:
    rule: str  # rule id, e.g. "target_missed_3_months", or "manual"
    text: str  # one plain-text sentence in the team's language
    manual: bool = False
    kpis: tuple[str, ...] = ()  # the KPI ids it speaks about
    severity: int = 0  # for ordering (higher first among generated notes)


# --- wording --------------------------------------------------------------------------------

_TEXT: dict[str, dict[str, str]] = {
    "de": {
        "missed_higher": "{label} liegt seit {months} Monaten unter dem Ziel "
        "(zuletzt {value} gegen {target}).",
        "missed_lower": "{label} liegt seit {months} Monaten über dem Zielwert "
        "(zuletzt {value} gegen höchstens {target}).",
        "missed_many": "{labels} verfehlen ihre Ziele seit {months} Monaten "
        "(am weitesten {worst}: {value} gegen {target}).",
        "each": "jeweils {n}",
        "at_most": "höchstens ",
        "met_again": "{label} erreicht das Ziel wieder ({value} gegen {target}), "
        "nach {months} Monaten in Folge daneben.",
        "significant": "{label} {delta} gegenüber Vormonat (jetzt {value}): "
        "eine echte {kind}, keine Zufallsschwankung.",
        "better": "Verbesserung",
        "worse": "Verschlechterung",
        "changed": "Veränderung",
        "noise": "{label} {delta} gegenüber Vormonat, aber im Rahmen der Zufallsschwankung "
        "(n = {n}).",
        "volume_up": "{items} bei {volume} Ticket-Volumen gegenüber Vormonat: "
        "wahrscheinlich wegen der höheren Auslastung.",
        "volume_down": "{items} bei {volume} Ticket-Volumen gegenüber Vormonat: "
        "wahrscheinlich wegen der geringeren Auslastung.",
        "faster_fcr": "{aht}, zugleich {falls} gegenüber Vormonat: schneller, aber mehr "
        "Wiederholungskontakte?",
        "faster_csat": "{aht}, zugleich {falls} gegenüber Vormonat: schneller, aber weniger "
        "zufriedene Kundschaft?",
        "closed": "{fcr}, aber auch {reopen} gegenüber Vormonat: eher geschlossen als gelöst?",
        "survey": "Zu wenige Umfrageantworten für eine belastbare Aussage: {items}.",
    },
    "en": {
        "missed_higher": "{label} has been below target for {months} months running "
        "(latest {value} vs {target}).",
        "missed_lower": "{label} has been above its target for {months} months running "
        "(latest {value} vs at most {target}).",
        "missed_many": "{labels} have missed their targets for {months} months "
        "(farthest: {worst}, {value} vs {target}).",
        "each": "{n}",
        "at_most": "at most ",
        "met_again": "{label} is back on target ({value} vs {target}) after missing it "
        "{months} months running.",
        "significant": "{label} {delta} vs last month (now {value}): a real {kind}, "
        "not random variation.",
        "better": "improvement",
        "worse": "decline",
        "changed": "change",
        "noise": "{label} {delta} vs last month, but within random variation (n = {n}).",
        "volume_up": "{items} while ticket volume {volume} vs last month: likely due to the "
        "higher workload.",
        "volume_down": "{items} while ticket volume {volume} vs last month: likely due to the "
        "lower workload.",
        "faster_fcr": "{aht} while {falls} vs last month: faster, but more repeat contacts?",
        "faster_csat": "{aht} while {falls} vs last month: faster, but less satisfied customers?",
        "closed": "{fcr} but {reopen} vs last month: closed rather than solved?",
        "survey": "Too few survey responses to read: {items}.",
    },
}


def label(kpi: str, locale: str, start: bool = True) -> str:
    text = fmt.kpi_short_label(kpi, locale)
    if " " in text:  # "Kritiker-Anteil (NPS 0–6)": the parenthesis is a scope, not a short name
        text = fmt.kpi_label(kpi, locale).split(" (")[0]
    # English labels are capitalised as titles; inside a sentence "wait time" reads right,
    # while names with inner capitals ("Net Promoter Score") stay as they are.
    if not start and locale == "en" and text[1:].islower():
        return text[0].lower() + text[1:]
    return text


def _and(items: Sequence[str], locale: str) -> str:
    return format_list(list(items), locale=locale)


# --- reading the rows -----------------------------------------------------------------------


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


def _moved(row: KpiRow | None, sign: int, min_abs: float = 0.0, min_rel: float = 0.0) -> bool:
    """The KPI moved in direction `sign` by at least the thresholds, and the test did not call
    the change noise: a combination rule built on a change that is only chance would mislead."""
    if row is None or not row.readable or row.delta is None or row.significant is False:
        return False
    if sign * row.delta <= 0 or abs(row.delta) < min_abs:
        return False
    if min_rel:
        return row.rel is not None and abs(row.rel) >= min_rel
    return True


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


# --- the rules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ctx:
    rows: dict[tuple[str, str], KpiRow]
    month: str
    locale: str
    headline: tuple[str, ...]

    def row(self, kpi: str, months_back: int = 0) -> KpiRow | None:
        return self.rows.get((shift_month(self.month, -months_back), kpi))

    def t(self, key: str) -> str:
        return _TEXT[self.locale][key]

    def note(self, rule: str, text: str, kpis: Sequence[str], severity_key: str = "") -> Note:
        severity = SEVERITY[severity_key or rule]
        if any(k in self.headline for k in kpis):
            severity += HEADLINE_BONUS
        return Note(rule=rule, text=text, kpis=tuple(kpis), severity=severity)


def _streak(
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
        missed.append(Miss(row, target_gap(row), _streak(rows, month, kpi, 0, missed=True)))
    return judged, sorted(missed, key=lambda m: -m.gap)


def _miss_text(ctx: _Ctx, m: Miss) -> str:
    assert m.row.value is not None and m.row.target is not None
    value, target = fmt.kpi_values_apart(m.kpi, m.row.value, m.row.target, ctx.locale)
    key = f"missed_{KPI_BY_ID[m.kpi].better}"
    return ctx.t(key).format(
        label=label(m.kpi, ctx.locale), months=m.months, value=value, target=target
    )


def _merged_miss_text(ctx: _Ctx, group: list[Miss]) -> str:
    """ "ART, CSAT, FCR und Kundenabwanderungsrate verfehlen ihre Ziele seit 24, 24, 13 und 9
    Monaten (am weitesten ART: …)": one line where there would be a line per KPI."""
    names = _and([label(m.kpi, ctx.locale, start=i == 0) for i, m in enumerate(group)], ctx.locale)
    counts = [m.months for m in group]
    if len(set(counts)) == 1:
        months = ctx.t("each").format(n=counts[0])
    else:
        months = _and([str(c) for c in counts], ctx.locale)
    worst = max(group, key=lambda m: m.gap)
    assert worst.row.value is not None and worst.row.target is not None
    value, target = fmt.kpi_values_apart(worst.kpi, worst.row.value, worst.row.target, ctx.locale)
    at_most = ctx.t("at_most") if KPI_BY_ID[worst.kpi].better == "lower" else ""
    return ctx.t("missed_many").format(
        labels=names,
        months=months,
        worst=label(worst.kpi, ctx.locale),
        value=value,
        target=at_most + target,
    )


def _target_rules(ctx: _Ctx) -> list[Note]:
    _, missed = target_misses(ctx.rows, ctx.month)
    streaks = [m for m in missed if m.months >= TARGET_STREAK_MONTHS]
    notes = []
    for chronic in (False, True):
        group = [m for m in streaks if (m.months >= CHRONIC_MONTHS) is chronic]
        # the longest streak first, then the farthest from its target
        group.sort(key=lambda m: (-m.months, -m.gap))
        key = "target_missed_chronic" if chronic else ""
        if len(group) == 1:
            text = _miss_text(ctx, group[0])
        elif group:
            text = _merged_miss_text(ctx, group)
        else:
            continue
        notes.append(ctx.note("target_missed_3_months", text, [m.kpi for m in group], key))
    for kpi in RULE_KPIS:
        row = ctx.row(kpi)
        if row is None or row.misses_target() is not False:
            continue
        months = _streak(ctx.rows, ctx.month, kpi, 1, missed=True)
        if months >= TARGET_STREAK_MONTHS:
            assert row.value is not None and row.target is not None
            value, target = fmt.kpi_values_apart(kpi, row.value, row.target, ctx.locale)
            text = ctx.t("met_again").format(
                label=label(kpi, ctx.locale), months=months, value=value, target=target
            )
            notes.append(ctx.note("target_met_again", text, [kpi]))
    return notes


def _volume_rule(ctx: _Ctx) -> list[Note]:
    vol = ctx.row("ticket_volume")
    for sign in (1, -1):
        if not _moved(vol, sign, min_rel=VOLUME_MOVE_MIN):
            continue
        assert vol is not None
        moved = [
            r for k in VOLUME_TIME_KPIS if _moved(r := ctx.row(k), sign, min_rel=TIME_MOVE_MIN)
        ]
        if not moved:
            return []
        items = [
            f"{label(r.kpi, ctx.locale, start=i == 0)} {fmt.percent_change(r.rel, ctx.locale)}"
            for i, r in enumerate(moved)
        ]
        text = ctx.t("volume_up" if sign > 0 else "volume_down").format(
            items=_and(items, ctx.locale), volume=fmt.percent_change(vol.rel, ctx.locale)
        )
        kpis = [r.kpi for r in moved] + ["ticket_volume"]
        return [ctx.note("time_moved_with_volume", text, kpis)]
    return []


def _delta_text(row: KpiRow, locale: str) -> str:
    return f"{label(row.kpi, locale, start=False)} {fmt.kpi_delta(row.kpi, row.delta, locale)}"


def _faster_rule(ctx: _Ctx) -> list[Note]:
    aht = ctx.row("average_handling_time")
    if not _moved(aht, -1, min_rel=AHT_DROP_MIN):
        return []
    assert aht is not None
    fell = [
        r
        for k in ("first_contact_resolution", "csat")
        if _moved(r := ctx.row(k), -1, min_abs=QUALITY_FALL_PP)
    ]
    if not fell:
        return []
    aht_text = f"{label(aht.kpi, ctx.locale)} {fmt.percent_change(aht.rel, ctx.locale)}"
    falls = _and([_delta_text(r, ctx.locale) for r in fell], ctx.locale)
    kpis = [r.kpi for r in fell]
    key = "faster_fcr" if "first_contact_resolution" in kpis else "faster_csat"
    text = ctx.t(key).format(aht=aht_text, falls=falls)
    return [ctx.note("faster_but_quality_fell", text, ["average_handling_time", *kpis])]


def _closed_rule(ctx: _Ctx) -> list[Note]:
    fcr, reopen = ctx.row("first_contact_resolution"), ctx.row("reopen_rate")
    if not (_moved(fcr, 1, min_abs=FCR_RISE_PP) and _moved(reopen, 1, min_abs=REOPEN_RISE_PP)):
        return []
    assert fcr is not None and reopen is not None
    fcr_text = f"{label(fcr.kpi, ctx.locale)} {fmt.kpi_delta(fcr.kpi, fcr.delta, ctx.locale)}"
    reopen_text = _delta_text(reopen, ctx.locale)
    if ctx.locale == "en":
        reopen_text = "the " + reopen_text
    text = ctx.t("closed").format(fcr=fcr_text, reopen=reopen_text)
    return [ctx.note("closed_rather_than_solved", text, [fcr.kpi, reopen.kpi])]


def _survey_rule(ctx: _Ctx) -> list[Note]:
    few = []
    for kpi in SURVEY_KPIS:
        row = ctx.row(kpi)
        # A row without n says nothing about the sample; zero responses is the clearest case.
        if row is not None and row.n is not None and row.n < LOW_SAMPLE_N:
            few.append(row)
    if not few:
        return []
    items = [
        f"{label(r.kpi, ctx.locale, start=False)} (n = {fmt.count(r.n, ctx.locale)})" for r in few
    ]
    text = ctx.t("survey").format(items=_and(items, ctx.locale))
    return [ctx.note("survey_too_few_responses", text, [r.kpi for r in few])]


def _change_rules(ctx: _Ctx, covered: Collection[str]) -> list[Note]:
    """Real changes (real_changes, by weight) and large-looking changes the test calls noise.
    KPIs a combination rule already explained are left out."""
    significant: list[tuple[float, Note]] = []
    for ch in real_changes(ctx.rows, ctx.month, ctx.headline):
        if ch.kpi in covered:
            continue
        row = ch.row
        kind = "changed" if ch.good is None else ("better" if ch.good else "worse")
        key = "change_significant" if ch.good is None else f"change_significant_{kind}"
        text = ctx.t("significant").format(
            label=label(ch.kpi, ctx.locale),
            delta=_change_text(row, ctx.locale),
            value=fmt.kpi_value(ch.kpi, row.value, ctx.locale),
            kind=ctx.t(kind),
        )
        # the headline KPIs are already weighted in ch.weight: no bonus on top
        note = Note(
            "change_significant", text, manual=False, kpis=(ch.kpi,), severity=SEVERITY[key]
        )
        significant.append((-ch.weight, note))
    noise: list[tuple[tuple, Note]] = []
    for kpi in RULE_KPIS:
        row = ctx.row(kpi)
        if kpi in covered or row is None or not row.readable or row.delta is None:
            continue
        if row.significant is not False or row.delta == 0 or row.n is None:
            continue
        size = change_size(row)
        if size >= 1.0:
            text = ctx.t("noise").format(
                label=label(kpi, ctx.locale),
                delta=_change_text(row, ctx.locale),
                n=fmt.count(row.n, ctx.locale),
            )
            # headline KPIs first, then the larger change relative to its "looks large" size
            noise.append(
                ((kpi not in ctx.headline, -size), ctx.note("change_within_noise", text, [kpi]))
            )

    def best(found: list, k: int) -> list[Note]:
        return [n for _, n in sorted(found, key=lambda x: (-x[1].severity, x[0]))[:k]]

    return best(significant, MAX_SIGNIFICANT_NOTES) + best(noise, MAX_NOISE_NOTES)


def _change_text(row: KpiRow, locale: str) -> str:
    if KPI_BY_ID[row.kpi].unit == "count":
        # "+459 tickets" needs last month's count to mean anything; "+12 %" does not.
        return fmt.percent_change(row.rel, locale)
    return fmt.kpi_delta(row.kpi, row.delta, locale)


_COMBINATION_RULES: tuple[Callable[[_Ctx], list[Note]], ...] = (
    _faster_rule,
    _closed_rule,
    _volume_rule,
)


def generated_notes(
    history: pd.DataFrame, team: str, month: str, locale: str, headline: Sequence[str] = ()
) -> list[Note]:
    """Every generated note for the team and month, most important first (not yet capped)."""
    ctx = _Ctx(kpi_rows(history, team, month), month, locale, tuple(headline))
    notes = _target_rules(ctx)
    combined = [n for rule in _COMBINATION_RULES for n in rule(ctx)]
    covered = {k for n in combined for k in n.kpis}
    notes += combined + _survey_rule(ctx) + _change_rules(ctx, covered)
    # Stable sort: equal severities keep the rule order above, so the output is reproducible.
    return sorted(notes, key=lambda n: -n.severity)


def context_notes(
    history: pd.DataFrame,
    team: str,
    month: str,
    locale: str,
    manual: Mapping[str, Sequence[str]] | None = None,
    max_generated: int = MAX_GENERATED,
    headline: Sequence[str] = (),
) -> list[Note]:
    """Notes for `team` in `month`: the team's manual notes and the all-teams manual notes first
    (marked manual=True), then at most `max_generated` generated notes by severity. `history`
    holds team_kpis rows up to and including `month`; other teams' rows are ignored, and so are
    KPI ids the rules do not know. `headline` (the team's headline KPIs) ranks their notes first.
    """
    if locale not in LOCALES:
        raise ValueError(f"locale must be one of {', '.join(LOCALES)}, got {locale!r}")
    parse_month(month)
    notes = []
    for key in (team, ALL_TEAMS):
        texts = (manual or {}).get(key, ())
        if isinstance(texts, str):  # a bare string would otherwise become one note per letter
            raise TypeError(f"manual notes for {key!r} must be a list of texts, got one string")
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"manual note for {key!r} must be text, got {text!r}")
            notes.append(Note(rule=MANUAL, text=text, manual=True))
    if max_generated > 0:
        notes += generated_notes(history, team, month, locale, headline)[:max_generated]
    return notes


# --- manual notes ---------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice: the second would silently drop notes."""


def _no_duplicate_keys(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _no_duplicate_keys,
)

NOTES_KEYS = ("teams", "all")


def notes_path(config_dir: Path, month: str) -> Path:
    return Path(config_dir) / "notes" / f"{month}.yaml"


def _note_list(path: Path, key: str, raw: Any) -> list[str]:
    if raw is None:  # "billing:" with every note commented out
        return []
    if not isinstance(raw, list):
        raise ConfigError(
            f'{path}: {key}: expected a list of notes (lines starting with "- "), '
            f"got {type(raw).__name__}"
        )
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, str):
            raise ConfigError(
                f"{path}: {key}[{i}]: a note must be text, got {type(item).__name__} {item!r}; "
                "put it in quotes"
            )
        if not item.strip():
            raise ConfigError(f"{path}: {key}[{i}]: empty note")
        # Only the surrounding whitespace (a YAML block's trailing newline) goes; the text
        # itself is kept verbatim and escaped by the renderer.
        out.append(item.strip())
    return out


def load_manual_notes(
    config_dir: Path, month: str, team_ids: Collection[str]
) -> dict[str, list[str]]:
    """config/notes/<month>.yaml → {team id or ALL_TEAMS ("ALL"): [note, ...]}. Missing file → {}.

    Bad YAML, an unknown team id or a wrong shape raise ConfigError naming the file and key.
    The format is documented in docs/context-notes.md and config/notes/2026-10.yaml.
    """
    parse_month(month)
    path = notes_path(config_dir, month)
    if not path.exists():
        return {}
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with the keys {', '.join(NOTES_KEYS)}")
    unknown = [k for k in raw if k not in NOTES_KEYS]
    if unknown:
        raise ConfigError(f"{path}: {unknown[0]}: unknown key; expected {' or '.join(NOTES_KEYS)}")
    out: dict[str, list[str]] = {}
    teams = raw.get("teams") or {}
    if not isinstance(teams, dict):
        raise ConfigError(f"{path}: teams: expected a mapping of team id to a list of notes")
    for team, items in teams.items():
        if team == ALL_TEAMS or team == "all":
            raise ConfigError(
                f"{path}: teams.{team}: notes for every team go under the top-level key 'all'"
            )
        if not isinstance(team, str) or team not in team_ids:
            raise ConfigError(
                f"{path}: teams.{team}: unknown team id; known: {', '.join(sorted(team_ids))}"
            )
        notes = _note_list(path, f"teams.{team}", items)
        if notes:
            out[team] = notes
    everyone = _note_list(path, "all", raw.get("all"))
    if everyone:
        out[ALL_TEAMS] = everyone
    return out
