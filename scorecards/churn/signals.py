"""Churn-risk signals: what support data says about each customer active at the end of a month.

Every signal of month P is computed from rows as they were known when P ended (P_end, local
midnight): tickets created before P_end, survey responses submitted before P_end, and ticket
states as of P_end. The contract has no time stamp for a ticket's escalation, reopening or extra
contacts, so those flags count only for tickets resolved before P_end, whose history was over by
then; a ticket still open at P_end counts through "open after 7 days" instead. This is what makes
a score reproducible when later data arrives (tests/test_churn_scoring.py checks it).

All of it is DuckDB SQL over the warehouse, one statement per month; docs/churn-risk.md
describes each signal and its window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import pandas as pd

from scorecards.config.settings import ChurnConfig
from scorecards.core.periods import days_before, month_bounds, shift_month

# Signal columns as stored in churn_signals and customer_churn_risk, with their SQL types.
SIGNAL_COLUMNS: dict[str, str] = {
    "tickets": "BIGINT",
    "nps_latest": "BIGINT",
    "detractor": "BIGINT",
    "csat_low": "BIGINT",
    "csat_min": "BIGINT",
    "ces_low": "BIGINT",
    "ces_min": "BIGINT",
    "max_tickets_30d": "BIGINT",
    "repeat_30d": "BIGINT",
    "multi_contact": "BIGINT",
    "escalations": "BIGINT",
    "reopened": "BIGINT",
    "open_over_7d": "BIGINT",
    "oldest_open_days": "BIGINT",
    "slow_responses": "BIGINT",
    "usual_tickets": "DOUBLE",
    "disengaged": "BIGINT",
}

# Thresholds that define the signals (docs/churn-risk.md). They are part of the definitions,
# not tuning knobs, so they live here rather than in the config.
DETRACTOR_MAX = 6  # NPS 0-6
CSAT_LOW_MAX = 2  # CSAT 1-2
CES_LOW_MAX = 3  # CES 1-3 (7 = very easy)
REPEAT_TICKETS = 3  # this many tickets ...
REPEAT_DAYS = 30  # ... within this many days
OPEN_DAYS = 7
SLOW_QUANTILE = 0.9
# Disengagement needs a usual rate worth comparing with: at least this many tickets per window
# length in the history period; disengaged when the window has at most this share of it.
USUAL_MIN = 3.0
DISENGAGED_SHARE = 1 / 3


@dataclass(frozen=True)
class Bounds:
    """The instants a month's signals are cut at, as UTC datetimes."""

    end: datetime  # P_end: nothing at or after it is used
    window: datetime  # start of the trailing window
    history: datetime  # start of the disengagement history (before the window)
    open_cut: datetime  # tickets created before this and unresolved at P_end are "open > 7 d"


def month_end(month: str, tz: str) -> datetime:
    return month_bounds(month, tz)[1]


def bounds(month: str, cfg: ChurnConfig, tz: str) -> Bounds:
    nxt = shift_month(month, 1)  # days_before counts back from a month's start
    return Bounds(
        end=month_end(month, tz),
        window=days_before(nxt, cfg.window_days, tz),
        history=days_before(nxt, cfg.window_days + cfg.history_days, tz),
        open_cut=days_before(nxt, OPEN_DAYS, tz),
    )


def horizon_end(month: str, cfg: ChurnConfig, tz: str) -> datetime:
    """End of the outcome window (P_end, P_end + horizon]: local midnight horizon days later."""
    return days_before(shift_month(month, 1), -cfg.horizon_days, tz)


