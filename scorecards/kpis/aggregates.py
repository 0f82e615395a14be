"""The month's aggregates the KPIs are computed from, in DuckDB over the warehouse: counts, means
and spreads per team and for ALL, the duration samples the medians need, and which inputs the
month's data lacks. Python never loops over tickets."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from scorecards.contract.kpi_catalog import ALL_TEAMS, no_data_reason
from scorecards.warehouse.schema import CHURN_RISK_TABLE, CHURN_STATUS_TABLE
from scorecards.warehouse.sql import team_or_all
from scorecards.warehouse.tables import table_exists


def created_counts(con: duckdb.DuckDBPyConnection, start: object, end: object) -> pd.DataFrame:
    return con.execute(
        f"""
        SELECT {team_or_all()},
               count(*) AS created,
               count(*) FILTER (resolved_at < $end) AS resolved_by_end,
               count(*) FILTER (escalated) AS escalated,
               count(escalated) AS escalated_n,
               count(*) FILTER (channel = 'self_service' AND resolved_at < $end) AS self_served,
               count(channel) AS channel_n,
               count(wait_time_s) AS wait_n,
               avg(wait_time_s) / 60 AS wait_mean,
               stddev_samp(wait_time_s) / 60 AS wait_sd
        FROM tickets WHERE created_at >= $start AND created_at < $end
        GROUP BY GROUPING SETS ((team), ())
        """,
        {"start": start, "end": end},
    ).df()


def resolved_counts(con: duckdb.DuckDBPyConnection, start: object, end: object) -> pd.DataFrame:
    dur_h = "(epoch_us(resolved_at) - epoch_us(created_at)) / 3.6e9"
    return con.execute(
        f"""
        SELECT {team_or_all()},
               count(*) AS resolved,
               count(*) FILTER (contacts = 1 AND NOT reopened) AS fcr,
               count(*) FILTER (contacts IS NOT NULL AND reopened IS NOT NULL) AS fcr_n,
               count(*) FILTER (reopened) AS reopened,
               count(reopened) AS reopened_n,
               avg({dur_h}) AS art_mean, stddev_samp({dur_h}) AS art_sd,
               count(handle_time_s) AS aht_n,
               avg(handle_time_s) / 60 AS aht_mean, stddev_samp(handle_time_s) / 60 AS aht_sd
        FROM tickets WHERE resolved_at >= $start AND resolved_at < $end
        GROUP BY GROUPING SETS ((team), ())
        """,
        {"start": start, "end": end},
    ).df()


def survey_counts(con: duckdb.DuckDBPyConnection, start: object, end: object) -> pd.DataFrame:
    return con.execute(
        f"""
        SELECT {team_or_all()}, survey_type,
               count(*) AS n,
               count(*) FILTER (score >= 4) AS top2,
               count(*) FILTER (score >= 9) AS promoters,
               count(*) FILTER (score <= 6) AS detractors,
               avg(score) AS mean, stddev_samp(score) AS sd
        FROM survey_responses WHERE submitted_at >= $start AND submitted_at < $end
        GROUP BY GROUPING SETS ((team, survey_type), (survey_type))
        """,
        {"start": start, "end": end},
    ).df()


def customer_counts(
    con: duckdb.DuckDBPyConnection, start: object, end: object, served_from: object
) -> pd.DataFrame:
    return con.execute(
        f"""
        WITH active AS (
            SELECT customer_id, COALESCE(churned_at < $end, false) AS churned
            FROM customers
            WHERE customer_since < $start AND (churned_at IS NULL OR churned_at >= $start)
        ), served AS (
            SELECT DISTINCT team, customer_id FROM tickets
            WHERE created_at >= $served_from AND created_at < $start
        )
        SELECT s.team, count(*) AS active, count(*) FILTER (churned) AS churned
        FROM active a JOIN served s USING (customer_id) GROUP BY s.team
        UNION ALL
        SELECT '{ALL_TEAMS}', count(*), count(*) FILTER (churned) FROM active
        """,
        {"start": start, "end": end, "served_from": served_from},
    ).df()


def at_risk_counts(con: duckdb.DuckDBPyConnection, month: str) -> pd.DataFrame | None:
    """Scored customers and those in band high per primary team; None when the month has no
    churn-risk scores (not materialized, or too little history to fit a model)."""
    if not table_exists(con, CHURN_RISK_TABLE):
        return None
    df = con.execute(
        f"""
        SELECT {team_or_all()}, count(*) AS scored, count(*) FILTER (band = 'high') AS high
        FROM {CHURN_RISK_TABLE} WHERE period = $m
        GROUP BY GROUPING SETS ((team), ())
        """,
        {"m": month},
    ).df()
    df = df[df.team.notna()].set_index("team")
    if ALL_TEAMS not in df.index or df.at[ALL_TEAMS, "scored"] == 0:
        return None
    return df


def absent_inputs(
    con: duckdb.DuckDBPyConnection, month: str, start: object, end: object
) -> dict[str, str]:
    """The inputs the month's data does not have, each with the reason its KPIs are "no data".

    A ticket column is absent when it is NULL on every ticket created or resolved in the month
    (an export without it, or a mapping that declares it absent); a survey type when the month
    has no response of it; customers when the customer table is empty; churn scores when the
    churn-risk step did not score the month (with the reason it recorded)."""
    t = con.execute(
        """
        SELECT count(*) AS tickets, count(first_response_at) AS first_response_at,
               count(resolved_at) AS resolved_at, count(handle_time_s) AS handle_time_s,
               count(wait_time_s) AS wait_time_s, count(contacts) AS contacts,
               count(reopened) AS reopened, count(escalated) AS escalated,
               count(channel) AS channel
        FROM tickets
        WHERE (created_at >= $start AND created_at < $end)
           OR (resolved_at >= $start AND resolved_at < $end)
        """,
        {"start": start, "end": end},
    ).df()
    s = con.execute(
        """
        SELECT count(*) AS surveys, count(*) FILTER (survey_type = 'csat') AS csat,
               count(*) FILTER (survey_type = 'nps') AS nps,
               count(*) FILTER (survey_type = 'ces') AS ces
        FROM survey_responses WHERE submitted_at >= $start AND submitted_at < $end
        """,
        {"start": start, "end": end},
    ).df()
    have = {**t.iloc[0].to_dict(), **s.iloc[0].to_dict()}
    have["customers"] = con.execute("SELECT count(*) FROM customers").fetchone()[0]
    absent = {k: no_data_reason(k) for k, v in have.items() if not v}
    if "customers" in absent:
        absent["churn_scores"] = no_data_reason("not_scored_customers")
    elif at_risk_counts(con, month) is None:
        absent["churn_scores"] = _churn_status_reason(con, month)
    return absent


def _churn_status_reason(con: duckdb.DuckDBPyConnection, month: str) -> str:
    """Why the month has no churn-risk scores, as the churn step recorded it."""
    if table_exists(con, CHURN_STATUS_TABLE):
        got = con.execute(
            f"SELECT reason FROM {CHURN_STATUS_TABLE} WHERE period = $m AND NOT scored",
            {"m": month},
        ).fetchone()
        if got and got[0]:
            return str(got[0])
    return no_data_reason("not_scored_missing")


def frt_samples(
    con: duckdb.DuckDBPyConnection, start: object, end: object
) -> dict[str, np.ndarray]:
    """First-response times in minutes of the tickets created in the month, per team and ALL."""
    return _samples(
        con,
        """
        SELECT team, (epoch_us(first_response_at) - epoch_us(created_at)) / 6e7 AS v
        FROM tickets
        WHERE created_at >= $start AND created_at < $end AND first_response_at IS NOT NULL
        ORDER BY team
        """,
        start,
        end,
    )


def resolution_samples(
    con: duckdb.DuckDBPyConnection, start: object, end: object
) -> dict[str, np.ndarray]:
    """Resolution times in hours of the tickets resolved in the month, per team and ALL."""
    return _samples(
        con,
        """
        SELECT team, (epoch_us(resolved_at) - epoch_us(created_at)) / 3.6e9 AS v
        FROM tickets WHERE resolved_at >= $start AND resolved_at < $end
        ORDER BY team
        """,
        start,
        end,
    )


def _samples(
    con: duckdb.DuckDBPyConnection, sql: str, start: object, end: object
) -> dict[str, np.ndarray]:
    got = con.execute(sql, {"start": start, "end": end}).fetchnumpy()
    teams, values = np.asarray(got["team"], dtype=object), np.asarray(got["v"], dtype=float)
    out: dict[str, np.ndarray] = {ALL_TEAMS: values}
    if len(teams):
        cuts = np.flatnonzero(teams[1:] != teams[:-1]) + 1
        for chunk_t, chunk_v in zip(np.split(teams, cuts), np.split(values, cuts), strict=True):
            out[str(chunk_t[0])] = chunk_v
    return out
