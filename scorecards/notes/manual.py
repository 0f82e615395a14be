"""Manual context notes: what an analyst wrote for a month in config/notes/<YYYY-MM>.yaml.

They come first on the scorecard, verbatim (`scorecards.notes.select`). The file is read strictly:
a typo in a team id or a key given twice would otherwise drop a note without a word. The format
is documented in docs/context-notes.md and config/notes/README.md.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml

from scorecards.config.settings import ConfigError
from scorecards.contract.kpi_catalog import ALL_TEAMS
from scorecards.core.periods import parse_month


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
