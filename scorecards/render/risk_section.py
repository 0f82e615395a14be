"""The team page's customers-at-risk section: the figures (how many, what share, the detractors)
with their trend, and the list of customers with their reasons."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from scorecards.contract.kpi_catalog import LOW_SAMPLE_N
from scorecards.render import charts
from scorecards.render.cells import AddImage, as_float, row_reason, series_text
from scorecards.render.labels import n_text
from scorecards.report.data import TeamReport
from scorecards.text import formatting as fmt
from scorecards.text.catalog import Texts, texts

_FIGURES = ("at_risk_customers", "at_risk_share", "detractor_share")


def risk_section(r: TeamReport, add_image: AddImage, pseudonymised: bool, high: float) -> dict:
    """What the template shows of the churn scores: why there are none, or the figures, the
    customers and the legend (the high band's start, whether ids are pseudonymised)."""
    loc, t = r.locale, texts(r.locale, "render")
    cur = r.current()
    count, share, det = (cur.loc[k] if k in cur.index else None for k in _FIGURES)
    scored = r.risk_scored and count is not None and math.isfinite(as_float(count.value))
    out: dict = {"scored": scored, "rows": []}
    if not scored:
        why = row_reason(count, loc) if count is not None else ""
        out["not_scored"] = (
            t("render.risk_not_scored_why", reason=why) if why else t("render.risk_not_scored")
        )
        return out
    out.update(_figures(r, count, share, det, add_image, t))
    out.update(_customers(r, t))
    out["legend"] = t(
        "render.risk_legend",
        high=fmt.number(100 * high, loc, 0) + fmt.unit_suffix("%", loc)
        if math.isfinite(high)
        else "–",
        ids=t("render.ids_pseudo") if pseudonymised else t("render.ids_real"),
    )
    return out


def _figures(
    r: TeamReport,
    count: pd.Series,
    share: pd.Series | None,
    det: pd.Series | None,
    add_image: AddImage,
    t: Texts,
) -> dict:
    """The count against last month, the share with its trend, and the detractors."""
    loc = r.locale
    out: dict = {}
    out["count"] = fmt.kpi_value("at_risk_customers", as_float(count.value), loc)
    out["count_change"] = t(
        "render.risk_count_change",
        v=fmt.kpi_value("at_risk_customers", as_float(count.prev_value), loc),
    )
    new_count = getattr(r, "at_risk_new", None)
    if new_count is not None:
        out["count_change"] += " · " + t("render.risk_new_count", n=fmt.count(new_count, loc))
    out["share"] = (
        fmt.kpi_value("at_risk_share", as_float(share.value), loc)
        if share is not None
        else fmt.no_data(loc)
    )
    out["share_prev"] = (
        t("render.risk_prev", v=fmt.kpi_value("at_risk_share", as_float(share.prev_value), loc))
        if share is not None
        else ""
    )
    out["detractors_prev"] = (
        t("render.risk_prev", v=fmt.kpi_value("detractor_share", as_float(det.prev_value), loc))
        if det is not None
        else ""
    )
    trend = r.series("at_risk_share").value.to_numpy(dtype=float)
    out["share_spark"] = add_image(charts.sparkline_svg(trend))
    out["share_spark_alt"] = series_text(r.team_name, "at_risk_share", r.months, trend, r.locale)
    out["share_detail"] = (
        t("render.risk_share_detail", n=fmt.count(as_float(share.n), loc))
        if share is not None
        else ""
    )
    out["detractors"] = (
        fmt.kpi_value("detractor_share", as_float(det.value), loc)
        if det is not None
        else fmt.no_data(loc)
    )
    out["detractor_detail"] = (
        (
            n_text(as_float(det.n), loc)
            if as_float(det.n) < LOW_SAMPLE_N
            else t("render.detractor_detail", n=fmt.count(as_float(det.n), loc))
        )
        if det is not None
        else ""
    )
    return out


def _customers(r: TeamReport, t: Texts) -> dict:
    """The customers at risk, with the optional label and "new on the list" columns."""
    loc = r.locale
    reasons_col = f"reasons_{loc}"
    label_col = _first_column(r.at_risk, ("display_label", "customer_label", "label"))
    new_col = _first_column(r.at_risk, ("new_on_list", "is_new", "new"))
    if label_col is not None and not r.at_risk[label_col].map(_truthy).any():
        label_col = None  # an empty column says nothing
    rows = []
    if r.at_risk is not None:
        for row in r.at_risk.to_dict("records"):
            label = row.get(label_col) if label_col else None
            rows.append(
                {
                    "id": row["display_id"],
                    "label": label if isinstance(label, str) and label else "–",
                    "new": bool(new_col) and _truthy(row.get(new_col)),
                    "score": fmt.number(100 * row["score"], loc, 0) + fmt.unit_suffix("%", loc),
                    "reasons": row.get(reasons_col) or "–",
                }
            )
    return {
        "has_label": label_col is not None,
        "label_heading": getattr(r, "label_heading", "") or t("render.customer_label"),
        "has_new": new_col is not None,
        "rows": rows,
    }


def _truthy(x: object) -> bool:
    """True for a set flag or a non-empty label; False for None, NaN and pd.NA."""
    try:
        if pd.isna(x):  # type: ignore[arg-type]
            return False
    except (TypeError, ValueError):
        pass
    return bool(x)


def _first_column(df: pd.DataFrame | None, names: Sequence[str]) -> str | None:
    """The first of `names` that `df` has: the churn list's optional columns."""
    if df is None:
        return None
    return next((c for c in names if c in df.columns), None)
