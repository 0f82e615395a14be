"""Churn-risk scoring: every customer active at the end of a month gets a probability-like score
that they leave within the next `horizon_days`, a band, the two or three signals that add most to
it in German and English, and the signal values themselves.

    signals (signals.py) ──► model fitted on earlier months (model.py) ──► score, band,
    reasons (reasons.py) ──► warehouse customer_churn_risk + out/YYYY-MM/churn_risk.csv
                                     └─► backtest of months whose outcome is known (backtest.py)

No information from after the end of the month enters its score: signals are cut at P_end, and
the model for P is fitted only on months M whose outcome window (M_end, M_end + horizon] closed
by P_end. The backtest evaluates each month's stored score, made by a model that never saw that
month's outcome, against what happened. docs/churn-risk.md explains it all with figures.

Warehouse tables (all delete-then-insert per `period`, rounded, so reruns are byte-identical):
- churn_signals: every month's signals; training data for later months;
- customer_churn_risk: scored months only (a month without enough history has no rows);
- churn_model: the coefficients each scored month used;
- churn_backtest: AUC and top-10% lift per evaluated month, model and baseline;
- churn_status: per month whether it was scored and, if not, why (the reason team_kpis shows
  for the at-risk KPIs: "not scored: no customers data", ...).

A month without customers data, or without any tickets, is not scored and says so; it does not
fail the run: a scorecard without churn risk is still a scorecard.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from scorecards.churn.backtest import backtest
from scorecards.churn.model import FEATURE_IDS, FEATURES, Model, design, fit
from scorecards.churn.pseudonyms import display_sql
from scorecards.churn.reasons import explain
from scorecards.churn.signals import (
    SIGNAL_COLUMNS,
    bounds,
    horizon_end,
    month_end,
    signals_sql,
)
from scorecards.config.months_needed import churn_signal_months
from scorecards.config.settings import ChurnConfig, Settings
from scorecards.contract.kpi_catalog import DECIMALS, no_data_reason
from scorecards.core.csv_out import safe_sql
from scorecards.core.periods import month_bounds, shift_month
from scorecards.warehouse.connection import connect
from scorecards.warehouse.schema import CHURN_STATUS_TABLE, churn_ddl, create_tables
from scorecards.warehouse.sql import sql_str
from scorecards.warehouse.tables import loaded_months
from scorecards.warehouse.transactions import write_transaction

BANDS: tuple[str, ...] = ("high", "medium", "low")

RISK_COLUMNS: tuple[str, ...] = (
    "period",
    "customer_id",
    "team",
    "score",
    "band",
    "reasons_de",
    "reasons_en",
    *SIGNAL_COLUMNS,
)
MODEL_COLUMNS: tuple[str, ...] = (
    "period",
    "term",
    "coefficient",
    "odds_ratio",
    "train_from",
    "train_to",
    "train_months",
    "n_train",
    "churners_train",
)


class ChurnInputError(RuntimeError):
    """Churn scoring for a month needs input months that are not loaded."""


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    create_tables(con, churn_ddl(SIGNAL_COLUMNS))


@dataclass
class MonthResult:
    """What one month's run produced; `risk` is None when the month could not be scored."""

    month: str
    note: str
    # Why the month was not scored, as team_kpis shows it (kpi_catalog.NO_DATA_REASONS); "" when
    # it was scored.
    reason: str = ""
    risk: pd.DataFrame | None = None
    model: Model | None = None
    csv: Path | None = None
    bands: dict[str, int] = field(default_factory=dict)

    @property
    def scored(self) -> bool:
        return self.risk is not None


def risk_csv_path(settings: Settings, month: str) -> Path:
    return settings.out_dir / month / "churn_risk.csv"


def training_months(month: str, settings: Settings, data_start: object) -> list[str]:
    """The months the model for `month` learns from: the latest `training_months` months whose
    outcome window closed by the end of `month` and whose signal window lies in loaded data."""
    cfg, tz = settings.teams_file.churn, settings.timezone
    p_end = month_end(month, tz)
    out: list[str] = []
    m = shift_month(month, -1)
    while len(out) < cfg.training_months and bounds(m, cfg, tz).window >= data_start:
        if horizon_end(m, cfg, tz) <= p_end:
            out.append(m)
        m = shift_month(m, -1)
    return sorted(out)


