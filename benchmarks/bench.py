"""Benchmarks: `make bench` (`python -m benchmarks.bench`).

Each stage runs in a fresh subprocess, so its peak memory (the process's maximum resident set,
DuckDB's buffers included) is its own and not what an earlier stage left behind. Generated data
is cached under `bench-data/<size>/` and reused while the generator arguments stay the same.

Stages, per data size:
- ingest: read and validate every landing file (tickets, surveys, customers), write the month to
  the warehouse and the quarantine files;
- kpis: compute and store the month's team KPI table (every team and ALL);
- churn: score every customer active at the end of the month for churn risk (signals, model
  fit, reasons, bands, warehouse and CSV). It needs history, so it runs on a data set of its own:
  HISTORY_MONTHS months ending with the month, generated and loaded once (untimed) under
  `bench-data/<size>-history/`; 1M only. The time is the monthly steady state (earlier months'
  signals stored by their own runs); the cold time, computing them too, is in the detail.

Timings are wall-clock seconds on this machine; `docs/benchmarks.md` records them with the
machine they were taken on. Nothing here asserts a time: benchmarks measure, tests check.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MONTH = "2026-10"


# name -> generator arguments; surveys from a 32% response rate of resolved tickets, about 300k per 1M tickets.
SIZES: dict[str, dict] = {
    "1M": {"tickets_per_month": 1_000_000, "customers": 200_000, "survey_rate": 0.32},
    "10M": {"tickets_per_month": 10_000_000, "customers": 2_000_000, "survey_rate": 0.32},
}


def _settings(data_dir: Path):  # noqa: ANN202 - Settings, imported lazily to keep the parent small
    from scorecards.config.settings import load_settings

    return load_settings(data_dir, REPO / "config")


def _stage_ingest(data_dir: Path) -> dict:
    from scorecards.ingest.load import ingest_customers, ingest_events

    settings = _settings(data_dir)
    reports = ingest_events(settings, [MONTH])
    reports["customers"] = ingest_customers(settings)
    read = {name: rep.totals()["rows_read"] for name, rep in reports.items()}
    return {"rows": sum(read.values()), "detail": read}


def _stage_kpis(data_dir: Path) -> dict:
    from scorecards.kpis.engine import build_team_kpis
    from scorecards.warehouse.connection import connect

    settings = _settings(data_dir)
    frames = build_team_kpis(settings, [MONTH], MONTH)
    with connect(settings.warehouse, read_only=True) as con:
        tickets = con.execute("SELECT count(*) FROM tickets").fetchone()[0]
    return {"rows": int(tickets), "detail": {"kpi_rows": len(frames[MONTH])}}


# Churn scoring reads the month's 90-day window and 180-day history and learns from earlier
# months, so it gets a data set of its own with this much history (Parquet: quicker to load).
HISTORY_MONTHS = 11
CHURN_SIZES = ("1M",)


def _history_args(size: str) -> dict:
    return {
        **SIZES[size],
        "months": HISTORY_MONTHS,
        "end_month": MONTH,
        "seed": 1,
        "fmt": "parquet",
    }


def _first_history_month() -> str:
    from scorecards.core.periods import shift_month

    return shift_month(MONTH, 1 - HISTORY_MONTHS)


def _prepare_history(size: str, root: Path) -> dict:
    from scorecards.core.periods import month_range
    from scorecards.demo.generate import generate
    from scorecards.ingest.load import ingest_customers, ingest_events

    t0 = time.perf_counter()
    rows = generate(root / f"{size}-history", **_history_args(size))
    settings = _settings(root / f"{size}-history")
    ingest_events(settings, month_range(_first_history_month(), MONTH))
    ingest_customers(settings)
    return {"stage": "prepare", "seconds": time.perf_counter() - t0, "rows": rows}


def ensure_history(size: str, root: Path) -> Path:
    """Generate and load the size's history data set once; again when its arguments change."""
    data_dir = root / f"{size}-history"
    args = _history_args(size)
    stamp = data_dir / "prepared.json"
    if stamp.exists() and json.loads(stamp.read_text()) == args:
        return data_dir
    shutil.rmtree(data_dir, ignore_errors=True)
    print(f"generating and loading {HISTORY_MONTHS} months of {size} data in {data_dir} (once) ...")
    _spawn(["--prepare-history", size, "--root", str(root)])
    stamp.write_text(json.dumps(args))
    return data_dir


