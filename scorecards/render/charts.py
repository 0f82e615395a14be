"""Charts for the scorecards: three trend charts and two small glyphs, all written as SVG.

Trend charts are drawn by scorecards/render/svgplot.py (why not matplotlib figures: see there) in the
page's own font and the Okabe-Ito palette, which stays distinguishable for the common
colour-vision deficiencies. Every chart comes with an alt text that states its numbers, for the
tagged PDF.

Sparklines and bullet graphs are tiny and numerous (one per KPI row): a few hundred bytes each.

Output is deterministic: no ids, no dates, coordinates rounded to 0.1 pt.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scorecards.contract.datasets import CHANNELS
from scorecards.contract.kpi_catalog import KPI_BY_ID
from scorecards.render import svgplot
from scorecards.text import formatting as fmt
from scorecards.text.catalog import N_, text, texts

# Okabe & Ito (2008), "Color Universal Design".
OKABE_ITO = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "black": "#000000",
}
CHANNEL_COLOURS = dict(
    zip(
        CHANNELS,
        ("#0072B2", "#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#D55E00"),
        strict=True,
    )
)
INK, MUTED, GRID = svgplot.INK, svgplot.MUTED, svgplot.GRID

# Channel names on the volume chart: a channel the catalogue does not know prints as its id.
_CHANNEL_KEYS: dict[str, str] = {
    "phone": N_("channel.phone"),
    "email": N_("channel.email"),
    "chat": N_("channel.chat"),
    "social": N_("channel.social"),
    "web": N_("channel.web"),
    "self_service": N_("channel.self_service"),
}


def _channel(channel: str, locale: str) -> str:
    return text(locale, _CHANNEL_KEYS[channel]) if channel in _CHANNEL_KEYS else channel


@dataclass(frozen=True)
class Chart:
    svg: bytes
    alt: str


def _month_labels(months: Sequence[str], locale: str) -> list[str]:
    return [fmt.month_name(m, locale, short=True) for m in months]


def _period(months: Sequence[str], locale: str) -> dict[str, str]:
    """The fields {first} and {last} of an alt text: "Oktober 2025", "Oktober 2026"."""
    return {"first": fmt.month_name(months[0], locale), "last": fmt.month_name(months[-1], locale)}


def _values_text(values: Sequence[float], months: Sequence[str], locale: str, digits: int) -> str:
    parts = [
        f"{fmt.month_name(m, locale, short=True)} {fmt.number(v, locale, digits)}"
        for m, v in zip(months, values, strict=True)
        if not fmt.is_missing(v)
    ]
    return "; ".join(parts)


def _number(locale: str, digits: int = 0) -> Callable[[float], str]:
    return lambda v: fmt.number(v, locale, digits)


def _kpi_number(kpi: str, locale: str) -> Callable[[float], str]:
    """A KPI's value rounded as the page rounds it ("5,5", not "6")."""
    return lambda v: fmt.number(v, locale, fmt.digits_for(KPI_BY_ID[kpi], v))


def volume_chart(matrix: pd.DataFrame, months: Sequence[str], locale: str) -> Chart:
    """Stacked monthly bars of tickets by channel."""
    (box,) = svgplot.panels(1, left=0.07, right=0.99, top=0.88, bottom=0.26, gap=0)
    ax = svgplot.Panel(*box, n=len(months))
    totals = matrix.sum(axis=1).to_numpy(dtype=float)
    ax.axes(ax.linear_scale(totals, from_zero=True), _number(locale))
    legend = svgplot.Legend()
    bottom = np.zeros(len(months))
    for ch in matrix.columns:
        vals = matrix[ch].to_numpy(dtype=float)
        if not vals.any():
            continue
        colour = CHANNEL_COLOURS.get(ch, MUTED)
        ax.bars(bottom, vals, colour, 0.72)
        legend.box(_channel(ch, locale), colour)
        bottom += vals
    ax.month_labels(_month_labels(months, locale))
    ax.title(text(locale, "chart.volume_title"))
    if bottom.any():
        ax.legend(legend, dy=22)
    alt = text(locale, "chart.volume_alt", **_period(months, locale))
    if totals.any():
        last = matrix.iloc[-1]
        split = ", ".join(
            f"{_channel(c, locale)} {fmt.count(v, locale)}" for c, v in last.items() if v
        )
        alt += text(locale, "chart.tickets") + ": " + _values_text(totals, months, locale, 0)
        alt += f". {fmt.month_name(months[-1], locale)}: {split}."
    else:
        alt += text(locale, "chart.no_data_alt")
    return Chart(svgplot.figure([ax]), alt)


# Dash patterns in points, as matplotlib drew them at these line widths.
TARGET_DASH = "2.4 1.6"
SECOND_DASH = "4.8 1.8"


