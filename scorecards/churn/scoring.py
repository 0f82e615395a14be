"""Churn-risk scoring: every customer active at the end of a month gets a probability-like score
that they leave within the next `horizon_days`, a band, the two or three signals that add most to
it in German and English, and the signal values themselves.

    signals (churn_signals.py) ──► model fitted on earlier months (churn_model.py) ──► score,
    band, reasons ──► warehouse customer_churn_risk + out/YYYY-MM/churn_risk.csv
                                                 └─► backtest of months whose outcome is known

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

import hashlib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from scorecards.churn.model import (
    FEATURE_IDS,
    FEATURES,
    Model,
    auc,
    design,
    fit,
    lift_top,
)
from scorecards.churn.signals import (
    SIGNAL_COLUMNS,
    bounds,
    horizon_end,
    month_end,
    signals_sql,
)
from scorecards.config.settings import ConfigError, Settings
from scorecards.contract.kpi_catalog import no_data_reason
from scorecards.core.csv_out import safe_sql
from scorecards.core.periods import month_bounds, shift_month
from scorecards.kpis.engine import CHURN_STATUS_TABLE, DECIMALS
from scorecards.warehouse import store as warehouse
from scorecards.warehouse.sql import sql_str
from scorecards.warehouse.store import loaded_months

BANDS: tuple[str, ...] = ("high", "medium", "low")
REASONS_MAX = 3
REASON_SEP = " · "
TOP_SHARE = 0.1  # the "top 10%" of the lift
ID_PREFIX = "K-"
LABEL_PREFIX = "L-"  # a pseudonymised customer label (name, account owner): "L-" + 12 hex
ID_HEX = 12  # 48 bits: a collision among 200,000 customers has odds of about 1 in 14,000

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
BACKTEST_COLUMNS: tuple[str, ...] = ("period", "model", "auc", "lift_top10", "n", "churners")
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

_SIGNAL_DDL = ", ".join(f"{c} {t}" for c, t in SIGNAL_COLUMNS.items())
_DDL = [
    f"""CREATE TABLE IF NOT EXISTS churn_signals (
        period VARCHAR, customer_id VARCHAR, team VARCHAR, {_SIGNAL_DDL})""",
    f"""CREATE TABLE IF NOT EXISTS customer_churn_risk (
        period VARCHAR, customer_id VARCHAR, team VARCHAR, score DOUBLE, band VARCHAR,
        reasons_de VARCHAR, reasons_en VARCHAR, {_SIGNAL_DDL})""",
    """CREATE TABLE IF NOT EXISTS churn_model (
        period VARCHAR, term VARCHAR, coefficient DOUBLE, odds_ratio DOUBLE,
        train_from VARCHAR, train_to VARCHAR, train_months BIGINT, n_train BIGINT,
        churners_train BIGINT)""",
    """CREATE TABLE IF NOT EXISTS churn_backtest (
        period VARCHAR, model VARCHAR, auc DOUBLE, lift_top10 DOUBLE, n BIGINT,
        churners BIGINT)""",
    f"""CREATE TABLE IF NOT EXISTS {CHURN_STATUS_TABLE} (
        period VARCHAR, scored BOOLEAN, reason VARCHAR, note VARCHAR)""",
]


class ChurnInputError(RuntimeError):
    """Churn scoring for a month needs input months that are not loaded."""


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    warehouse.create_tables(con, _DDL)


# --- pseudonymous ids -----------------------------------------------------------------------


def _hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    # HMAC-SHA256 (RFC 2104) = H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)); the padded keys are fixed, so
    # the two hashes can run in DuckDB over a whole column at once.
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    return bytes(b ^ 0x5C for b in key), bytes(b ^ 0x36 for b in key)


def _display_sql(settings: Settings, column: str, prefix: str = ID_PREFIX) -> str:
    """SQL for the id shown outside the warehouse: the column itself, or its keyed pseudonym."""
    cfg = settings.teams_file.churn
    if not cfg.pseudonymise_ids:
        return column
    key = os.environ.get(cfg.id_key_env, "")
    if not key:
        raise ConfigError(
            f"{settings.config_dir / 'teams.yaml'}: churn.pseudonymise_ids is true but the "
            f"environment variable {cfg.id_key_env} (churn.id_key_env) holding the key is not set"
        )
    opad, ipad = _hmac_pads(key.encode("utf-8"))
    # Hex literals: COPY takes no parameters, and the key must not depend on quoting.
    return (
        f"CASE WHEN {column} IS NULL THEN NULL ELSE '{prefix}' || left(sha256("
        f"unhex('{opad.hex()}') || unhex(sha256(unhex('{ipad.hex()}') || encode({column})))), "
        f"{ID_HEX}) END"
    )


def display_ids(settings: Settings, ids: pd.Series) -> pd.Series:
    """The customer ids to show outside the warehouse: "K-" + 12 hex characters of
    HMAC-SHA256(key, id) when `churn.pseudonymise_ids` is on, else the ids unchanged.

    The key comes from the environment variable named by `churn.id_key_env`; the same key gives
    the same pseudonym every month, so a customer can be followed without being named."""
    return _display(settings, ids, ID_PREFIX)


def display_labels(settings: Settings, labels: pd.Series) -> pd.Series:
    """The customer labels (the customers column `churn.label_column`: a name, an account owner)
    to show outside the warehouse: unchanged, or with `churn.pseudonymise_ids` on, "L-" + 12 hex
    characters of the same keyed HMAC as the ids (the same label, the same pseudonym), so
    nobody is named in an e-mailed scorecard. Missing labels stay missing."""
    return _display(settings, labels, LABEL_PREFIX)


def _display(settings: Settings, ids: pd.Series, prefix: str) -> pd.Series:
    expr = _display_sql(settings, "id", prefix)
    if expr == "id":
        return ids.copy()
    frame = pd.DataFrame({"id": ids.astype("string").reset_index(drop=True)})
    con = duckdb.connect()
    try:
        con.register("_ids", frame)
        got = con.execute(f"SELECT {expr} AS k FROM _ids").df()["k"]
    finally:
        con.close()
    return pd.Series(got.to_numpy(dtype=object), index=ids.index, name=ids.name)


# --- reasons in words -----------------------------------------------------------------------


def _n(v: float) -> str:
    return f"{int(v)}"


# Per feature: the customer's number shown (a signal column) and the phrase in de/en, singular
# and plural where the number is a count.
_PHRASES: dict[str, tuple[str, tuple[str, str], tuple[str, str]]] = {
    "tickets": (
        "tickets",
        ("1 Ticket in {w} Tagen", "{v} Tickets in {w} Tagen"),
        ("1 ticket in {w} days", "{v} tickets in {w} days"),
    ),
    "detractor": ("nps_latest", ("Kritiker (NPS {v})", ""), ("Detractor (NPS {v})", "")),
    "csat_low": (
        "csat_low",
        ("Schlechte CSAT-Bewertung", "{v} schlechte CSAT-Bewertungen"),
        ("Low CSAT rating", "{v} low CSAT ratings"),
    ),
    "ces_low": (
        "ces_min",
        ("Hoher Aufwand (CES {v})", ""),
        ("High effort (CES {v})", ""),
    ),
    "repeat_30d": (
        "max_tickets_30d",
        ("{v} Tickets in 30 Tagen", ""),
        ("{v} tickets in 30 days", ""),
    ),
    "multi_contact": (
        "multi_contact",
        ("Ticket mit mehreren Kontakten", "{v} Tickets mit mehreren Kontakten"),
        ("Ticket needing several contacts", "{v} tickets needing several contacts"),
    ),
    "escalations": (
        "escalations",
        ("1 Eskalation", "{v} Eskalationen"),
        ("1 escalation", "{v} escalations"),
    ),
    "reopened": (
        "reopened",
        ("1 wiedereröffnetes Ticket", "{v} wiedereröffnete Tickets"),
        ("1 reopened ticket", "{v} reopened tickets"),
    ),
    "open_over_7d": (
        "oldest_open_days",
        ("Ticket seit {v} Tagen offen", ""),
        ("Ticket open for {v} days", ""),
    ),
    "slow_responses": (
        "slow_responses",
        ("Langsame Erstantwort", "{v} langsame Erstantworten"),
        ("Slow first response", "{v} slow first responses"),
    ),
    "disengaged": (
        "tickets",
        ("Weniger Kontakt als üblich ({v} statt ⌀ {u})", ""),
        ("Less contact than usual ({v} vs. avg. {u})", ""),
    ),
}


def _phrase(feature: str, value: float, usual: float, lang: int, window_days: int) -> str:
    # Missing numbers arrive as -1 (np.unique cannot group NaN).
    _, *texts = _PHRASES[feature]
    one, many = texts[lang]
    text = many if many and value != 1 else one
    u = "–" if usual < 0 else f"{usual:.1f}".removesuffix(".0")
    if lang == 0:
        u = u.replace(".", ",")
    return text.format(v=_n(value) if value >= 0 else "–", u=u, w=window_days)


def explain(
    model: Model, x: np.ndarray, signals: pd.DataFrame, window_days: int = 90
) -> tuple[np.ndarray, np.ndarray]:
    """The signals that add most to each score (coefficient × feature > 0, at most three, the
    largest first, ties in feature order) in German and English, joined with " · ".

    Vectorised: a phrase is formatted once per distinct (signal, number), a line once per
    distinct combination of phrases, never once per customer."""
    n_rows = len(x)
    contrib = x * model.coef
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :REASONS_MAX]
    keep = np.take_along_axis(contrib, order, axis=1) > 0
    rows, ranks = np.nonzero(keep)
    feats = order[rows, ranks]
    shown = np.column_stack(
        [signals[_PHRASES[f][0]].to_numpy(dtype=float, na_value=-1.0) for f in FEATURE_IDS]
    )
    usual = signals["usual_tickets"].to_numpy(dtype=float, na_value=-1.0)
    # One integer per distinct phrase: feature, shown number, usual rate to one decimal (-1 when
    # missing). Hash-based factorize is linear; np.unique(axis=0) would sort rows.
    value = shown[rows, feats].astype(np.int64) + 1
    tenth = np.where(feats == _DISENGAGED, np.round(usual[rows] * 10), -1).astype(np.int64) + 1
    phrase_key = (feats.astype(np.int64) << 56) | (value << 28) | tenth
    codes, uniq = pd.factorize(phrase_key, sort=True)
    keys = np.full((n_rows, REASONS_MAX), -1, dtype=np.int64)
    keys[rows, ranks] = codes
    line_key = ((keys[:, 0] + 1) << 42) | ((keys[:, 1] + 1) << 21) | (keys[:, 2] + 1)
    line_codes, lines_uniq = pd.factorize(line_key, sort=True)
    parts = np.column_stack([(lines_uniq >> s_) & ((1 << 21) - 1) for s_ in (42, 21, 0)]) - 1
    decoded = [
        (int(k >> 56), float((k >> 28) & ((1 << 28) - 1)) - 1, ((k & ((1 << 28) - 1)) - 1) / 10)
        for k in uniq.tolist()
    ]
    out = []
    for lang in (0, 1):
        phrases = [_phrase(FEATURE_IDS[f], v, u, lang, window_days) for f, v, u in decoded]
        lines = np.array(
            [REASON_SEP.join(phrases[k] for k in combo if k >= 0) for combo in parts.tolist()],
            dtype=object,
        )
        out.append(lines[line_codes] if n_rows else np.array([], dtype=object))
    return out[0], out[1]


_DISENGAGED = FEATURE_IDS.index("disengaged")


# --- building months ------------------------------------------------------------------------


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


def _local_month(instant: object, tz: str) -> str:
    from zoneinfo import ZoneInfo

    local = instant.astimezone(ZoneInfo(tz))  # type: ignore[attr-defined]
    return f"{local.year:04d}-{local.month:02d}"


def required_months(month: str, settings: Settings, first_month: str) -> list[str]:
    """Ticket and survey months a month's signals read: its window (and the disengagement
    history when that lies in loaded data), from the first month of data on."""
    cfg, tz = settings.teams_file.churn, settings.timezone
    b = bounds(month, cfg, tz)
    data_start = month_bounds(first_month, tz)[0]
    start = b.history if cfg.history_days > 0 and b.history >= data_start else b.window
    first = max(_local_month(start, tz), first_month)
    out, m = [], first
    while m <= month:
        out.append(m)
        m = shift_month(m, 1)
    return out


def check_inputs_loaded(
    con: duckdb.DuckDBPyConnection, month: str, settings: Settings, first_month: str
) -> None:
    need = required_months(month, settings, first_month)
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

    warehouse.write_transaction(con, write, f"{CHURN_STATUS_TABLE} {result.month}")


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

    warehouse.write_transaction(con, write, f"{table} {month}")


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

    warehouse.write_transaction(con, write, f"churn clear {month}")
    risk_csv_path(settings, month).unlink(missing_ok=True)


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
    pooled = _pooled(con, train, settings)
    try:
        model = fit(
            np.column_stack([pooled[f] for f in FEATURE_IDS]).astype(float),
            pooled["n"],
            pooled["k"],
            cfg.l2,
            train,
        )
    except ValueError as exc:
        _clear_month(con, settings, month)
        return MonthResult(month, f"not scored: {exc}", reason=no_data_reason("not_scored_fit"))

    sig = con.execute(
        "SELECT * FROM churn_signals WHERE period = $m ORDER BY customer_id", {"m": month}
    ).df()
    x = design(sig)
    score = model.predict(x).round(DECIMALS) if len(sig) else np.empty(0)
    bands = cfg.bands
    band = np.select([score >= bands.high, score >= bands.medium], ["high", "medium"], "low")
    reasons_de, reasons_en = explain(model, x, sig, cfg.window_days)
    # Few distinct bands and reason lines: categoricals cross into DuckDB as dictionaries.
    scored = pd.DataFrame(
        {
            "customer_id": sig["customer_id"],
            "score": score,
            "band": pd.Categorical(band, categories=list(BANDS)),
            "reasons_de": pd.Categorical(reasons_de),
            "reasons_en": pd.Categorical(reasons_en),
        }
    )
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


def backtest(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: str) -> pd.DataFrame:
    """AUC and top-10% lift of every scored month whose outcome is known at the end of `as_of`,
    for the model's stored score and for the baseline (tickets in the window), and store them.

    The stored score of month M came from a model fitted before M's outcome was known, so this
    is an out-of-time test: nothing is tuned on the month it evaluates."""
    cfg, tz = settings.teams_file.churn, settings.timezone
    p_end = month_end(as_of, tz)
    scored = [
        p
        for (p,) in con.execute(
            "SELECT DISTINCT period FROM customer_churn_risk WHERE period <= $m ORDER BY 1",
            {"m": as_of},
        ).fetchall()
    ]
    rows: list[dict] = []
    for m in scored:
        hend = horizon_end(m, cfg, tz)
        if hend > p_end:
            continue
        got = con.execute(
            """
            SELECT r.score, r.tickets,
                   c.churned_at IS NOT NULL AND c.churned_at < $hend AS churned
            FROM customer_churn_risk r JOIN customers c USING (customer_id)
            WHERE r.period = $m ORDER BY r.customer_id
            """,
            {"m": m, "hend": hend},
        ).fetchnumpy()
        y = np.asarray(got["churned"], dtype=bool)
        for name, s in (("model", got["score"]), ("baseline", got["tickets"])):
            s = np.asarray(s, dtype=float)
            rows.append(
                {
                    "period": m,
                    "model": name,
                    "auc": round(auc(s, y), DECIMALS),
                    "lift_top10": round(lift_top(s, y, TOP_SHARE), DECIMALS),
                    "n": len(y),
                    "churners": int(y.sum()),
                }
            )
    df = pd.DataFrame(rows, columns=list(BACKTEST_COLUMNS))
    if len(df):
        con.register("_bt", df)
        try:
            warehouse.write_transaction(
                con,
                lambda: warehouse.replace_months(
                    con, "churn_backtest", "_bt", sorted(set(df.period))
                ),
                "churn_backtest",
            )
        finally:
            con.unregister("_bt")
    return con.execute(
        "SELECT * FROM churn_backtest WHERE period <= $m ORDER BY period, model DESC",
        {"m": as_of},
    ).df()


def write_risk_csv(con: duckdb.DuckDBPyConnection, settings: Settings, month: str) -> Path:
    """out/YYYY-MM/churn_risk.csv from the warehouse: the columns of customer_churn_risk without
    `period`, ids as display_ids shows them, highest score first, then by the id shown (so the
    order of equal scores reveals nothing about real ids). DuckDB writes it (a pandas
    writer takes seconds for 200,000 rows); renamed into place when complete."""
    path = risk_csv_path(settings, month)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    cols = ", ".join(
        f"{safe_sql(_display_sql(settings, 'customer_id'))} AS customer_id"
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
    with warehouse.connect(settings.warehouse) as con:
        ensure_schema(con)
        for month in sorted(months):
            check_inputs_loaded(con, month, settings, first_month)
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


# --- previews for the Dagster UI -------------------------------------------------------------

_MEANING = {
    "intercept": "log-odds of a customer without any signal",
    "tickets": "per doubling of the tickets in the window: ⌊log2(1 + n)⌋, n up to 63",
    "detractor": "latest NPS in the window 0–6",
    "csat_low": "per CSAT 1–2 (up to 3)",
    "ces_low": "per CES 1–3 (up to 3)",
    "repeat_30d": "3+ tickets within 30 days",
    "multi_contact": "per resolved ticket with >1 contact (up to 3)",
    "escalations": "per resolved escalated ticket (up to 3)",
    "reopened": "per resolved reopened ticket (up to 3)",
    "open_over_7d": "per ticket open > 7 days at month end (up to 3)",
    "slow_responses": "per first response slower than the team's p90 (up to 3)",
    "disengaged": "at most a third of the usual tickets",
}


def model_markdown(model: Model) -> str:
    """The model line by line: each weight, its odds ratio and what it counts."""
    lines = ["| term | coefficient | odds ratio | counts |", "|---|---:|---:|---|"]
    terms = [("intercept", model.intercept), *zip(FEATURE_IDS, model.coef, strict=True)]
    for term, c in terms:
        lines.append(f"| {term} | {c:+.3f} | {math.exp(c):.2f} | {_MEANING[term]} |")
    lines.append(
        f"\nFitted on {model.train_months[0]}…{model.train_months[-1]} "
        f"({len(model.train_months)} months, {model.n:,} customer-months, "
        f"{model.churners:,} churned within the horizon)."
    )
    return "\n".join(lines)


def backtest_markdown(bt: pd.DataFrame) -> str:
    """AUC and top-10% lift per evaluated month, model against baseline, and their means."""
    if bt.empty:
        return "_no month with a known outcome has been scored yet_"
    wide = bt.pivot(index="period", columns="model", values=["auc", "lift_top10"])
    counts = bt[bt.model == "model"].set_index("period")[["n", "churners"]]
    lines = [
        "| month | AUC model | AUC baseline | lift@10% model | lift@10% baseline | customers "
        "| churned |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m, r in wide.iterrows():
        lines.append(
            f"| {m} | {r[('auc', 'model')]:.3f} | {r[('auc', 'baseline')]:.3f} | "
            f"{r[('lift_top10', 'model')]:.2f} | {r[('lift_top10', 'baseline')]:.2f} | "
            f"{int(counts.at[m, 'n']):,} | {int(counts.at[m, 'churners']):,} |"
        )
    mean = bt.groupby("model")[["auc", "lift_top10"]].mean()
    lines.append(
        f"| **mean** | **{mean.at['model', 'auc']:.3f}** | **{mean.at['baseline', 'auc']:.3f}** "
        f"| **{mean.at['model', 'lift_top10']:.2f}** | "
        f"**{mean.at['baseline', 'lift_top10']:.2f}** | | |"
    )
    return "\n".join(lines)