def check_signal_inputs_loaded(
    con: duckdb.DuckDBPyConnection, month: str, settings: Settings, first_month: str
) -> None:
    """Raise ChurnInputError unless every month `months_needed.churn_signal_months` names is
    loaded, of tickets and of survey responses."""
    need = churn_signal_months(month, settings.teams_file.churn, first_month)
    missing = [
        f"{ds} for {', '.join(lack)}"
        for ds in ("tickets", "survey_responses")
        if (lack := [m for m in need if m not in loaded_months(con, ds)])
    ]
    if missing:
        raise ChurnInputError(
            f"churn risk for {month} needs input that is not loaded: {'; '.join(missing)}. "
            "Materialize the ingest assets for those months first."
        )


def _missing_data(con: duckdb.DuckDBPyConnection, month: str, tz: str) -> MonthResult | None:
    """A month that cannot be scored because a dataset is absent from the data: no customers
    (an installation without a customers file) or no tickets up to the month's end (surveys
    only). Not an error: the month is recorded as not scored, with the reason."""
    if not con.execute("SELECT count(*) FROM customers").fetchone()[0]:
        return MonthResult(
            month,
            "not scored: no customers data (the customers table is empty: no customers file "
            "in landing/customers/, or every row was quarantined)",
            reason=no_data_reason("not_scored_customers"),
        )
    end = month_bounds(month, tz)[1]
    if not con.execute(
        "SELECT count(*) FROM tickets WHERE created_at < $end", {"end": end}
    ).fetchone()[0]:
        return MonthResult(
            month,
            "not scored: no tickets in the data up to the end of the month (the churn signals "
            "come from tickets)",
            reason=no_data_reason("not_scored_tickets"),
        )
    return None


def _record_status(con: duckdb.DuckDBPyConnection, result: MonthResult) -> None:
    def write() -> None:
        con.execute(f"DELETE FROM {CHURN_STATUS_TABLE} WHERE period = $m", {"m": result.month})
        con.execute(
            f"INSERT INTO {CHURN_STATUS_TABLE} VALUES ($m, $scored, $reason, $note)",
            {
                "m": result.month,
                "scored": result.scored,
                "reason": result.reason or None,
                "note": result.note,
            },
        )

    write_transaction(con, write, f"{CHURN_STATUS_TABLE} {result.month}")


def _signals_source(month: str, settings: Settings, data_start: object) -> tuple[str, dict]:
    sql, params = signals_sql(month, settings.teams_file.churn, settings.timezone, data_start)
    return f"(SELECT '{month}' AS period, * FROM ({sql}))", params


def _replace(
    con: duckdb.DuckDBPyConnection, table: str, source: str, month: str, params: dict
) -> None:
    # replace_months with parameters for the source query, in one transaction.
    def write() -> None:
        con.execute(f"DELETE FROM {table} WHERE period = $m", {"m": month})
        con.execute(
            f"INSERT INTO {table} BY NAME SELECT * FROM {source} WHERE period = $m",
            {**params, "m": month},
        )

    write_transaction(con, write, f"{table} {month}")


def store_signals(
    con: duckdb.DuckDBPyConnection, month: str, settings: Settings, data_start: object
) -> None:
    source, params = _signals_source(month, settings, data_start)
    _replace(con, "churn_signals", source, month, params)


