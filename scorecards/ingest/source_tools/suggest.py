"""`sources suggest`: a draft mapping for one export, from its header and a sample of its values.

Column roles come from the names (English, German, vendor spellings), timestamp formats from the
values (saying when day and month cannot be told apart); then missing-value tokens, booleans,
decimal commas, durations, channel spellings and the event-log shape. Required contract columns
the export lacks become `constant` or `absent` entries marked "to check".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from scorecards.config.sources import DEFAULT_MISSING, ColumnSpec, SourceMapping
from scorecards.contract.datasets import CHANNELS, DATASETS, SURVEY_TYPES, Dataset
from scorecards.ingest.mapping import KEY_COLUMNS
from scorecards.ingest.source_tools.draft_yaml import TO_CHECK, render_yaml, yaml_scalar
from scorecards.ingest.source_tools.profile import FileProfile, read_profile
from scorecards.ingest.source_tools.roles import guess_dataset, guess_roles, matching_presets
from scorecards.ingest.source_tools.synonyms import ORDER_NAMES
from scorecards.ingest.source_tools.values import (
    CHANNEL_SPELLINGS,
    SURVEY_TYPE_SPELLINGS,
    TimestampGuess,
    guess_boolean,
    guess_number,
    guess_timestamp,
    guess_value_map,
    is_date_only,
    is_time_of_day,
    missing_tokens_in,
    norm_name,
    present_values,
)

# What a `constant` for a missing required column would say, when one is proposed or hinted.
FALLBACK_CONSTANTS: dict[str, Any] = {
    "customer_id": "unknown",
    "channel": "email",
    "contacts": 1,
    "reopened": False,
    "escalated": False,
}

# A timestamp column's guess and the spec its formats go into.
TimestampGuesses = dict[str, tuple[TimestampGuess | None, dict[str, Any]]]


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


@dataclass
class _Draft:
    """The mapping while `suggest` builds it. The steps add to it in a fixed order, which is the
    order the notes and comments are said in."""

    dataset: str
    names: list[str]  # the usable source columns
    vals: dict[str, list[str]]  # source column -> its sampled values
    roles: dict[str, str]  # contract column -> source column, or "<date> <time>" of a pair
    notes: list[str]
    mapping: dict[str, Any] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    columns: dict[str, Any] = field(default_factory=dict)
    numbers: dict[str, str] = field(default_factory=dict)


def suggest(path: Path, dataset: str | None = None) -> Suggestion:
    """A draft mapping for the export at `path`; without `dataset`, guessed from the header."""
    prof = read_profile(Path(path))
    names = prof.columns
    notes: list[str] = list(prof.notes)
    notes += [why for why in prof.ignored.values()]
    ds = dataset or guess_dataset(names, Path(path))
    if dataset is None:
        notes.append(f"dataset guessed from the header: {ds} (give --dataset to choose)")
    contract = DATASETS[ds]
    vals = {n: prof.values(n) for n in names}
    roles, by_virtual = _roles(ds, names, vals)
    draft = _Draft(ds, names, vals, roles, notes)
    ts_guesses = _draft_columns(draft, contract, by_virtual)
    _timestamp_notes(ts_guesses, draft.notes, draft.comments)
    # A spec that only names its source is written as a plain string.
    draft.columns = {c: s["from"] if list(s) == ["from"] else s for c, s in draft.columns.items()}
    if ds == "customers":
        _customer_dates(draft)
    if ds == "surveys":
        _survey_type_and_filter(draft)
    _missing_required(draft, contract)
    _event_log(draft, prof, contract.id_column)
    _finish(draft, prof)
    presets = [p for d in DATASETS for p in matching_presets(d, names)]
    return Suggestion(ds, prof, draft.mapping, draft.comments, draft.notes, presets)


def suggest_text(path: Path, dataset: str | None = None) -> str:
    return suggest(path, dataset).yaml()


def validate_suggestion(text: str) -> SourceMapping:
    """The drafted YAML read back as the mapping it describes (raises when it is not valid)."""
    data = yaml.safe_load(text)
    ((ds, m),) = data.items()
    return SourceMapping.model_validate(m)


# --------------------------------------------------------------------------------------------
# Roles


def _roles(
    ds: str, names: list[str], vals: dict[str, list[str]]
) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """Contract column -> source column, and the date/time pairs among the sources: a role may
    go to "<date> <time>", two columns read as one (mapped here to (date, time))."""
    not_ts = _not_timestamps(names, vals)
    # Durations and clock times look alike; a name that says duration decides.
    roles = guess_roles(ds, names, not_ts)
    duration_cols = {roles.get("handle_time_s"), roles.get("wait_time_s")} - {None}
    pairs = _date_time_pairs(names, vals, duration_cols)
    if not pairs:
        return roles, {}
    # Name roles again with each pair as one column named after both halves.
    paired = {d for d, _ in pairs.values()} | set(pairs)
    virtual = [n for n in names if n not in paired] + [f"{d} {t}" for d, t in pairs.values()]
    return guess_roles(ds, virtual, not_ts), {f"{d} {t}": (d, t) for d, t in pairs.values()}


def _not_timestamps(names: list[str], vals: dict[str, list[str]]) -> set[str]:
    """Columns with values none of which reads as a timestamp cannot take a timestamp role
    ("First reply time in minutes" is a duration, not "first reply at"; a clock time alone
    is not a timestamp either, only joined to a date column)."""
    return {
        n
        for n in names
        if present_values(vals[n])
        and guess_timestamp(vals[n], allow_epoch=False) is None
        and not (re.fullmatch(r"\d{9,13}", (present_values(vals[n]) or [""])[0]))
    }


def _date_time_pairs(
    names: list[str], vals: dict[str, list[str]], duration_cols: set[Any]
) -> dict[str, tuple[str, str]]:
    """Date and time in separate columns: time column -> (date, time). A clock-time column joins
    the date column of the same stem, else the date column just before it."""
    pairs: dict[str, tuple[str, str]] = {}
    date_cols = [n for n in names if n not in duration_cols and is_date_only(vals[n])]
    for i, n in enumerate(names):
        if n in duration_cols or not is_time_of_day(vals[n]):
            continue
        stem = re.sub(r"(time|zeit|uhrzeit|hour)", "", norm_name(n))
        partner = next(
            (d for d in date_cols if re.sub(r"(date|datum|day|tag)", "", norm_name(d)) == stem),
            None,
        )
        if partner is None and i > 0 and names[i - 1] in date_cols:
            partner = names[i - 1]
        if partner:
            pairs[n] = (partner, n)
    return pairs


# --------------------------------------------------------------------------------------------
# One spec per mapped contract column


def _draft_columns(
    draft: _Draft, contract: Dataset, by_virtual: dict[str, tuple[str, str]]
) -> TimestampGuesses:
    """A spec for every contract column with a source. Timestamp formats are only guessed here:
    `_timestamp_notes` settles them for all columns together."""
    types = {c.name: c.type for c in contract.columns}
    ts_guesses: TimestampGuesses = {}
    for c in contract.column_names:
        src = draft.roles.get(c)
        if src is None:
            continue
        spec: dict[str, Any]
        if src in by_virtual:
            d, t = by_virtual[src]
            spec = {"date": d, "time": t}
            v = [f"{a} {b}".strip() for a, b in zip(draft.vals[d], draft.vals[t], strict=True)]
            draft.notes.append(f"{c}: date and time come from two columns, {d!r} and {t!r}")
        else:
            spec = {"from": src}
            v = draft.vals[src]
        typ = types[c]
        if typ == "timestamp":
            ts_guesses[c] = (guess_timestamp(v), spec)
        elif typ == "boolean":
            _boolean_spec(c, src, v, spec, draft.comments)
        elif typ in ("number", "integer"):
            _number_spec(c, src, v, spec, draft.comments, draft.numbers)
        elif c in ("channel", "survey_type"):
            _spellings_spec(c, v, spec, draft.comments)
        _missing_tokens_spec(c, v, spec, draft.comments)
        draft.columns[c] = spec
    return ts_guesses


def _boolean_spec(
    c: str, src: str, v: list[str], spec: dict[str, Any], comments: dict[str, str]
) -> None:
    b = guess_boolean(v)
    counted = re.search(r"count|anzahl|reopens|escalations|times", norm_name(src))
    if b == {} and counted and all(x.isdigit() for x in present_values(v)):
        b = {"true_if": "nonzero"}  # a count that happens to be 0/1 in the sample
    if b is None:
        distinct = sorted(set(present_values(v)))[:8]
        comments[c] = f"{TO_CHECK}: values {distinct} are not recognisably true/false"
    else:
        spec.update(b)
        if "true_if" in b:
            comments[c] = "a count: true when not zero"


def _number_spec(
    c: str,
    src: str,
    v: list[str],
    spec: dict[str, Any],
    comments: dict[str, str],
    numbers: dict[str, str],
) -> None:
    """Decimal comma, thousands separator, HH:MM:SS durations; and for a `_s` column, the unit
    its source's name says (milliseconds, minutes, hours)."""
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
    elif not g.numeric and present_values(v):
        comments[c] = f"{TO_CHECK}: not numbers, e.g. {present_values(v)[0]!r}"
    low = norm_name(src)
    if g.numeric and not g.duration and c.endswith("_s"):
        if low.endswith("ms") or "millis" in low:
            spec["unit"] = "milliseconds"
        elif low.endswith(("min", "mins", "minutes", "minuten")):
            spec["unit"] = "minutes"
        elif low.endswith(("h", "hours", "stunden")) and not low.endswith("th"):
            spec["unit"] = "hours"