_SQL = f"""
WITH active AS (
    SELECT customer_id, customer_since FROM customers
    WHERE customer_since < $end AND (churned_at IS NULL OR churned_at >= $end)
), t AS (
    SELECT customer_id, team, created_at, contacts, reopened, escalated,
           resolved_at IS NOT NULL AND resolved_at < $end AS settled,
           first_response_at IS NOT NULL AND first_response_at < $end AS answered,
           -- seconds to the first response, or waited so far when none came by P_end
           (epoch_us(CASE WHEN first_response_at < $end THEN first_response_at ELSE $end END)
            - epoch_us(created_at)) / 1e6 AS response_s
    FROM tickets WHERE created_at >= $window AND created_at < $end
), p90 AS (
    SELECT team, quantile_cont(response_s, {SLOW_QUANTILE}) AS limit_s
    FROM t WHERE answered GROUP BY team
), burst AS (
    -- a RANGE frame over integer microseconds: cheaper than over a computed double
    SELECT customer_id,
           count(*) OVER (PARTITION BY customer_id ORDER BY epoch_us(created_at)
                          RANGE BETWEEN {REPEAT_DAYS * 86_400_000_000} PRECEDING
                          AND CURRENT ROW) AS n30
    FROM t
), per_team AS (
    SELECT customer_id, team, count(*) AS n, max(created_at) AS last_at
    FROM t GROUP BY customer_id, team
), tk AS (
    SELECT t.customer_id,
           count(*) AS tickets,
           count(*) FILTER (settled AND contacts > 1) AS multi_contact,
           count(*) FILTER (settled AND escalated) AS escalations,
           count(*) FILTER (settled AND reopened) AS reopened,
           count(*) FILTER (NOT settled AND created_at < $open_cut) AS open_over_7d,
           max(floor((epoch_us($end) - epoch_us(created_at)) / 8.64e10))
               FILTER (NOT settled AND created_at < $open_cut) AS oldest_open_days,
           count(*) FILTER (response_s > p90.limit_s) AS slow_responses
    FROM t LEFT JOIN p90 USING (team)
    GROUP BY t.customer_id
), primary_team AS (
    -- most tickets, then the most recent one, then the team id: one team per customer
    SELECT customer_id, arg_max(team, (n, last_at, team)) AS team
    FROM per_team GROUP BY customer_id
), bursts AS (
    SELECT customer_id, max(n30) AS max_tickets_30d FROM burst GROUP BY customer_id
), history AS (
    SELECT customer_id, count(*) AS n FROM tickets
    WHERE $use_history AND created_at >= $history AND created_at < $window
    GROUP BY customer_id
), sv AS (
    SELECT customer_id,
           arg_max(score, (submitted_at, response_id)) FILTER (survey_type = 'nps') AS nps_latest,
           count(*) FILTER (survey_type = 'csat' AND score <= {CSAT_LOW_MAX}) AS csat_low,
           min(score) FILTER (survey_type = 'csat') AS csat_min,
           count(*) FILTER (survey_type = 'ces' AND score <= {CES_LOW_MAX}) AS ces_low,
           min(score) FILTER (survey_type = 'ces') AS ces_min
    FROM survey_responses WHERE submitted_at >= $window AND submitted_at < $end
    GROUP BY customer_id
), joined AS (
    SELECT a.customer_id, pt.team,
           coalesce(tk.tickets, 0) AS tickets,
           sv.nps_latest,
           coalesce(sv.csat_low, 0) AS csat_low, sv.csat_min,
           coalesce(sv.ces_low, 0) AS ces_low, sv.ces_min,
           coalesce(b.max_tickets_30d, 0) AS max_tickets_30d,
           coalesce(tk.multi_contact, 0) AS multi_contact,
           coalesce(tk.escalations, 0) AS escalations,
           coalesce(tk.reopened, 0) AS reopened,
           coalesce(tk.open_over_7d, 0) AS open_over_7d,
           tk.oldest_open_days::BIGINT AS oldest_open_days,
           coalesce(tk.slow_responses, 0) AS slow_responses,
           -- the usual number of tickets per window length, where the customer's history and
           -- the loaded data both cover the history period
           CASE WHEN $use_history AND a.customer_since <= $history
                THEN round(coalesce(h.n, 0) * $window_days / $history_days, 6) END AS usual_tickets
    FROM active a
    LEFT JOIN tk USING (customer_id)
    LEFT JOIN primary_team pt USING (customer_id)
    LEFT JOIN bursts b USING (customer_id)
    LEFT JOIN history h USING (customer_id)
    LEFT JOIN sv USING (customer_id)
)
SELECT customer_id, team, tickets, nps_latest,
       coalesce(nps_latest <= {DETRACTOR_MAX}, false)::BIGINT AS detractor,
       csat_low, csat_min, ces_low, ces_min, max_tickets_30d,
       (max_tickets_30d >= {REPEAT_TICKETS})::BIGINT AS repeat_30d,
       multi_contact, escalations, reopened, open_over_7d, oldest_open_days, slow_responses,
       usual_tickets,
       coalesce(usual_tickets >= {USUAL_MIN} AND tickets <= {DISENGAGED_SHARE} * usual_tickets,
                false)::BIGINT AS disengaged
FROM joined
"""


def signals_sql(
    month: str, cfg: ChurnConfig, tz: str, data_start: datetime
) -> tuple[str, dict[str, object]]:
    """The month's signal query and its parameters (see compute_signals)."""
    b = bounds(month, cfg, tz)
    use_history = cfg.history_days > 0 and b.history >= data_start
    return (
        _SQL,
        {
            "end": b.end,
            "window": b.window,
            "history": b.history,
            "open_cut": b.open_cut,
            "use_history": use_history,
            "window_days": float(cfg.window_days),
            "history_days": float(max(cfg.history_days, 1)),
        },
    )


def compute_signals(
    con: duckdb.DuckDBPyConnection,
    month: str,
    cfg: ChurnConfig,
    tz: str,
    data_start: datetime,
) -> pd.DataFrame:
    """One row per customer active at the end of `month`: customer_id, team (primary team, NULL
    without a ticket in the window) and every column of SIGNAL_COLUMNS.

    `data_start` is where the loaded data begins: the disengagement history is only used when it
    lies entirely after it (otherwise "no tickets" would mean "not loaded")."""
    sql, params = signals_sql(month, cfg, tz, data_start)
    return con.execute(sql, params).df()
