"""The demo generator: deterministic, in the contract, dirty where it says, and realistic enough
for the scorecards to have something to say (seasons, a team in trouble, a small team, churn
after bad experiences)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest

from scorecards.config.settings import load_settings
from scorecards.demo.generate import generate
from scorecards.ingest.load import ingest_customers, ingest_events
from scorecards.kpis.engine import compute_team_kpis
from scorecards.warehouse.connection import connect

REPO = Path(__file__).resolve().parents[1]


def _config(root: Path) -> Path:
    cfg = root / "config"
    cfg.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config" / "teams.yaml", cfg / "teams.yaml")
    return cfg


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


SMALL = dict(months=3, teams=8, tickets_per_month=10000, end_month="2026-03")


def test_same_seed_same_bytes_other_seed_other_data(tmp_path: Path) -> None:
    generate(tmp_path / "a", seed=3, **SMALL)
    generate(tmp_path / "b", seed=3, **SMALL)
    generate(tmp_path / "c", seed=4, **SMALL)
    a, b, c = (_digest(tmp_path / x / "landing") for x in "abc")
    assert a == b
    assert a.keys() == c.keys() and a != c


def test_rerun_replaces_own_files_and_keeps_others(tmp_path: Path) -> None:
    generate(tmp_path, seed=1, **SMALL)
    mine = tmp_path / "landing" / "tickets" / "zendesk_export.csv"
    mine.write_text("kept")
    generate(tmp_path, seed=1, **{**SMALL, "months": 2, "end_month": "2026-02"})
    names = sorted(p.name for p in (tmp_path / "landing" / "tickets").iterdir())
    assert names == ["tickets_2026-01.csv", "tickets_2026-02.parquet", "zendesk_export.csv"]


@pytest.mark.parametrize("fmt, suffixes", [("csv", {".csv"}), ("parquet", {".parquet"})])
def test_formats(tmp_path: Path, fmt: str, suffixes: set[str]) -> None:
    generate(tmp_path, seed=1, fmt=fmt, **SMALL)
    found = {p.suffix for p in (tmp_path / "landing").rglob("*") if p.is_file()}
    assert found == suffixes


EXPECTED_REASONS = {
    "tickets": {
        "unknown channel",
        "first response before creation",
        "missing required value: customer_id",
        "missing required value: team",
        "duplicate ticket_id with conflicting values in: contacts",
        "unparsable timestamp: created_at",
        "unparsable timestamp: resolved_at",
        "not a boolean: escalated",
    },
    "survey_responses": {
        "score out of range",
        "unknown survey type",
        "missing required value: score",
        "missing required value: customer_id",
        "duplicate response_id with conflicting values in: score",
        "unparsable timestamp: submitted_at",
        "not a whole number: score",
    },
}


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    root = tmp_path_factory.mktemp("demo")
    written = generate(root / "data", seed=1, **SMALL)
    settings = load_settings(root / "data", _config(root))
    months = ["2026-01", "2026-02", "2026-03"]
    reports = ingest_events(settings, months)
    reports["customers"] = ingest_customers(settings)
    return settings, written, reports, months


def test_dirty_rows_land_in_quarantine_and_nothing_is_lost(small_demo: tuple) -> None:
    settings, written, reports, months = small_demo
    for table, expected in EXPECTED_REASONS.items():
        rep = reports[table]
        reasons = set(rep.reasons.reason)
        # A row with several problems lists them all, joined by "; ".
        seen = {part for r in reasons for part in r.split("; ")}
        assert expected <= seen, (table, expected - seen)
        t = rep.totals()
        assert t["rows_read"] == sum(v for k, v in t.items() if k != "rows_read")
        assert t["superseded"] == t["filtered"] == 0
        assert t["duplicates_dropped"] >= 2  # an exact duplicate in the same file and across files
        for m in months:
            # Few enough that the blocking checks pass: the demo must run end to end.
            assert rep.quarantined_share(m) < settings.teams_file.quarantine_threshold
    assert reports["tickets"].totals()["rows_read"] == written["tickets"]
    assert reports["survey_responses"].totals()["rows_read"] == written["surveys"]
    assert reports["customers"].totals()["rows_read"] == written["customers"]
    assert reports["customers"].totals()["quarantined"] > 0
    assert not reports["tickets"].unknown_teams


def test_no_dirty_means_no_quarantine(tmp_path: Path) -> None:
    generate(tmp_path / "data", seed=2, dirty=False, **SMALL)
    settings = load_settings(tmp_path / "data", _config(tmp_path))
    reports = ingest_events(settings, ["2026-01", "2026-02", "2026-03"])
    reports["customers"] = ingest_customers(settings)
    for rep in reports.values():
        assert rep.totals()["quarantined"] == 0
        assert rep.totals()["duplicates_dropped"] == 0


def test_naive_and_offset_timestamps_both_occur(small_demo: tuple) -> None:
    settings = small_demo[0]
    csvs = sorted((settings.landing_dir / "tickets").glob("*.csv"))
    firsts = [pd.read_csv(p, nrows=5, dtype=str).created_at.iloc[0] for p in csvs]
    assert any("+" in f for f in firsts) and any("+" not in f for f in firsts)


@pytest.fixture(scope="module")
def year_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """Fourteen months, enough for seasons, year-over-year and churn after bad experiences."""
    root = tmp_path_factory.mktemp("year")
    generate(root / "data", months=14, tickets_per_month=6000, seed=5, end_month="2026-10")
    settings = load_settings(root / "data", _config(root))
    months = [f"2025-{m:02d}" for m in range(9, 13)] + [f"2026-{m:02d}" for m in range(1, 11)]
    ingest_events(settings, months)
    ingest_customers(settings)
    return settings, months


def test_survey_response_rate_and_surveys_without_team(year_demo: tuple) -> None:
    settings, _ = year_demo
    with connect(settings.warehouse_path, read_only=True) as con:
        tickets, surveys = con.execute(
            "SELECT (SELECT count(*) FROM tickets), (SELECT count(*) FROM survey_responses)"
        ).fetchone()
    assert 0.10 < surveys / tickets < 0.20
    raw = pd.concat(
        pd.read_csv(p, dtype=str) if p.suffix == ".csv" else pd.read_parquet(p)
        for p in sorted((settings.landing_dir / "surveys").iterdir())
    )
    no_team = raw.team.isna().mean()
    assert 0.05 < no_team < 0.15


def test_seasons_teams_and_the_returns_dip(year_demo: tuple) -> None:
    settings, months = year_demo
    with connect(settings.warehouse_path, read_only=True) as con:
        kpis = {
            m: compute_team_kpis(con, settings, m, months[0])
            for m in ("2026-07", "2026-09", "2026-10")
        }

    def value(month: str, team: str, kpi: str) -> float:
        df = kpis[month]
        return float(df[(df.team == team) & (df.kpi == kpi)].value.iloc[0])

    def row(month: str, team: str, kpi: str) -> pd.Series:
        df = kpis[month]
        return df[(df.team == team) & (df.kpi == kpi)].iloc[0]

    # November and December are busier than summer, year over year as well.
    assert value("2026-10", "ALL", "ticket_volume") > value("2026-07", "ALL", "ticket_volume")
    # Teams differ: enterprise is slower to resolve than premium, tech support escalates more.
    assert value("2026-10", "enterprise", "average_resolution_time") > value(
        "2026-10", "premium", "average_resolution_time"
    )
    assert value("2026-10", "tech_support", "escalation_rate") > value(
        "2026-10", "onboarding", "escalation_rate"
    )
    # Returns slides over the last two months, well beyond the noise of a year ago.
    dip = row("2026-10", "returns", "csat")
    assert dip.value < dip.prev_value < value("2026-07", "returns", "csat")
    assert dip.ci_high < dip.yoy_value - 10
    assert value("2026-10", "returns", "average_resolution_time") > value(
        "2026-09", "returns", "average_resolution_time"
    )
    # Premium is small: its survey KPIs are low-sample.
    assert bool(row("2026-10", "premium", "nps").low_sample)
    assert not bool(row("2026-10", "billing", "csat").low_sample)


def test_churn_follows_bad_experiences(year_demo: tuple) -> None:
    settings, _ = year_demo
    with connect(settings.warehouse_path, read_only=True) as con:
        rates = con.execute(
            """
            WITH bad AS (
                SELECT customer_id, bool_or(escalated OR reopened OR contacts >= 3) AS bad
                FROM tickets
                WHERE created_at >= TIMESTAMPTZ '2026-01-01 00:00:00+01'
                  AND created_at < TIMESTAMPTZ '2026-04-01 00:00:00+02'
                GROUP BY customer_id
            )
            SELECT b.bad, avg(CASE WHEN c.churned_at >= TIMESTAMPTZ '2026-04-01 00:00:00+02'
                               AND c.churned_at < TIMESTAMPTZ '2026-07-01 00:00:00+02'
                              THEN 1.0 ELSE 0.0 END), count(*)
            FROM bad b JOIN customers c USING (customer_id)
            WHERE c.churned_at IS NULL OR c.churned_at >= TIMESTAMPTZ '2026-04-01 00:00:00+02'
            GROUP BY b.bad
            """
        ).fetchall()
    by = {bad: (rate, n) for bad, rate, n in rates}
    assert by[True][1] > 300 and by[False][1] > 300
    assert by[True][0] > 1.5 * by[False][0]


def test_cli_writes_to_data_dir(tmp_path: Path) -> None:
    from scorecards.demo.generate import main

    assert (
        main(
            [
                "--months",
                "1",
                "--tickets-per-month",
                "500",
                "--end-month",
                "2026-05",
                "--data-dir",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert (tmp_path / "landing" / "tickets" / "tickets_2026-05.csv").exists()
    with pytest.raises(SystemExit):
        main(["--months", "0", "--data-dir", str(tmp_path)])