def _spellings_spec(c: str, v: list[str], spec: dict[str, Any], comments: dict[str, str]) -> None:
    """The export's spellings of channels or survey types mapped onto the contract's."""
    if c == "channel":
        known, unknown = guess_value_map(v, CHANNEL_SPELLINGS, CHANNELS)
        if known:
            spec["values"] = known
        if unknown:
            comments[c] = (
                f"{TO_CHECK}: {', '.join(map(repr, unknown[:6]))}"
                f" (contract: {', '.join(CHANNELS)}); unknown ones go into values"
            )
        return
    known, unknown = guess_value_map(v, SURVEY_TYPE_SPELLINGS, SURVEY_TYPES)
    if known:
        spec["values"] = known
    if unknown:
        comments[c] = f"{TO_CHECK}: no survey type known for {unknown[:6]}"


def _missing_tokens_spec(
    c: str, v: list[str], spec: dict[str, Any], comments: dict[str, str]
) -> None:
    toks = missing_tokens_in(v)
    if toks:
        shown = ", ".join(f"{t!r} x{n}" for t, n in toks.most_common(4))
        extra = sorted({t for t in toks if t.lower() not in DEFAULT_MISSING})
        if extra:
            spec["missing"] = extra
        note = f"missing-value tokens {shown} read as empty"
        comments[c] = f"{comments[c]}; {note}" if c in comments else note