def _target_line(ax: svgplot.Panel, legend: svgplot.Legend, target: float, locale: str) -> None:
    """The target as a dashed reference line, the same on every chart of the page."""
    if math.isfinite(target):
        ax.hline(target, INK, 0.8, TARGET_DASH)
        legend.line(text(locale, "chart.target"), INK, 0.8, TARGET_DASH)


def _time_panel(
    ax: svgplot.Panel,
    months: Sequence[str],
    main: np.ndarray,
    other: np.ndarray,
    labels: tuple[str, str],
    kpi: str,
    target: float,
    locale: str,
) -> bool:
    """The KPI's own statistic (what the tile shows) as the solid line, a second statistic
    dashed, each labelled; the target dashed in ink. Returns whether the axis is logarithmic."""
    ax.x_hi = len(months) + 0.6
    both = np.concatenate([main, other] + ([np.array([target])] if math.isfinite(target) else []))
    finite = both[np.isfinite(both)]
    log = bool(len(finite) and finite.min() > 0 and finite.max() / finite.min() > 12)
    # The 90th percentile can be a hundred times the median; on a linear axis the median would
    # lie flat on zero. A log axis keeps both readable, and says so in its title.
    ticks = ax.log_scale(both) if log else ax.linear_scale(both, from_zero=True)
    ax.axes(ticks, _number(locale))
    legend = svgplot.Legend()
    legend.line(labels[0], OKABE_ITO["blue"], 1.7)
    legend.line(labels[1], OKABE_ITO["orange"], 1.2, SECOND_DASH)
    ax.line(other, OKABE_ITO["orange"], 1.2, SECOND_DASH)
    ax.line(main, OKABE_ITO["blue"], 1.7)
    _target_line(ax, legend, target, locale)
    ax.end_label(other, _kpi_number(kpi, locale), OKABE_ITO["orange"])
    ax.end_label(main, _kpi_number(kpi, locale), OKABE_ITO["blue"])
    ax.month_labels(_month_labels(months, locale))
    ax.legend(legend)
    return log


def _series(df: pd.DataFrame | None, months: Sequence[str], col: str) -> np.ndarray:
    if df is None or col not in df.columns:
        return np.full(len(months), np.nan)
    return df.reindex(list(months))[col].to_numpy(float)


def _last_target(df: pd.DataFrame | None) -> float:
    if df is None or "target" not in df.columns:
        return math.nan
    t = df.target.dropna()
    return float(t.iloc[-1]) if len(t) else math.nan


def _two_panels(months: Sequence[str]) -> list[svgplot.Panel]:
    boxes = svgplot.panels(2, left=0.06, right=0.99, top=0.88, bottom=0.27, gap=0.18)
    return [svgplot.Panel(*b, n=len(months)) for b in boxes]


def times_chart(
    times: pd.DataFrame,
    months: Sequence[str],
    locale: str,
    frt: pd.DataFrame | None = None,
    art: pd.DataFrame | None = None,
) -> Chart:
    """First response time (median, as the FRT tile, and 90th percentile) and resolution time
    (mean, as the ART tile, and median), each with the team's target.

    `frt` and `art` are the KPI series (indexed by month, with value and target): the solid line
    is the very number the tile and the table show. Without them the median from the tickets
    stands in for FRT and the ART line stays empty."""
    t = texts(locale)
    titles = {"frt": t("chart.frt"), "res": t("chart.res")}
    df = times.set_index("period").reindex(list(months))
    frt_main = _series(frt, months, "value") if frt is not None else df.frt_median.to_numpy(float)
    series = {
        "frt": (frt_main, df.frt_p90.to_numpy(float), (t("chart.frt_kpi"), t("chart.p90"))),
        "res": (
            _series(art, months, "value"),
            df.res_median.to_numpy(float),
            (t("chart.mean"), t("chart.median")),
        ),
    }
    kpis = {"frt": "first_response_time", "res": "average_resolution_time"}
    targets = {"frt": _last_target(frt), "res": _last_target(art)}
    axes = _two_panels(months)
    for ax, key in zip(axes, ("frt", "res"), strict=True):
        main, other, labels = series[key]
        log = _time_panel(ax, months, main, other, labels, kpis[key], targets[key], locale)
        ax.title(titles[key] + (" · " + t("chart.log") if log else ""))
    alt = t("chart.times_alt", **_period(months, locale))
    parts = []
    for key, (main, other, labels) in series.items():
        if np.isfinite(main).any() or np.isfinite(other).any():
            target = (
                " " + t("chart.target") + f" {fmt.number(targets[key], locale, 1)}."
                if math.isfinite(targets[key])
                else ""
            )
            parts.append(
                f"{titles[key]} {labels[0]}: {_values_text(main, months, locale, 1)}; "
                f"{labels[1]}: {_values_text(other, months, locale, 1)}.{target}"
            )
    alt += " ".join(parts) if parts else t("chart.no_data_alt")
    return Chart(svgplot.figure(axes), alt)


