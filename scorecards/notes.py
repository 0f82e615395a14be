"""Context notes: short sentences, made by documented rules from a team's KPI rows.

A KPI alone misleads: a shorter handling time means little if first contact resolution fell at
the same time, a slower first response little if the volume jumped. The rules here read the
`team_kpis` rows of one team and say such things in one plain sentence each, in the team's
language, with the numbers formatted by `scorecards.formatting`. Manual notes an analyst wrote
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

from scorecards import formatting as fmt
from scorecards.kpi_catalog import ALL_TEAMS, KPI_BY_ID, LOW_SAMPLE_N
from scorecards.periods import parse_month, shift_month
from scorecards.settings import ConfigError

# The KPIs the rules were written for. The catalogue grows (churn-risk shares, detractor share)
# and a new KPI gets notes only once someone has decided that these rules suit it.
RULE_KPIS: tuple[str, ...] = (
    "ticket_volume",
    "first_response_time",
    "average_resolution_time",
    "average_handling_time",
    "wait_time",
    "first_contact_resolution",
    "resolution_rate",
    "escalation_rate",
    "reopen_rate",
    "self_service_rate",
    "csat",
    "nps",
    "ces",
    "churn_rate",
)

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


def _label(kpi: str, locale: str, start: bool = True) -> str:
    text = fmt.kpi_short_label(kpi, locale)
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
class _Row:
    kpi: str
    value: float | None
    n: float | None
    prev: float | None
    target: float | None
    significant: bool | None
    low_sample: bool

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


def _rows(history: pd.DataFrame, team: str, month: str) -> dict[tuple[str, str], _Row]:
    """(period, kpi) → row for the team's KPIs the rules know, up to `month`."""
    if history is None or history.empty:
        return {}
    df = history.reindex(
        columns=["period", "team", "kpi", "value", "n", "prev_value", "target"]
        + ["change_significant", "low_sample"]
    )
    df = df[(df.team.astype(str) == team) & df.kpi.isin([k for k in RULE_KPIS if k in KPI_BY_ID])]
    df = df.assign(period=df.period.astype(str))
    df = df[df.period <= month]
    out: dict[tuple[str, str], _Row] = {}
    # itertuples keeps the last of duplicated (period, kpi) rows, deterministically.
    for r in df.itertuples(index=False):
        n = _num(r.n)
        low = _flag(r.low_sample) is True or (n is not None and n < LOW_SAMPLE_N)
        out[(r.period, r.kpi)] = _Row(
            kpi=r.kpi,
            value=_num(r.value),
            n=n,
            prev=_num(r.prev_value),
            target=_num(r.target),
            significant=_flag(r.change_significant),
            low_sample=low,
        )
    return out


def _moved(row: _Row | None, sign: int, min_abs: float = 0.0, min_rel: float = 0.0) -> bool:
    """The KPI moved in direction `sign` by at least the thresholds, and the test did not call
    the change noise: a combination rule built on a change that is only chance would mislead."""
    if row is None or not row.readable or row.delta is None or row.significant is False:
        return False
    if sign * row.delta <= 0 or abs(row.delta) < min_abs:
        return False
    if min_rel:
        return row.rel is not None and abs(row.rel) >= min_rel
    return True


def _size(row: _Row) -> float:
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


# --- the rules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ctx:
    rows: dict[tuple[str, str], _Row]
    month: str
    locale: str
    headline: tuple[str, ...]

    def row(self, kpi: str, months_back: int = 0) -> _Row | None:
        return self.rows.get((shift_month(self.month, -months_back), kpi))

    def t(self, key: str) -> str:
        return _TEXT[self.locale][key]

    def note(self, rule: str, text: str, kpis: Sequence[str], severity_key: str = "") -> Note:
        severity = SEVERITY[severity_key or rule]
        if any(k in self.headline for k in kpis):
            severity += HEADLINE_BONUS
        return Note(rule=rule, text=text, kpis=tuple(kpis), severity=severity)


def _streak(ctx: _Ctx, kpi: str, start: int, missed: bool) -> int:
    """How many months in a row, from `start` months back, the target was missed (or met)."""
    k = start
    while True:
        row = ctx.row(kpi, k)
        if row is None or row.misses_target() is not missed:
            return k - start
        k += 1


