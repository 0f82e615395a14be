"""The hand-drawn trend charts: geometry against the numbers, gaps, log axes, legends."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd

from scorecards.render import charts, svgplot

NS = "{http://www.w3.org/2000/svg}"
MONTHS = [f"2025-{m:02d}" for m in range(1, 13)] + ["2026-01"]


def _tree(svg: bytes) -> ET.Element:
    return ET.fromstring(svg)  # also proves the output is well-formed XML


def test_values_land_where_the_scale_says() -> None:
    p = svgplot.Panel(10, 20, 200, 100, n=13)
    ticks = p.linear_scale(np.array([0.0, 50.0, 100.0]), from_zero=True)
    assert p.y_lo == 0 and math.isclose(p.y_hi, 105.0)
    assert ticks[0] == 0 and all(p.y_lo <= t <= p.y_hi for t in ticks)
    assert math.isclose(p.Y(0), 120.0) and math.isclose(p.Y(105.0), 20.0)
    assert math.isclose(p.X(-0.6), 10.0) and math.isclose(p.X(12.6), 210.0)
    p.hline(52.5, svgplot.INK, 0.8, "2 1")
    assert re.search(r'd="M10 70H210"', "".join(p.parts))


def test_stacked_bars_reach_the_monthly_total() -> None:
    p = svgplot.Panel(0, 0, 130, 100, n=2)
    p.linear_scale(np.array([0.0, 100.0]), from_zero=True)
    p.bars(np.zeros(2), np.array([60.0, 0.0]), "#000", 0.5)
    p.bars(np.array([60.0, 0.0]), np.array([40.0, 100.0]), "#111", 0.5)
    tops = [float(m) for m in re.findall(r"M[\d.]+ ([\d.]+)H", "".join(p.parts))]
    # a zero-height bar is not drawn; both months' stacks end at 100
    assert len(tops) == 3
    assert math.isclose(tops[1], p.Y(100.0), abs_tol=0.06)
    assert math.isclose(tops[2], p.Y(100.0), abs_tol=0.06)


def test_a_month_without_a_value_breaks_the_line() -> None:
    p = svgplot.Panel(0, 0, 100, 100, n=6)
    v = np.array([1.0, 2.0, np.nan, 3.0, 4.0, np.nan])
    p.linear_scale(v, from_zero=True)
    p.line(v, "#000", 1.0)
    lines = [x for x in p.parts if x.startswith("<polyline")]
    assert len(lines) == 2
    assert all(len(re.search(r'points="([^"]+)"', x).group(1).split()) == 2 for x in lines)


def test_times_chart_goes_logarithmic_only_when_the_spread_needs_it() -> None:
    times = pd.DataFrame(
        {"period": MONTHS, "frt_median": 2.0, "frt_p90": 600.0, "res_median": 6.0, "res_p90": 9}
    )
    art = pd.DataFrame({"value": [20.0] * 13, "target": 24.0}, index=MONTHS)
    tree = _tree(charts.times_chart(times, MONTHS, "en", art=art).svg)
    titles = [t.text for t in tree.iter(f"{NS}text") if t.get("font-size") == "7.5"]
    assert titles[0] == "First response time (min) · log scale"
    assert titles[1] == "Resolution time (h)"  # mean 20, median 6: linear
    labels = {t.text for t in tree.iter(f"{NS}text")}
    assert {"2", "5", "10", "100", "500"} <= labels  # 1-2-5 steps on the log axis


def test_legend_entries_do_not_overlap() -> None:
    csat = pd.DataFrame(
        {"value": 80.0, "ci_low": 75.0, "ci_high": 85.0, "target": 88.0}, index=MONTHS
    )
    tree = _tree(charts.survey_chart(csat, csat, MONTHS, "de").svg)
    legend = [
        (float(t.get("x")), t.text) for t in tree.iter(f"{NS}text") if t.get("font-size") == "6.5"
    ]
    names = ["95-%-Intervall", "CSAT", "Ziel", "95-%-Intervall", "NPS", "Ziel"]
    assert [s for _, s in legend] == names
    for (x1, s1), (x2, _s2) in zip(legend[:2], legend[1:3], strict=True):
        assert x1 + svgplot.text_width(s1, 6.5) < x2


def test_same_chart_same_bytes() -> None:
    matrix = pd.DataFrame({"email": [100.0] * 13, "phone": [50.0] * 13}, index=MONTHS)
    a = charts.volume_chart(matrix, MONTHS, "de").svg
    assert a == charts.volume_chart(matrix, MONTHS, "de").svg
    assert b"E-Mail" in a and b"Telefon" in a and b"1.500" not in a
