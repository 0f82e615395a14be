"""Which context notes a scorecard shows, in which order.

The manual notes an analyst wrote for the month (`scorecards.notes.manual`) come first, verbatim;
then the notes the rules made (`scorecards.notes.rules`), the most severe first and at most
MAX_GENERATED of them, so a team lead can read the list in seconds. docs/context-notes.md
describes the ordering.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from scorecards.contract.kpi_catalog import ALL_TEAMS
from scorecards.core.periods import parse_month
from scorecards.notes.rows import kpi_rows
from scorecards.notes.rules import Note, rule_notes

MAX_GENERATED = 6
MANUAL = "manual"
LOCALES = ("de", "en")


def generated_notes(
    history: pd.DataFrame, team: str, month: str, locale: str, headline: Sequence[str] = ()
) -> list[Note]:
    """Every generated note for the team and month, most important first (not yet capped)."""
    notes = rule_notes(kpi_rows(history, team, month), month, locale, headline)
    # Stable sort: equal severities keep the rule order, so the output is reproducible.
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
        for note_text in texts:
            if not isinstance(note_text, str):
                raise TypeError(f"manual note for {key!r} must be text, got {note_text!r}")
            notes.append(Note(rule=MANUAL, text=note_text, manual=True))
    if max_generated > 0:
        notes += generated_notes(history, team, month, locale, headline)[:max_generated]
    return notes
