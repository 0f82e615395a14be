"""The text catalogue (scorecards/text/catalog.py): every key the code and the templates use is
translated in German and English, no translation is left without a use, the committed .mo files
are what their .po files compile to, and both languages fill the same placeholders.

The keys are found the way `make texts` finds them (scripts/texts.sh, babel.cfg), so a key the
extraction cannot see fails here before it could go missing from a catalogue."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from scorecards.churn import reasons
from scorecards.churn.model import FEATURE_IDS
from scorecards.contract.datasets import CHANNELS
from scorecards.contract.kpi_catalog import KPIS, NO_DATA_REASONS, empty_base_reason
from scorecards.render import charts, labels
from scorecards.text import catalog, kpi_texts
from scorecards.text.catalog import text

ROOT = Path(__file__).resolve().parents[1]
LOCALES = ("de", "en")
SCRIPT = (ROOT / "scripts" / "texts.sh").read_text()


def _po(locale: str):
    path = catalog.LOCALES_DIR / locale / "LC_MESSAGES" / f"{catalog.DOMAIN}.po"
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def _extracted() -> dict[str, list[str]]:
    """Key → where it is used, as `pybabel extract` in scripts/texts.sh finds them."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    keywords = parse_keywords(re.findall(r"--keyword (\S+)", SCRIPT))
    assert set(keywords) == {"text", "N_", "t"}
    found: dict[str, list[str]] = {}
    for folder in ("scorecards", "reports/templates"):
        for filename, lineno, key, _comments, _context in extract_from_dir(
            ROOT / folder, method_map, options_map, keywords=keywords
        ):
            assert isinstance(key, str), (filename, lineno, key)
            found.setdefault(key, []).append(f"{folder}/{filename}:{lineno}")
    return found


@pytest.fixture(scope="module")
def used() -> dict[str, list[str]]:
    return _extracted()


def _messages(cat) -> dict[str, str]:
    return {m.id: m.string for m in cat if m.id and not m.fuzzy}


def _fields(s: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(s) if name is not None}


def test_every_used_key_is_translated_in_both_languages(used: dict[str, list[str]]) -> None:
    assert len(used) > 300  # the extraction found the code at all
    for locale in LOCALES:
        messages = _messages(_po(locale))
        missing = {k: where for k, where in used.items() if not messages.get(k)}
        assert not missing, f"{locale}: untranslated keys (run make texts, translate): {missing}"
        for key in used:
            assert text(locale, key) == messages[key]


def test_no_translation_without_a_use(used: dict[str, list[str]]) -> None:
    for locale in LOCALES:
        po = _po(locale)
        unused = set(_messages(po)) - set(used)
        assert not unused, f"{locale}: keys no code uses (run make texts): {sorted(unused)}"
        assert not po.obsolete, f"{locale}: obsolete entries left: {sorted(po.obsolete)}"
    with (catalog.LOCALES_DIR / f"{catalog.DOMAIN}.pot").open("rb") as f:
        assert {m.id for m in read_po(f) if m.id} == set(used), "scorecards.pot is stale"


def test_committed_mo_files_match_their_po() -> None:
    for locale in LOCALES:
        path = catalog.LOCALES_DIR / locale / "LC_MESSAGES" / f"{catalog.DOMAIN}.mo"
        with path.open("rb") as f:
            compiled = _messages(read_mo(f))
        assert compiled == _messages(_po(locale)), f"{path} is stale: run make texts"


def test_both_languages_fill_the_same_placeholders() -> None:
    de, en = (_messages(_po(locale)) for locale in LOCALES)
    assert set(de) == set(en)
    differ = {k: (_fields(de[k]), _fields(en[k])) for k in de if _fields(de[k]) != _fields(en[k])}
    assert not differ


def test_unknown_key_or_locale_raises() -> None:
    with pytest.raises(KeyError, match=r"'render\.no_such_text'.*'de'"):
        text("de", "render.no_such_text")
    with pytest.raises(KeyError, match="'fr'"):
        text("fr", "format.no_data")
    # fields fill placeholders; without fields the text is returned as it is
    assert text("de", "attention.more", n=3) == "3 weitere"
    assert text("en", "attention.more") == "{n} more"
    assert catalog.texts("en")("mail.details", file="x.pdf").endswith("(x.pdf).")
    # the templates' form: t.kicker under the prefix
    assert catalog.texts("de", "render").kicker == "Service-Scorecard"
    with pytest.raises(KeyError, match=r"'render\.no_such_text'"):
        _ = catalog.texts("de", "render").no_such_text


def test_keys_picked_at_run_time_are_listed_for_every_case() -> None:
    """Where the code picks a key per KPI, reason, channel or signal, every case has one (and the
    first test makes sure each listed key is translated)."""
    ids = {k.id for k in KPIS}
    for table, field in (
        (kpi_texts.LABEL_KEYS, "label"),
        (kpi_texts.DEFINITION_KEYS, "definition"),
        (kpi_texts.DENOMINATOR_KEYS, "denominator"),
    ):
        assert table == {i: f"kpi.{i}.{field}" for i in ids}
    assert {k: f"no_data_reason.{k}" for k in NO_DATA_REASONS} == kpi_texts.REASON_KEYS
    assert set(charts._CHANNEL_KEYS) == set(CHANNELS)
    assert set(reasons._PHRASES) == set(FEATURE_IDS)
    assert set(labels.TILE_LABELS) <= ids and set(labels.PLAIN_DEFINITIONS) <= ids


def test_english_texts_say_what_the_data_stores() -> None:
    """Reasons are stored in English (team_kpis.no_data_reason, quarantine_reasons); the English
    scorecard prints them as stored."""
    for stored in NO_DATA_REASONS.values():
        assert kpi_texts.reason_text(stored, "en") == stored
    for kpi in KPIS:
        assert kpi_texts.kpi_denominator(kpi.id, "en") == kpi.denominator_en
        assert kpi_texts.reason_text(empty_base_reason(kpi.id), "en") == empty_base_reason(kpi.id)
    assert (
        kpi_texts.reason_text("a reason of a later version", "de") == "a reason of a later version"
    )
    for stored in labels._QUARANTINE_REASONS:
        assert labels.quarantine_reason(stored, "en") == stored
    columns = ", ".join(labels.COLUMNS)
    for prefix in labels._QUARANTINE_PREFIXES:
        assert labels.quarantine_reason(prefix + columns, "en") == prefix + columns


def test_churn_phrases_format_numbers_through_babel() -> None:
    de = reasons._phrase("disengaged", 1, 3.5, 0, 90)
    en = reasons._phrase("disengaged", 1, 3.5, 1, 90)
    assert de == "Weniger Kontakt als üblich (1 statt ⌀ 3,5)"
    assert en == "Less contact than usual (1 vs. avg. 3.5)"
    assert reasons._phrase("disengaged", 0, 4.0, 0, 90).endswith("(0 statt ⌀ 4)")
    assert reasons._phrase("disengaged", -1, -1, 1, 90).endswith("(– vs. avg. –)")
    assert reasons._phrase("tickets", 1, -1, 0, 90) == "1 Ticket in 90 Tagen"
    assert reasons._phrase("tickets", 12, -1, 1, 30) == "12 tickets in 30 days"
    assert reasons._phrase("detractor", 3, -1, 0, 90) == "Kritiker (NPS 3)"
