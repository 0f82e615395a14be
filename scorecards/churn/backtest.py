"""The churn model's backtest: AUC and top-10% lift of every scored month whose outcome is known,
for the stored score and for the baseline (tickets in the window), stored in churn_backtest."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from scorecards.churn.model import auc, lift_top
from scorecards.churn.signals import horizon_end, month_end
from scorecards.config.settings import Settings
from scorecards.contract.kpi_catalog import DECIMALS
from scorecards.warehouse.tables import replace_months
from scorecards.warehouse.transactions import write_transaction

TOP_SHARE = 0.1  # the "top 10%" of the lift
BACKTEST_COLUMNS: tuple[str, ...] = ("period", "model", "auc", "lift_top10", "n", "churners")


def _evaluate(con: duckdb.DuckDBPyConnection, month: str, hend: object) -> list[dict]:
    """The month's two rows: the model's stored score and the baseline against the outcome."""
    got = con.execute(
        """
        SELECT r.score, r.tickets,
               c.churned_at IS NOT NULL AND c.churned_at < $hend AS churned
        FROM customer_churn_risk r JOIN customers c USING (customer_id)
        WHERE r.period = $m ORDER BY r.customer_id
        """,
        {"m": month, "hend": hend},
    ).fetchnumpy()
    y = np.asarray(got["churned"], dtype=bool)
    rows: list[dict] = []
    for name, s in (("model", got["score"]), ("baseline", got["tickets"])):
        s = np.asarray(s, dtype=float)
        rows.append(
            {
                "period": month,
                "model": name,
                "auc": round(auc(s, y), DECIMALS),
                "lift_top10": round(lift_top(s, y, TOP_SHARE), DECIMALS),
                "n": len(y),
                "churners": int(y.sum()),
            }
        )
    return rows


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
        if hend <= p_end:
            rows += _evaluate(con, m, hend)
    df = pd.DataFrame(rows, columns=list(BACKTEST_COLUMNS))
    if len(df):
        con.register("_bt", df)
        try:
            write_transaction(
                con,
                lambda: replace_months(con, "churn_backtest", "_bt", sorted(set(df.period))),
                "churn_backtest",
            )
        finally:
            con.unregister("_bt")
    return con.execute(
        "SELECT * FROM churn_backtest WHERE period <= $m ORDER BY period, model DESC",
        {"m": as_of},
    ).df()
