"""How the notes and the attention sentences name a KPI and join a list, in the team's language.

The sentences themselves are in the text catalogue (scorecards.text.catalog); these two helpers
fill their placeholders, shared so a KPI reads the same in a note and in an attention sentence.
"""

from __future__ import annotations

from collections.abc import Sequence

from babel.lists import format_list

from scorecards.text import formatting as fmt


def label(kpi: str, locale: str, start: bool = True) -> str:
    name = fmt.kpi_short_label(kpi, locale)
    if " " in name:  # "Kritiker-Anteil (NPS 0–6)": the parenthesis is a scope, not a short name
        name = fmt.kpi_label(kpi, locale).split(" (")[0]
    # English labels are capitalised as titles; inside a sentence "wait time" reads right,
    # while names with inner capitals ("Net Promoter Score") stay as they are.
    if not start and locale == "en" and name[1:].islower():
        return name[0].lower() + name[1:]
    return name


def and_list(items: Sequence[str], locale: str) -> str:
    return format_list(list(items), locale=locale)
