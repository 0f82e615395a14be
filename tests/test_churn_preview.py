"""The churn model and its backtest as Markdown tables for the Dagster UI."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scorecards.churn.model import FEATURE_IDS, Model
from scorecards.churn.preview import backtest_markdown, model_markdown
from tests.test_dagster import markdown_rows


def test_model_table_shows_every_weight_its_odds_ratio_and_what_it_counts() -> None:
    coef = np.zeros(len(FEATURE_IDS))
    coef[FEATURE_IDS.index("escalations")] = 0.6931
    model = Model(-3.0, coef, ("2025-02", "2025-03", "2025-04"), 55_372, 2_146)
    table, fitted = model_markdown(model).split("\n\n")
    rule = [c.strip() for c in table.splitlines()[1].strip("|").split("|")]
    # numbers right-aligned, words left
    assert [c.endswith(":") for c in rule] == [False, True, True, False]
    rows = markdown_rows(table)
    assert [r["term"] for r in rows] == ["intercept", *FEATURE_IDS]
    assert rows[0] == {
        "term": "intercept",
        "coefficient": "-3.000",
        "odds ratio": "0.05",
        "counts": "log-odds of a customer without any signal",
    }
    esc = rows[1 + FEATURE_IDS.index("escalations")]
    assert (esc["coefficient"], esc["odds ratio"]) == ("+0.693", "2.00")
    assert esc["counts"] == "per resolved escalated ticket (up to 3)"
    assert rows[1]["coefficient"] == "+0.000" and rows[1]["odds ratio"] == "1.00"
    assert fitted == (
        "Fitted on 2025-02…2025-04 (3 months, 55,372 customer-months, "
        "2,146 churned within the horizon)."
    )


def test_backtest_table_compares_model_and_baseline_per_month_and_on_average() -> None:
    bt = pd.DataFrame(
        {
            "period": ["2025-07", "2025-07", "2025-08", "2025-08"],
            "model": ["model", "baseline", "model", "baseline"],
            "auc": [0.6021, 0.5842, 0.6093, 0.5856],
            "lift_top10": [2.481, 2.052, 2.513, 2.094],
            "n": [18_971, 18_971, 19_086, 19_086],
            "churners": [827, 827, 1_810, 1_810],
        }
    )
    rows = markdown_rows(backtest_markdown(bt))
    assert rows == [
        {
            "month": "2025-07",
            "AUC model": "0.602",
            "AUC baseline": "0.584",
            "lift@10% model": "2.48",
            "lift@10% baseline": "2.05",
            "customers": "18,971",
            "churned": "827",
        },
        {
            "month": "2025-08",
            "AUC model": "0.609",
            "AUC baseline": "0.586",
            "lift@10% model": "2.51",
            "lift@10% baseline": "2.09",
            "customers": "19,086",
            "churned": "1,810",
        },
        {
            "month": "**mean**",
            "AUC model": "**0.606**",
            "AUC baseline": "**0.585**",
            "lift@10% model": "**2.50**",
            "lift@10% baseline": "**2.07**",
            "customers": "",
            "churned": "",
        },
    ]
    rule = [c.strip() for c in backtest_markdown(bt).splitlines()[1].strip("|").split("|")]
    assert [c.endswith(":") for c in rule] == [False, *[True] * 6]
    assert backtest_markdown(bt.iloc[0:0]) == "_no month with a known outcome has been scored yet_"
