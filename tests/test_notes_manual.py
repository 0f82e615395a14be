"""The manual notes file (config/notes/<YYYY-MM>.yaml): loaded strictly, with errors naming the
file and key, and its notes kept verbatim."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scorecards.config.settings import ConfigError, load_settings
from scorecards.contract.kpi_catalog import ALL_TEAMS
from scorecards.notes.manual import load_manual_notes
from scorecards.notes.select import context_notes
from tests.notes_env import MONTH, REPO, TEAM, table

TEAMS = ("billing", "returns")


def write_notes(tmp_path: Path, text: str, month: str = MONTH) -> Path:
    path = tmp_path / "notes" / f"{month}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_or_empty_file_means_no_manual_notes(tmp_path: Path) -> None:
    assert load_manual_notes(tmp_path, MONTH, TEAMS) == {}
    write_notes(tmp_path, "# nothing this month\n")
    assert load_manual_notes(tmp_path, MONTH, TEAMS) == {}


def test_load_team_and_all_notes(tmp_path: Path) -> None:
    write_notes(
        tmp_path,
        "teams:\n"
        "  returns:\n"
        "    - Neues Retourenportal seit 6. Oktober.\n"
        "    - |\n"
        "      Zwei Kolleginnen in Elternzeit.\n"
        "  billing:\n"
        "all:\n"
        "  - 'Tarifwechsel am 1.10.: mehr Rückfragen: erwartbar.'\n",
    )
    assert load_manual_notes(tmp_path, MONTH, TEAMS) == {
        "returns": ["Neues Retourenportal seit 6. Oktober.", "Zwei Kolleginnen in Elternzeit."],
        ALL_TEAMS: ["Tarifwechsel am 1.10.: mehr Rückfragen: erwartbar."],
    }


def test_markup_in_a_note_is_kept_verbatim(tmp_path: Path) -> None:
    evil = '<img src="file:///etc/passwd"> & <script>alert(1)</script>'
    write_notes(tmp_path, f"teams:\n  returns:\n    - '{evil}'\n")
    manual = load_manual_notes(tmp_path, MONTH, TEAMS)
    assert manual == {"returns": [evil]}
    (note,) = context_notes(table(), TEAM, MONTH, "de", manual=manual)
    assert note.text == evil and note.manual


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("teams: [returns\n", r"2026-10\.yaml: not valid YAML"),
        ("- a note\n", r"2026-10\.yaml: expected a mapping"),
        ("team:\n  returns: [x]\n", r"2026-10\.yaml: team: unknown key"),
        ("teams:\n  retruns: [x]\n", r"2026-10\.yaml: teams\.retruns: unknown team id; known: "),
        ("teams:\n  ALL: [x]\n", r"2026-10\.yaml: teams\.ALL: .*top-level key 'all'"),
        ("teams: [returns]\n", r"2026-10\.yaml: teams: expected a mapping"),
        ("teams:\n  returns: just one\n", r"2026-10\.yaml: teams\.returns: expected a list"),
        ("teams:\n  returns:\n    - ok\n    - 42\n", r"teams\.returns\[1\]: .*int 42"),
        ("all:\n  - 2026-10-06\n", r"2026-10\.yaml: all\[0\]: a note must be text, got date"),
        ("all:\n  - {a: b}\n", r"all\[0\]: a note must be text, got dict"),
        ("all:\n  - '  '\n", r"all\[0\]: empty note"),
        ("teams:\n  returns: [a]\n  returns: [b]\n", r"not valid YAML.*'returns' appears twice"),
    ],
)
def test_bad_notes_file_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    write_notes(tmp_path, text)
    with pytest.raises(ConfigError, match=re.compile(message, re.S)):
        load_manual_notes(tmp_path, MONTH, TEAMS)


def test_shipped_example_loads_against_the_real_teams() -> None:
    settings = load_settings(config_dir=REPO / "config")
    manual = load_manual_notes(REPO / "config", "2026-10", settings.teams)
    assert list(manual) == ["returns"] and len(manual["returns"]) == 1
    assert settings.teams["returns"].locale == "de"
    assert "Retour" in manual["returns"][0]
