"""The churn model and its backtest as Markdown for the Dagster UI (assets/churn.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from scorecards.churn.model import FEATURE_IDS, Model

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


def _markdown(rows: list[list[str]], header: Sequence[str], align: Sequence[str]) -> str:
    # The cells are formatted already: tabulate must not read "+0.071" as a number again.
    table = pd.DataFrame(rows, columns=list(header))
    return table.to_markdown(index=False, colalign=tuple(align), disable_numparse=True)


def model_markdown(model: Model) -> str:
    """The model line by line: each weight, its odds ratio and what it counts."""
    terms = [("intercept", model.intercept), *zip(FEATURE_IDS, model.coef, strict=True)]
    rows = [[term, f"{c:+.3f}", f"{math.exp(c):.2f}", _MEANING[term]] for term, c in terms]
    table = _markdown(
        rows,
        ["term", "coefficient", "odds ratio", "counts"],
        ["left", "right", "right", "left"],
    )
    return (
        f"{table}\n\nFitted on {model.train_months[0]}…{model.train_months[-1]} "
        f"({len(model.train_months)} months, {model.n:,} customer-months, "
        f"{model.churners:,} churned within the horizon)."
    )


def backtest_markdown(bt: pd.DataFrame) -> str:
    """AUC and top-10% lift per evaluated month, model against baseline, and their means."""
    if bt.empty:
        return "_no month with a known outcome has been scored yet_"
    wide = bt.pivot(index="period", columns="model", values=["auc", "lift_top10"])
    counts = bt[bt.model == "model"].set_index("period")[["n", "churners"]]
    rows = [
        [
            m,
            f"{r[('auc', 'model')]:.3f}",
            f"{r[('auc', 'baseline')]:.3f}",
            f"{r[('lift_top10', 'model')]:.2f}",
            f"{r[('lift_top10', 'baseline')]:.2f}",
            f"{int(counts.at[m, 'n']):,}",
            f"{int(counts.at[m, 'churners']):,}",
        ]
        for m, r in wide.iterrows()
    ]
    mean = bt.groupby("model")[["auc", "lift_top10"]].mean()
    rows.append(
        [
            "**mean**",
            f"**{mean.at['model', 'auc']:.3f}**",
            f"**{mean.at['baseline', 'auc']:.3f}**",
            f"**{mean.at['model', 'lift_top10']:.2f}**",
            f"**{mean.at['baseline', 'lift_top10']:.2f}**",
            "",
            "",
        ]
    )
    header = [
        "month",
        "AUC model",
        "AUC baseline",
        "lift@10% model",
        "lift@10% baseline",
        "customers",
        "churned",
    ]
    return _markdown(rows, header, ["left", *["right"] * 6])
