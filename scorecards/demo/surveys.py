"""The demo's survey responses: who answers, how satisfied, what they write, and their rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from scorecards.contract.datasets import SCORE_RANGES, SURVEY_TYPES, SURVEYS
from scorecards.demo.customers import Customers
from scorecards.demo.files import Clock, as_text, ids
from scorecards.demo.model import COMMENTS, NEVER, TZ
from scorecards.demo.teams import Teams
from scorecards.demo.tickets import Month, Tickets


@dataclass(frozen=True)
class Surveys:
    """The responses to one chunk of tickets; `sv` are the answered tickets' positions."""

    sv: np.ndarray
    sub: np.ndarray  # submitted at
    stype: np.ndarray  # index into SURVEY_TYPES
    score: np.ndarray
    mood: np.ndarray  # 0 unhappy, 1 neutral, 2 happy
    u_comment: np.ndarray  # which comment of the mood
    has_c: np.ndarray
    no_team: np.ndarray

    def __len__(self) -> int:
        return len(self.sv)


def _answered(
    rng: np.random.Generator, tk: Tickets, survey_rate: float, snapshot: int
) -> tuple[np.ndarray, np.ndarray]:
    """~rate of resolved tickets are answered (unhappy customers a bit more often), those
    submitted before `snapshot`: their positions and submission times."""
    escalated, reopened, contacts, rs_at = tk.escalated, tk.reopened, tk.contacts, tk.rs_at
    n = len(tk.created)
    rs_ok = rs_at != NEVER
    eager = np.where(escalated | reopened | (contacts >= 3), 1.6, 0.9)
    p = survey_rate * eager / max(eager[rs_ok].mean(), 1e-9) if rs_ok.any() else eager * 0
    sv = np.flatnonzero(rs_ok & (rng.random(n) < np.clip(p, 0, 1)))
    sub = rs_at[sv] + np.minimum(rng.lognormal(np.log(6 * 3600), 1.1, len(sv)), 10 * 86400).astype(
        np.int64
    )
    return sv[sub < snapshot], sub[sub < snapshot]


def _scores(
    rng: np.random.Generator, tk: Tickets, teams: Teams, sv: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Survey type and score of the answered tickets `sv`: satisfaction follows the ticket."""
    m = len(sv)
    stype = rng.choice(3, m, p=[0.6, 0.25, 0.15])
    hours = (tk.rs_at[sv] - tk.created[sv]) / 3600
    z = (
        1.0
        + teams.sat[tk.team[sv]]
        - 0.7 * tk.st[sv]
        - 0.3 * np.clip(np.log(np.maximum(hours, 0.05) / 8), -1.5, 3)
        - 0.45 * (tk.contacts[sv] - 1)
        - 0.8 * tk.reopened[sv]
        - 0.7 * tk.escalated[sv]
        - 0.3 * (np.nan_to_num(tk.wait[sv]) > 300)
        + rng.normal(0, 1, m)
    )
    score = np.select(
        [stype == 0, stype == 1],
        [
            np.digitize(z, [-1.3, -0.6, 0.1, 0.9]) + 1,
            np.clip(np.round(6.9 + 1.6 * z), 0, 10),
        ],
        np.clip(np.round(4.4 + 1.1 * z), 1, 7),
    ).astype(np.int64)
    return stype, score


def simulate(
    rng: np.random.Generator,
    tk: Tickets,
    teams: Teams,
    custs: Customers,
    survey_rate: float,
    snapshot: int,
) -> Surveys:
    """The responses to the tickets `tk`; bad ratings are added to the customers' bad
    experiences."""
    sv, sub = _answered(rng, tk, survey_rate, snapshot)
    m = len(sv)
    stype, score = _scores(rng, tk, teams, sv)
    lo_hi = np.array([SCORE_RANGES[t] for t in SURVEY_TYPES]).T[:, stype]
    mood = np.digitize((score - lo_hi[0]) / (lo_hi[1] - lo_hi[0]), [0.4, 0.7])
    u_comment = rng.random(m)
    has_c = rng.random(m) < 0.18
    bad_sv = np.where(
        stype == 1,
        3 * (score <= 6),
        (stype == 0) * 2 * (score <= 2) + (stype == 2) * (score <= 3),
    )
    custs.add_bad(tk.cust[sv], bad_sv)
    no_team = rng.random(m) < 0.1
    return Surveys(sv, sub, stype, score, mood, u_comment, has_c, no_team)


def table(
    sr: Surveys,
    tk: Tickets,
    tids: pa.Array,
    teams: Teams,
    first_id: int,
    mo: Month,
    csv: bool,
    naive: bool,
    clock: Clock,
) -> pa.Table:
    """The rows of the surveys file, response ids from `first_id` on, as CSV text or typed;
    `tids` are the ids of the tickets `tk`."""
    m, sv = len(sr), sr.sv
    resp = {
        "response_id": ids(f"S{mo.name.replace('-', '')}-", first_id + np.arange(m), 8),
        "ticket_id": tids.take(pa.array(sv)),
        "customer_id": ids("C", tk.cust[sv] + 1, 7),
        "team": pa.array(teams.ids).take(pa.array(tk.team[sv], mask=sr.no_team)),
        "survey_type": pa.array(SURVEY_TYPES).take(pa.array(sr.stype)),
    }
    comments = pa.array([c for group in COMMENTS for c in group])
    first = np.cumsum([0] + [len(g) for g in COMMENTS])[sr.mood]
    sizes_c = np.array([len(g) for g in COMMENTS])[sr.mood]
    resp["comment"] = comments.take(
        pa.array(first + (sr.u_comment * sizes_c).astype(int), mask=~sr.has_c)
    )
    if csv:
        resp["score"] = as_text(sr.score)
        resp["submitted_at"] = clock.strings(sr.sub, naive)
    else:
        resp["score"] = pa.array(sr.score)
        resp["submitted_at"] = pa.array(sr.sub, pa.timestamp("s", tz=TZ))
    return pa.table({c: resp[c] for c in SURVEYS.column_names})
