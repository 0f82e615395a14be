"""The KPI tables shown in the Dagster UI and printed by the CLI, as Markdown."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from scorecards.contract.kpi_catalog import ALL_TEAMS, KPI_BY_ID
from scorecards.text.formatting import kpi_label


def _fmt(x: float | None, digits: int) -> str:
    return "–" if x is None or pd.isna(x) else f"{x:,.{digits}f}"


def _digits(kpi_id: str) -> int:
    unit = KPI_BY_ID[kpi_id].unit
    return 0 if unit == "count" else 2 if unit == "score" else 1


def ui_value(kpi_id: str, value: float | None) -> str:
    """A KPI value for the Dagster UI: counts as integers with thousands separators (23,463,
    not 23,463.0), CES with two decimals, everything else with one; "–" when empty."""
    return _fmt(value, _digits(kpi_id))


def _markdown(rows: list[list[str]], header: Sequence[str], align: Sequence[str]) -> str:
    # The cells are formatted already: tabulate must not read "1,234" as a number again.
    table = pd.DataFrame(rows, columns=list(header))
    return table.to_markdown(index=False, colalign=tuple(align), disable_numparse=True)


def markdown_preview(df: pd.DataFrame, team: str = ALL_TEAMS) -> str:
    """A compact Markdown table of one team's KPIs for the Dagster UI."""
    rows = []
    for r in df[df.team == team].itertuples():
        digits = _digits(r.kpi)
        ci = "–" if pd.isna(r.ci_low) else f"{_fmt(r.ci_low, digits)} – {_fmt(r.ci_high, digits)}"
        reason = getattr(r, "no_data_reason", None)
        value = _fmt(r.value, digits) if pd.isna(reason) or not reason else f"no data: {reason}"
        sig = "–" if pd.isna(r.change_significant) else ("yes" if r.change_significant else "no")
        low = " ⚠" if r.low_sample else ""
        rows.append(
            [
                kpi_label(r.kpi, "en"),
                KPI_BY_ID[r.kpi].unit,
                value,
                f"{int(r.n):,}{low}",
                ci,
                *(_fmt(v, digits) for v in (r.prev_value, r.yoy_value, r.target)),
                sig,
            ]
        )
    header = ("KPI", "unit", "value", "n", "95% CI", "prev", "YoY", "target", "sig.")
    align = ("left", "left", "right", "right", "left", "right", "right", "right", "left")
    return _markdown(rows, header, align)


def team_matrix(df: pd.DataFrame) -> str:
    """KPIs down, teams across: one glance at a month in the UI."""
    pivot = df.pivot(index="kpi", columns="team", values="value").reindex(df.kpi.unique())
    teams = [ALL_TEAMS] + sorted(t for t in pivot.columns if t != ALL_TEAMS)
    rows = [
        [kpi_label(kpi, "en"), *(ui_value(kpi, v) for v in row)]
        for kpi, row in pivot[teams].iterrows()
    ]
    return _markdown(rows, ["KPI", *teams], ["left", *["right"] * len(teams)])


def no_data_table(df: pd.DataFrame) -> str:
    """The company's KPIs the data cannot give, each with the reason."""
    company = df[(df.team == ALL_TEAMS) & df.no_data_reason.notna()]
    if company.empty:
        return "_every KPI has data_"
    rows = [[kpi_label(r.kpi, "en"), r.no_data_reason] for r in company.itertuples()]
    return _markdown(rows, ["KPI", "no data because"], ["left", "left"])
