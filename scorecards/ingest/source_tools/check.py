"""`sources check`: one file through the real engine (scorecards.ingest.landing,
scorecards.ingest.validation) on an in-memory DuckDB, never the warehouse, printing where every
row would go and which KPIs the file can feed."""

from __future__ import annotations

import codecs
import csv
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from scorecards.config.settings import Settings, load_settings
from scorecards.config.sources import SourceMapping, SourcesFile
from scorecards.contract.datasets import DATASETS, SURVEY_TYPES, TICKETS, Dataset
from scorecards.contract.kpi_catalog import INPUTS
from scorecards.ingest import landing
from scorecards.ingest.load import load_and_validate
from scorecards.ingest.source_tools.profile import read_profile
from scorecards.ingest.source_tools.roles import guess_dataset
from scorecards.ingest.validation import ValidationResult, status_counts_sql
from scorecards.warehouse.sql import sql_ident

Say = Callable[[str], None]


@dataclass
class CheckResult:
    dataset: str
    ok: bool
    text: str
    months: Any = None  # DataFrame: period, rows_read, accepted, quarantined, ... (None: failed)
    reasons: Any = None  # DataFrame: reason, rows
    filters: Any = None  # DataFrame: filter, rows
    kpis: dict[str, str] = field(default_factory=dict)  # kpi id -> "ok ..." or "no data: ..."


def check(
    path: Path, dataset: str | None = None, settings: Settings | None = None, examples: int = 5
) -> CheckResult:
    """One file through its mapping and the validation, on an in-memory DuckDB."""
    path = Path(path)
    settings = settings or load_settings()
    out: list[str] = []
    say = out.append
    rel = _relative(path, settings.landing_dir)
    dataset = _which_dataset(path, rel, dataset, settings, say)
    contract = DATASETS[dataset]
    mapping, how = choose_mapping(settings.sources, dataset, rel)
    say(f"file:       {path}")
    say(
        f"mapping:    config/sources.yaml {how}"
        + (f", preset {mapping.preset}" if mapping.preset else "")
    )
    header = _header(path, mapping, say)
    say(f"header:     {' | '.join(header)}")
    lower = {h.strip().lower() for h in header}
    _say_mapped_columns(contract, mapping, lower, say)

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

    _say_parsed_rows(con, res.staged, contract, examples, say)
    months = _months(con, res.staged, say)
    reasons = _reasons(con, res.staged, contract, say)
    filters = _filters(res, say)
    kpis = _kpi_report(con, res, mapping, contract, lower)
    say("\nKPIs this file can feed:")
    for k, line in kpis.items():
        say(f"  {k:<26} {line}")
    if dataset == "tickets":
        say("  (survey and churn KPIs come from the surveys and customers files)")
    return CheckResult(dataset, True, "\n".join(out) + "\n", months, reasons, filters, kpis)


def check_text(path: Path, dataset: str | None = None) -> str:
    return check(path, dataset).text


def choose_mapping(
    sources: SourcesFile, dataset: str, relative: str | None
) -> tuple[SourceMapping, str]:
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


def _relative(path: Path, landing_dir: Path) -> str | None:
    try:
        return path.resolve().relative_to(landing_dir.resolve()).as_posix()
    except ValueError:
        return None


def _which_dataset(
    path: Path, rel: str | None, dataset: str | None, settings: Settings, say: Say
) -> str:
    """The dataset asked for, else the one whose landing folder or mapping selects the file,
    else the one its header looks like."""
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
    return dataset


def _header(path: Path, mapping: SourceMapping, say: Say) -> list[str]:
    """The file's header as the engine reads it; for a CSV file, also the encoding and the
    delimiter it reads it with."""
    if path.suffix.lower() == ".parquet":
        return [
            r[0]
            for r in duckdb.connect()
            .execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)])
            .fetchall()
        ]
    enc = landing.detect_encoding(path) if mapping.csv.encoding == "auto" else mapping.csv.encoding
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
    return header


def _say_mapped_columns(
    contract: Dataset, mapping: SourceMapping, lower: set[str], say: Say
) -> None:
    say("\nmapped columns (contract <- source):")
    for c in contract.columns:
        src = _describe_source(mapping, c.name, lower)
        flag = "required" if c.required else "optional"
        if src is None:
            absent = getattr(mapping.column(c.name), "absent", False)
            src = "absent: not in the export (no data)" if absent else "not mapped (no data)"
        say(f"  {c.name:<18} <- {src}   [{c.type}, {flag}]")


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


def _say_parsed_rows(
    con: duckdb.DuckDBPyConnection, staged: str, contract: Dataset, examples: int, say: Say
) -> None:
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


def _months(con: duckdb.DuckDBPyConnection, staged: str, say: Say) -> pd.DataFrame:
    """Where the rows of each month went, and in total."""
    months = con.execute(
        f"SELECT period, {status_counts_sql()} FROM {staged} GROUP BY period ORDER BY period"
    ).df()
    say("\nper month (rows read = accepted + quarantined + duplicates + superseded + filtered):")
    say("  " + months.to_string(index=False).replace("\n", "\n  "))
    tot = months.drop(columns="period").sum()
    say(
        f"  total: {tot.rows_read} read = {tot.accepted} accepted + {tot.quarantined} quarantined + "
        f"{tot.duplicates_dropped} duplicates + {tot.superseded} superseded + {tot.filtered} filtered"
    )
    return months


def _reasons(
    con: duckdb.DuckDBPyConnection, staged: str, contract: Dataset, say: Say
) -> pd.DataFrame:
    """The quarantined rows by reason, each with a few examples."""
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
    return reasons


def _filters(res: ValidationResult, say: Say) -> pd.DataFrame:
    """The rows the mapping's filters took out, by filter over all months."""
    filters = (
        res.filter_counts.groupby("filter", as_index=False)["rows"].sum()
        if len(res.filter_counts)
        else res.filter_counts
    )
    if len(filters):
        say("\nfiltered (not data of this dataset, counted, not quarantined):")
        for flt, n in filters.itertuples(index=False):
            say(f"  {n:>7}  {flt}")
    return filters


def _show(v: Any) -> str:
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return repr(v) if isinstance(v, str) else str(v)


def _examples(
    con: duckdb.DuckDBPyConnection, staged: str, columns: tuple[str, ...], reason: str, n: int = 3
) -> list[str]:
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
    con: duckdb.DuckDBPyConnection,
    res: ValidationResult,
    mapping: SourceMapping,
    contract: Dataset,
    lower: set[str],
) -> dict[str, str]:
    """Per KPI of this dataset: what it would be computed from, or why it has no data."""
    ds = contract.name
    out: dict[str, str] = {}
    n_acc = con.execute(f"SELECT count(*) FROM {res.accepted}").fetchone()[0]
    for kpi, inputs in INPUTS.items():
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


def _tickets_for_surveys(con: duckdb.DuckDBPyConnection, settings: Settings, say: Say) -> str:
    """Accepted tickets to check survey responses against: the landing tickets when there are
    any (their team fills a response's empty team), else an empty table."""
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
