"""A team's scorecard page as the template's view model: the headline tiles, the KPI table
with its bullet graphs, the charts, the data-quality appendix and the provenance line. The
customers-at-risk section is scorecards/render/risk_section.py."""

from __future__ import annotations

import math

import pandas as pd

from scorecards.contract.kpi_catalog import KPI_BY_ID, KPIS, LOW_SAMPLE_N, SERVICE_LEVEL
from scorecards.render import charts
from scorecards.render.cells import (
    AddImage,
    as_float,
    attention_lines,
    cell_delta,
    neutral_change,
    row_reason,
    series_text,
    significance,
)
from scorecards.render.labels import (
    AUTHOR,
    better_text,
    dataset_label,
    definition,
    n_text,
    quarantine_reason,
    tile_label,
)
from scorecards.render.risk_section import risk_section
from scorecards.report.data import TeamReport, channel_matrix
from scorecards.text import formatting as fmt
from scorecards.text.catalog import text, texts
from scorecards.text.kpi_texts import kpi_denominator


def team_context(r: TeamReport, add_image: AddImage, pseudonymised: bool, high: float) -> dict:
    """Everything scorecard.html.j2 is rendered with, for the report `r`."""
    loc = r.locale
    t = texts(loc, "render")
    period = fmt.month_name(r.month, loc)
    date = fmt.date(r.report_date, loc)
    cur = r.current()
    doc = {
        "title": t("render.title", team=r.team_name, period=period),
        "author": AUTHOR,
        "subject": t("render.subject", team=r.team_name, period=period),
        "keywords": "scorecard, KPI, " + r.team_id + ", " + r.month,
        "created": r.report_date.isoformat(),
        "period": period,
        "running_title": t("render.kicker") + f" · {r.team_name}",
        "footer": t("render.footer", team=r.team_name, period=period),
        "meta_line": t("render.meta", period=period, date=date),
    }
    return {
        "locale": loc,
        "t": t,
        "doc": doc,
        "team_name": r.team_name,
        "attention": attention_lines(getattr(r, "attention", None))[:3],
        "tiles": [tile(r, k, add_image) for k in r.headline if k in cur.index],
        "notes": r.notes,
        "risk": risk_section(r, add_image, pseudonymised, high),
        "kpi_rows": _kpi_rows(r, add_image),
        "charts": _charts(r, add_image),
        "definitions": _halves(
            [
                {
                    "label": fmt.kpi_label(k, loc),
                    "definition": definition(k, loc),
                    "denominator": kpi_denominator(k, loc),
                }
                for k in _kpis_shown(r)
            ]
        ),
        "quality": _quality(r),
        "provenance": _provenance(r),
    }


def _kpis_shown(r: TeamReport) -> list[str]:
    have = set(r.current().index)
    return [k.id for k in KPIS if k.id in have]


