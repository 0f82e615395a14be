"""Write-audit-publish for the ingest: the blocking checks run on the staged load, before it is
published, so a load that fails one changes nothing.

A load is staged in temp tables of the warehouse connection (scorecards/ingest/load.py); here its
checks are judged on what the warehouse *would* hold after it (the staged months, the other
months as published), and only a load that passes every blocking check is swapped in, in one
transaction. A rejected load leaves the warehouse tables, `ingest_months` and the quarantine
files as they were; the rows it would have quarantined go to
`quarantine/rejected/<dataset>/<YYYY-MM>.csv` instead, so the operator can see why, and
`IngestRejected` says which check failed, for which month, with which figure and threshold, and
what to do. A later load that passes removes the rejected files of its months.

No Dagster here: assets/checks.py turns each `AuditCheck` into an asset check result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from scorecards.config.settings import Settings
from scorecards.contract.datasets import UNDATED
from scorecards.ingest.completeness import NOUN, WHAT, MonthCompleteness, judge_month
from scorecards.ingest.validation import ValidationResult, write_quarantine
from scorecards.warehouse.sql import sql_str

if TYPE_CHECKING:
    from scorecards.ingest.load import IngestReport

QUARANTINE_SHARE = "quarantine_share_below_threshold"
MONTH_END = "data_reaches_month_end"
USUAL_DAYS = "days_have_usual_volume"
REJECTED = "rejected"


@dataclass(frozen=True)
class AuditCheck:
    """One blocking check of a load: on which asset, passed or not, and why."""

    asset: str
    name: str
    passed: bool
    description: str
    metadata: dict[str, object] = field(default_factory=dict)


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def quarantine_check(
    report: IngestReport, threshold: float, months: Sequence[str] | None = None
) -> AuditCheck:
    months = report.months if months is None else list(months)
    shares = {m: report.quarantined_share(m) for m in months}
    over = {m: s for m, s in shares.items() if s > threshold}
    worst = max(shares, key=shares.__getitem__) if shares else None
    if over:
        desc = (
            f"{len(over)} month(s) above the {_pct(threshold)} threshold: "
            + ", ".join(f"{m} {_pct(s)}" for m, s in sorted(over.items()))
            + f". See the {report.dataset} quarantine files; fix the input and re-materialize."
        )
    else:
        desc = f"All {len(shares)} month(s) at or below {_pct(threshold)}."
    return AuditCheck(
        report.dataset,
        QUARANTINE_SHARE,
        not over,
        desc,
        {
            "threshold": threshold,
            "worst_month": worst or "",
            "worst_share": float(shares[worst]) if worst else 0.0,
            "months_over_threshold": ", ".join(sorted(over)) or "none",
            "undated_rows": report.undated,
        },
    )


def customers_check(report: IngestReport, threshold: float) -> AuditCheck:
    """The customer table is replaced whole: its quarantined share over all its rows."""
    totals = report.totals()
    share = totals["quarantined"] / totals["rows_read"] if totals["rows_read"] else 0.0
    return AuditCheck(
        report.dataset,
        QUARANTINE_SHARE,
        share <= threshold,
        f"{totals['quarantined']} of {totals['rows_read']} customer rows quarantined "
        f"({_pct(share)}, threshold {_pct(threshold)}).",
        {"share": share, "threshold": threshold},
    )


def completeness_checks(
    judged: Sequence[MonthCompleteness], asset: str = "tickets", basis: str | None = None
) -> list[AuditCheck]:
    """The two completeness checks of the months of a load, on `asset` (the tickets), judged on
    `basis` (the tickets, or the survey responses of a survey-only installation)."""
    basis = basis or (judged[0].dataset if judged else asset)
    note = "" if basis == asset else f" No {WHAT.get(asset, asset)} in the data: judged on {basis}."
    if not judged:
        detail = f"no {NOUN.get(asset, asset)} in the data: completeness cannot be judged."
        return [
            AuditCheck(asset, MONTH_END, False, detail, {"judged_on": basis}),
            AuditCheck(asset, USUAL_DAYS, False, detail, {"judged_on": basis}),
        ]
    out: list[AuditCheck] = []
    for name, ok_of, text_of in (
        (MONTH_END, lambda j: j.end_ok, lambda j: j.end_detail),
        (USUAL_DAYS, lambda j: j.days_ok, lambda j: j.days_detail),
    ):
        bad = [j for j in judged if not ok_of(j)]
        shown = bad or judged[-1:]
        desc = "\n".join(text_of(j) for j in shown)
        if not bad and len(judged) > 1:
            desc = f"All {len(judged)} months pass; the last: {desc}"
        meta: dict[str, object] = {
            "judged_on": basis,
            "incomplete_months": ", ".join(j.month for j in bad) or "none",
        }
        meta |= shown[-1].metadata()
        out.append(AuditCheck(asset, name, not bad, desc + note, meta))
    return out


def _months_sql(months: Sequence[str]) -> str:
    return "(" + ", ".join(sql_str(m) for m in months) + ")"


def staged_relation(table: str, accepted: str, ts: str, months: Sequence[str]) -> str:
    """What `table` would hold after the load: the staged months from `accepted`, the others as
    published."""
    cols = f"team, period, {ts}"
    inlist = _months_sql(months)
    return (
        f"(SELECT {cols} FROM {table} WHERE period NOT IN {inlist} "
        f"UNION ALL SELECT {cols} FROM {accepted} WHERE period IN {inlist})"
    )


def has_rows(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    return con.execute(f"SELECT EXISTS (SELECT 1 FROM {relation})").fetchone()[0]


def judge_load(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    relations: dict[str, str],
    months: Sequence[str],
    now: datetime,
) -> tuple[str, list[MonthCompleteness]]:
    """Completeness of `months`, judged on the tickets when the data has any, else on the
    survey responses. `relations`: dataset -> relation (staged_relation or a table)."""
    present = [ds for ds in ("tickets", "survey_responses") if has_rows(con, relations[ds])]
    if not present:
        return "tickets", []
    basis = present[0]
    cfg = settings.teams_file.completeness
    return basis, [
        judge_month(con, relations[basis], basis, m, settings.timezone, cfg, now)
        for m in sorted(months)
    ]


def rejected_dir(settings: Settings) -> Path:
    return settings.quarantine_dir / REJECTED


def write_rejected(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    results: Sequence[ValidationResult],
    months: Sequence[str],
) -> list[Path]:
    """The rows a rejected load quarantined, per dataset and month, beside (not over) the
    published quarantine files."""
    written: list[Path] = []
    for res in results:
        written += write_quarantine(con, res, rejected_dir(settings) / res.dataset.name, months)
    return written


def clear_rejected(
    settings: Settings, dataset_names: Sequence[str], months: Sequence[str] | None
) -> None:
    """After a load is published, its months' rejected files are history (`months` None: the
    dataset's whole rejected folder, for the customers, which are replaced whole)."""
    for name in dataset_names:
        folder = rejected_dir(settings) / name
        if months is None:
            for old in folder.glob("*.csv"):
                old.unlink()
            continue
        for month in [*months, UNDATED]:
            (folder / f"{month}.csv").unlink(missing_ok=True)


