"""Status at a glance (issue 13) on constructed reports, without a warehouse: the tiles and the
overview cells mark missed targets and significant declines, and say when a change is noise;
charts and sparklines carry the target; German PDFs speak German in the appendix."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest

from scorecards.render import charts, team_page
from scorecards.render.labels import definition, quarantine_reason, tile_label
from scorecards.render.pdf import Renderer
from scorecards.report.data import OverviewReport, TeamReport
from scorecards.text import formatting as fmt

MONTHS = [f"2026-{m:02d}" for m in range(1, 12)]
MONTH = MONTHS[-1]


def _row(
    team: str,
    kpi: str,
    value: float,
    *,
    prev: float,
    target: float,
    sig: object,
    n: float = 500,
    period: str = MONTH,
) -> dict:
    return {
        "period": period,
        "team": team,
        "kpi": kpi,
        "value": value,
        "n": n,
        "ci_low": value - 1,
        "ci_high": value + 1,
        "low_sample": n < 30,
        "prev_value": prev,
        "yoy_value": value - 0.5,
        "target": target,
        "change_significant": sig,
        "no_data_reason": None,
    }


def _kpis(team: str = "billing") -> pd.DataFrame:
    rows = []
    for m in MONTHS[:-1]:
        rows.append(_row(team, "csat", 85.0, prev=85.0, target=80.0, sig=False, period=m))
        rows.append(
            _row(team, "average_resolution_time", 10.0, prev=10.0, target=24.0, sig=False, period=m)
        )
    # CSAT collapses (significant, below target); ART moves within noise and meets its target.
    rows.append(_row(team, "csat", 39.7, prev=84.0, target=80.0, sig=True))
    rows.append(_row(team, "average_resolution_time", 12.3, prev=10.1, target=24.0, sig=False))
    rows.append(_row(team, "first_response_time", 5.53, prev=5.0, target=60.0, sig=None))
    rows.append(
        _row(team, "first_response_within_target", 59.0, prev=60.0, target=np.nan, sig=False)
    )
    return pd.DataFrame(rows)


def _team(locale: str) -> TeamReport:
    return TeamReport(
        team_id="returns",
        team_name="Retouren",
        locale=locale,
        month=MONTH,
        months=MONTHS,
        headline=["csat", "average_resolution_time", "first_response_time"],
        kpis=_kpis("returns"),
        channels=pd.DataFrame(columns=["period", "channel", "tickets"]),
        times=pd.DataFrame(
            {
                "period": MONTHS,
                "frt_median": 5.0,
                "frt_p90": 90.0,
                "res_median": 6.0,
                "res_p90": 40.0,
            }
        ),
        ingest=pd.DataFrame(
            columns=["dataset", "rows_read", "accepted", "quarantined", "duplicates_dropped"]
        ),
        reasons=pd.DataFrame(
            {"dataset": ["survey_responses"], "reason": ["score out of range"], "rows": [3]}
        ),
        at_risk=None,
        risk_scored=False,
        report_date=dt.date(2026, 11, 30),
    )


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace(fmt.NBSP, " ")


def test_tiles_mark_missed_targets_and_noise(renderer: Renderer) -> None:
    r = _team("de")
    csat, art = (
        team_page.tile(r, "csat", renderer.fetcher.add_image),
        team_page.tile(r, "average_resolution_time", renderer.fetcher.add_image),
    )
    assert csat["status"] == "missed" and csat["target"] == f"✗ Ziel 80,0{fmt.NBSP}% verfehlt"
    # A significant fall is an exception: arrow, "schlechter" and the worse tone (coloured).
    assert csat["prev"]["arrow"] == "▼" and csat["prev"]["judgement"] == "schlechter"
    assert csat["prev"]["tone"] == "worse"
    # ART rose 2.2 h within random variation: no arrow, no "schlechter", greyed.
    assert art["status"] == "met" and art["target"].startswith("✓")
    assert art["prev"]["arrow"] == "≈" and art["prev"]["judgement"] == ""
    assert art["prev"]["tone"] == "noise"
    # Last year is not tested: the difference only, never "besser"/"schlechter".
    assert art["yoy"]["judgement"] == "" and art["yoy"]["arrow"] == ""
    html = renderer.team_html(r)
    assert 'class="tile missed"' in html or "tile missed" in html
    assert html.count("tile missed") == 1


def test_change_is_plain_when_significance_is_unknown() -> None:
    d = fmt.change("csat", 70.0, 75.0, "en")
    assert (d["arrow"], d["judgement"], d["tone"]) == ("▼", "worse", "")
    d = fmt.change("csat", 70.0, 75.0, "en", significant=False)
    assert (d["arrow"], d["judgement"], d["tone"]) == ("", "no real change", "noise")


def test_target_status_at_the_digits_shown() -> None:
    assert fmt.target_status("csat", 79.96, 80.0) == "met"  # prints "80,0 %" against 80,0 %
    assert fmt.target_status("csat", 79.9, 80.0) == "missed"
    assert fmt.target_status("average_resolution_time", 24.5, 24.0) == "missed"
    assert fmt.target_status("ticket_volume", 100, 50) == ""
    assert fmt.target_status("csat", 90.0, float("nan")) == ""


def test_service_level_under_the_frt_tile(renderer: Renderer) -> None:
    tile = team_page.tile(_team("en"), "first_response_time", renderer.fetcher.add_image)
    assert tile["service_level"] == f"59.0% within 60.0{fmt.NBSP}min"
    assert tile["value"] == f"5.5{fmt.NBSP}min"


def test_sparkline_and_bullet_carry_target_and_scale() -> None:
    svg = charts.sparkline_svg([1.0, 2.0, 3.0], target=10.0)
    assert "stroke-dasharray" in svg
    assert "stroke-dasharray" not in charts.sparkline_svg([1.0, 2.0, 3.0])
    # NPS on −100…100: the zero line is drawn and a small value still shows a bar.
    nps = charts.bullet_svg("nps", 5.0, 20.0, 0.0, -5.0, 15.0)
    assert 'x1="75" x2="75"' in nps


def test_times_chart_end_labels_follow_the_page_rounding() -> None:
    months = MONTHS
    times = pd.DataFrame(
        {"period": months, "frt_median": 5.0, "frt_p90": 30.0, "res_median": 6.0, "res_p90": 40.0}
    )
    frt = pd.DataFrame({"value": [5.0] * 10 + [5.53], "target": 60.0}, index=months)
    art = pd.DataFrame({"value": [21.2] * 11, "target": 24.0}, index=months)
    chart = charts.times_chart(times, months, "en", frt=frt, art=art)
    svg = chart.svg.decode()
    assert ">5.5<" in svg and ">21.2<" in svg  # not "6" and not the median 6.1
    assert "Mean (ART)" in svg and "Target" in svg
    assert "Target 24.0" in chart.alt


def test_overview_cells_are_scannable(renderer: Renderer) -> None:
    kpis = pd.concat([_kpis("ALL"), _kpis("returns"), _kpis("billing")])
    ok = (kpis.team == "billing") & (kpis.kpi == "csat") & (kpis.period == MONTH)
    kpis.loc[ok, ["value", "change_significant"]] = [85.0, False]
    o = OverviewReport(
        month=MONTH,
        months=MONTHS,
        locale="de",
        teams=[("returns", "Retouren"), ("billing", "Abrechnung")],
        kpis=kpis,
        columns=["csat", "average_resolution_time"],
        trend_kpis=["csat"],
        report_date=dt.date(2026, 11, 30),
    )
    text = _text(renderer.overview_html(o))
    # Same target for every row: in the column head, not in 6 cells.
    assert text.count("Ziel 80,0 %") == 1
    assert "✗ 39,7 %" in text and "✗ 85,0 %" not in text
    assert "≈ +1,0 Pp." in text  # billing's noise, greyed, with no "besser"
    assert "Team returns" not in text and "Team billing" not in text


def test_german_appendix_has_no_column_names_or_english_reasons(renderer: Renderer) -> None:
    assert quarantine_reason("score out of range", "de") == "Bewertung außerhalb der Skala"
    assert (
        quarantine_reason("missing required value: customer_id; not a boolean: escalated", "de")
        == "Pflichtwert fehlt: Kundennummer; kein Ja/Nein-Wert: eskaliert"
    )
    assert quarantine_reason("score out of range", "en") == "score out of range"
    for kpi in (
        "average_handling_time",
        "first_contact_resolution",
        "first_response_time",
        "churn_rate",
        "wait_time",
    ):
        for loc in ("de", "en"):
            assert not re.search(r"\w+_\w+|contacts = 1", definition(kpi, loc)), (kpi, loc)
    html = renderer.team_html(_team("de"))
    assert "Bewertung außerhalb der Skala" in html and "score out of range" not in html
    assert "Team returns" not in html


@pytest.mark.parametrize("locale", ["de", "en"])
def test_tile_titles_are_short(locale: str) -> None:
    for kpi in (
        "first_response_time",
        "average_resolution_time",
        "first_contact_resolution",
        "csat",
        "nps",
        "ces",
        "churn_rate",
        "escalation_rate",
    ):
        assert len(tile_label(kpi, locale)) <= 22, tile_label(kpi, locale)


@pytest.mark.parametrize("value", [20.0, 95.0])
def test_a_tile_with_too_few_cases_is_neither_met_nor_missed(renderer: Renderer, value) -> None:
    r = _team("en")
    few = (r.kpis.kpi == "csat") & (r.kpis.period == MONTH)
    r.kpis.loc[few, ["value", "n", "low_sample"]] = [value, 9, True]
    tile = team_page.tile(r, "csat", renderer.fetcher.add_image)
    assert tile["status"] == "" and tile["low_sample"]
    assert tile["target"] == "Target 80.0%"  # shown, but without ✓ or ✗
    assert "9" in tile["n"]
