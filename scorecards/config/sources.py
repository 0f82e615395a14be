"""The source mapping language of config/sources.yaml: how a real export becomes contract rows.

A dataset (tickets, surveys, customers) has one mapping or a list of them, each for the files
its `match` pattern selects, so exports of different shapes can land side by side. A mapping may
start from a preset (scorecards/presets/<name>.yaml) and override any key of it. Everything is
declarative except `sql` expressions and `sql` filters, which is why sources.yaml is trusted like
code (docs/sources.md).
"""

from __future__ import annotations

import fnmatch
from functools import cache
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from scorecards.core import package_files

PRESETS_DIR = package_files.PRESETS_DIR
DATASET_NAMES: tuple[str, ...] = ("tickets", "surveys", "customers")

# Tokens that mean "no value" in every export unless a mapping says otherwise; compared after
# trimming, case-insensitively. The empty string always means no value.
DEFAULT_MISSING: tuple[str, ...] = ("?", "n/a", "na", "-", "null", "none", "#n/a", "nan")
# Named timestamp formats usable in `formats`, besides strptime patterns ("%d.%m.%Y %H:%M").
NAMED_FORMATS: tuple[str, ...] = ("iso", "epoch_s", "epoch_ms")
UNITS = Literal["seconds", "milliseconds", "minutes", "hours", "duration"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ColumnSpec(_Strict):
    """How one contract column is read. In YAML a plain string is short for {from: "..."}."""

    # Where the raw value comes from: exactly one of these, or none for "the column of the
    # contract's own name".
    from_: str | None = Field(default=None, alias="from")  # a source column
    date: str | None = None  # with `time`: a date column and a time column, joined by a space
    time: str | None = None
    constant: str | int | float | bool | None = None  # the same value on every row
    sql: str | None = None  # a DuckDB expression over the source columns ("Quoted Names")
    # Derived values: `months_before`: the value (a whole number of months, e.g. tenure) counted
    # back from this ISO date; `when_true`: this ISO date when the value is true, else empty
    # (a churn flag as of an export date).
    months_before: str | None = None
    when_true: str | None = None
    # The export does not have this column at all: it stays empty and the KPIs it feeds say
    # "no data" (not allowed for the columns that identify or place a row).
    absent: bool = False

    # Cleaning, in this order: trim, missing tokens -> empty, `values` spellings (null allowed).
    missing: list[str] = Field(default_factory=list)  # extra tokens for this column only
    values: dict[str, str | None] = Field(default_factory=dict)

    # Timestamps: formats tried in order (strptime patterns or a named format); a value that
    # two formats read differently is an error naming the column. Naive values are local time
    # in `timezone` (default: the mapping's, else teams.yaml's).
    formats: list[str] = Field(default_factory=list)
    timezone: str | None = None

    # Booleans: spellings of true and false (case-insensitive), or `true_if: nonzero` for counts.
    true: list[str] = Field(default_factory=list)
    false: list[str] = Field(default_factory=list)
    true_if: Literal["nonzero"] | None = None

    # Numbers: decimal mark and thousands separator (default: the mapping's `numbers`), and the
    # unit a duration is written in (contract durations are seconds; `duration` is HH:MM:SS).
    decimal: Literal[".", ","] | None = None
    thousands: Literal[".", ",", " ", "'", ""] | None = None
    unit: UNITS | None = None

    @model_validator(mode="before")
    @classmethod
    def _yaml_booleans(cls, v: Any) -> Any:
        # YAML 1.1 reads an unquoted `true:` key as the boolean True.
        if isinstance(v, dict):
            return {({True: "true", False: "false"}.get(k, k) if isinstance(k, bool) else k): x
                    for k, x in v.items()}  # fmt: skip
        return v

    @model_validator(mode="after")
    def _one_source(self) -> ColumnSpec:
        given = [
            k
            for k, v in (
                ("from", self.from_),
                ("date", self.date),
                ("sql", self.sql),
                ("constant", self.constant),
                ("absent", True if self.absent else None),
            )
            if v is not None
        ]
        if len(given) > 1:
            raise ValueError(
                f"give only one of from, date/time, sql, constant, absent (got {given})"
            )
        if (self.date is None) != (self.time is None):
            raise ValueError("date and time go together: name both columns")
        if (self.months_before or self.when_true) and self.from_ is None:
            raise ValueError("months_before and when_true read the column named by `from`")
        if self.true_if and (self.true or self.false):
            raise ValueError("give either true/false spellings or true_if, not both")
        return self

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        return _check_zone(v)

    @field_validator("formats")
    @classmethod
    def _formats(cls, v: list[str]) -> list[str]:
        for f in v:
            if f not in NAMED_FORMATS and "%" not in f:
                raise ValueError(
                    f"format {f!r} is neither a strptime pattern (e.g. '%d.%m.%Y %H:%M') nor one "
                    f"of {', '.join(NAMED_FORMATS)}"
                )
        return v


class CsvOptions(_Strict):
    # auto: detected from the header line among , ; tab |
    delimiter: str = "auto"
    # auto: UTF-8 (with or without BOM) when the file decodes as UTF-8, else cp1252
    encoding: Literal["auto", "utf-8", "cp1252", "latin-1", "utf-16"] = "auto"
    quote: str = '"'


class NumberOptions(_Strict):
    decimal: Literal[".", ","] = "."
    thousands: Literal[".", ",", " ", "'", ""] = ""


class OrderKey(_Strict):
    column: str  # a source column
    formats: list[str] = Field(default_factory=list)  # as for timestamps; empty: ISO or number


class EventLog(_Strict):
    """One row per state change: the latest row per key wins, earlier ones are superseded."""

    key: str | None = None  # contract column; default the dataset's id column
    order_by: list[OrderKey] = Field(default_factory=list)  # latest last; ties: file, row order

    @field_validator("order_by", mode="before")
    @classmethod
    def _strings(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [v]
        return [{"column": x} if isinstance(x, str) else x for x in v or []]


class RowFilter(_Strict):
    """Rows that are not data of this dataset (e.g. unanswered calls in a survey mapping).

    Filtered rows are counted per file and month as `filtered`, never quarantined.
    """

    missing: str | None = None  # contract column that is empty after cleaning
    column: str | None = None  # contract column (cleaned value) or source column (raw value)
    in_: list[str] | None = Field(default=None, alias="in")  # case-insensitive
    not_in: list[str] | None = None
    sql: str | None = None  # a DuckDB condition over the source columns
    label: str | None = None  # shown in the counts; default: the rule itself

    @model_validator(mode="after")
    def _one_rule(self) -> RowFilter:
        n = sum(
            x is not None
            for x in (self.missing, self.sql, self.in_ if self.column else None)
            + ((self.not_in if self.column else None),)
        )
        if n != 1:
            raise ValueError(
                "a filter is one of {missing: col}, {column, in}, {column, not_in}, {sql}"
            )
        return self

    def describe(self) -> str:
        if self.label:
            return self.label
        if self.missing:
            return f"no {self.missing}"
        if self.sql:
            return f"sql: {self.sql}"
        if self.in_ is not None:
            return f"{self.column} in {self.in_}"
        return f"{self.column} not in {self.not_in}"


class SourceMapping(_Strict):
    """One export shape: which files, which preset, and how each contract column is read."""

    match: str | None = None  # glob under landing/, default "<dataset>/*"
    preset: str | None = None
    columns: dict[str, ColumnSpec] = Field(default_factory=dict)
    # Short forms kept from the first version of this file: spellings per contract column.
    values: dict[str, dict[str, str | None]] = Field(default_factory=dict)
    missing: list[str] = Field(default_factory=list)  # extra tokens for every column
    default_missing: bool = True  # false: only "" and `missing` mean no value
    timestamp_formats: list[str] = Field(default_factory=list)  # default for timestamp columns
    timezone: str | None = None  # naive timestamps; default teams.yaml's
    numbers: NumberOptions = Field(default_factory=NumberOptions)
    csv: CsvOptions = Field(default_factory=CsvOptions)
    event_log: EventLog | None = None
    filters: list[RowFilter] = Field(default_factory=list)

    @field_validator("columns", mode="before")
    @classmethod
    def _short_columns(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            return v
        return {k: ({"from": s} if isinstance(s, str) else s) for k, s in v.items()}

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        return _check_zone(v)

    def column(self, name: str) -> ColumnSpec:
        """The spec of a contract column with the short forms folded in."""
        spec = self.columns.get(name) or ColumnSpec()
        extra = self.values.get(name)
        if extra:
            spec = spec.model_copy(update={"values": {**extra, **spec.values}})
        return spec

    def missing_tokens(self, name: str) -> list[str]:
        base = list(DEFAULT_MISSING) if self.default_missing else []
        return sorted(
            {t.strip().lower() for t in [*base, *self.missing, *self.column(name).missing]}
        )

    def matches(self, relative: str, dataset: str) -> bool:
        return fnmatch.fnmatchcase(relative, self.match or f"{dataset}/*")


def _check_zone(v: str | None) -> str | None:
    if v is None:
        return v
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {v!r}") from exc
    return v


class SourcesFile(_Strict):
    """config/sources.yaml: per dataset one mapping or a list of them (first match wins)."""

    tickets: list[SourceMapping] = Field(default_factory=lambda: [SourceMapping()])
    surveys: list[SourceMapping] = Field(default_factory=lambda: [SourceMapping()])
    customers: list[SourceMapping] = Field(default_factory=lambda: [SourceMapping()])

    @field_validator("tickets", "surveys", "customers", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        if v is None:
            return [{}]
        items = [v] if isinstance(v, dict) else v
        if not isinstance(items, list) or not items:
            return items
        return [apply_preset(i) if isinstance(i, dict) else i for i in items]

    @model_validator(mode="after")
    def _presets_fit(self) -> SourcesFile:
        for ds in DATASET_NAMES:
            for m in self.for_dataset(ds):
                if m.preset and load_preset(m.preset)["dataset"] != ds:
                    raise ValueError(
                        f"{ds}: preset {m.preset!r} maps {load_preset(m.preset)['dataset']}, "
                        f"not {ds}"
                    )
        return self

    def for_dataset(self, dataset: str) -> list[SourceMapping]:
        return getattr(self, dataset)


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


@cache
def load_preset(name: str) -> dict[str, Any]:
    """A preset file: {dataset, title, docs, mapping}; its mapping is a SourceMapping dict."""
    path = PRESETS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(preset_names()) or 'none'}")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if "mapping" not in data or "dataset" not in data:
        raise ValueError(f"preset file {path} needs `dataset` and `mapping`")
    return data


def apply_preset(user: dict[str, Any]) -> dict[str, Any]:
    """The user's mapping laid over its preset: per column entry, per `values` spelling and per
    key of the nested options; any other key replaces the preset's."""
    name = user.get("preset")
    if not name:
        return user
    base = dict(load_preset(name)["mapping"])
    out = dict(base)
    for key, val in user.items():
        if key == "columns" and isinstance(val, dict):
            out[key] = {**(base.get(key) or {}), **val}
        elif key == "values" and isinstance(val, dict):
            # spellings add to the preset's, per column
            merged = {c: dict(v) for c, v in (base.get(key) or {}).items()}
            for col, spellings in val.items():
                merged[col] = {**merged.get(col, {}), **(spellings or {})}
            out[key] = merged
        elif key in ("csv", "numbers", "event_log") and isinstance(val, dict):
            out[key] = {**(base.get(key) or {}), **val}
        else:
            out[key] = val
    return out