def survey_chart(
    csat: pd.DataFrame, nps: pd.DataFrame, months: Sequence[str], locale: str
) -> Chart:
    """CSAT and NPS with their 95% interval as a band; months without answers stay empty."""
    t = texts(locale)
    titles = {"csat": t("chart.csat"), "nps": t("chart.nps")}
    axes = _two_panels(months)
    parts = []
    for ax, df, key, colour in (
        (axes[0], csat, "csat", OKABE_ITO["blue"]),
        (axes[1], nps, "nps", OKABE_ITO["green"]),
    ):
        ax.x_hi = len(months) + 0.6
        v = df.value.to_numpy(float)
        lo, hi = df.ci_low.to_numpy(float), df.ci_high.to_numpy(float)
        target = _last_target(df)
        scale = np.concatenate(
            [v, lo, hi] + ([np.array([target])] if math.isfinite(target) else [])
        )
        ax.axes(ax.linear_scale(scale, from_zero=False), _number(locale))
        legend = svgplot.Legend()
        legend.box(t("chart.ci"), colour, 0.18)
        legend.line(key.upper(), colour, 1.6)
        ax.band(lo, hi, colour, 0.18)
        ax.line(v, colour, 1.6)
        ax.end_label(v, _number(locale, 1), colour)
        _target_line(ax, legend, target, locale)
        ax.month_labels(_month_labels(months, locale))
        ax.title(titles[key])
        ax.legend(legend)
        if np.isfinite(v).any():
            parts.append(
                f"{titles[key]}: "
                + "; ".join(
                    f"{fmt.month_name(m, locale, short=True)} {fmt.number(a, locale, 1)} "
                    f"({fmt.number(b, locale, 1)}–{fmt.number(c, locale, 1)})"
                    for m, a, b, c in zip(months, v, lo, hi, strict=True)
                    if math.isfinite(a)
                )
                + "."
            )
    alt = t("chart.survey_alt", **_period(months, locale))
    alt += " ".join(parts) if parts else t("chart.no_data_alt")
    return Chart(svgplot.figure(axes), alt)


# -- hand-drawn glyphs ---------------------------------------------------------------------------


def _svg_num(x: float) -> str:
    """A coordinate for the SVG: at most one decimal, no trailing zeros (small files, and the
    same text for the same drawing)."""
    return f"{x:.1f}".rstrip("0").rstrip(".")


def sparkline_svg(
    values: Sequence[float],
    width: int = 110,
    height: int = 24,
    scale: tuple[float, float] | None = None,
    colour: str = OKABE_ITO["blue"],
    target: float = math.nan,
) -> str:
    """A 13-month line with the latest point marked; gaps where a month has no value. `scale`
    fixes the y-range, so lines of several teams compare in height. A finite `target` is drawn
    as a dashed reference line (and kept inside the range), so the line reads against it."""
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    if not ok.any():
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"/>'
    has_target = target is not None and math.isfinite(target)
    if scale is not None:
        lo, hi = scale
    else:
        lo, hi = float(np.nanmin(v)), float(np.nanmax(v))
        if has_target:
            lo, hi = min(lo, target), max(hi, target)
    span = hi - lo or 1.0
    pad = 3
    xs = [pad + i * (width - 2 * pad) / max(len(v) - 1, 1) for i in range(len(v))]

    def Y(y: float) -> float:
        return height - pad - (y - lo) / span * (height - 2 * pad)

    ys = [Y(y) if math.isfinite(y) else math.nan for y in v]
    segments, cur = [], []
    for x, y in zip(xs, ys, strict=True):
        if math.isfinite(y):
            cur.append(f"{_svg_num(x)},{_svg_num(y)}")
        elif cur:
            segments.append(cur)
            cur = []
    if cur:
        segments.append(cur)
    ref = ""
    if has_target and lo <= target <= hi:
        ty = _svg_num(Y(target))
        ref = (
            f'<line x1="0" x2="{width}" y1="{ty}" y2="{ty}" stroke="{INK}" stroke-width="0.8" '
            'stroke-dasharray="2.5 1.8"/>'
        )
    lines = "".join(
        f'<polyline points="{" ".join(s)}" fill="none" stroke="{colour}" stroke-width="1.3"/>'
        for s in segments
        if len(s) > 1
    )
    k = int(np.flatnonzero(ok)[-1])
    dot = f'<circle cx="{_svg_num(xs[k])}" cy="{_svg_num(ys[k])}" r="2" fill="{INK}"/>'
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">{ref}{lines}{dot}</svg>'
    )


