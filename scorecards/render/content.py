"""What a scorecard says, as a hash: the delivery ledger's notion of "the same scorecard".

The PDF's bytes depend on more than its content: the font subsetter, WeasyPrint's and the font's
versions all change the embedded streams of an otherwise identical document. The ledger must not
take that for a corrected scorecard. So rendering writes, next to each `<team>.pdf`, a small
`<team>.json`:

    {"content_sha256": "...", "template_version": "...", "pdf_sha256": "...", "summary": {...}}

`content_sha256` hashes what the report shows (every data frame and value of the `TeamReport` or
`OverviewReport`: KPI rows, channels, times, ingest figures, quarantine reasons, at-risk
customers, notes, names, language, report date, and the rendering options) together with the
template version (the templates and stylesheet, and `TEMPLATE_REVISION` for wording in code).
`pdf_sha256` ties the record to the PDF it was written with: a record whose PDF has been
replaced since is not trusted (`read_record` returns None), so a PDF without a matching record
is compared by its bytes, as before.

`summary` is what the scorecard's e-mail says (scorecards/report/summary.py, versioned JSON),
built by the same job from the same report: delivery reads it (`read_summary`) instead of
building every report again. Unlike the hash it is read whatever the PDF's bytes: a PDF
replaced by hand is still the team's scorecard of the month. A record without one (rendered
before summaries were written) cannot be sent: the month's scorecards are rendered again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import pandas as pd

from scorecards.core import package_files
from scorecards.report.summary import MailSummary, summary_from_dict, summary_to_dict

TEMPLATE_DIR = package_files.TEMPLATES_DIR
# Bump when the wording or layout made in code (scorecards/render/: the page view models, labels,
# charts) changes in a way recipients should get again (the templates themselves are hashed, see
# template_version).
TEMPLATE_REVISION = "1"
RECORD_SUFFIX = ".json"


@cache
def template_version(template_dir: Path = TEMPLATE_DIR) -> str:
    """A short hash of the PDF templates and stylesheet (not the fonts, not the mail templates)
    and TEMPLATE_REVISION: changes when what a scorecard looks like or says changes."""
    h = hashlib.sha256(f"revision {TEMPLATE_REVISION}\n".encode())
    for path in sorted(template_dir.iterdir()):
        if path.is_file() and path.suffix in (".j2", ".css"):
            h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _canonical(value: object) -> object:
    """A JSON-able form of a report's field that is equal for equal content. Numbers are cut to
    10 significant digits: the last bits of a float may differ between library versions, the
    scorecard shows far fewer."""
    if isinstance(value, pd.DataFrame):
        return value.to_csv(index=False, float_format="%.10g", lineterminator="\n")
    if isinstance(value, pd.Series):
        return _canonical(value.to_frame())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, float):
        return None if math.isnan(value) else float(f"{value:.10g}")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def content_sha256(report: object, **options: object) -> str:
    """The hash of what a report (TeamReport or OverviewReport) shows, rendered with `options`
    (pseudonymised ids, the churn band), and the template version."""
    doc = {
        "kind": type(report).__name__,
        "report": _canonical(report),
        "options": _canonical(options),
        "template_version": template_version(),
    }
    text = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_path(pdf: Path) -> Path:
    return pdf.with_suffix(RECORD_SUFFIX)


def write_record(pdf: Path, pdf_bytes: bytes, content: str, summary: MailSummary) -> None:
    """Write the content record, with the e-mail summary, next to `pdf` (after the PDF
    itself, atomically)."""
    record = {
        "content_sha256": content,
        "template_version": template_version(),
        "pdf_sha256": hashlib.sha256(pdf_bytes).hexdigest(),
        "summary": summary_to_dict(summary),
    }
    path = record_path(pdf)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_record(pdf: Path, pdf_sha256: str) -> dict | None:
    """The content record of `pdf`, if there is one and it was written with these PDF bytes."""
    try:
        record = json.loads(record_path(pdf).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("pdf_sha256") != pdf_sha256:
        return None
    if not isinstance(record.get("content_sha256"), str) or not record["content_sha256"]:
        return None
    return record


class SummaryUnreadable(ValueError):
    """A scorecard's e-mail summary is missing from its record, or cannot be read."""


def read_summary(pdf: Path, name: str, month: str) -> MailSummary:
    """The e-mail summary rendering wrote next to `pdf` for team `name` (or the overview) and
    `month`. SummaryUnreadable, naming the file, when there is none or it cannot be read."""
    path = record_path(pdf)
    again = f"materialize team_scorecards for {month} again to write it"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SummaryUnreadable(f"no e-mail summary: {path} is missing; {again}") from None
    except (OSError, ValueError) as exc:
        raise SummaryUnreadable(
            f"cannot read the e-mail summary in {path}: {exc}; {again}"
        ) from None
    if not isinstance(record, dict) or "summary" not in record:
        raise SummaryUnreadable(
            f"no e-mail summary in {path} (rendered before scorecards had one); {again}"
        )
    try:
        summary = summary_from_dict(record["summary"])
    except (TypeError, ValueError) as exc:
        raise SummaryUnreadable(f"unreadable e-mail summary in {path}: {exc}; {again}") from None
    if (summary.name, summary.month) != (name, month):
        raise SummaryUnreadable(
            f"the e-mail summary in {path} is for {summary.name} {summary.month}, "
            f"not {name} {month}; {again}"
        )
    return summary