def tile(r: TeamReport, kpi: str, add_image: AddImage) -> dict:
    loc, t = r.locale, texts(r.locale, "render")
    cur = r.current()
    row = cur.loc[kpi]
    value, target, n = as_float(row.value), as_float(row.target), as_float(row.n)
    hist = r.series(kpi).value.to_numpy(dtype=float)
    low = bool(n < LOW_SAMPLE_N)
    # Too few cases to judge: the target is shown, but neither met nor missed.
    status = "" if low else fmt.target_status(kpi, value, target)
    target_text = fmt.kpi_value(kpi, target, loc)
    prev = fmt.change(
        kpi,
        value,
        as_float(row.prev_value),
        loc,
        t("render.vs_prev"),
        significant=significance(row),
    )
    if prev["tone"] == "noise" and prev["arrow"] != "►":
        # Within random variation: "≈ +1,3 Pp." in grey, no arrow and no "better" (the
        # legend says: no real change). Words would wrap on five tiles.
        prev = {**prev, "arrow": "≈", "judgement": ""}
    return {
        "label": tile_label(kpi, loc),
        "full_label": fmt.kpi_label(kpi, loc),
        "value": fmt.kpi_value(kpi, value, loc),
        "reason": row_reason(row, loc),
        "status": status,
        "target": (t("render.misses") if status == "missed" else t("render.meets")).format(
            v=target_text
        )
        if status
        else (
            t("render.target_is", v=target_text) if math.isfinite(target) else t("render.no_target")
        ),
        "service_level": _service_level(r, kpi, cur),
        "prev": prev,
        "yoy": neutral_change(kpi, value, as_float(row.yoy_value), loc, t("render.vs_yoy")),
        # A KPI the data cannot give has no sample to warn about: its reason says it all.
        "n": "" if row_reason(row, loc) else n_text(n, loc),
        "low_sample": low,
        "spark": add_image(charts.sparkline_svg(hist, target=target)),
        "spark_alt": series_text(r.team_name, kpi, r.months, hist, r.locale)
        + ("; " + t("render.target") + f" {target_text}" if math.isfinite(target) else ""),
        "better": better_text(kpi, loc),
    }


def _service_level(r: TeamReport, kpi: str, cur: pd.DataFrame) -> str:
    """The share within the time target, under a time tile whose service-level KPI exists:
    a median of 5 minutes against a 60-minute target can hide 40 % waiting longer."""
    sl = {v: k for k, v in SERVICE_LEVEL.items()}.get(kpi)
    if sl is None or sl not in cur.index:
        return ""
    share, target = as_float(cur.loc[sl].value), as_float(cur.loc[kpi].target)
    if not (math.isfinite(share) and math.isfinite(target)):
        return ""
    return text(
        r.locale,
        "render.within_target",
        v=fmt.kpi_value(sl, share, r.locale),
        t=fmt.kpi_value(kpi, target, r.locale),
    )


def _kpi_rows(r: TeamReport, add_image: AddImage) -> list[dict]:
    loc, t = r.locale, texts(r.locale, "render")
    cur = r.current()
    rows = []
    for kpi in _kpis_shown(r):
        row = cur.loc[kpi]
        value, target, prev = as_float(row.value), as_float(row.target), as_float(row.prev_value)
        lo, hi, n = as_float(row.ci_low), as_float(row.ci_high), as_float(row.n)
        sig = row.change_significant
        low = bool(n < LOW_SAMPLE_N)
        pd_ = fmt.change(kpi, value, prev, loc, "", significant=significance(row))
        yd = neutral_change(kpi, value, as_float(row.yoy_value), loc, "")
        status = "" if low else fmt.target_status(kpi, value, target)
        a, b = charts.bullet_scale(kpi, value, target, prev, hi)
        alt = f"{fmt.kpi_label(kpi, loc)}: {fmt.kpi_value(kpi, value, loc)}"
        if math.isfinite(lo):
            alt += ", " + t("render.ci") + f" {fmt.interval(kpi, lo, hi, loc)}"
        if math.isfinite(target):
            alt += ", " + t("render.target") + f" {fmt.kpi_value(kpi, target, loc)}"
        if math.isfinite(prev):
            alt += ", " + t("render.vs_prev") + f" {fmt.kpi_value(kpi, prev, loc)}"
        rows.append(
            {
                "label": fmt.kpi_label(kpi, loc),
                "better": better_text(kpi, loc),
                "value": fmt.kpi_value(kpi, value, loc),
                "status": status,
                "mark": fmt.STATUS_MARK["missed"] if status == "missed" else "",
                "scale": _scale_labels(kpi, a, b, loc),
                "ci": fmt.interval(kpi, lo, hi, loc) or "–",
                "target": fmt.kpi_value(kpi, target, loc) if math.isfinite(target) else "–",
                "bullet": add_image(charts.bullet_svg(kpi, value, target, prev, lo, hi, faded=low)),
                "bullet_alt": alt,
                # Within random variation: the number in grey, and "nein" in the
                # significance column says why it carries no arrow and no judgement.
                "prev_change": {**cell_delta(pd_), "judgement": ""}
                if pd_["tone"] == "noise"
                else cell_delta(pd_),
                "significant": "–"
                if sig is None or pd.isna(sig)
                else (t("render.yes") if bool(sig) else t("render.no")),
                "yoy_change": cell_delta(yd),
                "n": "–" if row_reason(row, loc) else fmt.count(n, loc),
                "low_sample": low and not row_reason(row, loc),
                "reason": row_reason(row, loc),
            }
        )
    return rows


