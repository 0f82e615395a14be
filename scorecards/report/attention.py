"""What needs attention: the month of a team, or of all teams, in at most three sentences.

A team lead reads this before anything else on the scorecard and in the e-mail; the head of
service reads one line per team that needs attention, the most urgent first. Everything here is
derived from the same rows and the same tests as the context notes (`scorecards.notes.rows`): a
missed target is `KpiRow.misses_target`, a real change is `rows.real_changes` (significant and
large enough), so a sentence here never calls a change better or worse that the notes or the
tiles call noise. docs/context-notes.md ("What needs attention") describes the ranking.

Texts are plain text in one gender form, with team display names, never ids.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import pandas as pd

from scorecards.contract.kpi_catalog import KPI_BY_ID
from scorecards.notes.rows import RULE_KPIS, Change, Miss, kpi_rows, real_changes, target_misses
from scorecards.notes.rules import Note
from scorecards.notes.select import generated_notes
from scorecards.notes.wording import and_list, label
from scorecards.text import formatting as fmt
from scorecards.text.catalog import N_, text

MAX_SENTENCES = 3
# KPIs named in one sentence; the rest are counted ("und 2 weitere").
MAX_NAMED = 3
# Named in the overview's line per team and in the e-mail subject.
MAX_NAMED_SHORT = 2
# A team's attention score: each missed target counts 1 + its relative distance (capped at
# GAP_CAP), each real decline 1 + its weight / DECLINE_SCALE (capped at GAP_CAP): a decline
# DECLINE_SCALE times "looks large" (CSAT −10 pp) weighs like a target missed by 100 %.
GAP_CAP = 2.0
DECLINE_SCALE = 5.0
# Overview notes: a KPI missed by at least this many teams gets a line of its own.
SHARED_MISS_TEAMS = 2
MAX_OVERVIEW_NOTES = 6


@dataclass(frozen=True)
class TeamStatus:
    """One team's month as the attention list, the e-mail subject and the overview read it."""

    team_id: str
    team_name: str
    month: str
    judged: tuple[str, ...]  # KPIs whose target could be judged this month
    missed: tuple[Miss, ...]  # missed targets, the farthest first
    worse: tuple[Change, ...]  # real declines, the heaviest first
    better: tuple[Change, ...]  # real improvements, the heaviest first
    changed: tuple[Change, ...] = ()  # real changes of KPIs without a good direction (volume)

    @property
    def needs_attention(self) -> bool:
        return bool(self.missed or self.worse)

    @property
    def score(self) -> float:
        """How urgently the team needs attention; 0 when it does not."""
        s = sum(1 + min(m.gap, GAP_CAP) for m in self.missed)
        return s + sum(1 + min(c.weight / DECLINE_SCALE, GAP_CAP) for c in self.worse)


def team_status(
    history: pd.DataFrame,
    team_id: str,
    month: str,
    team_name: str = "",
    headline: Collection[str] = (),
) -> TeamStatus:
    """The team's missed targets and real changes in `month`; `history` holds its team_kpis rows
    (every month up to `month`, so streaks count over the whole history)."""
    rows = kpi_rows(history, team_id, month)
    judged, missed = target_misses(rows, month)
    changes = real_changes(rows, month, tuple(headline))
    return TeamStatus(
        team_id=team_id,
        team_name=team_name or team_id,
        month=month,
        judged=tuple(judged),
        missed=tuple(missed),
        worse=tuple(c for c in changes if c.good is False),
        better=tuple(c for c in changes if c.good is True),
        changed=tuple(c for c in changes if c.good is None),
    )


def _target_text(m: Miss, locale: str) -> tuple[str, str]:
    assert m.row.value is not None and m.row.target is not None
    value, target = fmt.kpi_values_apart(m.kpi, m.row.value, m.row.target, locale)
    if KPI_BY_ID[m.kpi].better == "lower":
        target = text(locale, "attention.at_most") + target
    return value, target


def _named(items: list[str], total: int, locale: str, kind: str) -> str:
    """ "A, B, C und 2 weitere"; `kind` ("target" or "change") gives German its gender."""
    rest = total - len(items)
    if rest == 1:
        # German: "ein weiteres" (Ziel), "eine weitere" (Verschlechterung)
        one_more = N_("attention.more_target") if kind == "target" else N_("attention.more_change")
        items = [*items, text(locale, one_more)]
    elif rest > 1:
        items = [*items, text(locale, "attention.more", n=rest)]
    return and_list(items, locale)


