"""Recognising what the values of one export column are: timestamps (and in which formats),
numbers (decimal comma, thousands separator, durations), booleans, channel and survey-type
spellings, and the tokens an export writes for a missing value."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scorecards.config.sources import DEFAULT_MISSING
from scorecards.contract.datasets import FALSE_WORDS, TRUE_WORDS

MAX_DISTINCT = 400  # distinct values per column tried against the timestamp formats


def norm_name(name: str) -> str:
    """Lower case, umlauts spelled out, everything but letters and digits dropped."""
    s = name.strip().lower()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        s = s.replace(a, b)
    s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", s)


def missing_tokens_in(values: list[str]) -> Counter[str]:
    known = set(DEFAULT_MISSING) | EXTRA_MISSING
    return Counter(v for v in values if v.lower() in known)


EXTRA_MISSING = {"--", "(none)", "(blank)", "(leer)", "k.a.", "k. a.", "nil", "#null!", "n.a."}


def present_values(values: list[str]) -> list[str]:
    """The values that are neither empty nor a missing-value token."""
    known = set(DEFAULT_MISSING) | EXTRA_MISSING
    return [v for v in values if v and v.lower() not in known]


_ISO = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|UTC|[+-]\d{2}(:?\d{2})?)?$",
    re.IGNORECASE,
)
_DATES = (
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%m-%d-%Y",
    "%m.%d.%Y",
    "%Y/%m/%d",
    "%d.%m.%y",
    "%m/%d/%y",
    "%d/%m/%y",
    "%d-%m-%y",
    "%d/%b/%y",
    "%d/%b/%Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%d %b %Y",
    "%b %d, %Y",
)
_TIMES = ("%H:%M:%S", "%H:%M", "%I:%M %p", "%I:%M:%S %p", "%I:%M%p")
# Preference among formats that read a column equally well: day first where the separator is
# a dot or a dash (European), month first with a slash (US), the rest as listed.
DATETIME_FORMATS: tuple[str, ...] = tuple(f"{d} {t}" for d in _DATES for t in _TIMES) + _DATES
TIME_FORMATS = _TIMES


def _swap(fmt: str) -> str | None:
    if "%d" in fmt and "%m" in fmt:
        return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")
    return None


def _parses(value: str, fmt: str) -> bool:
    if fmt == "iso":
        return bool(_ISO.match(value))
    if fmt in ("epoch_s", "epoch_ms"):
        if not value.isdigit():
            return False
        n = int(value)
        return 1e8 <= n < 1e10 if fmt == "epoch_s" else 1e11 <= n < 1e13
    try:
        datetime.strptime(value, fmt)
    except ValueError:
        return False
    return True


@dataclass
class TimestampGuess:
    formats: list[str]  # in the order they should be tried
    unreadable: list[str]  # examples no format reads
    ambiguous: list[tuple[str, str]]  # (chosen, swapped) where every value reads both ways
    mixed_both_ways: list[str]  # values two chosen formats read differently


def guess_timestamp(values: list[str], allow_epoch: bool = True) -> TimestampGuess | None:
    """Formats covering the values, greedily: the one reading most first. None: not timestamps."""
    vals = sorted(set(present_values(values)))[:MAX_DISTINCT]
    if not vals:
        return None
    candidates = ["iso"] + (["epoch_s", "epoch_ms"] if allow_epoch else []) + list(DATETIME_FORMATS)
    reads = {f: {v for v in vals if _parses(v, f)} for f in candidates}
    left = set(vals)
    chosen: list[str] = []
    while left:
        best = max(candidates, key=lambda f: (len(reads[f] & left), -candidates.index(f)))
        gain = reads[best] & left
        if not gain:
            break
        chosen.append(best)
        left -= gain
    if not chosen or len(left) > len(vals) / 2:
        return None
    ambiguous = []
    for f in chosen:
        s = _swap(f)
        if s and reads[f] and all(_parses(v, s) for v in reads[f]):
            ambiguous.append((f, s))
    both = []
    for i, f in enumerate(chosen):
        for g in chosen[i + 1 :]:
            if "%" in f and "%" in g:
                both += [
                    v
                    for v in reads[f] & reads[g]
                    if datetime.strptime(v, f) != datetime.strptime(v, g)
                ]
    return TimestampGuess(chosen, sorted(left)[:5], ambiguous, sorted(set(both))[:5])


def is_time_of_day(values: list[str]) -> bool:
    vals = present_values(values)
    return bool(vals) and all(any(_parses(v, f) for f in TIME_FORMATS) for v in vals)


def is_date_only(values: list[str]) -> bool:
    vals = present_values(values)
    return bool(vals) and all(
        _parses(v, "iso") and len(v) == 10 or any(_parses(v, f) for f in _DATES) for v in vals
    )


_DURATION = re.compile(r"^\d+:\d{2}(:\d{2})?$")


@dataclass
class NumberGuess:
    decimal: str = "."
    thousands: str = ""
    duration: bool = False
    integers: bool = True
    numeric: bool = False


def guess_number(values: list[str]) -> NumberGuess:
    vals = present_values(values)
    g = NumberGuess()
    if not vals:
        return g
    if all(_DURATION.match(v) for v in vals):
        return NumberGuess(duration=True, integers=False, numeric=True)
    if all(re.fullmatch(r"-?\d+", v) for v in vals):
        return NumberGuess(numeric=True)
    if all(re.fullmatch(r"-?\d+(\.\d+)?", v) for v in vals):
        return NumberGuess(integers=False, numeric=True)
    if all(re.fullmatch(r"-?\d+(,\d+)?", v) for v in vals):
        return NumberGuess(decimal=",", integers=False, numeric=True)
    if all(re.fullmatch(r"-?\d{1,3}(\.\d{3})*(,\d+)?", v) for v in vals):
        return NumberGuess(decimal=",", thousands=".", integers=False, numeric=True)
    if all(re.fullmatch(r"-?\d{1,3}(,\d{3})*(\.\d+)?", v) for v in vals):
        return NumberGuess(thousands=",", integers=False, numeric=True)
    return g


TRUE_SPELLINGS = {"true", "1", "yes", "y", "ja", "j", "wahr", "x", "t", "on", "oui", "si"}
FALSE_SPELLINGS = {"false", "0", "no", "n", "nein", "falsch", "f", "off", "non"}


def guess_boolean(values: list[str]) -> dict[str, Any] | None:
    """The spec keys a boolean column needs: {} (contract spellings), true/false lists,
    true_if: nonzero (counts), or None when the values are not recognisably boolean."""
    vals = present_values(values)
    if not vals:
        return {}
    low = {v.lower() for v in vals}
    if low <= set(TRUE_WORDS) | set(FALSE_WORDS):
        return {}
    if all(re.fullmatch(r"\d+", v) for v in vals):
        return {"true_if": "nonzero"}
    if low <= TRUE_SPELLINGS | FALSE_SPELLINGS:
        distinct = sorted(set(vals), key=str.lower)
        return {
            "true": [v for v in distinct if v.lower() in TRUE_SPELLINGS],
            "false": [v for v in distinct if v.lower() in FALSE_SPELLINGS],
        }
    return None


CHANNEL_SPELLINGS: dict[str, str] = {
    **{
        k: "phone"
        for k in (
            "phone",
            "voice",
            "call",
            "telefon",
            "anruf",
            "phonecall",
            "inboundcall",
            "telephone",
            "hotline",
            "callcenter",
            "ivr",
            "tel",
        )
    },
    **{k: "email" for k in ("email", "mail", "emails", "inboundemail", "fax")},
    **{
        k: "chat"
        for k in (
            "chat",
            "livechat",
            "messaging",
            "whatsapp",
            "sms",
            "mobilesdk",
            "messenger",
            "nativemessaging",
            "textmessage",
        )
    },
    **{
        k: "social"
        for k in ("social", "twitter", "facebook", "instagram", "x", "socialmedia", "linkedin")
    },
    **{
        k: "web"
        for k in (
            "web",
            "webform",
            "webwidget",
            "portal",
            "form",
            "website",
            "kontaktformular",
            "feedbackwidget",
            "api",
            "serviceportal",
            "kundenportal",
        )
    },
    **{
        k: "self_service"
        for k in (
            "selfservice",
            "helpcenter",
            "knowledgebase",
            "faq",
            "chatbot",
            "bot",
            "virtualagent",
            "selfservice portal",
        )
    },
}
SURVEY_TYPE_SPELLINGS = {
    "csat": "csat",
    "nps": "nps",
    "ces": "ces",
    "netpromoterscore": "nps",
    "customersatisfaction": "csat",
    "customereffortscore": "ces",
    "zufriedenheit": "csat",
    "kundenzufriedenheit": "csat",
}


def guess_value_map(
    values: list[str], known: dict[str, str], allowed: tuple[str, ...]
) -> tuple[dict[str, str], list[str]]:
    """(spellings -> contract value, spellings nobody knows) for the distinct values seen."""
    mapped: dict[str, str] = {}
    unknown: list[str] = []
    for v in sorted(set(present_values(values)), key=str.lower):
        if v.lower() in allowed:
            continue
        key = norm_name(v)
        target = known.get(key)
        if target is None:
            target = next((t for k, t in known.items() if len(k) >= 4 and k in key), None)
            if target:
                unknown.append(f"{v} (guessed {target})")
        if target:
            mapped[v] = target
        else:
            unknown.append(v)
    return mapped, unknown
