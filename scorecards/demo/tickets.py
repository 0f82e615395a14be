"""The demo's tickets: when they come in, over which channel, how they go, and their file rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from scorecards.contract.datasets import CHANNELS, TICKETS
from scorecards.core.periods import month_bounds
from scorecards.demo.customers import Customers
from scorecards.demo.files import Clock, as_text, ids
from scorecards.demo.model import (
    AHT_S,
    BOOLS,
    DOW_W,
    FRT_MIN,
    FRT_SIGMA,
    HOLIDAYS,
    HOUR_W,
    HUMAN_ASYNC,
    MULTI,
    NEVER,
    RES_H,
    TZ,
    WAIT_S,
    pick,
)
from scorecards.demo.teams import Teams


@dataclass(frozen=True)
class Month:
    """One month of the data: its position, its UTC hour edges, the volume CDF over them, and
    each hour's local hour and class (0 office hours, 1 evening, 2 night), so that DST days
    simply have 23 or 25 slots."""

    index: int
    name: str
    edges: np.ndarray
    cdf: np.ndarray
    hour: np.ndarray
    cls: np.ndarray

    @classmethod
    def of(cls, index: int, month: str) -> Month:
        start, end = month_bounds(month, TZ)
        utc = pd.date_range(start, end, freq="h", inclusive="left")
        loc = utc.tz_convert(TZ)
        hour, dow = np.asarray(loc.hour), np.asarray(loc.dayofweek)
        holiday = [(m, d) in HOLIDAYS for m, d in zip(loc.month, loc.day, strict=True)]
        w = HOUR_W[hour] * DOW_W[dow] * np.where(holiday, 0.35, 1.0)
        office = ((dow < 5) & (hour >= 8) & (hour < 18)) | ((dow == 5) & (hour >= 9) & (hour < 14))
        slot_cls = np.where(
            office & ~np.asarray(holiday), 0, np.where((hour >= 7) & (hour < 22), 1, 2)
        )
        edges = np.append(utc.as_unit("s").asi8, int(end.timestamp())).astype(np.float64)
        cdf = np.concatenate([[0.0], np.cumsum(w) / w.sum()])
        return cls(index, month, edges, cdf, hour, slot_cls)


@dataclass(frozen=True)
class Tickets:
    """One chunk of a month's tickets, in creation order; NEVER for a time that has not come."""

    created: np.ndarray
    team: np.ndarray
    cust: np.ndarray
    ch: np.ndarray
    st: np.ndarray  # the team's stress that month
    contacts: np.ndarray
    reopened: np.ndarray
    escalated: np.ndarray
    wait: np.ndarray
    aht: np.ndarray
    fr_at: np.ndarray
    rs_at: np.ndarray
    agent: np.ndarray
    no_agent: np.ndarray


