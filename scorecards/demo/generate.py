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
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from scorecards.config.environment import DATA_DIR_ENV, Environment
from scorecards.core.package_files import PackageFilesError, default_data_dir
from scorecards.core.periods import last_complete_month, month_bounds, month_range, parse_month
from scorecards.demo import surveys, tickets
from scorecards.demo.customers import Customers
from scorecards.demo.dirty import DirtyRows
from scorecards.demo.files import FORMATS, Clock, Layout, Sink, clear_landing
from scorecards.demo.model import NEVER, TZ
from scorecards.demo.teams import Teams, build_teams
from scorecards.demo.tickets import Month

CHUNK = 1_000_000  # tickets held in memory at once; fixed, so output does not depend on RAM


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


@dataclass
class _Run:
    """What one generation writes with, and the rows written so far."""

    rng: np.random.Generator
    landing: Path
    teams: Teams
    custs: Customers
    clock: Clock
    layout: Layout
    dirt: DirtyRows
    snapshot: int
    survey_rate: float
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("tickets", "surveys"), 0))
    survey_sink: Sink | None = None

    def month(self, mo: Month, t_a: int, t_b: int, last: bool) -> None:
        """The month [t_a, t_b): customers come and go, then its tickets and their surveys."""
        self.custs.start_month(t_a, t_b)
        qk = self.layout.quarter[mo.index]
        ssink = self._survey_file(qk)
        csv_t = self.layout.csv_t[mo.index]
        tsink = Sink(
            self.landing / "tickets" / f"tickets_{mo.name}.{'csv' if csv_t else 'parquet'}", csv_t
        )
        n_month = self.teams.n_month[mo.index]
        chunks = -(-n_month // CHUNK)
        sizes = np.diff(np.round(np.linspace(0, n_month, chunks + 1)).astype(int))
        seq0 = sseq0 = 0
        for ck, n in enumerate(sizes):
            # Each chunk covers its own stretch of the month, so ids follow creation time.
            span = tuple(np.interp([ck / chunks, (ck + 1) / chunks], mo.cdf, mo.edges))
            tk = tickets.simulate(self.rng, mo, self.custs, self.teams, span, n, self.snapshot)
            sr = surveys.simulate(
                self.rng, tk, self.teams, self.custs, self.survey_rate, self.snapshot
            )
            tids = tickets.ticket_ids(mo, seq0 + 1, n)
            tsink.write(self._tickets(tk, sr, tids, mo, tsink.csv, ck == 0))
            ssink.write(self._surveys(sr, tk, tids, mo, sseq0 + 1, ssink.csv, ck == 0))
            seq0 += n
            sseq0 += len(sr)
        tsink.close()
        self.rows["tickets"] += tsink.rows
        self.custs.end_month()
        if last or self.layout.quarter[mo.index + 1] != qk:
            ssink.close()
            self.rows["surveys"] += ssink.rows

    def _survey_file(self, qk: str) -> Sink:
        """The surveys file of quarter `qk`: the open one, or a new one after closing it."""
        if self.survey_sink is None or self.survey_sink.path.stem != f"surveys_{qk}":
            if self.survey_sink:
                self.survey_sink.close()
            csv_q = self.layout.csv_q[qk]
            self.survey_sink = Sink(
                self.landing / "surveys" / f"surveys_{qk}.{'csv' if csv_q else 'parquet'}", csv_q
            )
        return self.survey_sink

    def _tickets(
        self,
        tk: tickets.Tickets,
        sr: surveys.Surveys,
        tids: pa.Array,
        mo: Month,
        csv: bool,
        first_chunk: bool,
    ) -> pa.Table:
        """The chunk's rows of the tickets file; the month's first chunk of a CSV file takes
        its share of the dirty rows."""
        lay, dirt = self.layout, self.dirt
        naive = mo.index == lay.naive_t
        table = tickets.table(tk, tids, self.teams, mo, csv, naive, self.clock)
        if csv and first_chunk and dirt.pending("tickets"):
            n = len(tk.created)
            left = sum(lay.csv_t[mo.index :])
            q = min(int(0.005 * self.teams.n_month[mo.index]), -(-dirt.pending("tickets") // left))
            ok = np.ones(n, bool)
            ok[sr.sv] = False  # keep every surveyed ticket valid, surveys without team need it
            ok &= (tk.rs_at != NEVER) & (tk.fr_at != NEVER)
            table = dirt.place("tickets", table, q, ok)
        return table

    def _surveys(
        self,
        sr: surveys.Surveys,
        tk: tickets.Tickets,
        tids: pa.Array,
        mo: Month,
        first_id: int,
        csv: bool,
        first_chunk: bool,
    ) -> pa.Table:
        """The chunk's rows of the surveys file, as `_tickets`."""
        lay, dirt = self.layout, self.dirt
        naive = lay.quarter[mo.index] == lay.naive_q
        stable = surveys.table(sr, tk, tids, self.teams, first_id, mo, csv, naive, self.clock)
        if csv and first_chunk and dirt.pending("surveys"):
            m = len(sr)
            left = sum(lay.csv_q[lay.quarter[i]] for i in range(mo.index, len(lay.quarter)))
            q = min(int(0.005 * m), -(-dirt.pending("surveys") // left))
            stable = dirt.place("surveys", stable, q, np.ones(m, bool))
        return stable


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
    rng, dirt = np.random.default_rng([seed, 0]), DirtyRows(seed, dirty)
    mlist = month_range(f"{parse_month(end).year - 50:04d}-01", end)[-months:]
    starts = [int(month_bounds(m, TZ)[0].timestamp()) for m in mlist]
    snapshot = int(month_bounds(end, TZ)[1].timestamp())
    landing = clear_landing(data_dir)
    cal = np.array([parse_month(m).month for m in mlist])
    teams = build_teams(rng, seed, n_teams, cal, tpm)
    # Customers: a legacy import at go-live, organic sign-ups before and during the period.
    golive = int(datetime(parse_month(mlist[0]).year - 6, 1, 1, tzinfo=UTC).timestamp())
    custs = Customers(rng, teams, customers or max(1000, tpm), golive, starts[0])
    clock = Clock(golive, snapshot + 30 * 86400)
    run = _Run(
        rng, landing, teams, custs, clock, Layout.of(mlist, cal, fmt), dirt, snapshot, survey_rate
    )
    M = len(mlist)
    for mi, month in enumerate(mlist):
        t_a, t_b = starts[mi], (starts[mi + 1] if mi + 1 < M else snapshot)
        run.month(Month.of(mi, month), t_a, t_b, mi == M - 1)
    rows = run.rows | {"customers": custs.write(landing, fmt, clock, dirt)}
    return rows, dirt.counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m scorecards.demo.generate", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--teams", type=int, default=8)
    ap.add_argument("--tickets-per-month", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"default: ${DATA_DIR_ENV}, else the source checkout's data/",
    )
    ap.add_argument("--end-month", default=None, help="YYYY-MM; default: last complete month")
    ap.add_argument("--format", choices=FORMATS, default="mixed", dest="fmt")
    ap.add_argument("--no-dirty", action="store_true", help="write only valid rows")
    ap.add_argument(
        "--survey-rate", type=float, default=0.15, help="share of resolved tickets answered"
    )
    ap.add_argument("--customers", type=int, default=None, help="customer base at the start")
    a = ap.parse_args(argv)
    try:
        # the same default as load_settings, so the pipeline finds what the demo wrote
        data_dir = a.data_dir or Path(Environment().data_dir or default_data_dir())
    except PackageFilesError as exc:
        ap.error(str(exc))
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
