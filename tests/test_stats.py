"""Intervals and significance tests against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from scorecards.kpis import stats


def test_median_ranks_cover_95_percent() -> None:
    assert stats.median_ci_ranks(5) is None
    assert stats.median_ci_ranks(10) == (2, 9)
    for n in range(6, 300):
        lo, hi = stats.median_ci_ranks(n)
        coverage = sps.binom.cdf(hi - 1, n, 0.5) - sps.binom.cdf(lo - 1, n, 0.5)
        assert coverage >= 0.95, n
        # and it is the tightest symmetric pair that does
        if lo + 1 <= n - lo:
            tighter = sps.binom.cdf(hi - 2, n, 0.5) - sps.binom.cdf(lo, n, 0.5)
            assert tighter < 0.95, n


def test_median_interval_picks_order_statistics() -> None:
    values = np.array([9.0, 1, 8, 2, 7, 3, 6, 4, 5, 10])
    assert stats.median_interval(values) == (2.0, 9.0)


def test_wilson_edges() -> None:
    lo, hi = stats.wilson([0, 10, 0], [10, 10, 0])
    assert lo[0] == 0.0 and 0.25 < hi[0] < 0.35
    assert hi[1] == pytest.approx(1.0) and 0.65 < lo[1] < 0.75
    assert math.isnan(lo[2]) and math.isnan(hi[2])


def test_two_proportions_matches_chi_square() -> None:
    p = stats.p_two_proportions(45, 100, 60, 100)
    chi = sps.chi2_contingency([[45, 55], [60, 40]], correction=False)
    assert p == pytest.approx(chi.pvalue)
    assert math.isnan(stats.p_two_proportions(1, 0, 1, 10))


def test_welch_matches_scipy() -> None:
    p = stats.p_welch(10.0, 2.0, 40, 11.0, 3.0, 50)
    ref = sps.ttest_ind_from_stats(10.0, 2.0, 40, 11.0, 3.0, 50, equal_var=False)
    assert p == pytest.approx(ref.pvalue)


def test_nps_and_counts_and_median_tests() -> None:
    assert stats.p_nps(30, 5, 10, 5) < 0.01
    assert stats.p_nps(30, 10, 25, 10) > 0.5
    assert stats.p_counts(300, 30, 200, 31) < 0.001
    assert stats.p_counts(100, 30, 103, 31) > 0.5
    rng = np.random.default_rng(0)
    a, b = rng.exponential(10, 400), rng.exponential(10, 400)
    assert stats.p_mood_median(a, b) > 0.01
    assert stats.p_mood_median(a, b * 2) < 0.001
    assert math.isnan(stats.p_mood_median(a, np.empty(0)))