def _timestamp_notes(
    guesses: TimestampGuesses,
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


# --------------------------------------------------------------------------------------------
# What one dataset's exports write instead of a contract column


def _customer_dates(draft: _Draft) -> None:
    """Customers: tenure in months and a churn flag instead of dates."""
    since = draft.roles.get("customer_since")
    if since and "tenure" in norm_name(since) or since and "laufzeit" in norm_name(since):
        draft.columns["customer_since"] = {"from": since, "months_before": date.today().isoformat()}
        draft.comments["customer_since"] = (
            f"{TO_CHECK}: tenure in months counted back from the export's date"
        )
    churn = draft.roles.get("churned_at")
    if churn and guess_timestamp(draft.vals.get(churn, [])) is None:
        b = guess_boolean(draft.vals.get(churn, []))
        if b is not None:
            draft.columns["churned_at"] = {
                "from": churn,
                "when_true": date.today().isoformat(),
                **b,
            }
            draft.comments["churned_at"] = f"{TO_CHECK}: a churn flag; this date when true"


def _survey_type_and_filter(draft: _Draft) -> None:
    """Surveys: the type from the score's name or range when no column says it; rows without a
    score filtered as not a response."""
    roles, columns, vals = draft.roles, draft.columns, draft.vals
    if "survey_type" not in columns and "score" in roles:
        name = norm_name(roles["score"])
        nums = [int(x) for x in present_values(vals.get(roles["score"], [])) if x.isdigit()]
        kind = next((t for t in SURVEY_TYPES if t in name), None)
        if kind is None and nums:
            lo, hi = min(nums), max(nums)
            kind = "nps" if hi > 7 or lo == 0 else "ces" if hi > 5 else "csat"
        if kind:
            columns["survey_type"] = {"constant": kind}
            draft.comments["survey_type"] = (
                f"{TO_CHECK}: every row a {kind} response (from the score)"
            )
    if "score" in roles and roles["score"] in vals:
        empty = sum(1 for x in vals[roles["score"]] if not present_values([x]))
        if empty:
            draft.mapping["filters"] = [{"missing": "score", "label": "no score: not a response"}]
            draft.notes.append(
                f"{empty} sampled row(s) have no score: filtered as not a response (counted, "
                "not quarantined)"
            )


def _missing_required(draft: _Draft, contract: Dataset) -> None:
    """Required columns the export lacks: a constant to check where a value is needed to place
    the row, else `absent` (the KPIs that need the column say "no data" instead of a made-up
    figure), or a hole to fill by hand."""
    names, columns, comments = draft.names, draft.columns, draft.comments
    call_log = any(k in norm_name(n) for n in names for k in ("call", "anruf"))
    constants: dict[str, Any] = {"team": "service", "survey_type": "csat"}
    if call_log:
        constants["channel"] = "phone"
    can_be_absent = "absent" in ColumnSpec.model_fields
    keys = KEY_COLUMNS[draft.dataset]
    for c in contract.required:
        if c in columns or any(norm_name(n) == norm_name(c) for n in names):
            continue  # mapped, or present under its contract name
        if c in constants or (c not in keys and not can_be_absent):
            value = constants.get(c, FALLBACK_CONSTANTS.get(c, "unknown"))
            columns[c] = {"constant": value}
            comments[c] = f"{TO_CHECK}: the export has no {c} column; every row gets this value"
        elif c not in keys:
            columns[c] = {"absent": True}
            comments[c] = (
                f"{TO_CHECK}: the export has no {c} column, so the KPIs that need it say "
                f"'no data'; if every row has the same value, write {{constant: "
                f"{yaml_scalar(FALLBACK_CONSTANTS.get(c, 'unknown'))}}} instead"
            )
        else:
            draft.notes.append(
                f"required column {c} not found: map it by hand before `sources check`"
            )


def _event_log(draft: _Draft, prof: FileProfile, id_col: str) -> None:
    """An event log: the id column repeats with differing values; the latest row per id wins,
    in the order of an update-time column when there is one."""
    id_src = draft.columns.get(id_col)
    if not (isinstance(id_src, str) and prof.rows):
        return
    idx = prof.header.index(id_src)
    by_id: dict[str, set[tuple[str, ...]]] = {}
    for r in prof.rows:
        by_id.setdefault(r[idx].strip() if idx < len(r) else "", set()).add(tuple(r))
    changed = [k for k, rs in by_id.items() if k and len(rs) > 1]
    if not changed:
        return
    order = next((n for o in ORDER_NAMES for n in draft.names if norm_name(n) == o), None)
    ev: dict[str, Any] = {}
    if order:
        g = guess_timestamp(draft.vals[order], allow_epoch=True)
        fmts = g.formats if g and g.formats != ["iso"] else []
        ev["order_by"] = [{"column": order, "formats": fmts}] if fmts else [order]
    draft.mapping["event_log"] = ev
    draft.notes.append(
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


def _finish(draft: _Draft, prof: FileProfile) -> None:
    """How to read the file, the columns, and a note naming the source columns left unused."""
    mapping = draft.mapping
    if draft.numbers:
        mapping["numbers"] = draft.numbers
    if prof.encoding != "parquet":
        csv_opts: dict[str, str] = {"delimiter": prof.delimiter}
        if prof.encoding == "cp1252":
            csv_opts["encoding"] = "cp1252"
        mapping["csv"] = csv_opts
    mapping["columns"] = draft.columns
    used = _sources_of(draft.columns) | {
        o["column"] if isinstance(o, dict) else o
        for o in (mapping.get("event_log") or {}).get("order_by", [])
    }
    unused = [n for n in draft.names if n not in used]
    if unused:
        draft.notes.append(f"not used: {', '.join(unused)}")


def _sources_of(columns: dict[str, Any]) -> set[str]:
    out = set()
    for spec in columns.values():
        if isinstance(spec, str):
            out.add(spec)
        else:
            out.update(spec[k] for k in ("from", "date", "time") if k in spec)
    return out
