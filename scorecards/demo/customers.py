"""The demo's customers: who they are, which teams they write to, when they join and leave."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from scorecards.contract.datasets import CUSTOMERS
from scorecards.demo.dirty import DirtyRows
from scorecards.demo.files import Clock, Sink, ids
from scorecards.demo.model import NEVER, SEGMENTS, TZ, pick
from scorecards.demo.teams import Teams


def _new_customers(
    rng: np.random.Generator, teams: Teams, k: int, segs: np.ndarray, onboarding: bool
) -> tuple[np.ndarray, ...]:
    """Activity weight, main team and second team of `k` new customers of segments `segs`."""
    tid = teams.ids
    weight = np.minimum(rng.pareto(1.5, k) + 1, 200) * np.array([1.0, 2.5, 6.0])[segs]
    primary = pick(rng, teams.share, k)
    if "enterprise" in tid:
        primary = np.where((segs == 2) & (rng.random(k) < 0.7), tid.index("enterprise"), primary)
    secondary = pick(rng, teams.share, k)
    if onboarding and "onboarding" in tid:
        secondary = np.where(rng.random(k) < 0.6, tid.index("onboarding"), secondary)
    return weight, primary, secondary


class Customers:
    """Everyone ever seen, one array entry per customer; `bad_now` counts this month's bad
    experiences, `bad3` those of the last three months."""

    def __init__(
        self, rng: np.random.Generator, teams: Teams, c0: int, golive: int, start: int
    ) -> None:
        """A legacy import at go-live and organic sign-ups until `start`, some already gone."""
        self.rng, self.teams = rng, teams
        span = start - golive
        d = rng.exponential(2.2 * 365 * 86400, c0)
        d = np.where(d < span, d, rng.random(c0) * span)
        since = np.where(rng.random(c0) < 0.35, golive, start - d.astype(np.int64))
        churn = np.full(c0, NEVER)
        gone = rng.random(c0) < 0.1  # the history holds customers who left before the period
        churn[gone] = (
            since[gone] + 1 + (rng.random(gone.sum()) * (start - since[gone] - 1)).astype(np.int64)
        )
        self.since, self.churn = since, churn
        self.seg = rng.choice(3, c0, p=[0.72, 0.21, 0.07])
        self.weight, self.primary, self.secondary = _new_customers(rng, teams, c0, self.seg, False)
        self.bad3 = np.zeros((c0, 3), dtype=np.int32)
        self.bad_now = np.zeros(0)

    def __len__(self) -> int:
        return len(self.since)

    def start_month(self, t_a: int, t_b: int) -> None:
        """Churn in [t_a, t_b), more likely after bad experiences in the last 90 days; then
        sign-ups."""
        rng, since, churn, seg, bad3 = self.rng, self.since, self.churn, self.seg, self.bad3
        active = (since < t_a) & (churn >= t_a)
        idx = np.flatnonzero(active)
        risk = np.array([1.25, 0.8, 0.45])[seg[idx]] * np.exp(0.4 * np.minimum(bad3[idx].sum(1), 8))
        h = 0.014 * risk / risk.mean()
        leave = idx[rng.random(len(idx)) < h]
        churn[leave] = t_a + (rng.random(len(leave)) * (t_b - t_a)).astype(np.int64)
        k = rng.poisson(0.02 * len(idx))
        segs = rng.choice(3, k, p=[0.72, 0.21, 0.07])
        w, p1, p2 = _new_customers(rng, self.teams, k, segs, True)
        self.since = np.concatenate([since, t_a + (rng.random(k) * (t_b - t_a)).astype(np.int64)])
        self.churn, self.seg = (
            np.concatenate([churn, np.full(k, NEVER)]),
            np.concatenate([seg, segs]),
        )
        self.weight, self.primary, self.secondary = (
            np.concatenate(x) for x in ((self.weight, w), (self.primary, p1), (self.secondary, p2))
        )
        self.bad3 = np.vstack([bad3, np.zeros((k, 3), dtype=np.int32)])
        self.bad_now = np.zeros(len(self.since))

    def add_bad(self, cust: np.ndarray, weights: np.ndarray) -> None:
        self.bad_now += np.bincount(cust, weights=weights, minlength=len(self.since))

    def end_month(self) -> None:
        self.bad3 = np.column_stack([self.bad_now.astype(np.int32), self.bad3[:, :2]])

    def choose(self, n: int, team: np.ndarray, c_a: float, c_b: float) -> np.ndarray:
        """The customers of `n` tickets to teams `team` created in [c_a, c_b): mostly the
        customer's main team, else the second team, else any."""
        rng, weight = self.rng, self.weight
        cand = np.flatnonzero((self.since < c_b) & (self.churn > c_a))
        slot = rng.choice(3, n, p=[0.75, 0.17, 0.08])  # own main team, second team, any
        cust = cand[pick(rng, weight[cand], n)]
        for which, key in ((0, self.primary[cand]), (1, self.secondary[cand])):
            order = np.argsort(key, kind="stable")
            bnd = np.searchsorted(key[order], np.arange(len(self.teams.ids) + 1))
            for j in range(len(self.teams.ids)):
                sel = np.flatnonzero((slot == which) & (team == j))
                pool = cand[order[bnd[j] : bnd[j + 1]]]
                if len(sel) and len(pool):
                    cust[sel] = pool[pick(rng, weight[pool], len(sel))]
        return cust

    def write(self, landing: Path, fmt: str, clock: Clock, dirt: DirtyRows) -> int:
        """The customers file: everyone ever seen. Returns its rows."""
        since, churn = self.since, self.churn
        csv_c = fmt != "parquet"
        n_c = len(since)
        ct = {
            "customer_id": ids("C", np.arange(n_c) + 1, 7),
            "segment": pa.array(SEGMENTS).take(pa.array(self.seg)),
        }
        if csv_c:
            ct |= {
                "customer_since": clock.strings(since, True),
                "churned_at": clock.strings(churn, True),
            }
        else:
            ts = pa.timestamp("s", tz=TZ)
            ct |= {
                "customer_since": pa.array(since, ts),
                "churned_at": pa.array(churn, ts, mask=churn == NEVER),
            }
        # optional contract columns the demo does not generate (label) are simply absent
        table = pa.table({c: ct[c] for c in CUSTOMERS.column_names if c in ct})
        if csv_c and dirt.pending("customers"):
            # Customers are validated by the month of customer_since; only big months take
            # bad rows.
            mk = (since + clock.off[(since - clock.base) // 3600]) // (86400 * 28)
            _, inv, cnt = np.unique(mk, return_inverse=True, return_counts=True)
            ok = cnt[inv] * 0.005 >= dirt.pending("customers")
            table = dirt.place("customers", table, dirt.pending("customers"), ok & (churn == NEVER))
        sink = Sink(landing / "customers" / f"customers.{'csv' if csv_c else 'parquet'}", csv_c)
        sink.write(table)
        sink.close()
        return sink.rows