def bullet_scale(kpi: str, *vals: float) -> tuple[float, float]:
    """The axis of a bullet graph: from 0 (or below, for NPS) to a round number above all values."""
    finite = [float(x) for x in vals if x is not None and math.isfinite(x)]
    if KPI_BY_ID[kpi].unit == "%":
        return 0.0, 100.0 if not finite or max(finite) > 50 else float(_nice(max(finite) * 1.15))
    if KPI_BY_ID[kpi].unit == "points":
        return -100.0, 100.0
    if KPI_BY_ID[kpi].unit == "score":
        return 1.0, 7.0
    top = max(finite) * 1.15 if finite else 1.0
    return 0.0, float(_nice(top))


def _nice(x: float) -> float:
    if x <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(x))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * exp >= x:
            return m * exp
    return 10 * exp


def bullet_svg(
    kpi: str,
    value: float,
    target: float,
    prev: float,
    lo: float,
    hi: float,
    faded: bool = False,
    width: int = 150,
    height: int = 18,
) -> str:
    """Stephen Few's bullet graph: grey qualitative ranges around the target, a bar for the
    value with its 95% interval as a whisker, a tick for the target and a hollow diamond for
    last month. No traffic-light colours: position carries the meaning."""
    a, b = bullet_scale(kpi, value, target, prev, hi)
    better = KPI_BY_ID[kpi].better

    def X(v: float) -> float:
        return max(0.0, min(width, (v - a) / (b - a) * width))

    parts = [f'<rect x="0" y="2" width="{width}" height="{height - 4}" fill="#e9ecef"/>']
    if math.isfinite(target) and better in ("higher", "lower"):
        # Three ranges: clearly off target, near target (within 10% of the scale), on target.
        near = 0.1 * (b - a)
        if better == "higher":
            bands = [(a, target - near, "#c4c9cf"), (target - near, target, "#d8dce1")]
        else:
            bands = [(target + near, b, "#c4c9cf"), (target, target + near, "#d8dce1")]
        for s, e, c in bands:
            x0, x1 = X(s), X(e)
            if x1 > x0:
                parts.append(
                    f'<rect x="{_svg_num(x0)}" y="2" width="{_svg_num(x1 - x0)}" height="{height - 4}" fill="{c}"/>'
                )
    base = X(max(a, 0.0)) if a < 0 else 0.0
    if a < 0 < b:
        # A scale across zero (NPS): the bar grows from the zero line, which is drawn.
        parts.append(
            f'<line x1="{_svg_num(base)}" x2="{_svg_num(base)}" y1="1" y2="{height - 1}" stroke="{MUTED}" '
            'stroke-width="0.8"/>'
        )
    if math.isfinite(value):
        colour = MUTED if faded else INK
        x0, x1 = sorted((base, X(value)))
        mid = height / 2
        parts.append(
            f'<rect x="{_svg_num(x0)}" y="{_svg_num(mid - 3)}" width="{_svg_num(max(x1 - x0, 1.5))}" height="6" fill="{colour}"/>'
        )
        if math.isfinite(lo) and math.isfinite(hi):
            parts.append(
                f'<line x1="{_svg_num(X(lo))}" x2="{_svg_num(X(hi))}" y1="{_svg_num(mid)}" y2="{_svg_num(mid)}" '
                f'stroke="{OKABE_ITO["sky"]}" stroke-width="1.2"/>'
                f'<line x1="{_svg_num(X(lo))}" x2="{_svg_num(X(lo))}" y1="{_svg_num(mid - 2)}" y2="{_svg_num(mid + 2)}" stroke="{OKABE_ITO["sky"]}" stroke-width="1"/>'
                f'<line x1="{_svg_num(X(hi))}" x2="{_svg_num(X(hi))}" y1="{_svg_num(mid - 2)}" y2="{_svg_num(mid + 2)}" stroke="{OKABE_ITO["sky"]}" stroke-width="1"/>'
            )
    if math.isfinite(prev):
        px, mid = X(prev), height / 2
        parts.append(
            f'<path d="M{_svg_num(px)} {_svg_num(mid - 4)} L{_svg_num(px + 3)} {_svg_num(mid)} L{_svg_num(px)} {_svg_num(mid + 4)} '
            f'L{_svg_num(px - 3)} {_svg_num(mid)} Z" fill="#fff" stroke="{OKABE_ITO["orange"]}" stroke-width="1.1"/>'
        )
    if math.isfinite(target):
        tx = X(target)
        parts.append(
            f'<line x1="{_svg_num(tx)}" x2="{_svg_num(tx)}" y1="0" y2="{height}" stroke="{INK}" stroke-width="1.6"/>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">{"".join(parts)}</svg>'
    )
