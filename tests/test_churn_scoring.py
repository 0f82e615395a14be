"""Churn-risk scoring on a generated year where churn follows a known rule: no information from
the future, a model fitted only on known outcomes, a backtest that beats the volume baseline, the
stored rows and the CSV, the at-risk KPIs, and the input months a run needs."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scorecards.churn.pseudonyms import display_ids
from scorecards.churn.scoring import (
    RISK_COLUMNS,
    ChurnInputError,
    build_churn_risk,
    training_months,
    write_risk_csv,
)
from scorecards.config.settings import ConfigError
from scorecards.core.periods import month_bounds, month_range
from scorecards.ingest.load import ingest_customers, ingest_events
from scorecards.kpis.engine import compute_team_kpis
from scorecards.warehouse.connection import connect
from tests.churn_env import (
    MONTHS,
    SCORED,
    TZ,
    as_of,
    churn_teams,
    load_months,
    make_history,
    month_rows,
    write_landing,
)
from tests.conftest import Env

# every test here runs on the DuckDB file and on DuckLake (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("warehouse_backend")


@pytest.fixture(scope="module")
def history() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return make_history()


@pytest.fixture(scope="module")
def full(
    warehouse_backend: object, tmp_path_factory: pytest.TempPathFactory, history: tuple
) -> Env:
    """The whole year loaded and every month scored."""
    env = Env(tmp_path_factory.mktemp("full"), teams=churn_teams())
    write_landing(env, *history)
    load_months(env, MONTHS)
    build_churn_risk(env.settings(), MONTHS, MONTHS[0])
    return env


def test_scoring_a_month_ignores_everything_after_it(
    tmp_path: Path, history: tuple, full: Env
) -> None:
    # The export as it was at the end of September, scored on its own ...
    cut = month_bounds(SCORED, TZ)[1]
    then = Env(tmp_path / "then", teams=churn_teams())
    write_landing(then, *as_of(*history, cut))
    load_months(then, month_range(MONTHS[0], SCORED))
    results, _ = build_churn_risk(then.settings(), [SCORED], MONTHS[0])
    assert results[SCORED].scored
    # ... and again after three more months of tickets, surveys, answers and churn arrived.
    later = Env(tmp_path / "later", teams=churn_teams())
    write_landing(later, *history)
    load_months(later, MONTHS)
    build_churn_risk(later.settings(), [SCORED], MONTHS[0])
    for table in ("customer_churn_risk", "churn_model", "churn_signals"):
        before = month_rows(then, table, SCORED)
        assert before, table
        assert month_rows(later, table, SCORED) == before, table
    csv = Path("out") / SCORED / "churn_risk.csv"
    assert (later.data / csv).read_bytes() == (then.data / csv).read_bytes()
    # Scoring every month in one run gives the same month as well.
    assert month_rows(full, "customer_churn_risk", SCORED) == month_rows(
        then, "customer_churn_risk", SCORED
    )


def test_model_is_fitted_only_on_months_with_known_outcome(full: Env) -> None:
    settings = full.settings()
    start = month_bounds(MONTHS[0], TZ)[0]
    # September ends on 1 October: June's 90 days end on 29 September, July's on 30 October.
    assert training_months(SCORED, settings, start) == ["2025-03", "2025-04", "2025-05", "2025-06"]
    model = pd.DataFrame(
        month_rows(full, "churn_model", SCORED),
        columns=["period", "term", "coef", "or", "from", "to", "months", "n", "k"],
    )
    assert set(model["from"]) == {"2025-03"} and set(model["to"]) == {"2025-06"}
    coef = model.set_index("term").coef
    # Escalations and detractors drive churn here; the fit finds them.
    assert coef["escalations"] > 0.5 and coef["detractor"] > 0.3


def test_backtest_beats_the_volume_baseline(full: Env) -> None:
    with connect(full.settings().warehouse, read_only=True) as con:
        bt = con.execute("SELECT * FROM churn_backtest ORDER BY period, model").df()
    # Scored from June (first month with a training month), outcome known up to September.
    assert sorted(set(bt.period)) == ["2025-06", "2025-07", "2025-08", "2025-09"]
    wide = bt.pivot(index="period", columns="model", values="auc")
    lift = bt.pivot(index="period", columns="model", values="lift_top10")
    assert (wide.model > wide.baseline + 0.05).all(), wide
    assert wide.model.mean() > wide.baseline.mean() + 0.06, wide
    assert (lift.model > lift.baseline).all(), lift
    assert wide.model.min() > 0.7


def test_output_rows_bands_and_csv(full: Env) -> None:
    rows = pd.DataFrame(
        month_rows(full, "customer_churn_risk", SCORED),
    )
    with connect(full.settings().warehouse, read_only=True) as con:
        risk = con.execute("SELECT * FROM customer_churn_risk WHERE period = ?", [SCORED]).df()
    assert len(rows) == len(risk)
    assert risk.score.between(0, 1).all()
    # Customers without a ticket in the window are scored too, without a primary team.
    quiet = risk[risk.team.isna()]
    assert len(quiet) and (quiet.tickets == 0).all()
    # Nobody who left before the end of the month is scored.
    with connect(full.settings().warehouse, read_only=True) as con:
        gone = con.execute(
            "SELECT count(*) FROM customer_churn_risk r JOIN customers c USING (customer_id) "
            "WHERE r.period = ? AND c.churned_at < ?",
            [SCORED, month_bounds(SCORED, TZ)[1]],
        ).fetchone()[0]
    assert gone == 0
    bands = full.settings().teams_file.churn.bands
    expect = np.where(
        risk.score >= bands.high, "high", np.where(risk.score >= bands.medium, "medium", "low")
    )
    assert (risk.band == expect).all()
    assert "high" in set(risk.band)
    # Everyone with an escalation in the window has it among the reasons, in both languages.
    esc = risk[risk.escalations > 0]
    assert len(esc) and esc.reasons_en.str.contains("escalation").all()
    assert esc.reasons_de.str.contains("Eskalation").all()
    assert (risk[risk.score == risk.score.min()].reasons_en == "").all()
    csv = pd.read_csv(full.data / "out" / SCORED / "churn_risk.csv", keep_default_na=False)
    assert len(csv) == len(risk)
    assert list(risk.columns) == list(RISK_COLUMNS)
    assert list(csv.columns) == [c for c in RISK_COLUMNS if c != "period"]
    assert csv.score.is_monotonic_decreasing
    assert set(csv.customer_id) == set(risk.customer_id)  # no pseudonyms unless configured


def test_months_without_enough_history_are_not_scored(full: Env) -> None:
    assert month_rows(full, "customer_churn_risk", "2025-05") == []
    assert month_rows(full, "churn_signals", "2025-05")  # but their signals are kept
    assert not (full.data / "out" / "2025-05" / "churn_risk.csv").exists()


def test_at_risk_kpis_read_the_scores(full: Env) -> None:
    settings = full.settings()
    with connect(settings.warehouse) as con:
        kpis = compute_team_kpis(con, settings, SCORED, MONTHS[0])
        early = compute_team_kpis(con, settings, "2025-05", MONTHS[0])
        risk = con.execute(
            "SELECT team, count(*) n, count(*) FILTER (band = 'high') k "
            "FROM customer_churn_risk WHERE period = ? GROUP BY ALL",
            [SCORED],
        ).df()
        nps = con.execute(
            "SELECT team, count(*) n, count(*) FILTER (score <= 6) k FROM survey_responses "
            "WHERE period = ? GROUP BY team",
            [SCORED],
        ).df()
    k = kpis.set_index(["team", "kpi"])
    for team in ("alpha", "beta"):
        r = risk[risk.team == team].iloc[0]
        assert k.at[(team, "at_risk_customers"), "value"] == r.k
        assert k.at[(team, "at_risk_customers"), "n"] == r.n
        assert k.at[(team, "at_risk_share"), "value"] == pytest.approx(100 * r.k / r.n, abs=1e-6)
        s = nps[nps.team == team].iloc[0]
        assert k.at[(team, "detractor_share"), "value"] == pytest.approx(100 * s.k / s.n, abs=1e-6)
        assert k.at[(team, "detractor_share"), "n"] == s.n
    assert k.at[("ALL", "at_risk_customers"), "n"] == risk.n.sum()
    assert k.at[("ALL", "at_risk_customers"), "value"] == risk.k.sum()
    # August was scored too: its value is the previous one.
    assert not math.isnan(k.at[("ALL", "at_risk_share"), "prev_value"])
    # May could not be scored: no data, never a silent zero.
    e = early.set_index(["team", "kpi"])
    for team in ("ALL", "alpha", "beta"):
        for kpi in ("at_risk_customers", "at_risk_share"):
            assert math.isnan(e.at[(team, kpi), "value"]) and e.at[(team, kpi), "n"] == 0


def test_team_without_customers_gets_empty_at_risk_rows(tmp_path: Path, history: tuple) -> None:
    teams = churn_teams()
    teams["teams"].append({"id": "gamma", "name": "Team Gamma"})
    env = Env(tmp_path, teams=teams)
    write_landing(env, *history)
    months = month_range(MONTHS[0], "2025-07")
    load_months(env, months)
    build_churn_risk(env.settings(), months, MONTHS[0])
    settings = env.settings()
    with connect(settings.warehouse) as con:
        k = compute_team_kpis(con, settings, "2025-07", MONTHS[0]).set_index(["team", "kpi"])
    assert k.at[("gamma", "at_risk_customers"), "value"] == 0
    assert k.at[("gamma", "at_risk_customers"), "n"] == 0
    assert math.isnan(k.at[("gamma", "at_risk_share"), "value"])
    assert k.at[("gamma", "at_risk_share"), "n"] == 0
    assert k.at[("alpha", "at_risk_share"), "n"] > 0


def test_missing_input_months_are_named(tmp_path: Path, history: tuple) -> None:
    env = Env(tmp_path, teams=churn_teams())
    write_landing(env, *history)
    settings = env.settings()
    ingest_events(settings, ["2025-06", "2025-07"])
    ingest_customers(settings)
    # July's window starts on 3 May: April is not needed, May is.
    with pytest.raises(ChurnInputError, match="tickets for 2025-05; survey_responses for 2025-05"):
        build_churn_risk(settings, ["2025-07"], "2025-04")


def test_csv_shows_pseudonyms_when_configured(
    full: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = Env(tmp_path / "conf", teams=churn_teams(pseudonymise_ids=True))
    # Settings read the environment once, when loaded: the key is set before.
    monkeypatch.setenv("SCORECARDS_ID_KEY", "k3y")
    settings = dataclasses.replace(
        conf.settings(), data_dir=tmp_path / "elsewhere"
    )  # the scores of `full`, written under another data dir
    with connect(full.settings().warehouse, read_only=True) as con:
        path = write_risk_csv(con, settings, SCORED)
        real = con.execute(
            "SELECT customer_id FROM customer_churn_risk WHERE period = ? "
            "ORDER BY score DESC, customer_id",
            [SCORED],
        ).df()["customer_id"]
    shown = pd.read_csv(path, keep_default_na=False).customer_id
    assert shown.str.fullmatch(r"K-[0-9a-f]{12}").all()
    assert sorted(shown) == sorted(display_ids(settings, real))
    assert not set(shown) & set(real)
    monkeypatch.delenv("SCORECARDS_ID_KEY")
    unkeyed = dataclasses.replace(conf.settings(), data_dir=tmp_path / "elsewhere")
    with (
        connect(full.settings().warehouse, read_only=True) as con,
        pytest.raises(ConfigError, match="SCORECARDS_ID_KEY"),
    ):
        write_risk_csv(con, unkeyed, SCORED)
