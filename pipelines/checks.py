"""Asset checks: whether a month's input is complete and clean enough to report on.

The checks are emitted by the ingest assets themselves (one pass over the data), and are
blocking: when one fails with ERROR severity, team_kpis in the same run does not execute.
"""

from __future__ import annotations

import dagster as dg

from scorecards.ingest import IngestReport

QUARANTINE_SHARE = "quarantine_share_below_threshold"
MONTH_COMPLETE = "data_reaches_month_end"


def quarantine_spec(asset: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        QUARANTINE_SHARE,
        asset=asset,
        blocking=True,
        description="Fails when a month's quarantined share (undated rows counted against every "
        "month) is above the configured quarantine_threshold.",
    )


def completeness_spec(asset: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        MONTH_COMPLETE,
        asset=asset,
        blocking=True,
        description="Fails when the landing data ends before the last day of a month being "
        "loaded: that month would be reported on partial data.",
    )


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def quarantine_result(
    report: IngestReport, threshold: float, months: list[str] | None = None
) -> dg.AssetCheckResult:
    months = report.months if months is None else months
    shares = {m: report.quarantined_share(m) for m in months}
    over = {m: s for m, s in shares.items() if s > threshold}
    worst = max(shares, key=shares.get) if shares else None
    if over:
        desc = (
            f"{len(over)} month(s) above the {_pct(threshold)} threshold: "
            + ", ".join(f"{m} {_pct(s)}" for m, s in sorted(over.items()))
            + f". See {report.dataset} quarantine files; fix the input and re-materialize."
        )
    else:
        desc = f"All {len(shares)} month(s) at or below {_pct(threshold)}."
    return dg.AssetCheckResult(
        asset_key=report.dataset,
        check_name=QUARANTINE_SHARE,
        passed=not over,
        description=desc,
        metadata={
            "threshold": threshold,
            "worst_month": worst or "",
            "worst_share": float(shares[worst]) if worst else 0.0,
            "months_over_threshold": ", ".join(sorted(over)) or "none",
            "undated_rows": report.undated,
        },
    )


def completeness_result(
    report: IngestReport, tz: str, fallback: IngestReport | None = None
) -> dg.AssetCheckResult:
    """Whether the data reaches the end of every month loaded. It is judged on `report` (the
    tickets) when that dataset has any data at all; an installation without tickets (surveys
    only) is judged on `fallback` (the survey responses) instead, under the same check."""
    basis = report
    if report.latest is None and fallback is not None and fallback.latest is not None:
        basis = fallback
    incomplete = [m for m in report.months if not basis.month_complete(m, tz)]
    latest = basis.latest.isoformat() if basis.latest else "no data"
    judged = (
        ""
        if basis is report
        else f" No {report.dataset} in the landing data: judged on {basis.dataset}."
    )
    return dg.AssetCheckResult(
        asset_key=report.dataset,
        check_name=MONTH_COMPLETE,
        passed=not incomplete,
        description=(
            f"Data ends at {latest}, before the last day of {', '.join(incomplete)}.{judged}"
            if incomplete
            else f"Data reaches the end of every month loaded (latest: {latest}).{judged}"
        ),
        metadata={
            "latest_record": latest,
            "incomplete_months": ", ".join(incomplete) or "none",
            "judged_on": basis.dataset,
        },
    )
