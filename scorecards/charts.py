"""Charts for the scorecards: matplotlib trend charts and two small hand-drawn SVG glyphs.

Trend charts use matplotlib with the page's own font (Inter, shipped in reports/templates/fonts)
and the Okabe-Ito palette, which stays distinguishable for the common colour-vision
deficiencies. Every chart comes with an alt text that states its numbers, for the tagged PDF.

Sparklines and bullet graphs are tiny and numerous (one per KPI row), so they are written as
SVG directly: a few hundred bytes each instead of a matplotlib figure.

Output is deterministic: SVG ids come from a fixed hash salt and no date is written.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator  # noqa: E402

from scorecards import formatting as fmt  # noqa: E402
from scorecards.contract import CHANNELS  # noqa: E402
from scorecards.kpi_catalog import KPI_BY_ID  # noqa: E402

FONT_DIR = Path(__file__).resolve().parent.parent / "reports" / "templates" / "fonts"
FONT_FILES = ("Inter-Regular.otf", "Inter-SemiBold.otf")
FONT_FAMILY = "Inter"

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
INK = "#1f2328"
MUTED = "#6e7781"
GRID = "#d0d7de"

CHANNEL_LABELS = {
    "de": {
        "phone": "Telefon",
        "email": "E-Mail",
        "chat": "Chat",
        "social": "Social Media",
        "web": "Webformular",
        "self_service": "Self-Service",
    },
    "en": {
        "phone": "Phone",
        "email": "Email",
        "chat": "Chat",
        "social": "Social media",
        "web": "Web form",
        "self_service": "Self-service",
    },
}

_T = {
    "de": {
        "volume_title": "Ticketvolumen nach Kanal",
        "tickets": "Tickets",
        "frt": "Erste Antwortzeit (Min.)",
        "res": "Lösungszeit (Std.)",
        "median": "Median",
        "p90": "90. Perzentil",
        "mean": "Mittelwert (ART)",
        "frt_kpi": "Median (FRT)",
        "target": "Ziel",
        "csat": "CSAT (%)",
        "nps": "NPS",
        "ci": "95-%-Intervall",
        "log": "logarithmische Skala",
        "volume_alt": "Balkendiagramm: Tickets pro Monat nach Kanal, {first} bis {last}. ",
        "times_alt": "Liniendiagramme: erste Antwortzeit in Minuten (Median und 90. Perzentil) "
        "und Lösungszeit in Stunden (Mittelwert und Median), {first} bis {last}. ",
        "survey_alt": "Liniendiagramme: CSAT in Prozent und NPS mit 95-%-Intervall, "
        "{first} bis {last}. ",
        "no_data_alt": "Keine Daten in diesem Zeitraum.",
    },
    "en": {
        "volume_title": "Ticket volume by channel",
        "tickets": "Tickets",
        "frt": "First response time (min)",
        "res": "Resolution time (h)",
        "median": "Median",
        "p90": "90th percentile",
        "mean": "Mean (ART)",
        "frt_kpi": "Median (FRT)",
        "target": "Target",
        "csat": "CSAT (%)",
        "nps": "NPS",
        "ci": "95% interval",
        "log": "log scale",
        "volume_alt": "Bar chart: tickets per month by channel, {first} to {last}. ",
        "times_alt": "Line charts: first response time in minutes (median and 90th percentile) "
        "and resolution time in hours (mean and median), {first} to {last}. ",
        "survey_alt": "Line charts: CSAT in percent and NPS with 95% interval, {first} to {last}. ",
        "no_data_alt": "No data in this period.",
    },
}


@dataclass(frozen=True)
class Chart:
    svg: bytes
    alt: str


_configured = False


def configure() -> None:
    """Register the page font with matplotlib and set the house style, once per process."""
    global _configured
    if _configured:
        return
    for name in FONT_FILES:
        font_manager.fontManager.addfont(str(FONT_DIR / name))
    plt.rcParams.update(
        {
            "font.family": FONT_FAMILY,
            "font.size": 7,
            "axes.titlesize": 7.5,
            "axes.titleweight": "semibold",
            "axes.titlelocation": "left",
            "axes.edgecolor": GRID,
            "axes.labelcolor": INK,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "axes.grid.axis": "y",
            "grid.color": GRID,
            "grid.linewidth": 0.5,
            "xtick.color": MUTED,
            "ytick.color": MUTED,
            "xtick.major.size": 0,
            "ytick.major.size": 0,
            "legend.frameon": False,
            "legend.fontsize": 6.5,
            "svg.fonttype": "none",
            "svg.hashsalt": "service-scorecards",
            "axes.unicode_minus": True,
        }
    )
    _configured = True


def _save(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return buf.getvalue()


def _month_labels(months: Sequence[str], locale: str) -> list[str]:
    return [fmt.month_name(m, locale, short=True) for m in months]


def _num_formatter(locale: str, digits: int = 0) -> FuncFormatter:
    return FuncFormatter(lambda v, _pos: fmt.number(v, locale, digits))


def _x_axis(ax: plt.Axes, months: Sequence[str], locale: str) -> None:
    labels = _month_labels(months, locale)
    # Every other month, ending on the latest, keeps 13 labels legible in a third of a page.
    ticks = list(range((len(months) - 1) % 2, len(months), 2))
    ax.set_xticks(ticks)
    ax.set_xticklabels([labels[i] for i in ticks])
    ax.set_xlim(-0.6, len(months) - 0.4)


def _values_text(values: Sequence[float], months: Sequence[str], locale: str, digits: int) -> str:
    parts = [
        f"{fmt.month_name(m, locale, short=True)} {fmt.number(v, locale, digits)}"
        for m, v in zip(months, values, strict=True)
        if not fmt.is_missing(v)
    ]
    return "; ".join(parts)


def volume_chart(matrix: pd.DataFrame, months: Sequence[str], locale: str) -> Chart:
    """Stacked monthly bars of tickets by channel."""
    configure()
    t = _T[locale]
    fig, ax = plt.subplots(figsize=(7.1, 2.0))
    bottom = np.zeros(len(months))
    for ch in matrix.columns:
        vals = matrix[ch].to_numpy(dtype=float)
        if not vals.any():
            continue
        ax.bar(
            range(len(months)),
            vals,
            bottom=bottom,
            width=0.72,
            color=CHANNEL_COLOURS.get(ch, MUTED),
            label=CHANNEL_LABELS[locale].get(ch, ch),
            linewidth=0,
        )
        bottom += vals
    _x_axis(ax, months, locale)
    ax.yaxis.set_major_formatter(_num_formatter(locale))
    ax.yaxis.set_major_locator(MaxNLocator(4))
    ax.set_title(t["volume_title"])
    if bottom.any():
        ax.legend(
            ncols=6, loc="upper left", bbox_to_anchor=(0, -0.12), handlelength=1, columnspacing=1
        )
    fig.subplots_adjust(left=0.07, right=0.99, top=0.88, bottom=0.26)
    totals = matrix.sum(axis=1).to_numpy(dtype=float)
    alt = t["volume_alt"].format(
        first=fmt.month_name(months[0], locale), last=fmt.month_name(months[-1], locale)
    )
    if totals.any():
        last = matrix.iloc[-1]
        split = ", ".join(
            f"{CHANNEL_LABELS[locale].get(c, c)} {fmt.count(v, locale)}"
            for c, v in last.items()
            if v
        )
        alt += f"{t['tickets']}: " + _values_text(totals, months, locale, 0)
        alt += f". {fmt.month_name(months[-1], locale)}: {split}."
    else:
        alt += t["no_data_alt"]
    return Chart(_save(fig), alt)


def _label_last(
    ax: plt.Axes, values: np.ndarray, colour: str, locale: str, digits: int | str
) -> None:
    """Print the latest value next to its point: the number a reader looks for first. `digits`
    may name a KPI, whose page rounding the label then follows ("5,5", not "6")."""
    ok = np.flatnonzero(np.isfinite(values))
    if len(ok):
        k = int(ok[-1])
        v = float(values[k])
        d = fmt.digits_for(KPI_BY_ID[digits], v) if isinstance(digits, str) else digits
        ax.annotate(
            fmt.number(v, locale, d),
            (k, v),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=6.3,
            color=colour,
            fontweight="semibold",
        )


def _target_line(ax: plt.Axes, target: float, locale: str) -> None:
    """The target as a dashed reference line, the same on every chart of the page."""
    if math.isfinite(target):
        ax.axhline(target, color=INK, lw=0.8, ls=(0, (3, 2)), label=_T[locale]["target"])


def _time_panel(
    ax: plt.Axes,
    months: Sequence[str],
    main: np.ndarray,
    other: np.ndarray,
    labels: tuple[str, str],
    kpi: str,
    target: float,
    locale: str,
) -> None:
    """The KPI's own statistic (what the tile shows) as the solid line, a second statistic
    dashed, each labelled; the target dashed in ink."""
    x = np.arange(len(months))
    ax.plot(x, other, color=OKABE_ITO["orange"], lw=1.2, ls=(0, (4, 1.5)), label=labels[1])
    ax.plot(x, main, color=OKABE_ITO["blue"], lw=1.7, label=labels[0])
    _target_line(ax, target, locale)
    _label_last(ax, other, OKABE_ITO["orange"], locale, kpi)
    _label_last(ax, main, OKABE_ITO["blue"], locale, kpi)
    _x_axis(ax, months, locale)
    ax.set_xlim(-0.6, len(months) + 0.6)
    finite = np.concatenate(
        [main[np.isfinite(main)], other[np.isfinite(other)]]
        + ([np.array([target])] if math.isfinite(target) else [])
    )
    if len(finite) and finite.min() > 0 and finite.max() / finite.min() > 12:
        # The 90th percentile can be a hundred times the median; on a linear axis the median
        # would lie flat on zero. A log axis keeps both readable, and says so in its title.
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1, 2, 5)))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_major_formatter(_num_formatter(locale, 0))
        ax.grid(True, axis="y", which="major")
    else:
        ax.yaxis.set_major_formatter(_num_formatter(locale, 0))
        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", ncols=3, bbox_to_anchor=(0, -0.1), handlelength=1.5)


def _series(df: pd.DataFrame | None, months: Sequence[str], col: str) -> np.ndarray:
    if df is None or col not in df.columns:
        return np.full(len(months), np.nan)
    return df.reindex(list(months))[col].to_numpy(float)


def _last_target(df: pd.DataFrame | None) -> float:
    if df is None or "target" not in df.columns:
        return math.nan
    t = df.target.dropna()
    return float(t.iloc[-1]) if len(t) else math.nan


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
    configure()
    t = _T[locale]
    df = times.set_index("period").reindex(list(months))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(7.1, 2.0))
    frt_main = _series(frt, months, "value") if frt is not None else df.frt_median.to_numpy(float)
    series = {
        "frt": (frt_main, df.frt_p90.to_numpy(float), (t["frt_kpi"], t["p90"])),
        "res": (
            _series(art, months, "value"),
            df.res_median.to_numpy(float),
            (t["mean"], t["median"]),
        ),
    }
    kpis = {"frt": "first_response_time", "res": "average_resolution_time"}
    targets = {"frt": _last_target(frt), "res": _last_target(art)}
    for ax, key in ((a1, "frt"), (a2, "res")):
        main, other, labels = series[key]
        _time_panel(ax, months, main, other, labels, kpis[key], targets[key], locale)
        log = ax.get_yscale() == "log"
        ax.set_title(t[key] + (f" · {t['log']}" if log else ""))
    fig.subplots_adjust(left=0.06, right=0.99, top=0.88, bottom=0.27, wspace=0.18)
    alt = t["times_alt"].format(
        first=fmt.month_name(months[0], locale), last=fmt.month_name(months[-1], locale)
    )
    parts = []
    for key, (main, other, labels) in series.items():
        if np.isfinite(main).any() or np.isfinite(other).any():
            target = (
                f" {t['target']} {fmt.number(targets[key], locale, 1)}."
                if math.isfinite(targets[key])
                else ""
            )
            parts.append(
                f"{t[key]} {labels[0]}: {_values_text(main, months, locale, 1)}; "
                f"{labels[1]}: {_values_text(other, months, locale, 1)}.{target}"
            )
    alt += " ".join(parts) if parts else t["no_data_alt"]
    return Chart(_save(fig), alt)


def survey_chart(
    csat: pd.DataFrame, nps: pd.DataFrame, months: Sequence[str], locale: str
) -> Chart:
    """CSAT and NPS with their 95% interval as a band; months without answers stay empty."""
    configure()
    t = _T[locale]
    fig, axes = plt.subplots(1, 2, figsize=(7.1, 2.0))
    x = np.arange(len(months))
    parts = []
    for ax, df, key, colour in (
        (axes[0], csat, "csat", OKABE_ITO["blue"]),
        (axes[1], nps, "nps", OKABE_ITO["green"]),
    ):
        v = df.value.to_numpy(float)
        lo, hi = df.ci_low.to_numpy(float), df.ci_high.to_numpy(float)
        ax.fill_between(x, lo, hi, color=colour, alpha=0.18, linewidth=0, label=t["ci"])
        ax.plot(x, v, color=colour, lw=1.6, label=key.upper())
        _label_last(ax, v, colour, locale, 1)
        _target_line(ax, _last_target(df), locale)
        _x_axis(ax, months, locale)
        ax.set_xlim(-0.6, len(months) + 0.6)
        ax.yaxis.set_major_formatter(_num_formatter(locale))
        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.set_title(t[key])
        ax.legend(loc="upper left", ncols=3, bbox_to_anchor=(0, -0.1), handlelength=1.5)
        if np.isfinite(v).any():
            parts.append(
                f"{t[key]}: "
                + "; ".join(
                    f"{fmt.month_name(m, locale, short=True)} {fmt.number(a, locale, 1)} "
                    f"({fmt.number(b, locale, 1)}–{fmt.number(c, locale, 1)})"
                    for m, a, b, c in zip(months, v, lo, hi, strict=True)
                    if math.isfinite(a)
                )
                + "."
            )
    fig.subplots_adjust(left=0.06, right=0.99, top=0.88, bottom=0.27, wspace=0.18)
    alt = t["survey_alt"].format(
        first=fmt.month_name(months[0], locale), last=fmt.month_name(months[-1], locale)
    )
    alt += " ".join(parts) if parts else t["no_data_alt"]
    return Chart(_save(fig), alt)


# -- hand-drawn glyphs ---------------------------------------------------------------------------


def _f(x: float) -> str:
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
            cur.append(f"{_f(x)},{_f(y)}")
        elif cur:
            segments.append(cur)
            cur = []
    if cur:
        segments.append(cur)
    ref = ""
    if has_target and lo <= target <= hi:
        ty = _f(Y(target))
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
    dot = f'<circle cx="{_f(xs[k])}" cy="{_f(ys[k])}" r="2" fill="{INK}"/>'
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
                    f'<rect x="{_f(x0)}" y="2" width="{_f(x1 - x0)}" height="{height - 4}" fill="{c}"/>'
                )
    base = X(max(a, 0.0)) if a < 0 else 0.0
    if a < 0 < b:
        # A scale across zero (NPS): the bar grows from the zero line, which is drawn.
        parts.append(
            f'<line x1="{_f(base)}" x2="{_f(base)}" y1="1" y2="{height - 1}" stroke="{MUTED}" '
            'stroke-width="0.8"/>'
        )
    if math.isfinite(value):
        colour = MUTED if faded else INK
        x0, x1 = sorted((base, X(value)))
        mid = height / 2
        parts.append(
            f'<rect x="{_f(x0)}" y="{_f(mid - 3)}" width="{_f(max(x1 - x0, 1.5))}" height="6" fill="{colour}"/>'
        )
        if math.isfinite(lo) and math.isfinite(hi):
            parts.append(
                f'<line x1="{_f(X(lo))}" x2="{_f(X(hi))}" y1="{_f(mid)}" y2="{_f(mid)}" '
                f'stroke="{OKABE_ITO["sky"]}" stroke-width="1.2"/>'
                f'<line x1="{_f(X(lo))}" x2="{_f(X(lo))}" y1="{_f(mid - 2)}" y2="{_f(mid + 2)}" stroke="{OKABE_ITO["sky"]}" stroke-width="1"/>'
                f'<line x1="{_f(X(hi))}" x2="{_f(X(hi))}" y1="{_f(mid - 2)}" y2="{_f(mid + 2)}" stroke="{OKABE_ITO["sky"]}" stroke-width="1"/>'
            )
    if math.isfinite(prev):
        px, mid = X(prev), height / 2
        parts.append(
            f'<path d="M{_f(px)} {_f(mid - 4)} L{_f(px + 3)} {_f(mid)} L{_f(px)} {_f(mid + 4)} '
            f'L{_f(px - 3)} {_f(mid)} Z" fill="#fff" stroke="{OKABE_ITO["orange"]}" stroke-width="1.1"/>'
        )
    if math.isfinite(target):
        tx = X(target)
        parts.append(
            f'<line x1="{_f(tx)}" x2="{_f(tx)}" y1="0" y2="{height}" stroke="{INK}" stroke-width="1.6"/>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">{"".join(parts)}</svg>'
    )