def _created(
    rng: np.random.Generator, mo: Month, custs: Customers, teams: Teams, span: tuple, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Creation time, team and customer of `n` tickets in the stretch `span` of the month,
    sorted by creation time."""
    c_a, c_b = span
    team = pick(rng, teams.p_team[mo.index], n)
    cust = custs.choose(n, team, c_a, c_b)
    # Creation time from the month's volume curve, inside the customer's lifetime.
    edges, cdf = mo.edges, mo.cdf
    lo, hi = np.maximum(custs.since[cust], c_a), np.minimum(custs.churn[cust], c_b)
    f_lo, f_hi = np.interp(lo, edges, cdf), np.interp(hi, edges, cdf)
    created = np.floor(np.interp(f_lo + rng.random(n) * (f_hi - f_lo), cdf, edges)).astype(np.int64)
    created = np.clip(created, lo, np.asarray(hi, dtype=np.int64) - 1).astype(np.int64)
    o = np.argsort(created, kind="stable")
    return created[o], team[o], cust[o]


def _experience(
    rng: np.random.Generator, teams: Teams, team: np.ndarray, ch: np.ndarray, st: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contacts, reopen and escalation come first, because times and scores follow them."""
    n = len(team)
    multi = rng.random(n) < np.clip(teams.p_multi[team] * MULTI[ch] + 0.10 * st, 0, 0.9)
    contacts = 1 + multi * (1 + rng.choice(3, n, p=[0.7, 0.22, 0.08]))
    reopened = rng.random(n) < np.clip(0.04 + 0.08 * multi + 0.04 * st, 0, 1)
    escalated = rng.random(n) < np.clip(
        teams.p_esc[team] * (0.75 + 1.4 * multi) * np.where(ch == 5, 0.3, 1) + 0.025 * st, 0, 1
    )
    return contacts, reopened, escalated


def _durations(
    rng: np.random.Generator,
    teams: Teams,
    tk: dict[str, np.ndarray],
    hour: np.ndarray,
    cls: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wait, first response and resolution times in seconds."""
    team, ch, st, created = tk["team"], tk["ch"], tk["st"], tk["created"]
    contacts, escalated, reopened = tk["contacts"], tk["escalated"], tk["reopened"]
    n = len(team)
    f_frt = teams.f_frt
    sync = (ch == 0) | (ch == 2)
    wait = np.where(
        sync,
        rng.lognormal(np.log(np.maximum(WAIT_S[ch], 1) * f_frt[team]) + 0.9 * st, 0.8),
        np.nan,
    )
    frt = np.where(
        sync,
        wait + rng.lognormal(np.log(20), 0.5, n),
        rng.lognormal(
            np.log(np.maximum(FRT_MIN[ch], 0.1) * 60 * f_frt[team]) + 0.9 * st,
            FRT_SIGMA[ch],
        ),
    )
    night = HUMAN_ASYNC[ch] & (cls == 2)  # e-mails written at night wait for 8 o'clock
    frt += night * (((8 - hour) % 24) * 3600 - created % 3600)
    res = (
        frt
        + rng.lognormal(np.log(RES_H[ch] * 3600 * teams.f_res[team]) + 0.8 * st, 1.1)
        * (1 + 0.9 * (contacts - 1))
        * (1 + 2 * escalated)
        + reopened * rng.lognormal(np.log(36 * 3600), 0.6, n)
    )
    return wait, frt, res


def simulate(
    rng: np.random.Generator,
    mo: Month,
    custs: Customers,
    teams: Teams,
    span: tuple,
    n: int,
    snapshot: int,
) -> Tickets:
    """`n` tickets created in the stretch `span` of the month, as known at `snapshot`; each
    customer's bad experiences are added to `custs`."""
    created, team, cust = _created(rng, mo, custs, teams, span, n)
    sl = np.searchsorted(mo.edges, created, side="right") - 1
    hour, cls = mo.hour[sl], mo.cls[sl]
    ch = (rng.random(n)[:, None] > teams.ch_cdf[team, cls]).sum(1).clip(0, 5)
    st = teams.stress[mo.index, team]
    contacts, reopened, escalated = _experience(rng, teams, team, ch, st)
    tk = dict(created=created, team=team, ch=ch, st=st, contacts=contacts)
    tk |= dict(escalated=escalated, reopened=reopened)
    wait, frt, res = _durations(rng, teams, tk, hour, cls)
    aht = rng.lognormal(np.log(AHT_S[ch] * teams.f_aht[team] * contacts**0.8), 0.55)
    aht[rng.random(n) < 0.03] = np.nan
    wait[rng.random(n) < 0.03] = np.nan
    abandoned = rng.random(n) < 0.022 + 0.01 * np.clip(st, 0, None)
    no_reply = (abandoned & (rng.random(n) < 0.8)) | (rng.random(n) < 0.004)
    fr_at = np.where(no_reply, NEVER, created + frt.astype(np.int64))
    rs_at = np.where(abandoned, NEVER, created + res.astype(np.int64))
    fr_at[fr_at >= snapshot] = NEVER
    rs_at[rs_at >= snapshot] = NEVER
    agent = teams.agent_off[team] + (teams.agents_n[team] * rng.random(n) ** 1.4).astype(int)
    no_agent = (ch == 5) | (fr_at == NEVER)
    slow = np.zeros(n, bool)
    for j in range(len(teams.ids)):
        on = team == j
        if on.any():
            slow[on] = frt[on] > np.quantile(frt[on], 0.9)
    custs.add_bad(cust, escalated + reopened + (contacts >= 3) + slow + abandoned)
    return Tickets(
        created,
        team,
        cust,
        ch,
        st,
        contacts,
        reopened,
        escalated,
        wait,
        aht,
        fr_at,
        rs_at,
        agent,
        no_agent,
    )


def ticket_ids(mo: Month, first: int, n: int) -> pa.Array:
    """`n` ticket ids of the month, numbered from `first` on."""
    return ids(f"T{mo.name.replace('-', '')}-", first + np.arange(n), 8)


def table(
    tk: Tickets, tids: pa.Array, teams: Teams, mo: Month, csv: bool, naive: bool, clock: Clock
) -> pa.Table:
    """The rows of the tickets file with ids `tids`, as CSV text or typed."""
    tt = {
        "ticket_id": tids,
        "customer_id": ids("C", tk.cust + 1, 7),
        "team": pa.array(teams.ids).take(pa.array(tk.team)),
        "agent_id": teams.agent_lbl.take(pa.array(tk.agent, mask=tk.no_agent)),
        "channel": pa.array(CHANNELS).take(pa.array(tk.ch)),
    }
    times = {"created_at": tk.created, "first_response_at": tk.fr_at, "resolved_at": tk.rs_at}
    num = {"handle_time_s": np.round(tk.aht), "wait_time_s": np.round(tk.wait)}
    flags = {"reopened": tk.reopened, "escalated": tk.escalated}
    if csv:
        yes_no = pa.array(BOOLS[mo.index % len(BOOLS)])
        tt |= {c: clock.strings(v, naive) for c, v in times.items()}
        tt |= {c: as_text(np.nan_to_num(v).astype(np.int64), np.isnan(v)) for c, v in num.items()}
        tt["contacts"] = as_text(tk.contacts)
        tt |= {c: yes_no.take(pa.array(v.astype(np.int8))) for c, v in flags.items()}
    else:
        ts = pa.timestamp("s", tz=TZ)
        tt |= {c: pa.array(v, ts, mask=v == NEVER) for c, v in times.items()}
        tt |= {c: pa.array(v, pa.float64(), mask=np.isnan(v)) for c, v in num.items()}
        tt["contacts"] = pa.array(tk.contacts.astype(np.int64))
        tt |= {c: pa.array(v) for c, v in flags.items()}
    return pa.table({c: tt[c] for c in TICKETS.column_names})
