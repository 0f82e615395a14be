"""Statistics for KPI rows: 95% intervals and period-over-period significance tests.

Functions take numpy arrays (one element per KPI row) or scalars; empty denominators give NaN,
never 0 or an error. Which test is used for which kind of KPI is documented in docs/metrics.md.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

Z95 = 1.959963984540054
ALPHA = 0.05


def _arr(x: object) -> np.ndarray:
    return np.asarray(x, dtype=float)


def wilson(k: object, n: object, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a share k/n, as fractions."""
    k, n = _arr(k), _arr(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    bad = n <= 0
    return np.where(bad, np.nan, centre - half), np.where(bad, np.nan, centre + half)


def nps_se(p9: object, p06: object, n: object) -> np.ndarray:
    """Standard error of NPS in points: 100·sqrt((p9 + p06 − (p9 − p06)²)/n)."""
    p9, p06, n = _arr(p9), _arr(p06), _arr(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = 100 * np.sqrt((p9 + p06 - (p9 - p06) ** 2) / n)
    return np.where(n > 0, se, np.nan)


def mean_interval(
    mean: object, sd: object, n: object, z: float = Z95
) -> tuple[np.ndarray, np.ndarray]:
    """mean ± z·sd/√n; needs n ≥ 2 for a standard deviation."""
    mean, sd, n = _arr(mean), _arr(sd), _arr(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = z * sd / np.sqrt(n)
    ok = n >= 2
    return np.where(ok, mean - half, np.nan), np.where(ok, mean + half, np.nan)


def median_ci_ranks(n: int, alpha: float = ALPHA) -> tuple[int, int] | None:
    """1-based ranks (l, u) of the order statistics bracketing the median with ≥ 95% coverage.

    Distribution-free: the number of observations below the median is Binomial(n, ½), so
    P(X(l) ≤ median ≤ X(u)) = P(l ≤ B ≤ u − 1) with l = qbinom(α/2, n, ½), u = n − l + 1.
    Below n = 6 no such pair reaches 95%, and None is returned.
    """
    if n < 6:
        return None
    lo = int(sps.binom.ppf(alpha / 2, n, 0.5))
    if lo < 1:
        return None
    return lo, n - lo + 1


def median_interval(values: np.ndarray) -> tuple[float, float]:
    """Order-statistic 95% interval for the median of `values` (any order)."""
    ranks = median_ci_ranks(len(values))
    if ranks is None:
        return math.nan, math.nan
    lo, hi = ranks
    part = np.partition(values, [lo - 1, hi - 1])
    return float(part[lo - 1]), float(part[hi - 1])


def p_two_proportions(k1: float, n1: float, k2: float, n2: float) -> float:
    """Two-sided pooled z-test for p1 = p2."""
    if n1 <= 0 or n2 <= 0:
        return math.nan
    p = (k1 + k2) / (n1 + n2)
    se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0 if k1 / n1 == k2 / n2 else 0.0
    z = (k1 / n1 - k2 / n2) / se
    return float(2 * sps.norm.sf(abs(z)))


def p_nps(v1: float, se1: float, v2: float, se2: float) -> float:
    """Two-sided z-test on the difference of two NPS values with their standard errors."""
    if not all(map(math.isfinite, (v1, se1, v2, se2))):
        return math.nan
    se = math.hypot(se1, se2)
    if se == 0:
        return 1.0 if v1 == v2 else 0.0
    return float(2 * sps.norm.sf(abs(v1 - v2) / se))


def p_welch(m1: float, s1: float, n1: float, m2: float, s2: float, n2: float) -> float:
    """Welch's unequal-variance t-test for two means."""
    if n1 < 2 or n2 < 2 or not all(map(math.isfinite, (m1, s1, m2, s2))):
        return math.nan
    if s1 == 0 and s2 == 0:
        # no spread at all: the means are either the same or certainly different
        return 1.0 if m1 == m2 else 0.0
    return float(sps.ttest_ind_from_stats(m1, s1, n1, m2, s2, n2, equal_var=False).pvalue)


def p_mood_median(a: np.ndarray, b: np.ndarray) -> float:
    """Mood's median test: are values above the pooled median equally common in both samples?

    Uses Fisher's exact test on the 2×2 table, which stays valid for small samples.
    """
    if len(a) == 0 or len(b) == 0:
        return math.nan
    grand = float(np.median(np.concatenate([a, b])))
    table = [
        [int((a > grand).sum()), int((a <= grand).sum())],
        [int((b > grand).sum()), int((b <= grand).sum())],
    ]
    if (table[0][0] + table[1][0]) == 0 or (table[0][1] + table[1][1]) == 0:
        return 1.0
    return float(sps.fisher_exact(table).pvalue) if min(len(a), len(b)) < 1000 else _chi2_2x2(table)


def _chi2_2x2(table: list[list[int]]) -> float:
    res = sps.chi2_contingency(np.array(table), correction=True)
    return float(res.pvalue)


def p_counts(c1: float, days1: float, c2: float, days2: float) -> float:
    """Exact conditional test for two Poisson counts over exposures of days1 and days2 days."""
    total = int(c1 + c2)
    if total == 0:
        return math.nan
    return float(sps.binomtest(int(c1), total, days1 / (days1 + days2)).pvalue)
