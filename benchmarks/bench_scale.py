"""Scale benchmark: one month end to end on one warehouse backend (`make bench`,
`python -m benchmarks.bench_scale --tickets 10M --teams 500 --backend duckdb|ducklake`).

Stages, each in a fresh subprocess (timed separately, with its peak memory):

- ingest: the month's tickets and survey responses (CSV) and the customers file, through
  `scorecards.ingest.load` as `benchmarks.bench` calls it, into a warehouse that already holds the
  earlier months. The run's landing/ holds what a monthly export delivers (the month's tickets
  file, its quarter's surveys file, the customers file), not the earlier months' files: the
  ingest validates every file in landing/, whatever the months it writes;
- churn: `scorecards.churn.scoring.build_churn_risk` for the month (monthly steady state: the training
  month's signals were stored by its own run);
- kpis: `scorecards.kpis.engine.build_team_kpis` for the month (every team and ALL);
- scorecards: `scorecards.render.batch.build_scorecards`, every team and the overview, default
  number of worker processes;
- email: `scorecards.delivery.send.deliver` over STARTTLS + AUTH to `tests.smtp_server.LocalSmtpServer`
  (in the stage's process), one recipient per team and one for the overview.

Peak memory is given twice: the largest single process of the stage (ru_maxrss of the stage
process and of its reaped children, e.g. the render workers) and the whole process tree's
resident memory summed, sampled every 0.2 s (the PostgreSQL server of the DuckLake catalog is not
in that tree and not counted).

Data (`bench-data/scale/<tickets>-<teams>/`, generated once, untimed, reused while the arguments
stay the same): the demo generator, seed 1, MONTHS months ending with the month, every month at
full size, CSV, one customer per 5 monthly tickets. The earlier months are history: KPIs need
the previous month (same month last year is absent, so year-on-year values are empty), churn
needs the month's 90-day window and one earlier month with a full window and a known outcome.
The bench's teams.yaml therefore sets churn's `horizon_days: 30` and `min_training_months: 1`
(the defaults, 90 days and 3 months, would need 8 months of data); window and history days stay
the defaults. The earlier months are loaded once into `history.duckdb` (untimed, with the
previous month's churn signals and KPIs, as its own monthly run would leave them); each run
starts from a copy of it (DuckDB file) or from its tables copied into a fresh DuckLake catalog
(a PostgreSQL database created for the run and dropped after it, on the server of
BENCH_SCALE_PG, a libpq conninfo without dbname, default `host=127.0.0.1 user=postgres`).

Nothing here asserts a time: benchmarks measure, tests check.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from benchmarks import bench_render
from benchmarks.bench import MONTH, REPO, machine
from benchmarks.scale_warehouse import backend

MONTHS = 4  # the month and three earlier ones (history)
SEED = 1
STAGES = ("ingest", "churn", "kpis", "scorecards", "email")
# Churn settings the history allows (see the module docstring).
CHURN = {"horizon_days": 30, "min_training_months": 1}


def parse_count(text: str) -> int:
    """'10M', '200k', '1.5M', '500' -> an int."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmM]?)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a count: {text!r}")
    scale = {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


def label(n: int) -> str:
    if n >= 1_000_000 and n % 100_000 == 0:
        return f"{n / 1_000_000:g}M"
    if n >= 1_000 and n % 100 == 0:
        return f"{n / 1_000:g}k"
    return str(n)


def _months() -> list[str]:
    from scorecards.core.periods import month_range, shift_month

    return month_range(shift_month(MONTH, 1 - MONTHS), MONTH)


def _generator_args(tickets: int, teams: int) -> dict:
    return {
        "months": MONTHS,
        "teams": teams,
        "tickets_per_month": tickets,
        "customers": max(tickets // 5, 1_000),
        "survey_rate": 0.32,
        "seed": SEED,
        "end_month": MONTH,
        "fmt": "csv",
    }


# --- data: generated once, history loaded once ------------------------------------------------


def _config(root: Path, team_ids: list[str]) -> Path:
    """bench_render's teams.yaml (the generated teams, German and English), each team with one
    recipient, the overview with one, and the churn settings the history allows."""
    conf = bench_render._config(root, team_ids)
    cfg = yaml.safe_load((conf / "teams.yaml").read_text(encoding="utf-8"))
    for team in cfg["teams"]:
        team["recipients"] = [f"{team['id']}@example.com"]
    cfg["overview"] = {"locale": "de", "recipients": ["leitung@example.com"]}
    cfg["churn"] = dict(CHURN)
    (conf / "teams.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return conf


def _prepare(size_dir: Path, tickets: int, teams: int) -> dict:
    """Child side: generate the landing files and load the history months into history.duckdb."""
    from scorecards.churn.scoring import build_churn_risk
    from scorecards.demo.generate import generate
    from scorecards.kpis.engine import build_team_kpis
    from scorecards.warehouse.connection import connect

    out: dict = {}
    t0 = time.perf_counter()
    out["rows"] = generate(size_dir / "data", **_generator_args(tickets, teams))
    out["generate_s"] = time.perf_counter() - t0
    months = _months()
    history = months[:-1]
    t0 = time.perf_counter()
    data_dir = size_dir / "data"
    settings = bench_render.load_generated(data_dir, history, lambda ids: _config(size_dir, ids))
    # What the previous month's own run left: its churn signals (it has no training month of
    # its own, so it stays unscored) and its KPIs.
    build_churn_risk(settings, history[-1:], months[0])
    build_team_kpis(settings, history[-1:], months[0])
    with connect(settings.warehouse) as con:
        con.execute("CHECKPOINT")
    shutil.move(str(settings.warehouse_path), size_dir / "history.duckdb")
    shutil.rmtree(size_dir / "history-state", ignore_errors=True)
    shutil.move(str(data_dir / ".state"), size_dir / "history-state")
    for derived in ("out", "quarantine", ".duckdb_tmp", ".locks"):
        shutil.rmtree(data_dir / derived, ignore_errors=True)
    out["history_load_s"] = time.perf_counter() - t0
    out["teams"] = len(settings.teams)
    return out


def ensure_data(root: Path, tickets: int, teams: int) -> Path:
    size_dir = root / f"{label(tickets)}-{teams}"
    args = {"version": 1, **_generator_args(tickets, teams), "churn": CHURN}
    stamp = size_dir / "prepared.json"
    if stamp.exists() and json.loads(stamp.read_text())["args"] == args:
        return size_dir
    shutil.rmtree(size_dir, ignore_errors=True)
    size_dir.mkdir(parents=True)
    print(
        f"generating {MONTHS} months of {label(tickets)} tickets for {teams} teams in {size_dir} "
        "and loading the history (once) ...",
        flush=True,
    )
    r = _spawn(["--prepare", str(size_dir), "--tickets", str(tickets), "--teams", str(teams)])
    print(
        f"  generated {r['rows']} in {r['generate_s']:.0f} s, history loaded in "
        f"{r['history_load_s']:.0f} s, {r['teams']} teams",
        flush=True,
    )
    stamp.write_text(json.dumps({"args": args, "prepared": r}))
    return size_dir


# --- stages (child side) -------------------------------------------------------------------


def _settings(data_dir: Path):  # noqa: ANN202 - Settings
    from scorecards.config.settings import load_settings

    return load_settings(data_dir, data_dir.parent / "config")


def _stage_ingest(data_dir: Path) -> dict:
    from scorecards.ingest.load import ingest_customers, ingest_events

    settings = _settings(data_dir)
    reports = ingest_events(settings, [MONTH])
    reports["customers"] = ingest_customers(settings)
    totals = {name: rep.totals() for name, rep in reports.items()}
    return {"rows": sum(t["rows_read"] for t in totals.values()), "detail": totals}


def _stage_churn(data_dir: Path) -> dict:
    from scorecards.churn.scoring import build_churn_risk

    results, _ = build_churn_risk(_settings(data_dir), [MONTH], _months()[0])
    res = results[MONTH]
    if res.risk is None:
        raise SystemExit(f"churn: {MONTH} not scored: {res}")
    return {
        "rows": len(res.risk),
        "detail": {
            "customers": len(res.risk),
            "training_months": list(res.model.train_months),
            "high": res.bands["high"],
        },
    }


def _stage_kpis(data_dir: Path) -> dict:
    from scorecards.kpis.engine import build_team_kpis

    frames = build_team_kpis(_settings(data_dir), [MONTH], _months()[0])
    return {"rows": len(frames[MONTH]), "detail": {"kpi_rows": len(frames[MONTH])}}


def _stage_scorecards(data_dir: Path) -> dict:
    from scorecards.render import batch

    settings = _settings(data_dir)
    timed: dict[str, float] = {}
    load_month = batch.load_month

    def timed_load(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        t0 = time.perf_counter()
        try:
            return load_month(*args, **kwargs)
        finally:
            timed["load_month_s"] = round(time.perf_counter() - t0, 2)

    batch.load_month = timed_load
    result = batch.build_scorecards(settings, MONTH, workers=batch.default_workers())
    if result.failures:
        raise SystemExit(f"scorecards failed: {result.failures}")
    team_files = [f for f in result.files if f.name != "overview"]
    ov = next(f for f in result.files if f.name == "overview")
    return {
        "rows": len(result.files),
        "detail": {
            **timed,
            "workers": batch.default_workers(),
            "team_pdfs": len(team_files),
            "team_kb_max": round(max(f.size for f in team_files) / 1024),
            "overview_kb": round(ov.size / 1024),
            "overview_pages": ov.pages,
        },
    }


def _stage_email(data_dir: Path) -> dict:
    from benchmarks import bench_mail
    from scorecards.delivery.ledger import SENT
    from tests.smtp_server import LocalSmtpServer

    settings = _settings(data_dir)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-session chatter
    expected = bench_mail._expected_recipients(settings)
    with LocalSmtpServer(tls=True) as srv:
        r = bench_mail._timed_deliver(settings, srv, "starttls", f"bench-scale-{os.getpid()}")
        received = sorted(rcpt for m in srv.messages for rcpt in m.rcpt_tos)
    rep = r["report"]
    if rep.count(SENT) != len(expected) or rep.failures or received != expected:
        raise SystemExit(
            f"email: sent {rep.count(SENT)} of {len(expected)}, "
            f"{len(rep.failures)} failed, server received {len(received)}"
        )
    parts = {k: round(v, 2) for k, v in sorted(r["parts"].items())}
    return {
        "rows": len(received),
        "detail": {"messages": len(received), "smtp_sessions": r["connections"], **parts},
    }


STAGE_FUNCS: dict[str, Callable[[Path], dict]] = {
    "ingest": _stage_ingest,
    "churn": _stage_churn,
    "kpis": _stage_kpis,
    "scorecards": _stage_scorecards,
    "email": _stage_email,
}


def _run_stage(stage: str, data_dir: Path) -> dict:
    t0 = time.perf_counter()
    out = STAGE_FUNCS[stage](data_dir)
    seconds = time.perf_counter() - t0
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "stage": stage,
        "seconds": seconds,
        "peak_mb": max(self_kb, children_kb) / 1024,
        **out,
    }


# --- parent side ---------------------------------------------------------------------------


def _tree_rss_mb(root_pid: int) -> float:
    """Resident memory of a process and all its descendants, summed (from /proc)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        rss[int(entry)] = int(fields[21])  # pages
    tree, todo = set(), [root_pid]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo += [p for p, pp in parents.items() if pp == pid and p not in tree]
    return sum(rss.get(p, 0) for p in tree) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _spawn(args: list[str]) -> dict:
    """Run this module in a child with `args`; its JSON result, plus the sampled peak of the
    child's process tree."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bench_scale", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            with contextlib.suppress(Exception):
                peak[0] = max(peak[0], _tree_rss_mb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"bench_scale {' '.join(args)} failed:\n{stderr[-6000:]}")
    out = json.loads(stdout.strip().splitlines()[-1])
    out["tree_peak_mb"] = peak[0]
    return out


def run(root: Path, tickets: int, teams: int, backend_name: str, stages: list[str]) -> dict:
    size_dir = ensure_data(root, tickets, teams)
    prepared = json.loads((size_dir / "prepared.json").read_text())["prepared"]
    results: list[dict] = []
    with backend(size_dir, backend_name) as run_dir:
        for stage in stages:
            load0 = os.getloadavg()
            r = _spawn(["--stage", stage, "--data-dir", str(run_dir)])
            r["load"] = [round(load0[0], 2), round(os.getloadavg()[0], 2)]
            results.append(r)
            print(
                f"{label(tickets):>5} {teams:>4} {backend_name:<8} {stage:<10} "
                f"{r['seconds']:8.1f} {r['peak_mb']:8.0f} {r['tree_peak_mb']:8.0f} "
                f"{r['load'][0]:5.2f}-{r['load'][1]:<5.2f} {json.dumps(r.get('detail', {}))}",
                flush=True,
            )
        lake_mb = None
        if backend_name == "ducklake":
            lake_mb = sum(f.stat().st_size for f in (run_dir / "lake").rglob("*") if f.is_file())
            lake_mb /= 2**20
        else:
            wh = run_dir / "warehouse.duckdb"
            lake_mb = wh.stat().st_size / 2**20 if wh.exists() else None
    total = sum(r["seconds"] for r in results)
    print(
        f"{label(tickets):>5} {teams:>4} {backend_name:<8} {'total':<10} {total:8.1f} "
        f"{max(r['peak_mb'] for r in results):8.0f} "
        f"{max(r['tree_peak_mb'] for r in results):8.0f}   warehouse on disk {lake_mb or 0:.0f} MB",
        flush=True,
    )
    return {
        "tickets": tickets,
        "teams": teams,
        "backend": backend_name,
        "months": _months(),
        "generated_rows": prepared["rows"],
        "stages": results,
        "total_s": total,
        "warehouse_mb": lake_mb,
        "machine": machine(),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_scale", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--tickets", type=parse_count, default=10_000_000, help="per month, e.g. 10M")
    ap.add_argument("--teams", type=parse_count, default=500)
    ap.add_argument("--backend", choices=("duckdb", "ducklake"), default="duckdb")
    ap.add_argument("--stages", default=",".join(STAGES), help="comma-separated stages to time")
    ap.add_argument("--root", type=Path, default=REPO / "bench-data" / "scale")
    ap.add_argument("--keep", action="store_true", help="keep the run's data dir afterwards")
    ap.add_argument("--stage", help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--prepare", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.stage:
        print(json.dumps(_run_stage(a.stage, a.data_dir)))
        return 0
    if a.prepare:
        print(json.dumps(_prepare(a.prepare, a.tickets, a.teams)))
        return 0

    stages = [s for s in a.stages.split(",") if s]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        ap.error(f"unknown stage: {', '.join(unknown)}")
    print(f"machine: {machine()}")
    print(
        f"{'size':>5} {'teams':>4} {'backend':<8} {'stage':<10} {'seconds':>8} {'peak MB':>8} "
        f"{'tree MB':>8} {'load (1 min) before-after'}",
        flush=True,
    )
    out = run(a.root, a.tickets, a.teams, a.backend, stages)
    result_file = a.root / f"result-{label(a.tickets)}-{a.teams}-{a.backend}.json"
    result_file.write_text(json.dumps(out, indent=1))
    if not a.keep:
        shutil.rmtree(a.root / f"{label(a.tickets)}-{a.teams}" / f"run-{a.backend}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
