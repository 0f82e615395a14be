"""Demo data: realistic tickets, survey responses and customers in the landing layout.

    python -m scorecards.demo.generate --months 24 --teams 8 --tickets-per-month 20000 --seed 1

writes `<data dir>/landing/{tickets,surveys,customers}/` as CSV and/or Parquet. The data is a
snapshot taken when the last month ends: tickets still open then have no `resolved_at`, later
survey answers and churn do not exist yet. Teams differ in volume, channel mix, speed, first
contact resolution, escalations and satisfaction; volume follows the year, the week and the day;
"returns" has a quality dip in the last two months and "premium" is small enough for its survey
KPIs to be small samples. Customers file tickets with power-law activity, stick mostly to one or
two teams, and churn more often in the 90 days after bad experiences.

Unless `dirty=False`, a handful of rows in the CSV files break the contract the way real exports
do (unknown channel, unparsable or impossible timestamps, missing values, out-of-range scores,
duplicates), so validation and quarantine have something to catch.

Everything is drawn from numpy Generators seeded by `seed`, in month chunks of vectorised code:
the same arguments give byte-identical files, and 10M tickets a month need no more memory than 1M.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from scorecards.config.settings import DATA_DIR_ENV, TeamsFile
from scorecards.contract.datasets import (
    CHANNELS,
    CUSTOMERS,
    FALSE_WORDS,
    SCORE_RANGES,
    SURVEY_TYPES,
    SURVEYS,
    TICKETS,
    TRUE_WORDS,
)
from scorecards.core.periods import last_complete_month, month_bounds, month_range, parse_month

# The demo company works in the default time zone of config/teams.yaml.
TZ: str = TeamsFile.model_fields["timezone"].default
CHUNK = 1_000_000  # tickets held in memory at once; fixed, so output does not depend on RAM
NEVER = np.iinfo(np.int64).max
SEGMENTS = ("smb", "mid_market", "enterprise")
FORMATS = ("csv", "parquet", "mixed")

# share, channel mix (CHANNELS order: phone, email, chat, social, web, self_service), speed
# factors for first response / resolution / handling (1 = typical), share of tickets needing
# more than one contact, escalation rate, satisfaction shift (latent units, ~1 = one std dev).
_PROFILES: dict[str, tuple] = {
    "billing": (0.225, (0.34, 0.30, 0.12, 0.02, 0.10, 0.12), 1.0, 0.9, 0.9, 0.14, 0.04, 0.15),
    "tech_support": (0.24, (0.22, 0.25, 0.26, 0.02, 0.10, 0.15), 1.2, 1.7, 1.6, 0.28, 0.09, -0.15),
    "onboarding": (0.12, (0.28, 0.32, 0.15, 0.02, 0.13, 0.10), 0.8, 0.8, 1.1, 0.12, 0.03, 0.35),
    "returns": (0.14, (0.12, 0.22, 0.10, 0.03, 0.18, 0.35), 1.1, 1.1, 0.8, 0.16, 0.05, 0.05),
    "enterprise": (0.06, (0.45, 0.40, 0.08, 0.0, 0.05, 0.02), 0.5, 1.3, 1.4, 0.22, 0.10, 0.25),
    "social_care": (0.10, (0.0, 0.05, 0.30, 0.60, 0.05, 0.0), 0.7, 1.0, 0.8, 0.20, 0.06, -0.25),
    "logistics": (0.10, (0.18, 0.24, 0.10, 0.04, 0.14, 0.30), 1.1, 1.4, 0.9, 0.20, 0.05, -0.05),
    "premium": (0.015, (0.55, 0.10, 0.30, 0.0, 0.05, 0.0), 0.3, 0.6, 1.2, 0.08, 0.03, 0.55),
}
# Per channel: wait (s, phone/chat) or first response (min) median, resolution (h after first
# response) median, handling time (s) median, how much more often it needs several contacts.
_WAIT_S = np.array([75.0, 0, 40, 0, 0, 0])
_FRT_MIN = np.array([0.0, 180, 0, 45, 150, 0.5])
_FRT_SIGMA = np.array([0.8, 1.0, 0.8, 1.0, 1.0, 0.5])
_RES_H = np.array([1.5, 14, 1.0, 6, 12, 0.4])
_AHT_S = np.array([420.0, 330, 540, 240, 300, 90])
_MULTI = np.array([1.0, 1.3, 0.8, 1.1, 1.2, 0.4])
_HUMAN_ASYNC = np.array([False, True, False, True, True, False])  # answered in office hours
# Channel attractiveness by slot class (office hours, evening, night): no hotline at night,
# self-service and social take over after hours.
_CH_BY_CLASS = np.array(
    [[1, 1, 1, 1, 1, 1], [0.03, 1.1, 0.8, 1.6, 1.3, 1.8], [0.01, 1.2, 0.02, 1.5, 1.4, 2.2]]
)
_SEASON = np.array([1.12, 1.0, 0.98, 0.95, 0.92, 0.88, 0.85, 0.86, 0.96, 1.02, 1.15, 1.31])
_SEASON = _SEASON / _SEASON.mean()
_HOUR_W = np.array(
    [0.15, 0.08, 0.05, 0.04, 0.05, 0.12, 0.3, 0.6, 1.0, 1.35, 1.45, 1.4]
    + [1.2, 1.3, 1.4, 1.35, 1.2, 1.0, 0.85, 0.8, 0.75, 0.6, 0.45, 0.3]
)
_DOW_W = np.array([1.25, 1.15, 1.08, 1.02, 0.95, 0.5, 0.38])
_HOLIDAYS = {(12, 24), (12, 25), (12, 26), (12, 31), (1, 1)}
_BOOLS = tuple(zip(FALSE_WORDS, TRUE_WORDS, strict=True))  # spellings vary by file
_COMMENTS = (
    (  # unhappy
        "Dreimal angerufen, immer noch keine Lösung!",
        "Sehr ärgerlich: niemand fühlt sich zuständig.",
        'Took a week, and the "solution" did not work.',
        "Unfreundlich, ich überlege zu kündigen.",
        'Rückerstattung fehlt weiterhin, "wir melden uns" – nie passiert.',
        "Worst support experience, ever.",
    ),
    (  # neutral
        "Okay, aber etwas langsam.",
        "Hat gedauert, aber am Ende passt es.",
        "Fine, though I had to explain twice.",
        'Antwort war "okay", nichts Besonderes.',
        "Geht so; Wartezeit am Telefon zu lang.",
    ),
    (  # happy
        "Schnelle Hilfe, vielen Dank!",
        "Super freundlich und kompetent.",
        "Great service, thanks!",
        "Problem gelöst – danke an Frau Müller.",
        'Quick and easy, "no hassle" at all.',
        "Sehr zufrieden, gerne wieder.",
    ),
)
_GARBLED = "31.02.2026 25:61"
# Dirty rows, interleaved so that a small data set still gets a bit of everything.
_DIRTY = {
    "tickets": [
        "unknown_channel",
        "first_response_before_created",
        "missing_customer_id",
        "duplicate_exact",
        "duplicate_conflicting",
        "unparsable_resolved_at",
        "unknown_channel",
        "duplicate_exact_other_file",
        "first_response_before_created",
        "not_a_boolean",
        "missing_team",
        "unparsable_created_at",
        "duplicate_conflicting",
        "unknown_channel",
        "first_response_before_created",
    ],
    "surveys": [
        "score_out_of_range",
        "unknown_survey_type",
        "missing_score",
        "duplicate_exact",
        "duplicate_conflicting",
        "score_out_of_range",
        "duplicate_exact_other_file",
        "unparsable_submitted_at",
        "missing_customer_id",
        "unknown_survey_type",
        "score_not_whole",
        "score_out_of_range",
    ],
    "customers": [
        "churned_before_since",
        "duplicate_exact",
        "unparsable_churned_at",
        "duplicate_conflicting",
        "churned_before_since",
        "missing_customer_id",
        "duplicate_exact",
        "churned_before_since",
        "unparsable_churned_at",
    ],
}
_SETS = {
    "unknown_channel": ("channel", "fax"),
    "unparsable_created_at": ("created_at", _GARBLED),
    "unparsable_resolved_at": ("resolved_at", _GARBLED),
    "unparsable_submitted_at": ("submitted_at", _GARBLED),
    "unparsable_churned_at": ("churned_at", _GARBLED),
    "missing_customer_id": ("customer_id", None),
    "missing_team": ("team", ""),
    "missing_score": ("score", None),
    "not_a_boolean": ("escalated", "maybe"),
    "unknown_survey_type": ("survey_type", "stars"),
    "score_not_whole": ("score", "4.5"),
}
_FILE_RE = re.compile(r"^(tickets_\d{4}-\d{2}|surveys_\d{4}-Q\d|customers)\.(csv|parquet)$")


class _Clock:
    """Local time strings fast: Europe/Berlin's UTC offset looked up per hour, not per value."""

    def __init__(self, lo: int, hi: int) -> None:
        hours = pd.date_range(
            pd.Timestamp(lo - 3600, unit="s", tz="UTC").floor("h"),
            pd.Timestamp(hi + 3600, unit="s", tz="UTC"),
            freq="h",
        )
        self.base = int(hours[0].timestamp())
        local = hours.tz_convert(TZ).tz_localize(None).as_unit("s").asi8
        self.off = local - hours.tz_localize(None).as_unit("s").asi8

    def strings(self, secs: np.ndarray, naive: bool) -> pa.Array:
        mask = secs == NEVER
        s = np.where(mask, self.base, secs)
        off = self.off[(s - self.base) // 3600]
        txt = pa.array(np.datetime_as_string((s + off).astype("M8[s]"), unit="s"), mask=mask)
        if naive:
            return pc.replace_substring(txt, "T", " ", max_replacements=1)
        uniq, inv = np.unique(off, return_inverse=True)
        labels = pa.array(
            [
                f"{'+' if o >= 0 else '-'}{abs(o) // 3600:02d}:{abs(o) % 3600 // 60:02d}"
                for o in uniq
            ]
        )
        return pc.binary_join_element_wise(txt, labels.take(pa.array(inv)), "")


class _Sink:
    """One landing file, written chunk by chunk under a hidden name and renamed when complete,
    so a pipeline reading the folder meanwhile never sees half a file."""

    def __init__(self, path: Path, csv: bool) -> None:
        self.path, self.csv, self.rows, self._w = path, csv, 0, None
        self._tmp = path.with_name(f".{path.name}.tmp")

    def write(self, table: pa.Table) -> None:
        if self._w is None:
            self._w = (
                pcsv.CSVWriter(self._tmp, table.schema)
                if self.csv
                else pq.ParquetWriter(self._tmp, table.schema)
            )
        self._w.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        if self._w is not None:
            self._w.close()
            self._w = None
            os.replace(self._tmp, self.path)


def _ids(prefix: str, seq: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(seq), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _pick(rng: np.random.Generator, weights: np.ndarray, k: int) -> np.ndarray:
    cdf = np.cumsum(weights)
    return np.minimum(np.searchsorted(cdf, rng.random(k) * cdf[-1], side="right"), len(cdf) - 1)


def _slots(month: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The month's UTC hour edges, the volume CDF over them, and each hour's local hour and
    class (0 office hours, 1 evening, 2 night), so that DST days simply have 23 or 25 slots."""
    start, end = month_bounds(month, TZ)
    utc = pd.date_range(start, end, freq="h", inclusive="left")
    loc = utc.tz_convert(TZ)
    hour, dow = np.asarray(loc.hour), np.asarray(loc.dayofweek)
    holiday = [(m, d) in _HOLIDAYS for m, d in zip(loc.month, loc.day, strict=True)]
    w = _HOUR_W[hour] * _DOW_W[dow] * np.where(holiday, 0.35, 1.0)
    office = ((dow < 5) & (hour >= 8) & (hour < 18)) | ((dow == 5) & (hour >= 9) & (hour < 14))
    cls = np.where(office & ~np.asarray(holiday), 0, np.where((hour >= 7) & (hour < 22), 1, 2))
    edges = np.append(utc.as_unit("s").asi8, int(end.timestamp())).astype(np.float64)
    return edges, np.concatenate([[0.0], np.cumsum(w) / w.sum()]), hour, cls


def _shift_text(text: str, seconds: float) -> str:
    dt = datetime.fromisoformat(text) + timedelta(seconds=int(seconds))
    return dt.isoformat(sep="T" if dt.tzinfo else " ")


def _dirty(
    table: pa.Table,
    kinds: list[str],
    eligible: np.ndarray,
    rng: np.random.Generator,
    carry: dict | None,
    counts: Counter,
) -> tuple[pa.Table, dict | None]:
    """Replace a few eligible rows by broken versions (duplicates: the row plus a copy) and
    return the new table and a clean row a later file can duplicate."""
    pool = np.flatnonzero(eligible)
    if not kinds or len(pool) <= len(kinds):
        return table, carry
    picked = np.sort(rng.choice(pool, len(kinds) + 1, replace=False))
    keep, victims = int(picked[-1]), picked[:-1]
    order = rng.permutation(len(kinds))
    rows, parts, prev = [], [], 0
    for pos, row in zip(victims, table.take(victims).to_pylist(), strict=True):
        kind = kinds[order[len(parts) // 2]]
        new = dict(row)
        if kind in _SETS:
            col, val = _SETS[kind]
            new[col] = val
            reps = [new]
        elif kind == "first_response_before_created":
            new["first_response_at"] = _shift_text(row["created_at"], -rng.integers(300, 7200))
            reps = [new]
        elif kind == "churned_before_since":
            new["churned_at"] = _shift_text(row["customer_since"], -rng.integers(1, 400) * 86400)
            reps = [new]
        elif kind == "score_out_of_range":
            new["survey_type"], new["score"] = "csat", "9"
            reps = [new]
        elif kind == "duplicate_conflicting":
            for col in ("contacts", "score", "segment"):
                if col in new and new[col] is not None:
                    if col == "segment":
                        new[col] = SEGMENTS[(SEGMENTS.index(new[col]) + 1) % 3]
                    elif col == "score":
                        # Step down where possible: a step up from the top of the scale would be
                        # out of range and be quarantined as that instead of as a conflict.
                        v = int(new[col])
                        new[col] = str(v - 1 if v >= 2 else v + 1)
                    else:
                        new[col] = str(int(new[col]) + 1)
                    break
            reps = [row, new]
        else:  # exact duplicates: right after the original, or a row carried from another file
            reps = [row, carry if kind.endswith("other_file") and carry else row]
        counts[kind] += 1
        parts += [np.arange(prev, pos), np.arange(len(rows), len(rows) + len(reps)) + len(table)]
        rows += reps
        prev = pos + 1
    parts.append(np.arange(prev, len(table)))
    extra = pa.Table.from_pylist(rows, schema=table.schema)
    out = pa.concat_tables([table, extra]).take(np.concatenate(parts))
    return out, table.slice(keep, 1).to_pylist()[0]


def _as_text(arr: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pc.cast(pa.array(arr, mask=mask), pa.string())


def generate(
    data_dir: Path,
    months: int = 24,
    teams: int = 8,
    tickets_per_month: int = 20000,
    seed: int = 1,
    end_month: str | None = None,
    fmt: str = "mixed",
    dirty: bool = True,
    survey_rate: float = 0.15,
    customers: int | None = None,
) -> dict[str, int]:
    """Write demo landing files under `data_dir/landing`; return rows written per dataset.

    `customers` is the customer base when the first month starts (default: one per monthly
    ticket, so an average customer writes about one ticket a month)."""
    return _generate(
        Path(data_dir),
        months,
        teams,
        tickets_per_month,
        seed,
        end_month,
        fmt,
        dirty,
        survey_rate,
        customers,
    )[0]


def _generate(
    data_dir: Path,
    months: int,
    n_teams: int,
    tpm: int,
    seed: int,
    end_month: str | None,
    fmt: str,
    dirty: bool,
    survey_rate: float,
    customers: int | None = None,
) -> tuple[dict[str, int], dict[str, Counter]]:
    if months < 1 or n_teams < 1 or tpm < 1 or fmt not in FORMATS or not 0 < survey_rate <= 1:
        raise ValueError(
            "months, teams and tickets_per_month must be >= 1, fmt one of "
            f"{FORMATS}, survey_rate in (0, 1]"
        )
    end = end_month or last_complete_month(datetime.now(UTC), TZ)
    parse_month(end)
    # Independent streams: dirty rows or another file format leave the clean rows unchanged.
    rng, drng = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])
    mlist = month_range(f"{parse_month(end).year - 50:04d}-01", end)[-months:]
    starts = [int(month_bounds(m, TZ)[0].timestamp()) for m in mlist]
    snapshot = int(month_bounds(end, TZ)[1].timestamp())
    landing = data_dir / "landing"
    for ds in ("tickets", "surveys", "customers"):
        (landing / ds).mkdir(parents=True, exist_ok=True)
        for old in (landing / ds).iterdir():  # a rerun replaces its own files, nothing else
            if _FILE_RE.match(old.name):
                old.unlink()

    # Teams and their month-by-month condition.
    trng = np.random.default_rng([seed, 2])
    prof = [(n, *v) for n, v in list(_PROFILES.items())[:n_teams]]
    for k in range(len(prof), n_teams):
        prof.append(
            (
                f"team_{k + 1:02d}",
                trng.uniform(0.02, 0.08),
                trng.dirichlet(np.full(6, 2.0)),
                *trng.uniform([0.6, 0.6, 0.8, 0.1, 0.03, -0.3], [1.5, 1.6, 1.4, 0.25, 0.09, 0.4]),
            )
        )
    tid = [p[0] for p in prof]
    T = len(tid)
    share = np.array([p[1] for p in prof], dtype=float)
    mix = np.array([p[2] for p in prof], dtype=float)
    f_frt, f_res, f_aht, p_multi, p_esc, sat = (np.array([p[i] for p in prof]) for i in range(3, 9))
    cal = np.array([parse_month(m).month for m in mlist])
    M = len(mlist)
    tseason = np.ones((M, T))
    for j, t in enumerate(tid):
        if t == "returns":  # Christmas presents come back in January
            tseason[:, j] = np.where(cal == 1, 1.45, np.where(cal == 2, 1.15, 1.0))
        if t == "logistics":
            tseason[:, j] = np.where(np.isin(cal, (11, 12)), 1.3, 1.0)
    p_team = share * tseason
    p_team /= p_team.sum(1, keepdims=True)
    n_month = np.maximum(1, np.round(tpm * _SEASON[cal - 1] * rng.normal(1, 0.02, M))).astype(int)
    # Stress: busy months are slower and worse; the rest is noise, a trend and the returns dip.
    load = _SEASON[cal - 1][:, None] * tseason - 1
    stress = 0.5 * load + rng.normal(0, 0.06, (M, T))
    for j, t in enumerate(tid):
        if t == "tech_support":
            stress[:, j] += np.linspace(0.25, -0.05, M)
        if t == "returns":
            stress[-1, j] += 1.1
            stress[-2:-1, j] += 0.55
    ch_cdf = mix[:, None, :] * _CH_BY_CLASS[None, :, :]
    ch_cdf = np.cumsum(ch_cdf / ch_cdf.sum(2, keepdims=True), axis=2)
    agents_n = np.maximum(3, np.round(share / share.sum() * tpm / 350)).astype(int)
    agent_off = np.concatenate([[0], np.cumsum(agents_n)])
    agent_lbl = pa.array(
        [f"{t}-{k + 1:03d}" for t, a in zip(tid, agents_n, strict=True) for k in range(a)]
    )

    # Customers: a legacy import at go-live, organic sign-ups before and during the period.
    c0 = customers or max(1000, tpm)
    golive = int(datetime(parse_month(mlist[0]).year - 6, 1, 1, tzinfo=UTC).timestamp())
    span = starts[0] - golive
    d = rng.exponential(2.2 * 365 * 86400, c0)
    d = np.where(d < span, d, rng.random(c0) * span)
    since = np.where(rng.random(c0) < 0.35, golive, starts[0] - d.astype(np.int64))
    churn = np.full(c0, NEVER)
    gone = rng.random(c0) < 0.1  # the history holds customers who left before the period
    churn[gone] = (
        since[gone] + 1 + (rng.random(gone.sum()) * (starts[0] - since[gone] - 1)).astype(np.int64)
    )
    seg = rng.choice(3, c0, p=[0.72, 0.21, 0.07])

    def new_customers(k: int, segs: np.ndarray, onboarding: bool) -> tuple[np.ndarray, ...]:
        weight = np.minimum(rng.pareto(1.5, k) + 1, 200) * np.array([1.0, 2.5, 6.0])[segs]
        primary = _pick(rng, share, k)
        if "enterprise" in tid:
            primary = np.where(
                (segs == 2) & (rng.random(k) < 0.7), tid.index("enterprise"), primary
            )
        secondary = _pick(rng, share, k)
        if onboarding and "onboarding" in tid:
            secondary = np.where(rng.random(k) < 0.6, tid.index("onboarding"), secondary)
        return weight, primary, secondary

    weight, primary, secondary = new_customers(c0, seg, False)
    bad3 = np.zeros((c0, 3), dtype=np.int32)
    clock = _Clock(golive, snapshot + 30 * 86400)

    csv_t = [fmt == "csv" or (fmt == "mixed" and i % 2 == 0) for i in range(M)]
    naive_t = next(
        (i for i in range(M) if csv_t[i] and cal[i] != 10),
        next((i for i in range(M) if csv_t[i]), -1),
    )
    quarter = [f"{m[:4]}-Q{(int(m[5:]) + 2) // 3}" for m in mlist]
    qfiles = list(dict.fromkeys(quarter))
    csv_q = {q: fmt == "csv" or (fmt == "mixed" and i % 2 == 0) for i, q in enumerate(qfiles)}
    naive_q = next(
        (q for q in qfiles if csv_q[q] and not q.endswith("Q4")),
        next((q for q in qfiles if csv_q[q]), None),
    )
    queue = {k: list(v) if dirty else [] for k, v in _DIRTY.items()}
    counts = {k: Counter() for k in _DIRTY}
    carry: dict[str, dict | None] = {"tickets": None, "surveys": None}
    rows = {"tickets": 0, "surveys": 0, "customers": 0}
    survey_sink: _Sink | None = None

    for mi, month in enumerate(mlist):
        t_a, t_b = starts[mi], (starts[mi + 1] if mi + 1 < M else snapshot)
        ym = month.replace("-", "")
        # Churn this month, more likely after bad experiences in the last 90 days; then sign-ups.
        active = (since < t_a) & (churn >= t_a)
        idx = np.flatnonzero(active)
        risk = np.array([1.25, 0.8, 0.45])[seg[idx]] * np.exp(0.4 * np.minimum(bad3[idx].sum(1), 8))
        h = 0.014 * risk / risk.mean()
        leave = idx[rng.random(len(idx)) < h]
        churn[leave] = t_a + (rng.random(len(leave)) * (t_b - t_a)).astype(np.int64)
        k = rng.poisson(0.02 * len(idx))
        segs = rng.choice(3, k, p=[0.72, 0.21, 0.07])
        w, p1, p2 = new_customers(k, segs, True)
        since = np.concatenate([since, t_a + (rng.random(k) * (t_b - t_a)).astype(np.int64)])
        churn, seg = np.concatenate([churn, np.full(k, NEVER)]), np.concatenate([seg, segs])
        weight, primary, secondary = (
            np.concatenate(x) for x in ((weight, w), (primary, p1), (secondary, p2))
        )
        bad3 = np.vstack([bad3, np.zeros((k, 3), dtype=np.int32)])
        bad_now = np.zeros(len(since))

        edges, cdf, s_hour, s_cls = _slots(month)
        qk = quarter[mi]
        if survey_sink is None or survey_sink.path.stem != f"surveys_{qk}":
            if survey_sink:
                survey_sink.close()
            survey_sink = _Sink(
                landing / "surveys" / f"surveys_{qk}.{'csv' if csv_q[qk] else 'parquet'}", csv_q[qk]
            )
        tsink = _Sink(
            landing / "tickets" / f"tickets_{month}.{'csv' if csv_t[mi] else 'parquet'}", csv_t[mi]
        )
        chunks = -(-n_month[mi] // CHUNK)
        sizes = np.diff(np.round(np.linspace(0, n_month[mi], chunks + 1)).astype(int))
        seq0 = sseq0 = 0
        for ck, n in enumerate(sizes):
            # Each chunk covers its own stretch of the month, so ids follow creation time.
            u_a, u_b = ck / chunks, (ck + 1) / chunks
            c_a, c_b = np.interp([u_a, u_b], cdf, edges)
            cand = np.flatnonzero((since < c_b) & (churn > c_a))
            team = _pick(rng, p_team[mi], n)
            slot = rng.choice(3, n, p=[0.75, 0.17, 0.08])  # own main team, second team, any
            cust = cand[_pick(rng, weight[cand], n)]
            for which, key in ((0, primary[cand]), (1, secondary[cand])):
                order = np.argsort(key, kind="stable")
                bnd = np.searchsorted(key[order], np.arange(T + 1))
                for j in range(T):
                    sel = np.flatnonzero((slot == which) & (team == j))
                    pool = cand[order[bnd[j] : bnd[j + 1]]]
                    if len(sel) and len(pool):
                        cust[sel] = pool[_pick(rng, weight[pool], len(sel))]
            # Creation time from the month's volume curve, inside the customer's lifetime.
            lo, hi = np.maximum(since[cust], c_a), np.minimum(churn[cust], c_b)
            f_lo, f_hi = np.interp(lo, edges, cdf), np.interp(hi, edges, cdf)
            created = np.floor(np.interp(f_lo + rng.random(n) * (f_hi - f_lo), cdf, edges)).astype(
                np.int64
            )
            created = np.clip(created, lo, np.asarray(hi, dtype=np.int64) - 1).astype(np.int64)
            o = np.argsort(created, kind="stable")
            created, team, cust = created[o], team[o], cust[o]
            sl = np.searchsorted(edges, created, side="right") - 1
            hour, cls = s_hour[sl], s_cls[sl]
            ch = (rng.random(n)[:, None] > ch_cdf[team, cls]).sum(1).clip(0, 5)
            st = stress[mi, team]
            # Experience: contacts, reopen, escalation first, because times and scores follow them.
            multi = rng.random(n) < np.clip(p_multi[team] * _MULTI[ch] + 0.10 * st, 0, 0.9)
            contacts = 1 + multi * (1 + rng.choice(3, n, p=[0.7, 0.22, 0.08]))
            reopened = rng.random(n) < np.clip(0.04 + 0.08 * multi + 0.04 * st, 0, 1)
            escalated = rng.random(n) < np.clip(
                p_esc[team] * (0.75 + 1.4 * multi) * np.where(ch == 5, 0.3, 1) + 0.025 * st, 0, 1
            )
            sync = (ch == 0) | (ch == 2)
            wait = np.where(
                sync,
                rng.lognormal(np.log(np.maximum(_WAIT_S[ch], 1) * f_frt[team]) + 0.9 * st, 0.8),
                np.nan,
            )
            frt = np.where(
                sync,
                wait + rng.lognormal(np.log(20), 0.5, n),
                rng.lognormal(
                    np.log(np.maximum(_FRT_MIN[ch], 0.1) * 60 * f_frt[team]) + 0.9 * st,
                    _FRT_SIGMA[ch],
                ),
            )
            night = _HUMAN_ASYNC[ch] & (cls == 2)  # e-mails written at night wait for 8 o'clock
            frt += night * (((8 - hour) % 24) * 3600 - created % 3600)
            res = (
                frt
                + rng.lognormal(np.log(_RES_H[ch] * 3600 * f_res[team]) + 0.8 * st, 1.1)
                * (1 + 0.9 * (contacts - 1))
                * (1 + 2 * escalated)
                + reopened * rng.lognormal(np.log(36 * 3600), 0.6, n)
            )
            aht = rng.lognormal(np.log(_AHT_S[ch] * f_aht[team] * contacts**0.8), 0.55)
            aht[rng.random(n) < 0.03] = np.nan
            wait[rng.random(n) < 0.03] = np.nan
            abandoned = rng.random(n) < 0.022 + 0.01 * np.clip(st, 0, None)
            no_reply = (abandoned & (rng.random(n) < 0.8)) | (rng.random(n) < 0.004)
            fr_at = np.where(no_reply, NEVER, created + frt.astype(np.int64))
            rs_at = np.where(abandoned, NEVER, created + res.astype(np.int64))
            fr_at[fr_at >= snapshot] = NEVER
            rs_at[rs_at >= snapshot] = NEVER
            agent = agent_off[team] + (agents_n[team] * rng.random(n) ** 1.4).astype(int)
            no_agent = (ch == 5) | (fr_at == NEVER)
            slow = np.zeros(n, bool)
            for j in range(T):
                on = team == j
                if on.any():
                    slow[on] = frt[on] > np.quantile(frt[on], 0.9)
            bad_now += np.bincount(
                cust,
                weights=escalated + reopened + (contacts >= 3) + slow + abandoned,
                minlength=len(since),
            )

            # Surveys: ~rate of resolved tickets, unhappy customers answer a bit more often.
            rs_ok = rs_at != NEVER
            eager = np.where(escalated | reopened | (contacts >= 3), 1.6, 0.9)
            p = survey_rate * eager / max(eager[rs_ok].mean(), 1e-9) if rs_ok.any() else eager * 0
            sv = np.flatnonzero(rs_ok & (rng.random(n) < np.clip(p, 0, 1)))
            sub = rs_at[sv] + np.minimum(
                rng.lognormal(np.log(6 * 3600), 1.1, len(sv)), 10 * 86400
            ).astype(np.int64)
            sv, sub = sv[sub < snapshot], sub[sub < snapshot]
            m = len(sv)
            stype = rng.choice(3, m, p=[0.6, 0.25, 0.15])
            hours = (rs_at[sv] - created[sv]) / 3600
            z = (
                1.0
                + sat[team[sv]]
                - 0.7 * st[sv]
                - 0.3 * np.clip(np.log(np.maximum(hours, 0.05) / 8), -1.5, 3)
                - 0.45 * (contacts[sv] - 1)
                - 0.8 * reopened[sv]
                - 0.7 * escalated[sv]
                - 0.3 * (np.nan_to_num(wait[sv]) > 300)
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
            lo_hi = np.array([SCORE_RANGES[t] for t in SURVEY_TYPES]).T[:, stype]
            mood = np.digitize((score - lo_hi[0]) / (lo_hi[1] - lo_hi[0]), [0.4, 0.7])
            pick = rng.random(m)
            has_c = rng.random(m) < 0.18
            bad_sv = np.where(
                stype == 1,
                3 * (score <= 6),
                (stype == 0) * 2 * (score <= 2) + (stype == 2) * (score <= 3),
            )
            bad_now += np.bincount(cust[sv], weights=bad_sv, minlength=len(since))
            no_team = rng.random(m) < 0.1

            # Tickets file.
            naive = mi == naive_t
            tt = {
                "ticket_id": _ids(f"T{ym}-", seq0 + 1 + np.arange(n), 8),
                "customer_id": _ids("C", cust + 1, 7),
                "team": pa.array(tid).take(pa.array(team)),
                "agent_id": agent_lbl.take(pa.array(agent, mask=no_agent)),
                "channel": pa.array(CHANNELS).take(pa.array(ch)),
            }
            times = {"created_at": created, "first_response_at": fr_at, "resolved_at": rs_at}
            num = {"handle_time_s": np.round(aht), "wait_time_s": np.round(wait)}
            flags = {"reopened": reopened, "escalated": escalated}
            if tsink.csv:
                yes_no = pa.array(_BOOLS[mi % len(_BOOLS)])
                tt |= {c: clock.strings(v, naive) for c, v in times.items()}
                tt |= {
                    c: _as_text(np.nan_to_num(v).astype(np.int64), np.isnan(v))
                    for c, v in num.items()
                }
                tt["contacts"] = _as_text(contacts)
                tt |= {c: yes_no.take(pa.array(v.astype(np.int8))) for c, v in flags.items()}
            else:
                ts = pa.timestamp("s", tz=TZ)
                tt |= {c: pa.array(v, ts, mask=v == NEVER) for c, v in times.items()}
                tt |= {c: pa.array(v, pa.float64(), mask=np.isnan(v)) for c, v in num.items()}
                tt["contacts"] = pa.array(contacts.astype(np.int64))
                tt |= {c: pa.array(v) for c, v in flags.items()}
            table = pa.table({c: tt[c] for c in TICKETS.column_names})
            if tsink.csv and ck == 0 and queue["tickets"]:
                left = sum(csv_t[mi:])
                q = min(int(0.005 * n_month[mi]), -(-len(queue["tickets"]) // left))
                ok = np.ones(n, bool)
                ok[sv] = False  # keep every surveyed ticket valid, surveys without team need it
                ok &= (rs_at != NEVER) & (fr_at != NEVER)
                table, carry["tickets"] = _dirty(
                    table, queue["tickets"][:q], ok, drng, carry["tickets"], counts["tickets"]
                )
                queue["tickets"] = queue["tickets"][q:]
            tsink.write(table)

            # Surveys file.
            naive = qk == naive_q
            resp = {
                "response_id": _ids(f"S{ym}-", sseq0 + 1 + np.arange(m), 8),
                "ticket_id": tt["ticket_id"].take(pa.array(sv)),
                "customer_id": _ids("C", cust[sv] + 1, 7),
                "team": pa.array(tid).take(pa.array(team[sv], mask=no_team)),
                "survey_type": pa.array(SURVEY_TYPES).take(pa.array(stype)),
            }
            comments = pa.array([c for group in _COMMENTS for c in group])
            first = np.cumsum([0] + [len(g) for g in _COMMENTS])[mood]
            sizes_c = np.array([len(g) for g in _COMMENTS])[mood]
            resp["comment"] = comments.take(
                pa.array(first + (pick * sizes_c).astype(int), mask=~has_c)
            )
            if survey_sink.csv:
                resp["score"] = _as_text(score)
                resp["submitted_at"] = clock.strings(sub, naive)
            else:
                resp["score"] = pa.array(score)
                resp["submitted_at"] = pa.array(sub, pa.timestamp("s", tz=TZ))
            stable = pa.table({c: resp[c] for c in SURVEYS.column_names})
            if survey_sink.csv and ck == 0 and queue["surveys"]:
                left = sum(csv_q[quarter[i]] for i in range(mi, M))
                q = min(int(0.005 * m), -(-len(queue["surveys"]) // left))
                stable, carry["surveys"] = _dirty(
                    stable,
                    queue["surveys"][:q],
                    np.ones(m, bool),
                    drng,
                    carry["surveys"],
                    counts["surveys"],
                )
                queue["surveys"] = queue["surveys"][q:]
            survey_sink.write(stable)
            seq0 += n
            sseq0 += m
        tsink.close()
        rows["tickets"] += tsink.rows
        bad3 = np.column_stack([bad_now.astype(np.int32), bad3[:, :2]])
        if mi == M - 1 or quarter[mi + 1] != qk:
            survey_sink.close()
            rows["surveys"] += survey_sink.rows

    # Customers: one file with everyone ever seen.
    csv_c = fmt != "parquet"
    n_c = len(since)
    ct = {
        "customer_id": _ids("C", np.arange(n_c) + 1, 7),
        "segment": pa.array(SEGMENTS).take(pa.array(seg)),
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
    if csv_c and queue["customers"]:
        # Customers are validated by the month of customer_since; only big months take bad rows.
        mk = (since + clock.off[(since - clock.base) // 3600]) // (86400 * 28)
        _, inv, cnt = np.unique(mk, return_inverse=True, return_counts=True)
        ok = cnt[inv] * 0.005 >= len(queue["customers"])
        table, _ = _dirty(
            table, queue["customers"], ok & (churn == NEVER), drng, None, counts["customers"]
        )
    sink = _Sink(landing / "customers" / f"customers.{'csv' if csv_c else 'parquet'}", csv_c)
    sink.write(table)
    sink.close()
    rows["customers"] = sink.rows
    return rows, counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m scorecards.demo.generate", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--teams", type=int, default=8)
    ap.add_argument("--tickets-per-month", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--data-dir", type=Path, default=None, help=f"default: ${DATA_DIR_ENV}, else ./data"
    )
    ap.add_argument("--end-month", default=None, help="YYYY-MM; default: last complete month")
    ap.add_argument("--format", choices=FORMATS, default="mixed", dest="fmt")
    ap.add_argument("--no-dirty", action="store_true", help="write only valid rows")
    ap.add_argument(
        "--survey-rate", type=float, default=0.15, help="share of resolved tickets answered"
    )
    ap.add_argument("--customers", type=int, default=None, help="customer base at the start")
    a = ap.parse_args(argv)
    data_dir = a.data_dir or Path(os.environ.get(DATA_DIR_ENV) or "data")
    t0 = time.perf_counter()
    try:
        rows, counts = _generate(
            data_dir,
            a.months,
            a.teams,
            a.tickets_per_month,
            a.seed,
            a.end_month,
            a.fmt,
            not a.no_dirty,
            a.survey_rate,
            a.customers,
        )
    except ValueError as exc:
        ap.error(str(exc))
    print(f"wrote {data_dir / 'landing'} in {time.perf_counter() - t0:.1f}s")
    for ds, n in rows.items():
        bad = ", ".join(f"{k} {v}" for k, v in sorted(counts[ds].items()))
        print(f"  {ds}: {n:,} rows" + (f"; dirty: {bad}" if bad else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
