#!/usr/bin/env bash
# The text catalogue (scorecards/text/catalog.py), the gettext way: extract the keys the code and
# the templates use into scorecards.pot, merge them into the German and the English .po file (a
# new key arrives with an empty msgstr to translate; a key no longer used is dropped), then
# compile each .po into the .mo the code reads. tests/test_texts.py fails while a key is
# untranslated or unused, or a .mo differs from its .po.
set -euo pipefail
cd "$(dirname "$0")/.."

PYBABEL=${PYBABEL:-.venv/bin/pybabel}
LOCALES=scorecards/text/locales
POT=$LOCALES/scorecards.pot

# Keys are symbolic ("attention.at_most"), so only these calls carry one: text(locale, KEY),
# N_(KEY) for a key the code picks at run time, and t(KEY) in the templates. Without line
# numbers and dates, a run that finds the same keys leaves every file as it was.
"$PYBABEL" -q extract --mapping-file babel.cfg --no-default-keywords \
  --keyword text:2 --keyword N_ --keyword t --add-comments "Translators:" \
  --sort-output --no-location --omit-header --output-file "$POT" scorecards reports/templates
for locale in de en; do
  "$PYBABEL" -q update --domain scorecards --input-file "$POT" --output-dir "$LOCALES" \
    --locale "$locale" --no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date
done
"$PYBABEL" compile --domain scorecards --directory "$LOCALES" --statistics
