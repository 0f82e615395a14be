"""The overview page (every team against the company, for the month) as the template's view
model: the table of the overview's KPIs with their changes and targets, and the 13-month trends
as small multiples."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from scorecards.contract.kpi_catalog import ALL_TEAMS, KPI_BY_ID, LOW_SAMPLE_N
from scorecards.render import charts
from scorecards.render.cells import AddImage, attention_lines, cell_delta, series_text
from scorecards.render.labels import AUTHOR, better_text
from scorecards.report.data import OverviewReport
from scorecards.text import formatting as fmt
from scorecards.text.catalog import Texts, text, texts
from scorecards.text.kpi_texts import reason_text


class _IndexedOverview:
    """An OverviewReport whose `value` and `reason` look a row up in a dict. The report's own
    look-ups filter the whole 13-month frame on every call: 10,000 calls for 100 teams took
    40 s. Same answers: the first row of (team, KPI, month), NaN or "" when there is none."""

    def __init__(self, o: OverviewReport) -> None:
        self._o = o
        df = o.kpis
        self._rows: dict[tuple, int] = {}
        for i, key in enumerate(zip(df.team, df.kpi, df.period, strict=True)):
            self._rows.setdefault(key, i)
        self._cols = {c: df[c].to_numpy() for c in df.columns}

    def __getattr__(self, name: str) -> object:
        return getattr(self._o, name)

    def value(self, team: str, kpi: str, column: str = "value", month: str | None = None) -> float:
        i = self._rows.get((team, kpi, month or self._o.month))
        if i is None:
            return math.nan
        x = self._cols[column][i]
        return float(x) if pd.notna(x) else math.nan

    def reason(self, team: str, kpi: str) -> str:
        i = self._rows.get((team, kpi, self._o.month))
        if i is None or "no_data_reason" not in self._cols:
            return ""
        return reason_text(self._cols["no_data_reason"][i], self._o.locale)


def overview_context(report: OverviewReport, add_image: AddImage) -> dict:
    """Everything overview.html.j2 is rendered with, for the report."""
    loc, t = report.locale, texts(report.locale, "render")
    o = _IndexedOverview(report)
    period = fmt.month_name(o.month, loc)
    title = t("render.overview_title", period=period)
    doc = {
        "title": title,
        "heading": title,
        "author": AUTHOR,
        "subject": t("render.overview_subject", period=period),
        "keywords": "scorecard, overview, " + o.month,
        "created": o.report_date.isoformat(),
        "period": period,
        "running_title": t("render.overview_kicker"),
        "footer": t("render.overview_footer", period=period),
        "meta_line": t("render.meta", period=period, date=fmt.date(o.report_date, loc)),
    }
    everyone = [(ALL_TEAMS, t("render.company")), *o.teams]
    uniform = _uniform_targets(o, everyone)
    columns = [
        {
            "label": fmt.kpi_short_label(k, loc),
            "better": better_text(k, loc),
            "target": t("render.target_all", v=uniform[k]) if k in uniform else "",
        }
        for k in o.columns
    ]
    rows = [
        {
            "name": name,
            "company": tid == ALL_TEAMS,
            "cells": [_cell(o, tid, k, k in uniform, t) for k in o.columns],
        }
        for tid, name in everyone
    ]
    order = [ALL_TEAMS, *(tid for tid, _ in o.teams)]
    names = {ALL_TEAMS: t("render.company"), **dict(o.teams)}
    trend_columns, trend_rows = _trends(o, order, names, add_image)
    return {
        "locale": loc,
        "t": t,
        "doc": doc,
        "columns": columns,
        "rows": rows,
        "trend_columns": trend_columns,
        "trend_rows": trend_rows,
        "trend_caption": t(
            "render.overview_trends_caption",
            first=fmt.month_name(o.months[0], loc),
            last=period,
        ),
        "notes": [n for n in o.notes if getattr(n, "manual", False)],
        "generated_notes": [n for n in o.notes if not getattr(n, "manual", False)]
        + list(getattr(o, "generated_notes", None) or []),
        "attention": attention_lines(getattr(o, "attention", None)),
        "has_attention": hasattr(o, "attention"),
    }


def _uniform_targets(o: _IndexedOverview, everyone: list[tuple[str, str]]) -> dict[str, str]:
    """KPI → its target as printed, for the KPIs whose target is the same for every row: it
    goes into the column head; otherwise a missed cell carries its own target under the
    change."""
    loc = o.locale
    uniform: dict[str, str] = {}
    for k in o.columns:
        shown = {fmt.kpi_value(k, o.value(tid, k, "target"), loc) for tid, _ in everyone}
        if len(shown) == 1 and math.isfinite(o.value(ALL_TEAMS, k, "target")):
            uniform[k] = shown.pop()
    return uniform


def _cell(o: _IndexedOverview, tid: str, k: str, uniform: bool, t: Texts) -> dict:
    """One team's value of KPI `k`, with its change, status and (unless it is in the column
    head) the target it missed."""
    loc = o.locale
    v, prev = o.value(tid, k), o.value(tid, k, "prev_value")
    target, n = o.value(tid, k, "target"), o.value(tid, k, "n")
    sig = o.value(tid, k, "change_significant")
    low = math.isfinite(n) and n < LOW_SAMPLE_N and KPI_BY_ID[k].kind != "count"
    d = fmt.change(k, v, prev, loc, "", significant=None if math.isnan(sig) else bool(sig))
    if d["tone"] == "noise" and d["text"] != fmt.no_data(loc):
        # Within random variation: "≈ +1,2" in grey, no arrow and no word.
        change = {"text": f"≈\u202f{d['text']}", "judgement": "", "tone": "noise"}
    else:
        change = cell_delta(d)
    status = "" if low else fmt.target_status(k, v, target)
    return {
        "value": fmt.kpi_value(k, v, loc),
        "status": status,
        "mark": fmt.STATUS_MARK["missed"] if status == "missed" else "",
        "change": change["text"],
        "judgement": change["judgement"],
        "tone": change["tone"],
        "target": t("render.target_is", v=fmt.kpi_value(k, target, loc))
        if status == "missed" and not uniform
        else "",
        "low_sample": low,
        "reason": "" if math.isfinite(v) else o.reason(tid, k),
    }


def _trends(
    o: _IndexedOverview, order: list[str], names: dict[str, str], add_image: AddImage
) -> tuple[list[dict], list[dict]]:
    """Small multiples as a table: a 13-month line per team and KPI with its latest value.

    Rates and times share one y-range per column, so the lines compare in height across
    teams; counts get each team's own range, or small teams would lie flat."""
    loc = o.locale
    series = {
        tid: {
            k: np.array([o.value(tid, k, month=m) for m in o.months], dtype=float)
            for k in o.trend_kpis
        }
        for tid in order
    }
    columns, scales = [], {}
    for k in o.trend_kpis:
        vals = np.concatenate([series[tid][k] for tid in order if tid != ALL_TEAMS])
        vals = vals[np.isfinite(vals)]
        shared = KPI_BY_ID[k].kind != "count" and len(vals) > 0
        scales[k] = (float(vals.min()), float(vals.max())) if shared else None
        scale_text = (
            f"{fmt.kpi_value(k, scales[k][0], loc)} – {fmt.kpi_value(k, scales[k][1], loc)}"
            if shared
            else text(loc, "render.own_scale")
        )
        columns.append({"label": fmt.kpi_short_label(k, loc), "scale": scale_text})
    rows = []
    for tid in order:
        cells = []
        for k in o.trend_kpis:
            v = series[tid][k]
            colour = charts.INK if tid == ALL_TEAMS else charts.OKABE_ITO["blue"]
            svg = charts.sparkline_svg(
                v,
                width=90,
                height=20,
                scale=scales[k],
                colour=colour,
                target=o.value(tid, k, "target"),
            )
            last = v[np.isfinite(v)][-1] if np.isfinite(v).any() else math.nan
            cells.append(
                {
                    "spark": add_image(svg),
                    "alt": series_text(names.get(tid, tid), k, o.months, v, loc),
                    "last": fmt.kpi_value(k, last, loc),
                }
            )
        rows.append({"name": names.get(tid, tid), "company": tid == ALL_TEAMS, "cells": cells})
    return columns, rows