def _charts(r: TeamReport, add_image: AddImage) -> list[dict]:
    loc, t = r.locale, texts(r.locale, "render")
    out = []
    vol = charts.volume_chart(channel_matrix(r.channels, r.months), r.months, loc)
    times = charts.times_chart(
        r.times,
        r.months,
        loc,
        frt=r.series("first_response_time"),
        art=r.series("average_resolution_time"),
    )
    survey = charts.survey_chart(r.series("csat"), r.series("nps"), r.months, loc)
    for chart, cap in (
        (vol, t("render.volume_caption")),
        (times, t("render.times_caption")),
        (survey, t("render.survey_caption")),
    ):
        out.append({"src": add_image(chart.svg), "alt": chart.alt, "caption": cap})
    return out


def _quality(r: TeamReport) -> dict:
    loc = r.locale
    rows = [
        {
            "dataset": dataset_label(x.dataset, loc),
            "read": fmt.count(x.rows_read, loc),
            "accepted": fmt.count(x.accepted, loc),
            "quarantined": fmt.count(x.quarantined, loc),
            "duplicates": fmt.count(x.duplicates_dropped, loc),
        }
        for x in r.ingest.itertuples()
    ]
    reasons = [
        {
            "dataset": dataset_label(x.dataset, loc),
            "reason": quarantine_reason(x.reason, loc),
            "rows": fmt.count(x.rows, loc),
        }
        for x in r.reasons.itertuples()
    ]
    return {"rows": rows, "reasons": reasons}


def _provenance(r: TeamReport) -> str:
    loc, t = r.locale, texts(r.locale, "render")
    inputs = "; ".join(
        t(
            "render.inputs_row",
            dataset=dataset_label(x.dataset, loc),
            read=fmt.count(x.rows_read, loc),
            accepted=fmt.count(x.accepted, loc),
        )
        for x in r.ingest.itertuples()
    ) or fmt.no_data(loc)
    return t(
        "render.provenance_text",
        period=fmt.month_name(r.month, loc),
        date=fmt.date(r.report_date, loc),
        warehouse="warehouse.duckdb",
        inputs=inputs,
        fingerprint=r.fingerprint(),
    )


def _halves(items: list[dict]) -> list[list[dict]]:
    """Split the definitions into two columns of about equal text length."""
    # In lines: the term, then the text at about 62 characters a line in a half-page column.
    sizes = [2 + (len(i["definition"]) + len(i["denominator"]) + 8) // 62 for i in items]
    total, run = sum(sizes), 0
    for k, size in enumerate(sizes):
        run += size
        if run >= total / 2:
            return [items[: k + 1], items[k + 1 :]]
    return [items, []]


def _scale_labels(kpi: str, a: float, b: float, locale: str) -> list[str]:
    """The bullet graph's scale printed under it: its ends, and zero when it lies between."""
    unit = KPI_BY_ID[kpi].unit
    digits = 0 if abs(b - a) >= 5 else 1

    def lab(x: float) -> str:
        shown = fmt.number(x, locale, digits)
        return "+" + shown if unit == "points" and x > 0 else shown

    mid = [lab(0.0)] if a < 0 < b else []
    suffix = fmt.unit_suffix(unit, locale)
    return [lab(a), *mid, lab(b) + suffix]
