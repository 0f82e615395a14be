"""Context notes: short sentences, made by documented rules from a team's KPI rows.

A KPI alone misleads: a shorter handling time means little if first contact resolution fell at
the same time, a slower first response little if the volume jumped. The rules here read the
rows of one team (`scorecards.notes.rows`) and say such things in one plain sentence each, in the
team's language, with the numbers formatted by `scorecards.text.formatting`; which of them a
scorecard shows, after the manual notes, is `scorecards.notes.select`. docs/context-notes.md
describes every rule, its thresholds and why it exists; the constants below are the thresholds it
names.

The texts are plain text: the renderer escapes them, so nothing here produces or expects markup.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from scorecards.contract.kpi_catalog import KPI_BY_ID, LOW_SAMPLE_N
from scorecards.core.periods import shift_month
from scorecards.notes.rows import (
    RULE_KPIS,
    KpiRow,
    Miss,
    change_size,
    real_changes,
    target_misses,
    target_streak,
)
from scorecards.notes.wording import and_list, label
from scorecards.text import formatting as fmt
from scorecards.text.catalog import N_, text

# --- thresholds (docs/context-notes.md explains each) ------------------------------------------

# Rule 1: a target missed this many months in a row is a pattern, not a bad month. From
# CHRONIC_MONTHS on it is old news: still said, but after this month's real changes.
TARGET_STREAK_MONTHS = 3
CHRONIC_MONTHS = 6
# Rule 2 (its thresholds are in scorecards.notes.rows): at most so many real changes and so
# many changes within the noise are said.
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


@dataclass(frozen=True)
class Note:
    rule: str  # rule id, e.g. "target_missed_3_months", or "manual"
    text: str  # one plain-text sentence in the team's language
    manual: bool = False
    kpis: tuple[str, ...] = ()  # the KPI ids it speaks about
    severity: int = 0  # for ordering (higher first among generated notes)


# --- wording --------------------------------------------------------------------------------

# The words are in the text catalogue (scorecards.text.catalog), under "notes.*".
_MISSED: dict[str, str] = {"higher": N_("notes.missed_higher"), "lower": N_("notes.missed_lower")}
# What a real change is called: "eine echte Verschlechterung"
_KIND: dict[str, str] = {
    "better": N_("notes.better"),
    "worse": N_("notes.worse"),
    "changed": N_("notes.changed"),
}


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


# --- the rules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ctx:
    rows: Mapping[tuple[str, str], KpiRow]
    month: str
    locale: str
    headline: tuple[str, ...]

    def row(self, kpi: str, months_back: int = 0) -> KpiRow | None:
        return self.rows.get((shift_month(self.month, -months_back), kpi))

    def note(self, rule: str, text: str, kpis: Sequence[str], severity_key: str = "") -> Note:
        severity = SEVERITY[severity_key or rule]
        if any(k in self.headline for k in kpis):
            severity += HEADLINE_BONUS
        return Note(rule=rule, text=text, kpis=tuple(kpis), severity=severity)


def _miss_text(ctx: _Ctx, m: Miss) -> str:
    assert m.row.value is not None and m.row.target is not None
    value, target = fmt.kpi_values_apart(m.kpi, m.row.value, m.row.target, ctx.locale)
    return text(
        ctx.locale,
        _MISSED[KPI_BY_ID[m.kpi].better],
        label=label(m.kpi, ctx.locale),
        months=m.months,
        value=value,
        target=target,
    )


def _merged_miss_text(ctx: _Ctx, group: list[Miss]) -> str:
    """ "ART, CSAT, FCR und Kundenabwanderungsrate verfehlen ihre Ziele seit 24, 24, 13 und 9
    Monaten (am weitesten ART: …)": one line where there would be a line per KPI."""
    names = and_list(
        [label(m.kpi, ctx.locale, start=i == 0) for i, m in enumerate(group)], ctx.locale
    )
    counts = [m.months for m in group]
    if len(set(counts)) == 1:
        months = text(ctx.locale, "notes.each", n=counts[0])
    else:
        months = and_list([str(c) for c in counts], ctx.locale)
    worst = max(group, key=lambda m: m.gap)
    assert worst.row.value is not None and worst.row.target is not None
    value, target = fmt.kpi_values_apart(worst.kpi, worst.row.value, worst.row.target, ctx.locale)
    at_most = text(ctx.locale, "notes.at_most") if KPI_BY_ID[worst.kpi].better == "lower" else ""
    # Translators: {months} is notes.each or the streaks as a list ("24, 24, 13 und 9")
    return text(
        ctx.locale,
        "notes.missed_many",
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
            line = _miss_text(ctx, group[0])
        elif group:
            line = _merged_miss_text(ctx, group)
        else:
            continue
        notes.append(ctx.note("target_missed_3_months", line, [m.kpi for m in group], key))
    for kpi in RULE_KPIS:
        row = ctx.row(kpi)
        if row is None or row.misses_target() is not False:
            continue
        months = target_streak(ctx.rows, ctx.month, kpi, 1, missed=True)
        if months >= TARGET_STREAK_MONTHS:
            assert row.value is not None and row.target is not None
            value, target = fmt.kpi_values_apart(kpi, row.value, row.target, ctx.locale)
            line = text(
                ctx.locale,
                "notes.met_again",
                label=label(kpi, ctx.locale),
                months=months,
                value=value,
                target=target,
            )
            notes.append(ctx.note("target_met_again", line, [kpi]))
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
        key = N_("notes.volume_up") if sign > 0 else N_("notes.volume_down")
        line = text(
            ctx.locale,
            key,
            items=and_list(items, ctx.locale),
            volume=fmt.percent_change(vol.rel, ctx.locale),
        )
        kpis = [r.kpi for r in moved] + ["ticket_volume"]
        return [ctx.note("time_moved_with_volume", line, kpis)]
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
    falls = and_list([_delta_text(r, ctx.locale) for r in fell], ctx.locale)
    kpis = [r.kpi for r in fell]
    fcr_fell = "first_contact_resolution" in kpis
    key = N_("notes.faster_fcr") if fcr_fell else N_("notes.faster_csat")
    line = text(ctx.locale, key, aht=aht_text, falls=falls)
    return [ctx.note("faster_but_quality_fell", line, ["average_handling_time", *kpis])]


def _closed_rule(ctx: _Ctx) -> list[Note]:
    fcr, reopen = ctx.row("first_contact_resolution"), ctx.row("reopen_rate")
    if not (_moved(fcr, 1, min_abs=FCR_RISE_PP) and _moved(reopen, 1, min_abs=REOPEN_RISE_PP)):
        return []
    assert fcr is not None and reopen is not None
    fcr_text = f"{label(fcr.kpi, ctx.locale)} {fmt.kpi_delta(fcr.kpi, fcr.delta, ctx.locale)}"
    line = text(ctx.locale, "notes.closed", fcr=fcr_text, reopen=_delta_text(reopen, ctx.locale))
    return [ctx.note("closed_rather_than_solved", line, [fcr.kpi, reopen.kpi])]


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
    line = text(ctx.locale, "notes.survey", items=and_list(items, ctx.locale))
    return [ctx.note("survey_too_few_responses", line, [r.kpi for r in few])]


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
        # Translators: {kind} is notes.better, notes.worse or notes.changed
        line = text(
            ctx.locale,
            "notes.significant",
            label=label(ch.kpi, ctx.locale),
            delta=_change_text(row, ctx.locale),
            value=fmt.kpi_value(ch.kpi, row.value, ctx.locale),
            kind=text(ctx.locale, _KIND[kind]),
        )
        # the headline KPIs are already weighted in ch.weight: no bonus on top
        note = Note(
            "change_significant", line, manual=False, kpis=(ch.kpi,), severity=SEVERITY[key]
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
            line = text(
                ctx.locale,
                "notes.noise",
                label=label(kpi, ctx.locale),
                delta=_change_text(row, ctx.locale),
                n=fmt.count(row.n, ctx.locale),
            )
            # headline KPIs first, then the larger change relative to its "looks large" size
            noise.append(
                ((kpi not in ctx.headline, -size), ctx.note("change_within_noise", line, [kpi]))
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


def rule_notes(
    rows: Mapping[tuple[str, str], KpiRow], month: str, locale: str, headline: Sequence[str] = ()
) -> list[Note]:
    """Every note the rules make for the month, in rule order (not yet ranked or capped)."""
    ctx = _Ctx(rows, month, locale, tuple(headline))
    notes = _target_rules(ctx)
    combined = [n for rule in _COMBINATION_RULES for n in rule(ctx)]
    covered = {k for n in combined for k in n.kpis}
    return notes + combined + _survey_rule(ctx) + _change_rules(ctx, covered)
