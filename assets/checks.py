"""Asset checks: whether a month's input is complete and clean enough to report on.

The checks are judged by the ingest itself on the staged load, before anything is published
(write-audit-publish, scorecards/ingest/audit.py), and emitted by the ingest assets. They are blocking:
a load that fails one is not written at all, the step fails with the explanation, and team_kpis
in the same run does not execute.
"""

from __future__ import annotations

import dagster as dg

from scorecards.ingest.audit import (
    MONTH_END,
    QUARANTINE_SHARE,
    USUAL_DAYS,
    AuditCheck,
    quarantine_check,
)
from scorecards.ingest.audit import completeness_checks as _completeness_checks
from scorecards.ingest.load import IngestReport

MONTH_COMPLETE = MONTH_END
DAYS_COMPLETE = USUAL_DAYS


def quarantine_spec(asset: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        QUARANTINE_SHARE,
        asset=asset,
        blocking=True,
        description="Fails when a month's quarantined share (undated rows counted against every "
        "month) is above the configured quarantine_threshold. Judged before the load is "
        "written: a failing load changes nothing.",
    )


def completeness_spec(asset: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        MONTH_COMPLETE,
        asset=asset,
        blocking=True,
        description="Fails when the newest timestamp within a month being loaded does not reach "
        "its last day (completeness.end_tolerance_days), or the month has not ended: that month "
        "would be reported on partial data. Judged before the load is written.",
    )


def days_spec(asset: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        DAYS_COMPLETE,
        asset=asset,
        blocking=True,
        description="Fails when a month being loaded has days far below their usual volume "
        "(same weekday, earlier months; company and each team) or too few days with data: a "
        "gap in the export. Thresholds in the completeness block of teams.yaml. Judged before "
        "the load is written.",
    )


def check_result(check: AuditCheck) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=check.asset,
        check_name=check.name,
        passed=check.passed,
        description=check.description,
        metadata=dict(check.metadata),
    )


def quarantine_result(
    report: IngestReport, threshold: float, months: list[str] | None = None
) -> dg.AssetCheckResult:
    return check_result(quarantine_check(report, threshold, months))


def completeness_result(
    report: IngestReport, tz: str, fallback: IngestReport | None = None
) -> dg.AssetCheckResult:
    """The data_reaches_month_end result of a load, as judged when it was staged: on `report`
    (the tickets) when it has data, else on `fallback` (the survey responses). `tz` is kept for
    callers; the months were judged in the configured zone."""
    basis = report
    if not report.completeness and fallback is not None and fallback.completeness:
        basis = fallback
    [end, _] = _completeness_checks(basis.completeness, report.dataset, basis.dataset)
    return check_result(end)
