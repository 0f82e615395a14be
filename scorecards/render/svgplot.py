"""A small SVG plotter for the scorecards' trend charts: panels, bars, lines, bands, legends.

The charts were matplotlib figures saved as SVG. Building a figure (tick objects, text
extents for the layout) cost about 0.28 s of a scorecard's 1.2 s, and its SVG, with a path and
a transform per glyph run, cost WeasyPrint as much again to draw. These charts are simple:
a fixed page size, a month axis, one value axis. So they are written here directly, in points,
with matplotlib's own tick locators (`MaxNLocator`, `LogLocator`: the part of matplotlib that
is the better tool, and needs no figure) choosing the value ticks.

Text is real text in the page font, so it prints sharp and is searchable. Positions are rounded
to 0.1 pt and the output has no ids or dates, so the same chart gives the same bytes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

import numpy as np
from fontTools.ttLib import TTFont
from matplotlib.ticker import LogLocator, MaxNLocator

from scorecards.core import package_files

INK = "#1f2328"
MUTED = "#6e7781"
GRID = "#d0d7de"
FONT = "Inter"

# Figure geometry in points: 7.1 × 2.0 inches, the width of the page's text block.
WIDTH = 511.2
HEIGHT = 144.0
TEXT_PT = 7.0
TITLE_PT = 7.5
LEGEND_PT = 6.5
LABEL_PT = 6.3


def _n(x: float) -> str:
    """A coordinate with at most one decimal, no trailing zeros: short and deterministic."""
    s = f"{x:.1f}"
    return s[:-2] if s.endswith(".0") else s


def _text(
    x: float,
    y: float,
    s: str,
    size: float = TEXT_PT,
    fill: str = MUTED,
    anchor: str = "start",
    weight: int = 400,
) -> str:
    w = f' font-weight="{weight}"' if weight != 400 else ""
    a = f' text-anchor="{anchor}"' if anchor != "start" else ""
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" font-size="{size}" fill="{fill}"{a}{w}>{escape(s)}</text>'
    )


@dataclass
class Legend:
    """Legend entries: ("line", colour, dash or None, width) | ("box", colour, opacity)."""

    entries: list[tuple[str, tuple]] = field(default_factory=list)

    def line(self, label: str, colour: str, width: float = 1.5, dash: str | None = None) -> None:
        self.entries.append((label, ("line", colour, dash, width)))

    def box(self, label: str, colour: str, opacity: float = 1.0) -> None:
        self.entries.append((label, ("box", colour, opacity)))


@functools.cache
def _advances() -> tuple[dict[int, float], float]:
    """Inter's advance widths in em, by code point: legend entries are placed after the text
    before them, so its width must be known without a layout engine."""
    font = TTFont(package_files.FONTS_DIR / "Inter-Regular.otf", lazy=True)
    upem = font["head"].unitsPerEm
    hmtx = font["hmtx"]
    widths = {cp: hmtx[name][0] / upem for cp, name in font.getBestCmap().items()}
    return widths, widths.get(ord("n"), 0.55)


def text_width(s: str, size: float) -> float:
    """The width of `s` in points at `size`, set in Inter Regular without kerning."""
    widths, fallback = _advances()
    return sum(widths.get(ord(c), fallback) for c in s) * size


@dataclass
class Panel:
    """One axes: months along x (0 … n-1), a value scale along y, drawn into a box in points."""

    x0: float
    y0: float  # top
    w: float
    h: float
    n: int
    x_lo: float = -0.6
    x_hi: float | None = None
    y_lo: float = 0.0
    y_hi: float = 1.0
    log: bool = False
    parts: list[str] = field(default_factory=list)

    def X(self, i: float) -> float:
        hi = self.n - 0.4 if self.x_hi is None else self.x_hi
        return self.x0 + (i - self.x_lo) / (hi - self.x_lo) * self.w

    def Y(self, v: float) -> float:
        if self.log:
            lo, hi, v = math.log10(self.y_lo), math.log10(self.y_hi), math.log10(v)
        else:
            lo, hi = self.y_lo, self.y_hi
        return self.y0 + self.h - (v - lo) / (hi - lo) * self.h

    # -- scales -----------------------------------------------------------------------------

    def linear_scale(self, values: np.ndarray, from_zero: bool) -> list[float]:
        """matplotlib's default: data limits with 5% margins (from 0 when `from_zero`), and up
        to four 'nice' ticks inside them."""
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
        if from_zero:
            lo = min(lo, 0.0)
        span = hi - lo or abs(hi) or 1.0
        self.y_lo = lo if from_zero and lo == 0 else lo - 0.05 * span
        self.y_hi = hi + 0.05 * span
        ticks = MaxNLocator(4).tick_values(self.y_lo, self.y_hi)
        return [float(t) for t in ticks if self.y_lo - 1e-9 <= t <= self.y_hi + 1e-9]

    def log_scale(self, values: np.ndarray) -> list[float]:
        """A log axis with 5% margins in log space and ticks at 1, 2, 5 × powers of ten."""
        finite = values[np.isfinite(values) & (values > 0)]
        lo, hi = math.log10(float(finite.min())), math.log10(float(finite.max()))
        span = hi - lo or 1.0
        self.log = True
        self.y_lo, self.y_hi = 10 ** (lo - 0.05 * span), 10 ** (hi + 0.05 * span)
        ticks = LogLocator(base=10, subs=(1, 2, 5)).tick_values(self.y_lo, self.y_hi)
        return [float(t) for t in ticks if self.y_lo <= t <= self.y_hi]

    # -- axes -------------------------------------------------------------------------------

    def axes(self, yticks: Sequence[float], label: Callable[[float], str]) -> None:
        """Horizontal grid lines with their values at the left, and the two remaining spines."""
        for t in yticks:
            y = self.Y(t)
            self.parts.append(
                f'<path d="M{_n(self.x0)} {_n(y)}H{_n(self.x0 + self.w)}" stroke="{GRID}" '
                'stroke-width="0.5"/>'
            )
            self.parts.append(_text(self.x0 - 3.5, y + 2.5, label(t), anchor="end"))
        bottom = self.y0 + self.h
        self.parts.append(
            f'<path d="M{_n(self.x0)} {_n(self.y0)}V{_n(bottom)}H{_n(self.x0 + self.w)}" '
            f'fill="none" stroke="{GRID}" stroke-width="0.8"/>'
        )

    def month_labels(self, labels: Sequence[str]) -> None:
        """Every other month, ending on the latest: 13 labels stay legible in half a page."""
        y = self.y0 + self.h + 9.5
        for i in range((len(labels) - 1) % 2, len(labels), 2):
            self.parts.append(_text(self.X(i), y, labels[i], anchor="middle"))

    def title(self, s: str) -> None:
        self.parts.append(_text(self.x0, self.y0 - 5, s, TITLE_PT, INK, weight=600))

    def legend(self, legend: Legend, dy: float = 20.0) -> None:
        x, y = self.x0, self.y0 + self.h + dy
        for label, spec in legend.entries:
            if spec[0] == "line":
                _, colour, dash, width = spec
                d = f' stroke-dasharray="{dash}"' if dash else ""
                self.parts.append(
                    f'<path d="M{_n(x)} {_n(y - 2.3)}h10" stroke="{colour}" '
                    f'stroke-width="{width}"{d}/>'
                )
            else:
                _, colour, opacity = spec
                o = f' fill-opacity="{opacity}"' if opacity < 1 else ""
                self.parts.append(
                    f'<rect x="{_n(x)}" y="{_n(y - 5.5)}" width="10" height="6.5" '
                    f'fill="{colour}"{o}/>'
                )
            self.parts.append(_text(x + 13, y, label, LEGEND_PT, INK))
            x += 13 + text_width(label, LEGEND_PT) + 8

    # -- marks ------------------------------------------------------------------------------

    def _runs(self, values: np.ndarray) -> list[list[tuple[float, float]]]:
        """Consecutive finite points: a month without a value breaks the line."""
        runs: list[list[tuple[float, float]]] = [[]]
        for i, v in enumerate(values):
            if math.isfinite(v) and (not self.log or v > 0):
                runs[-1].append((self.X(i), self.Y(float(v))))
            elif runs[-1]:
                runs.append([])
        return [r for r in runs if r]

    def line(self, values: np.ndarray, colour: str, width: float, dash: str | None = None) -> None:
        d = f' stroke-dasharray="{dash}"' if dash else ""
        for run in self._runs(values):
            if len(run) == 1:
                x, y = run[0]
                self.parts.append(f'<circle cx="{_n(x)}" cy="{_n(y)}" r="1.2" fill="{colour}"/>')
                continue
            pts = " ".join(f"{_n(x)},{_n(y)}" for x, y in run)
            self.parts.append(
                f'<polyline points="{pts}" fill="none" stroke="{colour}" '
                f'stroke-width="{width}" stroke-linejoin="round"{d}/>'
            )

    def band(self, lo: np.ndarray, hi: np.ndarray, colour: str, opacity: float) -> None:
        ok = np.isfinite(lo) & np.isfinite(hi)
        runs: list[list[int]] = [[]]
        for i in range(len(lo)):
            if ok[i]:
                runs[-1].append(i)
            elif runs[-1]:
                runs.append([])
        for run in (r for r in runs if len(r) > 1):
            top = [f"{_n(self.X(i))},{_n(self.Y(float(hi[i])))}" for i in run]
            bottom = [f"{_n(self.X(i))},{_n(self.Y(float(lo[i])))}" for i in reversed(run)]
            self.parts.append(
                f'<polygon points="{" ".join(top + bottom)}" fill="{colour}" '
                f'fill-opacity="{opacity}"/>'
            )

    def hline(self, v: float, colour: str, width: float, dash: str) -> None:
        y = _n(self.Y(v))
        self.parts.append(
            f'<path d="M{_n(self.x0)} {y}H{_n(self.x0 + self.w)}" stroke="{colour}" '
            f'stroke-width="{width}" stroke-dasharray="{dash}"/>'
        )

    def bars(self, bottom: np.ndarray, values: np.ndarray, colour: str, width: float) -> None:
        half = width / 2
        d = []
        for i, (b, v) in enumerate(zip(bottom, values, strict=True)):
            if v > 0:
                x0, x1 = self.X(i - half), self.X(i + half)
                y0, y1 = self.Y(b + v), self.Y(b)
                d.append(f"M{_n(x0)} {_n(y0)}H{_n(x1)}V{_n(y1)}H{_n(x0)}Z")
        if d:
            self.parts.append(f'<path d="{"".join(d)}" fill="{colour}"/>')

    def end_label(self, values: np.ndarray, text: Callable[[float], str], colour: str) -> None:
        """The latest value next to its point: the number a reader looks for first."""
        ok = np.flatnonzero(np.isfinite(values))
        if len(ok):
            k = int(ok[-1])
            v = float(values[k])
            if self.log and v <= 0:
                return
            self.parts.append(
                _text(self.X(k) + 3, self.Y(v) + 2.2, text(v), LABEL_PT, colour, weight=600)
            )


def figure(panels: Sequence[Panel]) -> bytes:
    body = "".join(p for panel in panels for p in panel.parts)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(WIDTH)}pt" height="{_n(HEIGHT)}pt" '
        f'viewBox="0 0 {_n(WIDTH)} {_n(HEIGHT)}" font-family="{FONT}">{body}</svg>'
    ).encode()


def panels(count: int, left: float, right: float, top: float, bottom: float, gap: float) -> list:
    """Boxes for `count` side-by-side panels, as fractions of the figure like matplotlib's
    `subplots_adjust` (`gap` relative to a panel's width, like `wspace`)."""
    total = (right - left) * WIDTH
    w = total / (count + (count - 1) * gap)
    y0 = (1 - top) * HEIGHT
    h = (top - bottom) * HEIGHT
    return [(left * WIDTH + i * w * (1 + gap), y0, w, h) for i in range(count)]
