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


def completeness_result(report: IngestReport, tz: str) -> dg.AssetCheckResult:
    incomplete = [m for m in report.months if not report.month_complete(m, tz)]
    latest = report.latest.isoformat() if report.latest else "no data"
    return dg.AssetCheckResult(
        asset_key=report.dataset,
        check_name=MONTH_COMPLETE,
        passed=not incomplete,
        description=(
            f"Data ends at {latest}, before the last day of {', '.join(incomplete)}."
            if incomplete
            else f"Data reaches the end of every month loaded (latest: {latest})."
        ),
        metadata={"latest_record": latest, "incomplete_months": ", ".join(incomplete) or "none"},
    )
