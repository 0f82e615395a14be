"""The message catalogue: every word the scorecards, the e-mails and the notes print, in German
and English, looked up by a symbolic key.

The texts live in gettext catalogues a translator edits, `locales/<locale>/LC_MESSAGES/
scorecards.po`, compiled to the `.mo` files next to them, which are what this module reads.
`scripts/texts.sh` (`make texts`) extracts the keys from the code and the templates into
`locales/scorecards.pot`, merges them into both `.po` files and compiles them.

Keys are stable ids ("attention.at_most", "kpi.csat.label"), not English source texts: English
is a translation like German, so rewording a text never changes its key. Placeholders are
`str.format` fields ("{n} weitere"), filled when fields are given. A key the catalogue of a
locale lacks raises KeyError: a missing text must fail a test, not print its key in a PDF.

Where the code chooses a key at run time (per KPI, per channel), the possible keys are written
out with `N_` so that extraction finds each of them. The templates read `t.kicker` from
`texts(locale, "render")`, which is "render.kicker" (scorecards/text/extract.py finds them).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from babel.support import Translations

DOMAIN = "scorecards"
LOCALES_DIR = Path(__file__).resolve().with_name("locales")


def N_(key: str) -> str:
    """The key itself: marks a key the code picks at run time, so extraction finds it."""
    return key


@functools.cache
def _translations(locale: str) -> Translations:
    found = Translations.load(str(LOCALES_DIR), [locale], domain=DOMAIN)
    if not isinstance(found, Translations):  # Babel falls back to NullTranslations
        raise KeyError(f"no compiled text catalogue for locale {locale!r} in {LOCALES_DIR}")
    return found


def text(locale: str, key: str, **fields: object) -> str:
    """The text of `key` in `locale`, with `fields` filled in when given."""
    found = _translations(locale).gettext(key)
    # gettext answers an unknown (or untranslated) key with the key itself
    if found == key:
        raise KeyError(f"no text {key!r} for locale {locale!r} in {LOCALES_DIR}")
    return found.format(**fields) if fields else found


@dataclass(frozen=True)
class Texts:
    """The texts of one locale: `t("render.kicker", **fields)` in code; in the templates, under
    `prefix`, `{{ t.kicker }}` (babel.cfg gives extraction the prefix of each template folder)."""

    locale: str
    prefix: str = ""

    def __call__(self, key: str, **fields: object) -> str:
        return text(self.locale, key, **fields)

    def __getattr__(self, name: str) -> str:
        if name.startswith("_") or not self.prefix:
            raise AttributeError(name)
        return text(self.locale, f"{self.prefix}.{name}")


def texts(locale: str, prefix: str = "") -> Texts:
    return Texts(locale, prefix)