def _pooled(
    con: duckdb.DuckDBPyConnection, months: Sequence[str], settings: Settings
) -> dict[str, np.ndarray]:
    """Training data pooled by feature pattern: n customer-months, k of them churned within the
    horizon after their month's end."""
    cfg, tz = settings.teams_file.churn, settings.timezone
    ends = pd.DataFrame({"period": list(months), "hend": [horizon_end(m, cfg, tz) for m in months]})
    feats = ", ".join(f"{f.sql()} AS {f.id}" for f in FEATURES)
    con.register("_horizons", ends)
    try:
        return con.execute(
            f"""
            SELECT {feats}, count(*) AS n,
                   count(*) FILTER (c.churned_at IS NOT NULL AND c.churned_at < h.hend) AS k
            FROM churn_signals s JOIN _horizons h USING (period)
            JOIN customers c USING (customer_id)
            GROUP BY ALL ORDER BY ALL
            """
        ).fetchnumpy()
    finally:
        con.unregister("_horizons")


def _model_rows(month: str, model: Model) -> pd.DataFrame:
    terms = ["intercept", *FEATURE_IDS]
    coef = np.concatenate([[model.intercept], model.coef]).round(DECIMALS)
    return pd.DataFrame(
        {
            "period": month,
            "term": terms,
            "coefficient": coef,
            "odds_ratio": np.exp(coef).round(DECIMALS),
            "train_from": model.train_months[0],
            "train_to": model.train_months[-1],
            "train_months": len(model.train_months),
            "n_train": model.n,
            "churners_train": model.churners,
        },
        columns=list(MODEL_COLUMNS),
    )


def _clear_month(
    con: duckdb.DuckDBPyConnection, settings: Settings, month: str, signals: bool = False
) -> None:
    def write() -> None:
        tables = ("customer_churn_risk", "churn_model") + (("churn_signals",) if signals else ())
        for table in tables:
            con.execute(f"DELETE FROM {table} WHERE period = $m", {"m": month})

    write_transaction(con, write, f"churn clear {month}")
    risk_csv_path(settings, month).unlink(missing_ok=True)


def _store_training_signals(
    con: duckdb.DuckDBPyConnection, train: list[str], settings: Settings, data_start: object
) -> None:
    # Training months scored in an earlier run have their signals stored already.
    have = {
        p
        for (p,) in con.execute(
            "SELECT DISTINCT period FROM churn_signals WHERE period IN (SELECT unnest($m))",
            {"m": train},
        ).fetchall()
    }
    for m in train:
        if m not in have:
            store_signals(con, m, settings, data_start)


def _fit_model(pooled: dict[str, np.ndarray], train: list[str], cfg: ChurnConfig) -> Model:
    """The month's model, fitted on the pooled training months (ValueError: nothing to fit)."""
    return fit(
        np.column_stack([pooled[f] for f in FEATURE_IDS]).astype(float),
        pooled["n"],
        pooled["k"],
        cfg.l2,
        train,
    )


def _score(sig: pd.DataFrame, model: Model, cfg: ChurnConfig) -> pd.DataFrame:
    """Score, band and reasons per customer of `sig`, in its order."""
    x = design(sig)
    score = model.predict(x).round(DECIMALS) if len(sig) else np.empty(0)
    bands = cfg.bands
    band = np.select([score >= bands.high, score >= bands.medium], ["high", "medium"], "low")
    reasons_de, reasons_en = explain(model, x, sig, cfg.window_days)
    # Few distinct bands and reason lines: categoricals cross into DuckDB as dictionaries.
    return pd.DataFrame(
        {
            "customer_id": sig["customer_id"],
            "score": score,
            "band": pd.Categorical(band, categories=list(BANDS)),
            "reasons_de": pd.Categorical(reasons_de),
            "reasons_en": pd.Categorical(reasons_en),
        }
    )


def _store_scores(
    con: duckdb.DuckDBPyConnection, month: str, scored: pd.DataFrame, model: Model
) -> None:
    con.register("_scored", scored)
    try:
        _replace(
            con,
            "customer_churn_risk",
            "(SELECT s.period, s.customer_id, s.team, r.score, r.band, r.reasons_de, "
            "r.reasons_en, s.* EXCLUDE (period, customer_id, team) "
            "FROM churn_signals s JOIN _scored r USING (customer_id) WHERE s.period = $m)",
            month,
            {},
        )
        con.register("_model", _model_rows(month, model))
        _replace(con, "churn_model", "_model", month, {})
        con.unregister("_model")
    finally:
        con.unregister("_scored")


