"""The churn-risk model and how it is judged: a logistic regression on capped signal counts, and
AUC and top-10% lift against what actually happened.

The model is deliberately small enough to read: log-odds = intercept + Σ coefficient × feature,
each feature a signal count capped at `cap` (or a 0/1 flag; the ticket count in doublings),
each coefficient held at 0 or above
(every signal is a warning sign by definition; a negative weight would be noise or confounding,
and would make "why is this customer at risk" impossible to answer by adding things up). A small
L2 penalty keeps weights of rare signals from running away. Training rows with equal features are
pooled into one weighted row, so fitting on millions of customer-months is a fit on a few
thousand patterns, exact and fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy.special import expit
from scipy.stats import rankdata


@dataclass(frozen=True)
class Feature:
    id: str  # the signal column it is read from
    cap: int  # counts above this add nothing more (1 for flags)
    log2: bool = False  # floor(log2(1 + count)): 0, 1, 2-3, 4-7, ... tickets count 0, 1, 2, 3, ...

    def sql(self) -> str:
        capped = f"least({self.id}, {self.cap})"
        return f"floor(log2(1 + {capped}))" if self.log2 else capped


FEATURES: tuple[Feature, ...] = (
    # Contact volume: busy customers meet more of everything below, next quarter too, so the
    # model must know how busy a customer is to weigh the rest fairly (and to be at least as
    # good as ranking by volume alone). In whole doublings, which keeps the number of distinct
    # feature patterns, and so the fit, small.
    Feature("tickets", 63, log2=True),
    Feature("detractor", 1),
    Feature("csat_low", 3),
    Feature("ces_low", 3),
    Feature("repeat_30d", 1),
    Feature("multi_contact", 3),
    Feature("escalations", 3),
    Feature("reopened", 3),
    Feature("open_over_7d", 3),
    Feature("slow_responses", 3),
    Feature("disengaged", 1),
)
FEATURE_IDS: tuple[str, ...] = tuple(f.id for f in FEATURES)
CAPS = np.array([f.cap for f in FEATURES], dtype=float)
LOG2 = np.array([f.log2 for f in FEATURES])


@dataclass(frozen=True)
class Model:
    intercept: float
    coef: np.ndarray  # one per FEATURES entry, ≥ 0
    train_months: tuple[str, ...]
    n: int
    churners: int

    def log_odds(self, x: np.ndarray) -> np.ndarray:
        return self.intercept + x @ self.coef

    def predict(self, x: np.ndarray) -> np.ndarray:
        return expit(self.log_odds(x))


def design(signals: dict[str, np.ndarray] | object) -> np.ndarray:
    """The model's feature matrix from signal columns (a DataFrame or dict of arrays)."""
    cols = [np.asarray(signals[f.id], dtype=float) for f in FEATURES]  # type: ignore[index]
    x = np.minimum(np.column_stack(cols), CAPS)
    return np.where(LOG2, np.floor(np.log2(1 + x)), x)


def fit(
    x: np.ndarray,
    n: np.ndarray,
    k: np.ndarray,
    l2: float,
    train_months: Sequence[str] = (),
) -> Model:
    """Penalised maximum likelihood on pooled rows: pattern x[i] seen n[i] times, k[i] churned.

    Minimises Σ n·log(1 + e^η) − k·η + l2/2·‖β‖² (intercept unpenalised) with β ≥ 0; L-BFGS-B
    from zeros is deterministic for the same input."""
    x, n, k = np.asarray(x, float), np.asarray(n, float), np.asarray(k, float)
    total, churners = float(n.sum()), float(k.sum())
    if total <= 0 or churners <= 0 or churners >= total:
        raise ValueError(
            f"cannot fit a churn model on {int(total)} customer-months with {int(churners)} churners"
        )
    scale = 1.0 / total  # objective per customer-month: well-conditioned at any data size

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        eta = theta[0] + x @ theta[1:]
        loss = np.sum(n * np.logaddexp(0.0, eta) - k * eta) + 0.5 * l2 * theta[1:] @ theta[1:]
        resid = n * expit(eta) - k
        grad = np.concatenate([[resid.sum()], x.T @ resid + l2 * theta[1:]])
        return loss * scale, grad * scale

    start = np.zeros(x.shape[1] + 1)
    start[0] = np.log(churners / (total - churners))
    bounds = [(None, None)] + [(0.0, None)] * x.shape[1]
    res = optimize.minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 1000, "ftol": 1e-15, "gtol": 1e-10},
    )
    if not res.success:
        # The line search can give up right at the optimum of a flat objective; what counts is
        # the projected gradient (a weight held at 0 may keep a positive slope).
        grad = np.asarray(res.jac, dtype=float).copy()
        grad[1:][(res.x[1:] <= 0) & (grad[1:] > 0)] = 0.0
        if np.abs(grad).max() > 1e-6:
            raise RuntimeError(f"churn model did not converge: {res.message}")
    return Model(
        intercept=float(res.x[0]),
        coef=np.asarray(res.x[1:], dtype=float),
        train_months=tuple(train_months),
        n=int(total),
        churners=int(churners),
    )


def auc(scores: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count half); NaN without both classes."""
    y = np.asarray(y, dtype=bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(np.asarray(scores, dtype=float))
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def lift_top(scores: np.ndarray, y: np.ndarray, share: float = 0.1) -> float:
    """Churn rate among the highest-scored `share` of customers over the overall churn rate.

    Where the cut falls inside a group of equal scores, the group counts with the fraction that
    fits (the expected value under random tie-breaking), so ties never flatter a ranking."""
    s, y = np.asarray(scores, dtype=float), np.asarray(y, dtype=float)
    total = len(s)
    if total == 0 or y.sum() == 0:
        return float("nan")
    cut = share * total
    uniq, inv = np.unique(-s, return_inverse=True)  # best score first
    size = np.bincount(inv, minlength=len(uniq)).astype(float)
    pos = np.bincount(inv, weights=y, minlength=len(uniq))
    before = np.concatenate([[0.0], np.cumsum(size)[:-1]])
    taken = np.clip(cut - before, 0, size)
    expected = float((pos * taken / size).sum())
    return (expected / cut) / (y.sum() / total)
