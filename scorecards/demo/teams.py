"""The demo's teams and their month-by-month condition: volume, stress, channels and agents."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from scorecards.demo.model import CH_BY_CLASS, PROFILES, SEASON


@dataclass(frozen=True)
class Teams:
    ids: list[str]
    share: np.ndarray  # of the company's tickets
    f_frt: np.ndarray  # speed factors: first response, resolution, handling
    f_res: np.ndarray
    f_aht: np.ndarray
    p_multi: np.ndarray  # share of tickets needing more than one contact
    p_esc: np.ndarray  # escalation rate
    sat: np.ndarray  # satisfaction shift
    p_team: np.ndarray  # (month, team): share of the month's tickets
    n_month: np.ndarray  # tickets per month
    stress: np.ndarray  # (month, team)
    ch_cdf: np.ndarray  # (team, slot class, channel): cumulative channel choice
    agents_n: np.ndarray
    agent_off: np.ndarray
    agent_lbl: pa.Array


def _profiles(seed: int, n_teams: int) -> list[tuple]:
    """The first `n_teams` of the company's profiles, then made-up teams of their own stream."""
    trng = np.random.default_rng([seed, 2])
    prof = [(n, *v) for n, v in list(PROFILES.items())[:n_teams]]
    for k in range(len(prof), n_teams):
        prof.append(
            (
                f"team_{k + 1:02d}",
                trng.uniform(0.02, 0.08),
                trng.dirichlet(np.full(6, 2.0)),
                *trng.uniform([0.6, 0.6, 0.8, 0.1, 0.03, -0.3], [1.5, 1.6, 1.4, 0.25, 0.09, 0.4]),
            )
        )
    return prof


def _team_season(tid: list[str], cal: np.ndarray) -> np.ndarray:
    tseason = np.ones((len(cal), len(tid)))
    for j, t in enumerate(tid):
        if t == "returns":  # Christmas presents come back in January
            tseason[:, j] = np.where(cal == 1, 1.45, np.where(cal == 2, 1.15, 1.0))
        if t == "logistics":
            tseason[:, j] = np.where(np.isin(cal, (11, 12)), 1.3, 1.0)
    return tseason


def build_teams(
    rng: np.random.Generator, seed: int, n_teams: int, cal: np.ndarray, tpm: int
) -> Teams:
    """The teams for months of calendar months `cal` with `tpm` tickets in a typical month."""
    prof = _profiles(seed, n_teams)
    tid = [p[0] for p in prof]
    T = len(tid)
    share = np.array([p[1] for p in prof], dtype=float)
    mix = np.array([p[2] for p in prof], dtype=float)
    f_frt, f_res, f_aht, p_multi, p_esc, sat = (np.array([p[i] for p in prof]) for i in range(3, 9))
    M = len(cal)
    tseason = _team_season(tid, cal)
    p_team = share * tseason
    p_team /= p_team.sum(1, keepdims=True)
    n_month = np.maximum(1, np.round(tpm * SEASON[cal - 1] * rng.normal(1, 0.02, M))).astype(int)
    # Stress: busy months are slower and worse; the rest is noise, a trend and the returns dip.
    load = SEASON[cal - 1][:, None] * tseason - 1
    stress = 0.5 * load + rng.normal(0, 0.06, (M, T))
    for j, t in enumerate(tid):
        if t == "tech_support":
            stress[:, j] += np.linspace(0.25, -0.05, M)
        if t == "returns":
            stress[-1, j] += 1.1
            stress[-2:-1, j] += 0.55
    ch_cdf = mix[:, None, :] * CH_BY_CLASS[None, :, :]
    ch_cdf = np.cumsum(ch_cdf / ch_cdf.sum(2, keepdims=True), axis=2)
    agents_n = np.maximum(3, np.round(share / share.sum() * tpm / 350)).astype(int)
    agent_off = np.concatenate([[0], np.cumsum(agents_n)])
    agent_lbl = pa.array(
        [f"{t}-{k + 1:03d}" for t, a in zip(tid, agents_n, strict=True) for k in range(a)]
    )
    return Teams(
        tid,
        share,
        f_frt,
        f_res,
        f_aht,
        p_multi,
        p_esc,
        sat,
        p_team,
        n_month,
        stress,
        ch_cdf,
        agents_n,
        agent_off,
        agent_lbl,
    )