def _target_rules(ctx: _Ctx) -> list[Note]:
    notes = []
    for kpi in RULE_KPIS:
        row = ctx.row(kpi)
        state = row.misses_target() if row else None
        if row is None or state is None:
            continue
        assert row.value is not None and row.target is not None
        value, target = fmt.kpi_values_apart(kpi, row.value, row.target, ctx.locale)
        if state and value == target:
            continue  # missed by less than the shown precision: "1,5 % gegen 1,5 %" helps no one
        label = _label(kpi, ctx.locale)
        if state:
            months = _streak(ctx, kpi, 0, missed=True)
            if months >= TARGET_STREAK_MONTHS:
                key = f"missed_{KPI_BY_ID[kpi].better}"
                text = ctx.t(key).format(label=label, months=months, value=value, target=target)
                chronic = "target_missed_chronic" if months >= CHRONIC_MONTHS else ""
                notes.append(ctx.note("target_missed_3_months", text, [kpi], chronic))
        else:
            months = _streak(ctx, kpi, 1, missed=True)
            if months >= TARGET_STREAK_MONTHS:
                text = ctx.t("met_again").format(
                    label=label, months=months, value=value, target=target
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
            f"{_label(r.kpi, ctx.locale, start=i == 0)} {fmt.percent_change(r.rel, ctx.locale)}"
            for i, r in enumerate(moved)
        ]
        text = ctx.t("volume_up" if sign > 0 else "volume_down").format(
            items=_and(items, ctx.locale), volume=fmt.percent_change(vol.rel, ctx.locale)
        )
        kpis = [r.kpi for r in moved] + ["ticket_volume"]
        return [ctx.note("time_moved_with_volume", text, kpis)]
    return []


def _delta_text(row: _Row, locale: str) -> str:
    return f"{_label(row.kpi, locale, start=False)} {fmt.kpi_delta(row.kpi, row.delta, locale)}"


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
    aht_text = f"{_label(aht.kpi, ctx.locale)} {fmt.percent_change(aht.rel, ctx.locale)}"
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
    fcr_text = f"{_label(fcr.kpi, ctx.locale)} {fmt.kpi_delta(fcr.kpi, fcr.delta, ctx.locale)}"
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
        f"{_label(r.kpi, ctx.locale, start=False)} (n = {fmt.count(r.n, ctx.locale)})" for r in few
    ]
    text = ctx.t("survey").format(items=_and(items, ctx.locale))
    return [ctx.note("survey_too_few_responses", text, [r.kpi for r in few])]


def _change_rules(ctx: _Ctx, covered: Collection[str]) -> list[Note]:
    """Significant changes (headline KPIs, and others when they look large) and large-looking
    changes the test calls noise. KPIs a combination rule already explained are left out."""
    significant: list[tuple[tuple, Note]] = []
    noise: list[tuple[tuple, Note]] = []
    for kpi in RULE_KPIS:
        row = ctx.row(kpi)
        if kpi in covered or row is None or not row.readable or row.delta is None:
            continue
        if row.significant is None or row.delta == 0:
            continue
        size = _size(row)
        headline = kpi in ctx.headline
        # Headline KPIs first, then the larger change relative to its "looks large" size.
        rank = (not headline, -size)
        label = _label(kpi, ctx.locale)
        if KPI_BY_ID[kpi].unit == "count":
            # "+459 tickets" needs last month's count to mean anything; "+12 %" does not.
            delta = fmt.percent_change(row.rel, ctx.locale)
        else:
            delta = fmt.kpi_delta(kpi, row.delta, ctx.locale)
        if row.significant and size >= (HEADLINE_SCALE if headline else 1.0):
            better = KPI_BY_ID[kpi].better
            if better == "none":
                kind, key = "changed", "change_significant"
            else:
                good = (row.delta > 0) == (better == "higher")
                kind = "better" if good else "worse"
                key = f"change_significant_{kind}"
            text = ctx.t("significant").format(
                label=label,
                delta=delta,
                value=fmt.kpi_value(kpi, row.value, ctx.locale),
                kind=ctx.t(kind),
            )
            significant.append((rank, ctx.note("change_significant", text, [kpi], key)))
        elif not row.significant and size >= 1.0 and row.n is not None:
            text = ctx.t("noise").format(label=label, delta=delta, n=fmt.count(row.n, ctx.locale))
            noise.append((rank, ctx.note("change_within_noise", text, [kpi])))

    def best(found: list[tuple[tuple, Note]], k: int) -> list[Note]:
        return [n for _, n in sorted(found, key=lambda x: (-x[1].severity, x[0]))[:k]]

    return best(significant, MAX_SIGNIFICANT_NOTES) + best(noise, MAX_NOISE_NOTES)


_COMBINATION_RULES: tuple[Callable[[_Ctx], list[Note]], ...] = (
    _faster_rule,
    _closed_rule,
    _volume_rule,
)


def generated_notes(
    history: pd.DataFrame, team: str, month: str, locale: str, headline: Sequence[str] = ()
) -> list[Note]:
    """Every generated note for the team and month, most important first (not yet capped)."""
    ctx = _Ctx(_rows(history, team, month), month, locale, tuple(headline))
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
