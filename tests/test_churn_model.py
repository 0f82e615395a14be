"""The churn model: a fit that finds known weights, and AUC and lift that count ties fairly."""

from __future__ import annotations

import numpy as np
import pytest

from scorecards.churn.model import FEATURE_IDS, auc, fit, lift_top


def test_fit_recovers_known_weights() -> None:
    rng = np.random.default_rng(3)
    n = 200_000
    x = np.minimum(rng.poisson(0.4, (n, len(FEATURE_IDS))), 3).astype(float)
    true = np.linspace(0.0, 0.9, len(FEATURE_IDS))
    y = rng.random(n) < 1 / (1 + np.exp(-(-3.0 + x @ true)))
    pats, inv = np.unique(x, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    model = fit(pats, np.bincount(inv), np.bincount(inv, weights=y), l2=1.0)
    assert model.intercept == pytest.approx(-3.0, abs=0.1)
    np.testing.assert_allclose(model.coef, true, atol=0.08)
    assert (model.coef >= 0).all()


def test_fit_needs_churners() -> None:
    with pytest.raises(ValueError, match="0 churners"):
        fit(np.zeros((1, len(FEATURE_IDS))), np.array([10]), np.array([0]), l2=1.0)


def test_auc_and_lift_count_ties_fairly() -> None:
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    # Scores 9..0: the churner at 9 beats all 8 others, the one at 7 beats 7 of them.
    assert auc(np.arange(10)[::-1], y) == pytest.approx((8 + 7) / 16)
    assert auc(np.ones(10), y) == 0.5
    # All tied: the top 10% holds the average churn rate, a lift of exactly 1.
    assert lift_top(np.ones(10), y) == pytest.approx(1.0)
    # The single best-scored customer churned: 100% against 20%.
    assert lift_top(np.arange(10)[::-1], y) == pytest.approx(5.0)