def _change_item(c: Change, locale: str, start: bool) -> str:
    delta = (
        fmt.percent_change(c.row.rel, locale)
        if KPI_BY_ID[c.kpi].unit == "count"
        else fmt.kpi_delta(c.kpi, c.row.delta, locale)
    )
    return text(
        locale,
        "attention.change_item",
        label=label(c.kpi, locale, start=start),
        delta=delta,
        value=fmt.kpi_value(c.kpi, c.row.value, locale),
    )


def missed_sentence(status: TeamStatus, locale: str) -> str:
    if not status.missed:
        return ""
    items = []
    for i, m in enumerate(status.missed[:MAX_NAMED]):
        value, target = _target_text(m, locale)
        if m.months <= 1:
            since = text(locale, "attention.since_one")
        else:
            since = text(locale, "attention.since", n=m.months)
        items.append(
            text(
                locale,
                "attention.miss_item",
                label=label(m.kpi, locale, start=i == 0),
                value=value,
                target=target,
                since=since,
            )
        )
    listed = _named(items, len(status.missed), locale, "target")
    if len(status.judged) == 1:
        return text(locale, "attention.missed_one_of_one", items=listed)
    # Translators: {k} targets missed of {m} judged
    return text(
        locale, "attention.missed", k=len(status.missed), m=len(status.judged), items=listed
    )


# One change or several, declines or improvements.
_CHANGES_SENTENCE: dict[str, tuple[str, str]] = {
    "worse": (N_("attention.worse_one"), N_("attention.worse_many")),
    "better": (N_("attention.better_one"), N_("attention.better_many")),
}


def _changes_sentence(changes: Sequence[Change], kind: str, locale: str) -> str:
    if not changes:
        return ""
    items = [_change_item(c, locale, start=i == 0) for i, c in enumerate(changes[:MAX_NAMED])]
    key = _CHANGES_SENTENCE[kind][len(changes) > 1]
    return text(locale, key, items=_named(items, len(changes), locale, "change"))


def attention_sentences(status: TeamStatus, locale: str) -> list[str]:
    """At most three sentences, most important first: the missed targets (the farthest first),
    the real declines, the real improvements (each the heaviest first). Empty for a quiet
    month: nothing needs attention."""
    out = [
        missed_sentence(status, locale),
        _changes_sentence(status.worse, "worse", locale),
        _changes_sentence(status.better, "better", locale),
    ]
    return [s for s in out if s][:MAX_SENTENCES]


def quiet_sentence(status: TeamStatus, locale: str) -> str:
    """What to say where the attention list is empty (the e-mail, the page)."""
    m = len(status.judged)
    if m == 1:
        targets = text(locale, "attention.quiet_target")
    elif m:
        targets = text(locale, "attention.quiet_targets", m=m)
    else:
        targets = ""
    # Translators: {targets} is attention.quiet_target(s) or nothing
    return text(locale, "attention.quiet", targets=targets)


def _direction_words(changes: Sequence[Change], locale: str) -> list[str]:
    """ "CSAT und NPS gesunken", "ART gestiegen": which way the value went, not better/worse."""
    up = [c for c in changes if (c.row.delta or 0) > 0]
    down = [c for c in changes if (c.row.delta or 0) < 0]
    out = []
    for key, group in ((N_("attention.subject.down"), down), (N_("attention.subject.up"), up)):
        if group:
            names = and_list(
                [label(c.kpi, locale, start=i == 0) for i, c in enumerate(group)], locale
            )
            out.append(text(locale, key, labels=names))
    return out


def subject_status(status: TeamStatus, locale: str) -> str:
    """The month in a few words for the e-mail subject: "2 von 5 Zielen verfehlt, CSAT
    gesunken", "all 4 targets met, no real change"."""
    parts = []
    m, k = len(status.judged), len(status.missed)
    if m == 1 and k:
        parts.append(text(locale, "attention.subject.missed_one"))
    elif m == 1:
        parts.append(text(locale, "attention.subject.met_one"))
    elif m and k:
        parts.append(text(locale, "attention.subject.missed", k=k, m=m))
    elif m:
        parts.append(text(locale, "attention.subject.met", m=m))
    shown = list(status.worse[:MAX_NAMED_SHORT]) or list(status.better[:MAX_NAMED_SHORT])
    parts += _direction_words(shown, locale) or [text(locale, "attention.subject.nothing")]
    return ", ".join(parts)


