"""Fast feedback for whoever writes config/sources.yaml: `sources suggest` and `sources check`.

`suggest` reads an export (encoding, delimiter, header, a sample of rows) and drafts a mapping:
column roles from the names (English, German, vendor spellings), timestamp formats from the
values (saying when day and month cannot be told apart), missing-value tokens, booleans, decimal
commas, durations, channel spellings and the event-log shape; required contract columns the
export lacks become `constant` entries marked "to check".

`check` runs one file through the real engine (scorecards.ingest.landing, scorecards.ingest.validation) on an
in-memory DuckDB, never the warehouse, and prints where every row would go.

No Dagster here: pipelines/cli.py only parses the arguments and calls `suggest_text`/`check_text`.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from scorecards.config.sources import (
    DEFAULT_MISSING,
    PRESETS_DIR,
    ColumnSpec,
    SourceMapping,
    preset_names,
)
from scorecards.contract.datasets import CHANNELS, DATASETS, FALSE_WORDS, SURVEY_TYPES, TRUE_WORDS

SAMPLE_ROWS = 5000
MAX_DISTINCT = 400  # distinct values per column tried against the timestamp formats
DELIMITERS = (",", ";", "\t", "|")
TO_CHECK = "to check"

# --------------------------------------------------------------------------------------------
# Reading the file


@dataclass
class FileProfile:
    path: Path
    encoding: str  # "utf-8", "utf-8-sig" (with BOM) or "cp1252"
    delimiter: str
    header: list[str]  # as written
    ignored: dict[int, str]  # column index -> why it is ignored (empty or duplicate name)
    rows: list[list[str]]  # sampled data rows
    rows_total: int  # data rows in the file (parsed), or the sample size for Parquet
    notes: list[str] = field(default_factory=list)

    @property
    def encoding_label(self) -> str:
        return {
            "utf-8-sig": "UTF-8 with BOM",
            "utf-8": "UTF-8",
            "cp1252": "cp1252 (Windows-1252)",
        }.get(self.encoding, self.encoding)

    @property
    def columns(self) -> list[str]:
        """The usable source columns: header names that are neither empty nor repeated."""
        return [h for i, h in enumerate(self.header) if i not in self.ignored]

    def values(self, name: str) -> list[str]:
        i = self.header.index(name)
        return [r[i].strip() if i < len(r) else "" for r in self.rows]


def detect_encoding(raw: bytes) -> str:
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A sample cut in the middle of a multi-byte character is still UTF-8.
        if exc.start < len(raw) - 4:
            return "cp1252"
    return "utf-8"


def detect_delimiter(text: str) -> str:
    """The candidate that splits the header into most fields and the next lines into as many."""
    lines = [ln for ln in text.splitlines()[:30] if ln.strip()]
    if not lines:
        return ","
    best, best_key = ",", (-1, -1)
    for d in DELIMITERS:
        rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=d))
        n = len(rows[0])
        if n < 2:
            continue
        consistent = sum(1 for r in rows[1:] if len(r) == n)
        key = (consistent, n)
        if key > best_key:
            best, best_key = d, key
    return best


def _ignored_columns(header: list[str]) -> dict[int, str]:
    ignored: dict[int, str] = {}
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        key = name.strip().lower()
        if not key:
            ignored[i] = f"column {i + 1} has an empty name: ignored"
        elif key in seen:
            ignored[i] = (
                f"column {i + 1} {name.strip()!r} repeats the name of column {seen[key] + 1}: "
                "ignored"
            )
        else:
            seen[key] = i
    return ignored


def read_profile(path: Path, sample_rows: int = SAMPLE_ROWS) -> FileProfile:
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        import duckdb

        con = duckdb.connect()
        rel = con.execute(
            "SELECT * FROM read_parquet(?) LIMIT ?", [str(path), sample_rows]
        ).fetchall()
        header = [d[0] for d in con.description]
        total = con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()[0]
        rows = [["" if v is None else str(v) for v in r] for r in rel]
        return FileProfile(path, "parquet", "", header, _ignored_columns(header), rows, total)
    raw = path.read_bytes()
    if not raw.strip():
        raise ValueError(f"{path}: empty file")
    encoding = detect_encoding(raw[: 4 << 20])
    text = raw.decode(encoding, errors="replace")
    delimiter = detect_delimiter(text[:200_000])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, [])
    rows: list[list[str]] = []
    total = 0
    for r in reader:
        if not any(c.strip() for c in r):
            continue
        total += 1
        if len(rows) < sample_rows:
            rows.append(r)
    prof = FileProfile(path, encoding, delimiter, header, _ignored_columns(header), rows, total)
    widths = Counter(len(r) for r in rows)
    odd = sum(n for w, n in widths.items() if w != len(header))
    if odd:
        prof.notes.append(
            f"{odd} sampled row(s) have a different number of fields than the header "
            f"({len(header)}): the engine will refuse the file until that is fixed"
        )
    return prof


# --------------------------------------------------------------------------------------------
# Recognising values


def _norm(name: str) -> str:
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


def _present(values: list[str]) -> list[str]:
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
    vals = sorted(set(_present(values)))[:MAX_DISTINCT]
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
    vals = _present(values)
    return bool(vals) and all(any(_parses(v, f) for f in TIME_FORMATS) for v in vals)


def is_date_only(values: list[str]) -> bool:
    vals = _present(values)
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
    vals = _present(values)
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
    vals = _present(values)
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


def guess_value_map(values: list[str], known: dict[str, str], allowed: tuple[str, ...]):
    """(spellings -> contract value, spellings nobody knows) for the distinct values seen."""
    mapped: dict[str, str] = {}
    unknown: list[str] = []
    for v in sorted(set(_present(values)), key=str.lower):
        if v.lower() in allowed:
            continue
        key = _norm(v)
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


# --------------------------------------------------------------------------------------------
# Column roles from names

# contract column -> normalized source names, best first. Exact matches score highest; a
# synonym of 5+ letters contained in a longer name scores lower.
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "tickets": {
        "ticket_id": (
            "ticketid",
            "ticketnumber",
            "ticketnr",
            "ticketnummer",
            "issuekey",
            "incidentid",
            "incidentnumber",
            "caseid",
            "casenumber",
            "callid",
            "vorgangsnummer",
            "number",
            "id",
            "key",
            "nummer",
            "nr",
            "ticket",
            "incident",
            "vorgang",
            "anrufid",
        ),
        "customer_id": (
            "customerid",
            "requesterid",
            "contactid",
            "callerid",
            "kundennummer",
            "kundenid",
            "kundennr",
            "accountid",
            "reporterid",
            "clientid",
            "customer",
            "requester",
            "contact",
            "caller",
            "kunde",
            "reporter",
            "account",
            "requesteremail",
            "customeremail",
            "callerphone",
            "openedfor",
            "anrufer",
            "email",
            "client",
        ),
        "team": (
            "team",
            "group",
            "assignmentgroup",
            "queue",
            "gruppe",
            "teamname",
            "groupname",
            "assignedgroup",
            "supportgroup",
            "abteilung",
            "department",
            "skillgroup",
            "skill",
            "warteschlange",
            "bereich",
            "site",
        ),
        "agent_id": (
            "agentid",
            "assigneeid",
            "agent",
            "assignee",
            "assignedto",
            "bearbeiter",
            "sachbearbeiter",
            "mitarbeiter",
            "owner",
            "agentname",
            "operator",
            "resolvedby",
            "handler",
        ),
        "channel": (
            "channel",
            "via",
            "contacttype",
            "kanal",
            "source",
            "medium",
            "origin",
            "eingangskanal",
            "ticketchannel",
            "contactchannel",
            "calltype",
        ),
        "created_at": (
            "createdat",
            "created",
            "openedat",
            "opened",
            "erstelltam",
            "erstellt",
            "syscreatedon",
            "createddate",
            "createdtime",
            "creationdate",
            "datecreated",
            "createdon",
            "opendate",
            "openeddate",
            "submitdate",
            "calldate",
            "callstart",
            "starttime",
            "start",
            "anrufbeginn",
            "eingangsdatum",
            "eingang",
            "datum",
            "date",
            "timestamp",
            "receivedat",
            "received",
        ),
        "first_response_at": (
            "firstreplyat",
            "firstresponseat",
            "firstreplytime",
            "firstresponsetime",
            "firstresponse",
            "firstreply",
            "firstrespondedat",
            "ersteantwortam",
            "ersteantwort",
            "respondedat",
            "answeredat",
            "antwortam",
            "firstresponsedate",
            "initialresponsetime",
            "initialresponseat",
            "initialresponse",
        ),
        "resolved_at": (
            "solvedat",
            "resolvedat",
            "resolved",
            "solved",
            "resolvedtime",
            "resolveddate",
            "resolutiondate",
            "resolutiontime",
            "geloestam",
            "geloest",
            "erledigtam",
            "closedat",
            "closed",
            "closeddate",
            "closedtime",
            "geschlossenam",
            "callend",
            "endtime",
            "end",
        ),
        "handle_time_s": (
            "handletimes",
            "handletime",
            "handlingtime",
            "handlingtimes",
            "aht",
            "bearbeitungszeit",
            "talktime",
            "talktimes",
            "timespent",
            "worktime",
            "callduration",
            "calldurations",
            "gespraechsdauer",
            "duration",
            "dauer",
            "timetrackedseconds",
        ),
        "wait_time_s": (
            "waittimes",
            "waittime",
            "waitingtime",
            "queuetime",
            "holdtime",
            "wartezeit",
            "speedofanswer",
            "asa",
            "timetoanswer",
            "ringtime",
            "answerwaittime",
        ),
        "contacts": (
            "contacts",
            "contactcount",
            "customerinteractions",
            "interactions",
            "kontakte",
            "anzahlkontakte",
            "numberofcontacts",
            "replies",
            "replycount",
            "touches",
            "requesterreplies",
            "agentreplies",
            "calls",
            "anrufe",
        ),
        "reopened": (
            "reopened",
            "reopens",
            "reopencount",
            "reopen",
            "wiedereroeffnet",
            "wiedergeoeffnet",
            "reopenedcount",
            "timesreopened",
        ),
        "escalated": (
            "escalated",
            "escalation",
            "escalations",
            "eskaliert",
            "eskalation",
            "escalationcount",
            "isescalated",
            "majorincident",
        ),
    },
    "surveys": {
        "response_id": (
            "responseid",
            "surveyresponseid",
            "surveyid",
            "antwortid",
            "ratingid",
            "feedbackid",
            "id",
            "responsenumber",
            "nr",
        ),
        "ticket_id": (
            "ticketid",
            "ticketnumber",
            "ticket",
            "caseid",
            "incident",
            "callid",
            "issuekey",
            "ticketnr",
            "vorgangsnummer",
        ),
        "customer_id": (
            "customerid",
            "requesterid",
            "contactid",
            "respondentid",
            "kundennummer",
            "kundenid",
            "customer",
            "respondent",
            "contact",
            "email",
            "customeremail",
            "kunde",
            "callerid",
            "accountid",
        ),
        "team": ("team", "group", "assignmentgroup", "queue", "gruppe", "department", "abteilung"),
        "survey_type": (
            "surveytype",
            "type",
            "umfragetyp",
            "survey",
            "kpi",
            "metric",
            "questiontype",
        ),
        "score": (
            "score",
            "rating",
            "nps",
            "csat",
            "ces",
            "npsscore",
            "csatscore",
            "bewertung",
            "note",
            "wert",
            "satisfaction",
            "zufriedenheit",
            "answer",
            "value",
            "likelihoodtorecommend",
            "recommend",
        ),
        "submitted_at": (
            "submittedat",
            "submitted",
            "respondedat",
            "responsedate",
            "completedat",
            "eingereichtam",
            "beantwortetam",
            "createdat",
            "created",
            "datum",
            "date",
            "timestamp",
            "surveydate",
            "ratedat",
            "updatedat",
        ),
        "comment": (
            "comment",
            "comments",
            "kommentar",
            "feedback",
            "verbatim",
            "freetext",
            "text",
            "reason",
            "anmerkung",
            "bemerkung",
        ),
    },
    "customers": {
        "customer_id": (
            "customerid",
            "kundennummer",
            "kundenid",
            "accountid",
            "clientid",
            "id",
            "customer",
            "kunde",
            "account",
        ),
        "customer_since": (
            "customersince",
            "kundeseit",
            "signupdate",
            "signedupat",
            "createdat",
            "created",
            "since",
            "startdate",
            "joined",
            "joinedat",
            "contractstart",
            "vertragsbeginn",
            "tenure",
            "tenuremonths",
            "laufzeit",
        ),
        "churned_at": (
            "churnedat",
            "churndate",
            "churned",
            "cancelledat",
            "canceledat",
            "cancelled",
            "kuendigungsdatum",
            "gekuendigtam",
            "enddate",
            "contractend",
            "vertragsende",
            "churn",
            "exited",
            "churnflag",
        ),
        "segment": (
            "segment",
            "plan",
            "tier",
            "tarif",
            "kundensegment",
            "customersegment",
            "contract",
            "vertrag",
            "kundengruppe",
        ),
    },
}

# Columns that identify or place a row: never `absent` (scorecards/ingest/mapping.py refuses it).
KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "tickets": ("ticket_id", "team", "created_at"),
    "surveys": ("response_id", "survey_type", "score", "submitted_at"),
    "customers": ("customer_id", "customer_since"),
}
# What a `constant` for a missing required column would say, when one is proposed or hinted.
FALLBACK_CONSTANTS: dict[str, Any] = {
    "customer_id": "unknown",
    "channel": "email",
    "contacts": 1,
    "reopened": False,
    "escalated": False,
}

# Names of the column that orders an event log's rows, best first.
ORDER_NAMES = (
    "sysupdatedon",
    "updatedat",
    "updated",
    "lastupdated",
    "lastmodified",
    "modifiedat",
    "modified",
    "geaendertam",
    "aktualisiertam",
    "changedat",
    "eventtime",
    "eventat",
    "timestamp",
    "sysmodcount",
    "version",
)


def name_score(name: str, synonyms: tuple[str, ...]) -> float:
    n = _norm(name)
    if not n:
        return 0.0
    if n in synonyms:
        return 10.0 - synonyms.index(n) / len(synonyms)
    best = 0.0
    for i, s in enumerate(synonyms):
        if len(s) >= 5 and s in n:
            best = max(best, 5.0 - i / len(synonyms) - (len(n) - len(s)) / 100)
    return best


def guess_roles(
    dataset: str, names: list[str], not_timestamps: set[str] | frozenset[str] = frozenset()
) -> dict[str, str]:
    """contract column -> source column, each source column used once, best scores first.
    `not_timestamps`: source columns whose values are no timestamps, kept from timestamp roles."""
    scores = []
    cols = list(SYNONYMS[dataset])
    types = {c.name: c.type for c in DATASETS[dataset].columns}
    for c in cols:
        for n in names:
            if types[c] == "timestamp" and n in not_timestamps:
                continue
            s = name_score(n, SYNONYMS[dataset][c])
            if s > 0:
                scores.append((s, -cols.index(c), c, n))
    roles: dict[str, str] = {}
    used: set[str] = set()
    for _s, _, c, n in sorted(scores, reverse=True):
        if c not in roles and n not in used:
            roles[c] = n
            used.add(n)
    return roles


def guess_dataset(names: list[str], path: Path | None = None) -> str:
    if path is not None:
        for part in reversed(path.parts[:-1]):
            if part in DATASETS:
                return part
    best, best_score = "tickets", -1.0
    for ds in DATASETS:
        roles = guess_roles(ds, names)
        req = DATASETS[ds].required
        score = sum(2 if c in req else 1 for c in roles) / (len(DATASETS[ds].columns) + len(req))
        # A score column is what makes a survey export.
        if (
            ds == "surveys"
            and "score" in roles
            and name_score(roles["score"], ("score", "rating", "nps", "csat", "ces")) >= 5
        ):
            score += 0.3
        if score > best_score:
            best, best_score = ds, score
    return best


def matching_presets(dataset: str, names: list[str]) -> list[tuple[str, int, int]]:
    """(preset, source columns found in the header, source columns it names), best first."""
    have = {_norm(n) for n in names}
    out = []
    for name in preset_names():
        try:
            data = yaml.safe_load((PRESETS_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if not isinstance(data, dict) or data.get("dataset") != dataset:
            continue
        wanted: set[str] = set()
        for spec in ((data.get("mapping") or {}).get("columns") or {}).values():
            if isinstance(spec, str):
                wanted.add(_norm(spec))
            elif isinstance(spec, dict):
                for k in ("from", "date", "time"):
                    if isinstance(spec.get(k), str):
                        wanted.add(_norm(spec[k]))
        wanted.discard("")
        if not wanted:
            continue
        found = len(wanted & have)
        if found >= 3 and found / len(wanted) >= 0.6:
            out.append((name, found, len(wanted)))
    return sorted(out, key=lambda t: (-t[1] / t[2], t[0]))


# --------------------------------------------------------------------------------------------
# suggest


@dataclass
class Suggestion:
    dataset: str
    profile: FileProfile
    mapping: dict[str, Any]  # a SourceMapping as plain data (what the YAML says)
    comments: dict[str, str]  # contract column -> comment on its line
    notes: list[str]  # said at the top, one per line
    presets: list[tuple[str, int, int]]

    def yaml(self) -> str:
        return render_yaml(self)


def _q(value: Any) -> str:
    """A YAML scalar or flow collection: plain when that reads back the same, else JSON."""
    plain = r"[A-Za-z_][A-Za-z0-9_ ()./-]*"
    if isinstance(value, str) and re.fullmatch(plain, value) and value == value.strip():
        try:
            if yaml.safe_load(value) == value:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value, ensure_ascii=False)


def _timestamp_notes(
    guesses: dict[str, tuple[TimestampGuess | None, dict[str, Any]]],
    notes: list[str],
    comments: dict[str, str],
) -> None:
    """Formats into the specs and what to say about them. A column whose day/month order is
    ambiguous takes the order of another column of the same file that shows it."""
    settled = {
        f
        for g, _ in guesses.values()
        if g
        for f in g.formats
        if f not in {a for a, _ in g.ambiguous}
    }
    for col, (g, spec) in guesses.items():
        if g is None:
            comments[col] = f"{TO_CHECK}: no timestamp format recognised in the values"
            notes.append(f"{col}: {comments[col]}")
            continue
        said = []
        for chosen, swapped in g.ambiguous:
            if swapped in settled and chosen not in settled:
                g.formats[g.formats.index(chosen)] = swapped
                said.append(f"day/month order taken from another column ({swapped!r})")
            elif chosen in settled:
                said.append(f"day/month order taken from another column ({chosen!r})")
            else:
                said.append(
                    f"AMBIGUOUS day/month order: every sampled value has day and month <= 12, "
                    f"so {chosen!r} and {swapped!r} both read them; {chosen!r} is a guess, "
                    f"{TO_CHECK}"
                )
        if g.formats != ["iso"]:
            spec["formats"] = g.formats
        if g.unreadable:
            said.append(
                f"{TO_CHECK}: no format reads e.g. {', '.join(map(repr, g.unreadable[:3]))}"
            )
        if g.mixed_both_ways:
            said.append(
                f"values read differently by two formats, e.g. {g.mixed_both_ways[0]!r}: the "
                "engine refuses such a column"
            )
        if len(g.formats) > 1:
            said.append(f"mixed formats in one column: {', '.join(g.formats)}")
        if said:
            comments[col] = "; ".join(said + ([comments[col]] if col in comments else []))
            notes.extend(f"{col}: {s}" for s in said if "taken from" not in s)


def suggest(path: Path, dataset: str | None = None) -> Suggestion:
    prof = read_profile(Path(path))
    names = prof.columns
    notes: list[str] = list(prof.notes)
    notes += [why for why in prof.ignored.values()]
    ds = dataset or guess_dataset(names, Path(path))
    if dataset is None:
        notes.append(f"dataset guessed from the header: {ds} (give --dataset to choose)")
    contract = DATASETS[ds]
    types = {c.name: c.type for c in contract.columns}
    vals = {n: prof.values(n) for n in names}

    # Columns with values none of which reads as a timestamp cannot take a timestamp role
    # ("First reply time in minutes" is a duration, not "first reply at"; a clock time alone
    # is not a timestamp either, only joined to a date column below).
    not_ts = {
        n
        for n in names
        if _present(vals[n])
        and guess_timestamp(vals[n], allow_epoch=False) is None
        and not (re.fullmatch(r"\d{9,13}", (_present(vals[n]) or [""])[0]))
    }
    # Durations and clock times look alike; a name that says duration decides.
    roles = guess_roles(ds, names, not_ts)
    duration_cols = {roles.get("handle_time_s"), roles.get("wait_time_s")} - {None}

    # Date and time in separate columns: a clock-time column joins a date column.
    pairs: dict[str, tuple[str, str]] = {}  # time column -> (date, time)
    date_cols = [n for n in names if n not in duration_cols and is_date_only(vals[n])]
    for i, n in enumerate(names):
        if n in duration_cols or not is_time_of_day(vals[n]):
            continue
        stem = re.sub(r"(time|zeit|uhrzeit|hour)", "", _norm(n))
        partner = next(
            (d for d in date_cols if re.sub(r"(date|datum|day|tag)", "", _norm(d)) == stem), None
        )
        if partner is None and i > 0 and names[i - 1] in date_cols:
            partner = names[i - 1]
        if partner:
            pairs[n] = (partner, n)
    if pairs:
        # Name roles again with each pair as one column named after both halves.
        paired = {d for d, _ in pairs.values()} | set(pairs)
        virtual = [n for n in names if n not in paired] + [f"{d} {t}" for d, t in pairs.values()]
        roles = guess_roles(ds, virtual, not_ts)
        by_virtual = {f"{d} {t}": (d, t) for d, t in pairs.values()}
    else:
        by_virtual = {}

    mapping: dict[str, Any] = {}
    comments: dict[str, str] = {}
    columns: dict[str, Any] = {}
    numbers: dict[str, str] = {}
    ts_guesses: dict[str, tuple[TimestampGuess | None, dict[str, Any]]] = {}
    for c in contract.column_names:
        src = roles.get(c)
        if src is None:
            continue
        spec: dict[str, Any]
        if src in by_virtual:
            d, t = by_virtual[src]
            spec = {"date": d, "time": t}
            v = [f"{a} {b}".strip() for a, b in zip(vals[d], vals[t], strict=True)]
            notes.append(f"{c}: date and time come from two columns, {d!r} and {t!r}")
        else:
            spec = {"from": src}
            v = vals[src]
        typ = types[c]
        if typ == "timestamp":
            ts_guesses[c] = (guess_timestamp(v), spec)
        elif typ == "boolean":
            b = guess_boolean(v)
            counted = re.search(r"count|anzahl|reopens|escalations|times", _norm(src))
            if b == {} and counted and all(x.isdigit() for x in _present(v)):
                b = {"true_if": "nonzero"}  # a count that happens to be 0/1 in the sample
            if b is None:
                distinct = sorted(set(_present(v)))[:8]
                comments[c] = f"{TO_CHECK}: values {distinct} are not recognisably true/false"
            else:
                spec.update(b)
                if "true_if" in b:
                    comments[c] = "a count: true when not zero"
        elif typ in ("number", "integer"):
            g = guess_number(v)
            if g.duration:
                spec["unit"] = "duration"
                comments[c] = "HH:MM:SS durations"
            elif g.decimal == ",":
                spec["decimal"] = ","
                if g.thousands:
                    spec["thousands"] = g.thousands
                numbers["decimal"] = ","
                comments[c] = "decimal comma"
            elif g.thousands:
                spec["thousands"] = g.thousands
            elif not g.numeric and _present(v):
                comments[c] = f"{TO_CHECK}: not numbers, e.g. {_present(v)[0]!r}"
            low = _norm(src)
            if g.numeric and not g.duration and c.endswith("_s"):
                if low.endswith("ms") or "millis" in low:
                    spec["unit"] = "milliseconds"
                elif low.endswith(("min", "mins", "minutes", "minuten")):
                    spec["unit"] = "minutes"
                elif low.endswith(("h", "hours", "stunden")) and not low.endswith("th"):
                    spec["unit"] = "hours"
        elif c == "channel":
            known, unknown = guess_value_map(v, CHANNEL_SPELLINGS, CHANNELS)
            if known:
                spec["values"] = known
            if unknown:
                comments[c] = (
                    f"{TO_CHECK}: {', '.join(map(repr, unknown[:6]))}"
                    f" (contract: {', '.join(CHANNELS)}); unknown ones go into values"
                )
        elif c == "survey_type":
            known, unknown = guess_value_map(v, SURVEY_TYPE_SPELLINGS, SURVEY_TYPES)
            if known:
                spec["values"] = known
            if unknown:
                comments[c] = f"{TO_CHECK}: no survey type known for {unknown[:6]}"
        toks = missing_tokens_in(v)
        if toks:
            shown = ", ".join(f"{t!r} x{n}" for t, n in toks.most_common(4))
            extra = sorted({t for t in toks if t.lower() not in DEFAULT_MISSING})
            if extra:
                spec["missing"] = extra
            note = f"missing-value tokens {shown} read as empty"
            comments[c] = f"{comments[c]}; {note}" if c in comments else note
        columns[c] = spec
    _timestamp_notes(ts_guesses, notes, comments)
    # A spec that only names its source is written as a plain string.
    columns = {c: s["from"] if list(s) == ["from"] else s for c, s in columns.items()}

    # Customers: tenure in months and a churn flag instead of dates.
    if ds == "customers":
        since = roles.get("customer_since")
        if since and "tenure" in _norm(since) or since and "laufzeit" in _norm(since):
            columns["customer_since"] = {"from": since, "months_before": date.today().isoformat()}
            comments["customer_since"] = (
                f"{TO_CHECK}: tenure in months counted back from the export's date"
            )
        churn = roles.get("churned_at")
        if churn and guess_timestamp(vals.get(churn, [])) is None:
            b = guess_boolean(vals.get(churn, []))
            if b is not None:
                columns["churned_at"] = {"from": churn, "when_true": date.today().isoformat(), **b}
                comments["churned_at"] = f"{TO_CHECK}: a churn flag; this date when true"

    # Surveys: the type from the score's name or range when no column says it.
    if ds == "surveys" and "survey_type" not in columns and "score" in roles:
        name = _norm(roles["score"])
        nums = [int(x) for x in _present(vals.get(roles["score"], [])) if x.isdigit()]
        kind = next((t for t in SURVEY_TYPES if t in name), None)
        if kind is None and nums:
            lo, hi = min(nums), max(nums)
            kind = "nps" if hi > 7 or lo == 0 else "ces" if hi > 5 else "csat"
        if kind:
            columns["survey_type"] = {"constant": kind}
            comments["survey_type"] = f"{TO_CHECK}: every row a {kind} response (from the score)"
    if ds == "surveys" and "score" in roles and roles["score"] in vals:
        empty = sum(1 for x in vals[roles["score"]] if not _present([x]))
        if empty:
            mapping["filters"] = [{"missing": "score", "label": "no score: not a response"}]
            notes.append(
                f"{empty} sampled row(s) have no score: filtered as not a response (counted, "
                "not quarantined)"
            )

    # Required columns the export lacks: a constant to check where a value is needed to place
    # the row, else `absent` (the KPIs that need the column say "no data" instead of a made-up
    # figure), or a hole to fill by hand.
    call_log = any(k in _norm(n) for n in names for k in ("call", "anruf"))
    constants: dict[str, Any] = {"team": "service", "survey_type": "csat"}
    if call_log:
        constants["channel"] = "phone"
    can_be_absent = "absent" in ColumnSpec.model_fields
    for c in contract.required:
        if c in columns or any(_norm(n) == _norm(c) for n in names):
            continue  # mapped, or present under its contract name
        if c in constants or (c not in KEY_COLUMNS[ds] and not can_be_absent):
            value = constants.get(c, FALLBACK_CONSTANTS.get(c, "unknown"))
            columns[c] = {"constant": value}
            comments[c] = f"{TO_CHECK}: the export has no {c} column; every row gets this value"
        elif c not in KEY_COLUMNS[ds]:
            columns[c] = {"absent": True}
            comments[c] = (
                f"{TO_CHECK}: the export has no {c} column, so the KPIs that need it say "
                f"'no data'; if every row has the same value, write {{constant: "
                f"{_q(FALLBACK_CONSTANTS.get(c, 'unknown'))}}} instead"
            )
        else:
            notes.append(f"required column {c} not found: map it by hand before `sources check`")

    # Event log: the id column repeats with differing values.
    id_col = contract.id_column
    id_src = columns.get(id_col)
    if isinstance(id_src, str) and prof.rows:
        idx = prof.header.index(id_src)
        by_id: dict[str, set[tuple[str, ...]]] = {}
        for r in prof.rows:
            by_id.setdefault(r[idx].strip() if idx < len(r) else "", set()).add(tuple(r))
        changed = [k for k, rs in by_id.items() if k and len(rs) > 1]
        if changed:
            order = next(
                (n for o in ORDER_NAMES for n in names if _norm(n) == o),
                None,
            )
            ev: dict[str, Any] = {}
            if order:
                g = guess_timestamp(vals[order], allow_epoch=True)
                fmts = g.formats if g and g.formats != ["iso"] else []
                ev["order_by"] = [{"column": order, "formats": fmts}] if fmts else [order]
            mapping["event_log"] = ev
            notes.append(
                f"event log: {len(changed)} {id_col} value(s) repeat with differing values "
                f"(e.g. {changed[0]!r}); the latest row per {id_col} wins, earlier rows are "
                "counted as superseded"
                + (
                    f", ordered by {order!r}"
                    if order
                    else "; no update-time column found, so "
                    "the order is file and row order (" + TO_CHECK + ")"
                )
            )

    if numbers:
        mapping["numbers"] = numbers
    if prof.encoding != "parquet":
        csv_opts: dict[str, str] = {"delimiter": prof.delimiter}
        if prof.encoding == "cp1252":
            csv_opts["encoding"] = "cp1252"
        mapping["csv"] = csv_opts
    mapping["columns"] = columns
    unused = [
        n
        for n in names
        if n not in _sources_of(columns)
        and n
        not in {
            o["column"] if isinstance(o, dict) else o
            for o in (mapping.get("event_log") or {}).get("order_by", [])
        }
    ]
    if unused:
        notes.append(f"not used: {', '.join(unused)}")
    presets = [p for d in DATASETS for p in matching_presets(d, names)]
    return Suggestion(ds, prof, mapping, comments, notes, presets)


def _sources_of(columns: dict[str, Any]) -> set[str]:
    out = set()
    for spec in columns.values():
        if isinstance(spec, str):
            out.add(spec)
        else:
            out.update(spec[k] for k in ("from", "date", "time") if k in spec)
    return out


def _flow(d: dict[str, Any]) -> str:
    """A one-line YAML mapping; keys quoted where YAML would read them otherwise (`true`)."""
    return "{" + ", ".join(f"{_q(k)}: {_q(v)}" for k, v in d.items()) + "}"


def _preset_dataset(name: str) -> str:
    try:
        return str(yaml.safe_load((PRESETS_DIR / f"{name}.yaml").read_text())["dataset"])
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return "?"


def render_yaml(s: Suggestion) -> str:
    p = s.profile
    lines = [
        f"# Drafted by `sources suggest` from {p.path.name} ({p.rows_total} data rows, "
        f"{min(p.rows_total, len(p.rows))} sampled).",
    ]
    if p.encoding != "parquet":
        delim = {"\t": "tab"}.get(p.delimiter, repr(p.delimiter))
        lines.append(f"# encoding: {p.encoding_label}; delimiter: {delim}")
    lines.append(f"# header: {' | '.join(p.header)}")
    for name, found, total in s.presets:
        lines.append(
            f"# The header matches preset {name!r} ({found} of its {total} columns, "
            f"{_preset_dataset(name)}): `preset: {name}` may replace most of this; keys below "
            "override it."
        )
    for n in s.notes:
        lines.append(f"# NOTE {n}")
    lines.append(
        "# Check every line marked 'to check', then run `python -m pipelines.cli sources check`."
    )
    lines.append(f"{s.dataset}:")
    ind = "  "
    m = s.mapping
    lines.append(f'{ind}# match: "{s.dataset}/*.csv"   # which landing files use this mapping')
    for key in ("csv", "numbers"):
        if key in m:
            lines.append(f"{ind}{key}: {_flow(m[key])}")
    if "event_log" in m:
        ev = m["event_log"]
        if ev.get("order_by"):
            lines.append(f"{ind}event_log:")
            lines.append(f"{ind}  order_by: {_q(ev['order_by'])}")
        else:
            lines.append(f"{ind}event_log: {{}}   # {TO_CHECK}: ordered by file and row")
    if "filters" in m:
        lines.append(f"{ind}filters:")
        for f in m["filters"]:
            lines.append(f"{ind}  - {_flow(f)}")
    lines.append(f"{ind}columns:")
    contract_order = list(DATASETS[s.dataset].column_names)
    for c in sorted(m["columns"], key=contract_order.index):
        spec = m["columns"][c]
        comment = s.comments.get(c)
        tail = f"   # {comment}" if comment else ""
        if isinstance(spec, str):
            lines.append(f"{ind}  {c}: {_q(spec)}{tail}")
        else:
            lines.append(f"{ind}  {c}: {_flow(spec)}{tail}")
    if not m["columns"]:
        lines[-1] += " {}"
    return "\n".join(lines) + "\n"


def suggest_text(path: Path, dataset: str | None = None) -> str:
    return suggest(path, dataset).yaml()


def validate_suggestion(text: str) -> SourceMapping:
    """The drafted YAML read back as the mapping it describes (raises when it is not valid)."""
    data = yaml.safe_load(text)
    ((ds, m),) = data.items()
    return SourceMapping.model_validate(m)


# --------------------------------------------------------------------------------------------
# check


@dataclass
class CheckResult:
    dataset: str
    ok: bool
    text: str
    months: Any = None  # DataFrame: period, rows_read, accepted, quarantined, ... (None: failed)
    reasons: Any = None  # DataFrame: reason, rows
    filters: Any = None  # DataFrame: filter, rows
    kpis: dict[str, str] = field(default_factory=dict)  # kpi id -> "ok ..." or "no data: ..."


def _relative(path: Path, landing_dir: Path) -> str | None:
    try:
        return path.resolve().relative_to(landing_dir.resolve()).as_posix()
    except ValueError:
        return None


def choose_mapping(sources: Any, dataset: str, relative: str | None) -> tuple[SourceMapping, str]:
    """The mapping config/sources.yaml gives the file, and how it was chosen."""
    mappings = sources.for_dataset(dataset)
    if relative is not None:
        for i, m in enumerate(mappings):
            if m.matches(relative, dataset):
                return m, f"{dataset}[{i}] (match {m.match or dataset + '/*'!r} selects {relative})"
        return mappings[0], (
            f"{dataset}[0]: NO {dataset} mapping selects {relative}; the pipeline would refuse "
            "this file until a `match` pattern covers it"
        )
    return mappings[0], f"{dataset}[0] (the file is outside the landing folder)"


def _describe_source(mapping: SourceMapping, col: str, header_lower: set[str]) -> str | None:
    spec = mapping.column(col)
    if getattr(spec, "absent", False):
        return None
    if spec.constant is not None:
        return f"constant {spec.constant!r}"
    if spec.sql is not None:
        return f"sql: {spec.sql}"
    if spec.date is not None:
        src = f"{spec.date!r} + {spec.time!r}"
    elif spec.from_ is not None:
        src = repr(spec.from_)
    elif col.lower() in header_lower:
        src = f"{col!r} (own name)"
    else:
        return None
    extras = []
    if spec.formats:
        extras.append(f"formats {spec.formats}")
    if spec.values:
        extras.append(f"{len(spec.values)} value spellings")
    if spec.true or spec.false:
        extras.append(f"true {spec.true} / false {spec.false}")
    if spec.true_if:
        extras.append(f"true if {spec.true_if}")
    if spec.unit:
        extras.append(f"unit {spec.unit}")
    if spec.months_before:
        extras.append(f"months before {spec.months_before}")
    if spec.when_true:
        extras.append(f"{spec.when_true} when true")
    return src + (f"  [{', '.join(extras)}]" if extras else "")


def _kpi_inputs() -> dict[str, tuple[str, ...]]:
    from scorecards.contract import kpi_catalog

    return dict(getattr(kpi_catalog, "INPUTS", {}))


def check(
    path: Path, dataset: str | None = None, settings: Any = None, examples: int = 5
) -> CheckResult:
    """One file through its mapping and the validation, on an in-memory DuckDB."""
    import duckdb

    from scorecards.config.settings import load_settings
    from scorecards.ingest import landing, validation
    from scorecards.ingest.load import load_and_validate

    path = Path(path)
    settings = settings or load_settings()
    out: list[str] = []
    say = out.append
    rel = _relative(path, settings.landing_dir)
    if dataset is None:
        for ds in DATASETS:
            if rel and (
                rel.startswith(f"{ds}/")
                or any(m.match and m.matches(rel, ds) for m in settings.sources.for_dataset(ds))
            ):
                dataset = ds
                break
    if dataset is None:
        prof = read_profile(path, sample_rows=10)
        dataset = guess_dataset(prof.columns, path)
        say(f"dataset:    {dataset} (guessed from the header; --dataset chooses)")
    else:
        say(f"dataset:    {dataset}")
    contract = DATASETS[dataset]
    mapping, how = choose_mapping(settings.sources, dataset, rel)
    say(f"file:       {path}")
    say(
        f"mapping:    config/sources.yaml {how}"
        + (f", preset {mapping.preset}" if mapping.preset else "")
    )

    if path.suffix.lower() != ".parquet":
        enc = (
            landing.detect_encoding(path)
            if mapping.csv.encoding == "auto"
            else mapping.csv.encoding
        )
        with path.open("rb") as fh:
            bom = fh.read(3) == codecs.BOM_UTF8
        with path.open(encoding="utf-8-sig" if enc == "utf-8" else enc, newline="") as fh:
            first = fh.readline().rstrip("\r\n")
        delim = (
            landing.detect_delimiter(first)
            if mapping.csv.delimiter == "auto"
            else mapping.csv.delimiter
        )
        header = next(csv.reader([first], delimiter=delim, quotechar=mapping.csv.quote), [])
        say(
            f"encoding:   {enc}{' with BOM' if bom else ''}"
            f"{' (detected)' if mapping.csv.encoding == 'auto' else ' (set)'}"
        )
        say(
            f"delimiter:  {'tab' if delim == chr(9) else repr(delim)}"
            f"{' (detected)' if mapping.csv.delimiter == 'auto' else ' (set)'}"
        )
    else:
        header = [
            r[0]
            for r in duckdb.connect()
            .execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)])
            .fetchall()
        ]
    say(f"header:     {' | '.join(header)}")
    lower = {h.strip().lower() for h in header}
    say("\nmapped columns (contract <- source):")
    for c in contract.columns:
        src = _describe_source(mapping, c.name, lower)
        flag = "required" if c.required else "optional"
        if src is None:
            absent = getattr(mapping.column(c.name), "absent", False)
            src = "absent: not in the export (no data)" if absent else "not mapped (no data)"
        say(f"  {c.name:<18} <- {src}   [{c.type}, {flag}]")

    con = duckdb.connect()
    warnings: list[str] = []
    lf = landing.LandingFile(path, rel or path.name, mapping)
    # The engine logs its warnings too; here they are printed once, below.
    logging.getLogger(landing.__name__).setLevel(logging.ERROR)
    try:
        accepted_tickets = None
        if dataset == "surveys":
            accepted_tickets = _tickets_for_surveys(con, settings, say)
        res = load_and_validate(
            con, settings, contract, accepted_tickets, warnings=warnings, files=[lf]
        )
    except landing.InputFileError as exc:
        say(f"\nTHE PIPELINE WOULD REFUSE THIS FILE:\n  {exc}")
        return CheckResult(dataset, False, "\n".join(out) + "\n")
    for w in warnings:
        say(f"warning:    {w}")

    staged = res.staged
    say(f"\nfirst {examples} rows as parsed:")
    vcols = [f"{c}__v" for c in contract.column_names]
    rows = con.execute(
        f"SELECT _row, status, reason, {', '.join(vcols)} FROM {staged} ORDER BY _row LIMIT {examples}"
    ).fetchall()
    for r in rows:
        vals = ", ".join(
            f"{c}={_show(v)}"
            for c, v in zip(contract.column_names, r[3:], strict=True)
            if v is not None
        )
        say(f"  row {r[0]} {r[1]}{f' ({r[2]})' if r[2] else ''}: {vals}")

    months = con.execute(
        f"SELECT period, {validation.status_counts_sql()} FROM {staged} GROUP BY period ORDER BY period"
    ).df()
    say("\nper month (rows read = accepted + quarantined + duplicates + superseded + filtered):")
    say("  " + months.to_string(index=False).replace("\n", "\n  "))
    tot = months.drop(columns="period").sum()
    say(
        f"  total: {tot.rows_read} read = {tot.accepted} accepted + {tot.quarantined} quarantined + "
        f"{tot.duplicates_dropped} duplicates + {tot.superseded} superseded + {tot.filtered} filtered"
    )
    reasons = con.execute(
        f"""
        SELECT trim(r) AS reason, count(*) AS rows
        FROM (SELECT unnest(string_split(reason, '; ')) AS r FROM {staged} WHERE status = 'quarantined')
        GROUP BY ALL ORDER BY rows DESC, reason
        """
    ).df()
    if len(reasons):
        say("\nquarantined, by reason (a row may have several):")
        for reason, n in reasons.itertuples(index=False):
            say(f"  {n:>7}  {reason}")
            for ex in _examples(con, staged, contract.column_names, reason):
                say(f"           e.g. {ex}")
    filters = (
        res.filter_counts.groupby("filter", as_index=False)["rows"].sum()
        if len(res.filter_counts)
        else res.filter_counts
    )
    if len(filters):
        say("\nfiltered (not data of this dataset, counted, not quarantined):")
        for flt, n in filters.itertuples(index=False):
            say(f"  {n:>7}  {flt}")

    kpis = _kpi_report(con, res, mapping, contract, lower)
    say("\nKPIs this file can feed:")
    for k, line in kpis.items():
        say(f"  {k:<26} {line}")
    if dataset == "tickets":
        say("  (survey and churn KPIs come from the surveys and customers files)")
    return CheckResult(dataset, True, "\n".join(out) + "\n", months, reasons, filters, kpis)


def _show(v: Any) -> str:
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return repr(v) if isinstance(v, str) else str(v)


def _examples(
    con: Any, staged: str, columns: tuple[str, ...], reason: str, n: int = 3
) -> list[str]:
    from scorecards.warehouse.sql import sql_ident

    col = next((c for c in columns if reason.endswith(f": {c}") or reason.endswith(f" {c}")), None)
    shown = [col] if col else [c for c in columns if c in reason][:2]
    cols = ", ".join(sql_ident(c) for c in shown) or "NULL"
    rows = con.execute(
        f"SELECT _file, _row, {cols} FROM {staged} WHERE status = 'quarantined' "
        f"AND list_contains(list_transform(string_split(reason, '; '), x -> trim(x)), ?) "
        f"ORDER BY _row LIMIT {n}",
        [reason],
    ).fetchall()
    out = []
    for r in rows:
        vals = ", ".join(f"{c}={r[2 + i]!r}" for i, c in enumerate(shown))
        out.append(f"row {r[1]}" + (f": {vals}" if vals else ""))
    return out


def _kpi_report(
    con: Any, res: Any, mapping: SourceMapping, contract: Any, lower: set[str]
) -> dict[str, str]:
    """Per KPI of this dataset: what it would be computed from, or why it has no data."""
    from scorecards.warehouse.sql import sql_ident

    ds = contract.name
    out: dict[str, str] = {}
    n_acc = con.execute(f"SELECT count(*) FROM {res.accepted}").fetchone()[0]
    for kpi, inputs in _kpi_inputs().items():
        if ds not in inputs:
            continue
        cols = [i for i in inputs if i in contract.column_names]
        if kpi == "churn_rate":
            cols.append("churned_at")
        problems, notes = [], []
        if n_acc == 0:
            problems.append(f"no accepted {ds} rows")
        for c in cols:
            spec = mapping.column(c)
            if _describe_source(mapping, c, lower) is None:
                problems.append(f"{c} not mapped")
            elif spec.constant is not None:
                notes.append(f"{c} is the constant {spec.constant!r}")
            elif (
                n_acc
                and not con.execute(f"SELECT count({sql_ident(c)}) FROM {res.accepted}").fetchone()[
                    0
                ]
            ):
                problems.append(f"{c} empty in every accepted row")
        for t in (i for i in inputs if i in SURVEY_TYPES):
            if (
                n_acc
                and not con.execute(
                    f"SELECT count(*) FROM {res.accepted} WHERE survey_type = ?", [t]
                ).fetchone()[0]
            ):
                problems.append(f"no {t} responses in this file")
        others = [i for i in inputs if i in DATASETS and i != ds] + (
            ["churn scores"] if "churn_scores" in inputs else []
        )
        if problems:
            out[kpi] = "no data: " + "; ".join(problems)
        else:
            line = "yes" + (f" (from {', '.join(cols)})" if cols else "")
            if notes:
                line += f" — but {'; '.join(notes)}: check it means something"
            if others:
                line += f"; also needs {', '.join(others)}"
            out[kpi] = line
    return out


def _tickets_for_surveys(con: Any, settings: Any, say: Any) -> str:
    """Accepted tickets to check survey responses against: the landing tickets when there are
    any (their team fills a response's empty team), else an empty table."""
    from scorecards.contract.datasets import TICKETS
    from scorecards.ingest import landing
    from scorecards.ingest.load import load_and_validate

    try:
        files = landing.resolve_files(settings.landing_dir, TICKETS, settings.sources)
    except landing.InputFileError as exc:
        say(f"note:       landing tickets not usable ({exc}); responses checked without them")
        files = []
    if files:
        res = load_and_validate(con, settings, TICKETS, files=files)
        n = con.execute(f"SELECT count(*) FROM {res.accepted}").fetchone()[0]
        say(
            f"tickets:    responses checked against {n} accepted tickets of {len(files)} landing file(s)"
        )
        return res.accepted
    con.execute(
        "CREATE OR REPLACE TEMP TABLE no_tickets (ticket_id VARCHAR, team VARCHAR, created_at TIMESTAMPTZ)"
    )
    say(
        "tickets:    none in the landing folder: a response without a team of its own is quarantined"
    )
    return "no_tickets"


def check_text(path: Path, dataset: str | None = None) -> str:
    return check(path, dataset).text


def main_sources(action: str, file: str, dataset: str | None = None) -> int:
    """What `python -m pipelines.cli sources suggest|check` runs; returns the exit code."""
    import sys

    path = Path(file)
    if not path.is_file():
        print(f"{path}: no such file", file=sys.stderr)
        return 2
    if action == "suggest":
        try:
            print(suggest_text(path, dataset), end="")
        except (OSError, ValueError) as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            return 1
        return 0
    try:
        result = check(path, dataset)
    except (OSError, ValueError) as exc:  # e.g. an invalid config/sources.yaml
        print(f"{exc}", file=sys.stderr)
        return 1
    print(result.text, end="")
    return 0 if result.ok else 1


__all__ = [
    "CheckResult",
    "FileProfile",
    "check",
    "check_text",
    "main_sources",
    "Suggestion",
    "read_profile",
    "suggest",
    "suggest_text",
    "validate_suggestion",
]