def _stage_churn(data_dir: Path) -> dict:
    from scorecards.churn import scoring as churn
    from scorecards.warehouse.connection import connect

    settings = _settings(data_dir)
    with connect(settings.warehouse) as con:
        churn.ensure_schema(con)
        for table in ("churn_signals", "customer_churn_risk", "churn_model", "churn_backtest"):
            con.execute(f"DELETE FROM {table}")
    first = _first_history_month()
    t0 = time.perf_counter()
    churn.build_churn_risk(settings, [MONTH], first)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    results, _ = churn.build_churn_risk(settings, [MONTH], first)
    warm = time.perf_counter() - t0
    res = results[MONTH]
    with connect(settings.warehouse, read_only=True) as con:
        tickets = con.execute("SELECT count(*) FROM tickets").fetchone()[0]
    return {
        "seconds": warm,
        "rows": len(res.risk),
        "detail": {
            "customers": len(res.risk),
            "training_months": len(res.model.train_months),
            "cold_seconds": round(cold, 2),
            "tickets_in_warehouse": int(tickets),
            "high": res.bands["high"],
        },
    }


STAGES: dict[str, Callable[[Path], dict]] = {
    "ingest": _stage_ingest,
    "kpis": _stage_kpis,
    "churn": _stage_churn,
}


def _run_stage(stage: str, data_dir: Path) -> dict:
    """Child side: run one stage and report what it took as JSON on the last stdout line."""
    t0 = time.perf_counter()
    out = STAGES[stage](data_dir)
    seconds = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"stage": stage, "seconds": seconds, "peak_mb": peak_kb / 1024, **out}


def _spawn(args: list[str]) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"bench {' '.join(args)} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _generator_args(size: str) -> dict:
    return {**SIZES[size], "months": 1, "end_month": MONTH, "seed": 1, "fmt": "csv"}


def ensure_data(size: str, root: Path) -> Path:
    """Generate the size's landing data once; regenerate when the generator arguments change."""
    data_dir = root / size
    args = _generator_args(size)
    stamp = data_dir / "generated.json"
    if stamp.exists() and json.loads(stamp.read_text()) == args:
        return data_dir
    shutil.rmtree(data_dir, ignore_errors=True)
    print(f"generating {size} data in {data_dir} (once) ...", flush=True)
    _spawn(["--generate", size, "--root", str(root)])
    stamp.write_text(json.dumps(args))
    return data_dir


def _generate(size: str, root: Path) -> dict:
    from scorecards.demo.generate import generate

    t0 = time.perf_counter()
    rows = generate(root / size, **_generator_args(size))
    return {"stage": "generate", "seconds": time.perf_counter() - t0, "rows": rows}


def machine() -> str:
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import duckdb

    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_gb:.0f} GiB RAM, Python {platform.python_version()}, "
        f"DuckDB {duckdb.__version__}, DuckDB memory limit "
        f"{os.environ.get('SCORECARDS_DUCKDB_MEMORY', '2GB')}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.bench", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--sizes", default="1M,10M", help="comma-separated, from " + ", ".join(SIZES))
    ap.add_argument("--stages", default=",".join(STAGES), help="comma-separated stages to time")
    ap.add_argument("--root", type=Path, default=REPO / "bench-data")
    ap.add_argument("--stage", help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--generate", help=argparse.SUPPRESS)
    ap.add_argument("--prepare-history", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.stage:
        print(json.dumps(_run_stage(a.stage, a.data_dir)))
        return 0
    if a.generate:
        print(json.dumps(_generate(a.generate, a.root)))
        return 0
    if a.prepare_history:
        print(json.dumps(_prepare_history(a.prepare_history, a.root)))
        return 0

    sizes = [s for s in a.sizes.split(",") if s]
    stages = [s for s in a.stages.split(",") if s]
    unknown = [s for s in sizes if s not in SIZES] + [s for s in stages if s not in STAGES]
    if unknown:
        ap.error(f"unknown size or stage: {', '.join(unknown)}")
    print(f"machine: {machine()}")
    print(f"{'size':>5} {'stage':<8} {'seconds':>8} {'rows':>12} {'rows/s':>12} {'peak MB':>8}")
    for size in sizes:
        data_dir = ensure_data(size, a.root)
        # Each size starts from an empty warehouse, so ingest measures a first load.
        for derived in ("warehouse.duckdb", "out", "quarantine", ".cache"):
            path = data_dir / derived
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        total = 0.0
        for stage in stages:
            stage_dir = data_dir
            if stage == "churn":
                if size not in CHURN_SIZES:
                    print(f"{size:>5} {stage:<8} skipped (measured at {', '.join(CHURN_SIZES)})")
                    continue
                stage_dir = ensure_history(size, a.root)
            r = _spawn(["--stage", stage, "--data-dir", str(stage_dir)])
            total += r["seconds"]
            rate = r["rows"] / r["seconds"] if r["seconds"] else float("nan")
            print(
                f"{size:>5} {stage:<8} {r['seconds']:8.2f} {r['rows']:12,} {rate:12,.0f} "
                f"{r['peak_mb']:8.0f}   {json.dumps(r.get('detail', {}))}",
                flush=True,
            )
        print(f"{size:>5} {'total':<8} {total:8.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