class IngestRejected(RuntimeError):
    """A load failed a blocking check and was not published; nothing in the warehouse or the
    quarantine folder changed. Carries every check (passed or not) and the reports."""

    def __init__(
        self,
        months: Sequence[str],
        checks: Sequence[AuditCheck],
        reports: dict[str, IngestReport] | None = None,
        rejected_files: Sequence[Path] = (),
    ) -> None:
        self.months = list(months)
        self.checks = list(checks)
        self.reports = reports or {}
        self.rejected_files = list(rejected_files)
        super().__init__(self.explanation)

    @property
    def failed(self) -> list[AuditCheck]:
        return [c for c in self.checks if not c.passed]

    @property
    def explanation(self) -> str:
        months = ", ".join(self.months)
        lines = [
            f"Nothing was written for {months}: the load failed "
            f"{len(self.failed)} blocking check(s), so the warehouse, the quarantine files and "
            "everything computed from them (KPIs, churn risk, scorecards) keep the previous load."
        ]
        lines += [f"- {c.asset}.{c.name}: {' '.join(c.description.split())}" for c in self.failed]
        if self.rejected_files:
            shown = ", ".join(str(p) for p in self.rejected_files[:3])
            more = len(self.rejected_files) - 3
            lines.append(
                "The rows this load would have quarantined, with their reasons: "
                + shown
                + (f" and {more} more" if more > 0 else "")
                + "."
            )
        lines.append(
            "Fix or replace the file in landing/ (or complete the export), then re-materialize "
            f"{months}."
        )
        return "\n".join(lines)