# --- the overview -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamAttention:
    """One line of the overview's "needs attention" list."""

    team_id: str
    team_name: str
    score: float  # the ranking key (TeamStatus.score), higher first
    text: str  # "Retouren: 2 von 7 Zielen verfehlt (CSAT 39,7 % gegen 80,0 %, …); echt …"
    missed: int  # targets missed
    targets: int  # targets judged
    worse: tuple[str, ...] = field(default_factory=tuple)  # KPI ids of the real declines


def overview_line(status: TeamStatus, locale: str) -> str:
    parts = []
    if status.missed:
        items = []
        for i, m in enumerate(status.missed[:MAX_NAMED_SHORT]):
            value, target = _target_text(m, locale)
            items.append(
                text(
                    locale,
                    "attention.overview.miss_item",
                    label=label(m.kpi, locale, start=i == 0),
                    value=value,
                    target=target,
                )
            )
        listed = _named(items, len(status.missed), locale, "target")
        parts.append(
            text(
                locale,
                "attention.overview.missed",
                k=len(status.missed),
                m=len(status.judged),
                items=listed,
            )
        )
    if status.worse:
        items = [
            f"{label(c.kpi, locale, start=False)} {fmt.kpi_delta(c.kpi, c.row.delta, locale)}"
            if KPI_BY_ID[c.kpi].unit != "count"
            else f"{label(c.kpi, locale, start=False)} {fmt.percent_change(c.row.rel, locale)}"
            for c in status.worse[:MAX_NAMED_SHORT]
        ]
        worse = _named(items, len(status.worse), locale, "change")
        parts.append(text(locale, "attention.overview.worse", items=worse))
    line = f"{status.team_name}: " + "; ".join(parts)
    return line if line.endswith(".") else line + "."  # "+14,1 Std." ends the line already


def overview_attention(statuses: Sequence[TeamStatus], locale: str) -> list[TeamAttention]:
    """The teams that need attention, the most urgent first (score, then name)."""
    need = [s for s in statuses if s.needs_attention]
    need.sort(key=lambda s: (-s.score, s.team_name))
    return [
        TeamAttention(
            team_id=s.team_id,
            team_name=s.team_name,
            score=round(s.score, 3),
            text=overview_line(s, locale),
            missed=len(s.missed),
            targets=len(s.judged),
            worse=tuple(c.kpi for c in s.worse),
        )
        for s in need
    ]


def overview_subject_status(statuses: Sequence[TeamStatus], locale: str) -> str:
    k = sum(s.needs_attention for s in statuses)
    if not k:
        return text(locale, "attention.subject.no_team")
    # Translators: {k} teams need attention of {m} teams
    return text(locale, "attention.subject.teams", k=k, m=len(statuses))


def overview_notes(
    statuses: Sequence[TeamStatus],
    company: pd.DataFrame,
    company_id: str,
    month: str,
    locale: str,
    headline: Sequence[str] = (),
) -> list[Note]:
    """The overview's own notes: a KPI whose target several teams miss (one line, the teams by
    distance), then the context notes of the company figures, at most MAX_OVERVIEW_NOTES."""
    shared: list[tuple[int, int, Note]] = []
    for order, kpi in enumerate(RULE_KPIS):
        judged = [s for s in statuses if kpi in s.judged]
        misses = sorted(
            ((s, m) for s in statuses for m in s.missed if m.kpi == kpi), key=lambda x: -x[1].gap
        )
        if len(misses) < SHARED_MISS_TEAMS:
            continue
        items = [
            text(
                locale,
                "attention.overview.team_item",
                team=s.team_name,
                value=fmt.kpi_value(kpi, m.row.value, locale),
            )
            for s, m in misses
        ]
        # Translators: {k} teams miss the target of {m} judged
        line = text(
            locale,
            "attention.overview.shared",
            label=label(kpi, locale),
            k=len(misses),
            m=len(judged),
            teams=and_list(items, locale),
        )
        note = Note("overview_target_missed", line, kpis=(kpi,), severity=len(misses))
        shared.append((-len(misses), order, note))
    notes = [n for *_, n in sorted(shared, key=lambda x: x[:2])]
    notes += generated_notes(company, company_id, month, locale, headline)
    return notes[:MAX_OVERVIEW_NOTES]
