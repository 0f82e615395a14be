"""Rendering benchmark: `make bench` (`python -m benchmarks.bench_render`).

Renders one month's scorecards for 100 teams (and the overview) from a warehouse with 13 months
of history: first in one process (seconds per scorecard per core, and the overview alone), then
with the default number of worker processes (wall-clock throughput on this machine). Reports the
file sizes and pages.

The data (100 teams, 13 months, 50,000 tickets a month) is generated and loaded once under
`bench-data/render/` and reused while the generator arguments stay the same. Nothing here
asserts a time: benchmarks measure, tests check.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from benchmarks.bench import MONTH, REPO, machine
from scorecards.core.periods import month_range, shift_month

if TYPE_CHECKING:
    from scorecards.config.settings import Settings

TEAMS = 100
MONTHS = 13
ARGS = {
    "version": 2,  # bump when what ensure_data builds changes
    "months": MONTHS,
    "teams": TEAMS,
    "tickets_per_month": 50_000,
    "seed": 7,
    "end_month": MONTH,
    "fmt": "parquet",
    "customers": 40_000,
}


def _config(root: Path, team_ids: list[str]) -> Path:
    """A teams.yaml naming every generated team, alternating German and English."""
    conf = root / "config"
    conf.mkdir(parents=True, exist_ok=True)
    teams = [
        {
            "id": t,
            "name": f"Team {t.replace('_', ' ').title()}",
            "locale": "de" if i % 2 == 0 else "en",
            "headline_kpis": ["first_response_time", "first_contact_resolution", "csat", "nps"],
            "targets": {"first_response_time": 60, "first_contact_resolution": 75, "csat": 80},
        }
        for i, t in enumerate(team_ids)
    ]
    (conf / "teams.yaml").write_text(yaml.safe_dump({"teams": teams}), encoding="utf-8")
    shutil.copy(REPO / "config" / "sources.yaml", conf / "sources.yaml")
    return conf


def load_generated(
    data_dir: Path, months: list[str], config: Callable[[list[str]], Path]
) -> Settings:
    """Ingest generated data whose teams are not known yet, then configure the teams found
    (`config(team_ids)` writes the config dir): the settings to build on."""
    from scorecards.config.settings import load_settings
    from scorecards.ingest.load import ingest_customers, ingest_events
    from scorecards.warehouse.connection import connect

    # The first ingest runs before the teams are known, which the ingest rightly warns about
    # once per team; here that is expected.
    logging.getLogger("scorecards.ingest.load").setLevel(logging.ERROR)
    settings = load_settings(data_dir, config([]))
    ingest_events(settings, months)
    ingest_customers(settings)
    with connect(settings.warehouse, read_only=True) as con:
        ids = [r[0] for r in con.execute("SELECT DISTINCT team FROM tickets ORDER BY 1").fetchall()]
    return load_settings(data_dir, config(ids))


def ensure_data(root: Path) -> tuple[Path, Path]:
    from scorecards.churn.scoring import build_churn_risk
    from scorecards.demo.generate import generate
    from scorecards.kpis.engine import build_team_kpis

    data_dir = root / "data"
    stamp = root / "generated.json"
    if stamp.exists() and json.loads(stamp.read_text()) == ARGS:
        return data_dir, root / "config"
    shutil.rmtree(root, ignore_errors=True)
    print(
        f"generating and loading {TEAMS} teams × {MONTHS} months in {root} (once) ...", flush=True
    )
    generate(data_dir, **{k: v for k, v in ARGS.items() if k != "version"})
    months = month_range(shift_month(MONTH, -(MONTHS - 1)), MONTH)
    settings = load_generated(data_dir, months, lambda ids: _config(root, ids))
    conf = settings.config_dir
    # Churn risk first (the scorecards show it; months without enough history stay unscored),
    # then KPIs, which need P-1 and P-12: the first month only serves as history.
    build_churn_risk(settings, months, months[0])
    build_team_kpis(settings, months[1:], months[0])
    stamp.write_text(json.dumps(ARGS))
    return data_dir, conf


def run(root: Path) -> dict:
    from scorecards.config.settings import load_settings
    from scorecards.render.batch import build_scorecards, default_workers

    data_dir, conf = ensure_data(root)
    settings = load_settings(data_dir, conf)
    teams = list(settings.teams)
    out: dict = {"teams": len(teams), "workers": default_workers()}

    # One process: seconds per scorecard per core (the first team pays the set-up, so it is
    # timed apart).
    t0 = time.perf_counter()
    first = build_scorecards(settings, MONTH, teams=teams[:1], workers=1, overview=False)
    out["first_team_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    single = build_scorecards(settings, MONTH, teams=teams[1:21], workers=1, overview=False)
    out["per_scorecard_one_core_s"] = (time.perf_counter() - t0) / 20
    assert not first.failures and not single.failures, (first.failures, single.failures)
    # The overview alone, in one process: it looks up 100 teams × 13 months, which once made it
    # take as long as 30 scorecards without showing in the figure per scorecard.
    t0 = time.perf_counter()
    alone = build_scorecards(settings, MONTH, teams=[], workers=1, overview=True)
    out["overview_one_core_s"] = time.perf_counter() - t0
    assert not alone.failures, alone.failures

    t0 = time.perf_counter()
    result = build_scorecards(settings, MONTH, workers=default_workers())
    out["all_wall_s"] = time.perf_counter() - t0
    assert not result.failures, result.failures
    team_files = [f for f in result.files if f.name != "overview"]
    sizes = [f.size / 1024 for f in team_files]
    pages = [f.pages for f in team_files]
    ov = next(f for f in result.files if f.name == "overview")
    out |= {
        "per_scorecard_wall_s": out["all_wall_s"] / (len(team_files) + 1),
        "kb_median": statistics.median(sizes),
        "kb_max": max(sizes),
        "pages": f"{min(pages)}-{max(pages)}",
        "overview_kb": ov.size / 1024,
        "overview_pages": ov.pages,
    }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_render", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--root", type=Path, default=REPO / "bench-data" / "render")
    a = ap.parse_args(argv)
    print(f"machine: {machine()}")
    r = run(a.root)
    print(
        f"scorecards {MONTH}: {r['teams']} teams + overview\n"
        f"  one process:  {r['per_scorecard_one_core_s']:.2f} s per scorecard per core "
        f"(first team incl. set-up {r['first_team_s']:.2f} s); "
        f"overview {r['overview_one_core_s']:.1f} s\n"
        f"  {r['workers']} workers:    {r['all_wall_s']:.1f} s for all, "
        f"{r['per_scorecard_wall_s']:.2f} s per scorecard wall-clock\n"
        f"  files:        median {r['kb_median']:.0f} KB, max {r['kb_max']:.0f} KB, "
        f"{r['pages']} pages; overview {r['overview_kb']:.0f} KB, {r['overview_pages']} pages",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