def score_month(
    con: duckdb.DuckDBPyConnection, settings: Settings, month: str, data_start: object
) -> MonthResult:
    """Fit the month's model on earlier months, score its customers, store the result.

    The month's own signals must already be in churn_signals; signals of training months are
    computed and stored when missing."""
    cfg = settings.teams_file.churn
    train = training_months(month, settings, data_start)
    if len(train) < cfg.min_training_months:
        _clear_month(con, settings, month)
        return MonthResult(
            month,
            f"not scored: {len(train)} earlier month(s) with a known {cfg.horizon_days}-day "
            f"outcome and a full {cfg.window_days}-day window in the data, "
            f"min_training_months is {cfg.min_training_months}",
            reason=no_data_reason("not_scored_history"),
        )
    _store_training_signals(con, train, settings, data_start)
    pooled = _pooled(con, train, settings)
    try:
        model = _fit_model(pooled, train, cfg)
    except ValueError as exc:
        _clear_month(con, settings, month)
        return MonthResult(month, f"not scored: {exc}", reason=no_data_reason("not_scored_fit"))

    sig = con.execute(
        "SELECT * FROM churn_signals WHERE period = $m ORDER BY customer_id", {"m": month}
    ).df()
    scored = _score(sig, model, cfg)
    _store_scores(con, month, scored, model)
    # The stored rows (by customer_id), from what is in memory rather than read back.
    risk = pd.concat([sig, scored.drop(columns="customer_id")], axis=1)[list(RISK_COLUMNS)]
    counts = risk.band.value_counts()
    return MonthResult(
        month,
        f"scored {len(risk):,} customers with a model fitted on {train[0]}…{train[-1]} "
        f"({model.n:,} customer-months, {model.churners:,} churned)",
        risk=risk,
        model=model,
        bands={b: int(counts.get(b, 0)) for b in BANDS},
    )


def write_risk_csv(con: duckdb.DuckDBPyConnection, settings: Settings, month: str) -> Path:
    """out/YYYY-MM/churn_risk.csv from the warehouse: the columns of customer_churn_risk without
    `period`, ids as display_ids shows them, highest score first, then by the id shown (so the
    order of equal scores reveals nothing about real ids). DuckDB writes it (a pandas
    writer takes seconds for 200,000 rows); renamed into place when complete."""
    path = risk_csv_path(settings, month)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    cols = ", ".join(
        f"{safe_sql(display_sql(settings, 'customer_id'))} AS customer_id"
        if c == "customer_id"
        else c
        for c in RISK_COLUMNS
        if c != "period"
    )
    con.execute(
        f"""COPY (SELECT {cols} FROM customer_churn_risk WHERE period = {sql_str(month)}
                  ORDER BY score DESC, 1)
            TO {sql_str(str(tmp))} (FORMAT csv, HEADER)"""
    )
    tmp.replace(path)
    return path


def build_churn_risk(
    settings: Settings, months: Sequence[str], first_month: str
) -> tuple[dict[str, MonthResult], pd.DataFrame]:
    """Signals, scores and CSVs for `months` (oldest first, so each can learn from the ones
    before), then the backtest as of the last of them."""
    tz = settings.timezone
    data_start = month_bounds(first_month, tz)[0]
    results: dict[str, MonthResult] = {}
    with connect(settings.warehouse) as con:
        ensure_schema(con)
        for month in sorted(months):
            check_signal_inputs_loaded(con, month, settings, first_month)
        for month in sorted(months):
            absent = _missing_data(con, month, tz)
            if absent is not None:
                _clear_month(con, settings, month, signals=True)
                results[month] = absent
            else:
                store_signals(con, month, settings, data_start)
                results[month] = score_month(con, settings, month, data_start)
            _record_status(con, results[month])
        bt = backtest(con, settings, max(months))
        for month, res in results.items():
            if res.risk is not None:
                res.csv = write_risk_csv(con, settings, month)
    return results, bt
