"""`make serve-check`: Dagster as it runs in production, end to end, on this machine.

1. a new PostgreSQL database (unique name) and a temporary DAGSTER_HOME with
   config/dagster.production.yaml;
2. a small demo data dir (three months, few teams and tickets), its months recorded;
3. three processes on free ports, as in production: the code server (`dagster api grpc -m
   pipelines.definitions`), the webserver (`dagster-webserver`, its workspace pointing at that
   code server) and the daemon (`dagster-daemon run`: run queue, backfills, monitoring, retries);
4. a backfill of the monthly job's assets over the three months, launched through the
   webserver's GraphQL API (`launchPartitionBackfill`), as the UI does;
5. waits for the backfill's runs (with a timeout), then checks that every run succeeded, each
   month's scorecard PDFs are in `out/<YYYY-MM>/` and no e-mail went out (a backfill never sends:
   docs/delivery.md);
6. stops the three processes and drops the database, also when something failed; on a failure it
   prints where each process's log is (the temporary folder is then kept).

Needs PostgreSQL at PGHOST:PGPORT (default 127.0.0.1:5432, user PGUSER=postgres, PGPASSWORD
empty) whose user may create databases. Exit code 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    # Run as a file (`make serve-check`), Python puts scripts/ on the path, not the repository
    # root that scripts.serve_stack is found from.
    sys.path.insert(0, str(REPO))

from scripts.serve_stack import (  # noqa: E402 - after the path is set
    ASSETS_QUERY,
    BACKFILL_QUERY,
    FINISHED,
    LAUNCH_BACKFILL,
    RUN_DONE,
    CheckFailed,
    GraphQL,
    PgServer,
    Proc,
    free_port,
    temp_database,
    wait_for_location,
    wait_for_port,
)

BIN = Path(sys.executable).parent
PRODUCTION_YAML = REPO / "config" / "dagster.production.yaml"
JOB = "monthly_scorecards"
LOCATION = "scorecards"


# --- the check ----------------------------------------------------------------------------------


@dataclass
class Result:
    ok: bool
    seconds: float
    months: list[str]
    runs: list[dict]
    root: Path
    logs: dict[str, Path]
    message: str = ""
    database: str = ""


def make_config(source: Path, target: Path, teams: int) -> Path:
    """A copy of the config dir whose teams.yaml keeps only its first `teams` teams (the demo
    data's first teams): fewer scorecards to render."""
    import yaml

    # month notes name teams that may not be kept; the check needs none
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("notes"))
    path = target / "teams.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["teams"] = doc.get("teams", [])[:teams]
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return target


def make_data(data_dir: Path, config_dir: Path, teams: int, tickets: int) -> list[str]:
    """Demo landing files for the last three complete months, their months recorded (the code
    server's partitions start at the first)."""
    from pipelines.partitions import record_landing_months
    from scorecards.config.settings import load_settings
    from scorecards.core.periods import last_complete_month
    from scorecards.demo.generate import generate
    from scorecards.ingest.months_state import utc_now

    settings = load_settings(data_dir, config_dir)
    last = last_complete_month(utc_now(), settings.timezone)
    generate(data_dir, months=3, teams=teams, tickets_per_month=tickets, seed=7, end_month=last)
    return record_landing_months(settings)


def _outputs(data_dir: Path, config_dir: Path, months: list[str]) -> tuple[list[str], list[Path]]:
    """Months without a scorecard PDF, and e-mails in any outbox."""
    from scorecards.config.settings import load_settings
    from scorecards.render.batch import scorecard_dir

    settings = load_settings(data_dir, config_dir)
    missing = [m for m in months if not list(scorecard_dir(settings, m).glob("*.pdf"))]
    mails = sorted(settings.out_dir.rglob("outbox/*.eml"))
    return missing, mails


def _reporter(start: float, out: IO[str] | None) -> Callable[[str], None]:
    """A progress line printer, each line with the seconds since `start`."""

    def say(msg: str) -> None:
        print(
            f"[serve-check {time.monotonic() - start:5.1f}s] {msg}",
            file=out or sys.stdout,
            flush=True,
        )

    return say


def _ducklake(stack: contextlib.ExitStack, server: PgServer, say: Callable[[str], None]) -> str:
    """The SCORECARDS_WAREHOUSE of a DuckLake whose catalog is a new database, dropped when
    `stack` closes."""
    lake_db = stack.enter_context(temp_database(server, "scorecards_serve_lake"))
    say(f"warehouse on DuckLake, catalog in database {lake_db}")
    return f"ducklake:postgres:{server.conninfo(lake_db)}"


def _environment(
    server: PgServer, db: str, lake: str, home: Path, data: Path, config_dir: Path
) -> dict[str, str]:
    """The three processes' environment: this one's without its mail, Dagster and scorecards
    settings (the check sets its own), and the production instance's database."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SMTP_", "DAGSTER_", "SCORECARDS_"))
    }
    env |= server.dagster_env(db) | {
        "DAGSTER_HOME": str(home),
        "SCORECARDS_DATA_DIR": str(data),
        "SCORECARDS_CONFIG_DIR": str(config_dir),
        "PYTHONUNBUFFERED": "1",
    }
    if lake:
        env["SCORECARDS_WAREHOUSE"] = lake
        env["SCORECARDS_WAREHOUSE_DATA_PATH"] = str(data / "lake")
    return env


def _start_services(
    procs: dict[str, Proc], root: Path, env: Mapping[str, str], say: Callable[[str], None]
) -> GraphQL:
    """The code server, then the webserver, on free ports; the daemon only gets its command
    line (it starts after the backfill is stored). The webserver's API once it has loaded the
    code location."""
    grpc_port, web_port = free_port(), free_port()
    workspace = root / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - grpc_server:\n      host: 127.0.0.1\n"
        f"      port: {grpc_port}\n      location_name: {LOCATION}\n"
    )
    procs["code-server"].args = [
        str(BIN / "dagster"),
        *("api", "grpc", "-m", "pipelines.definitions", "-d", str(REPO)),
        *("-h", "127.0.0.1", "-p", str(grpc_port)),
    ]
    procs["webserver"].args = [
        str(BIN / "dagster-webserver"),
        *("-w", str(workspace), "-h", "127.0.0.1", "-p", str(web_port)),
    ]
    procs["daemon"].args = [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)]

    procs["code-server"].start(env, REPO)
    wait_for_port(grpc_port, procs["code-server"], 90)
    say(f"code server on port {grpc_port}")
    procs["webserver"].start(env, REPO)
    gql = GraphQL(web_port)
    wait_for_location(gql, procs["webserver"], LOCATION, 90)
    say(f"webserver on port {web_port}, code location loaded")
    return gql


def _launch_backfill(gql: GraphQL, months: list[str]) -> tuple[str, list[list[str]]]:
    """A backfill of the monthly job's assets over `months`, as the UI launches one: its id and
    the asset keys."""
    keys = [
        node["assetKey"]["path"]
        for node in gql(ASSETS_QUERY)["assetNodes"]
        if JOB in node["jobNames"]
    ]
    launched = gql(
        LAUNCH_BACKFILL,
        {
            "params": {
                "assetSelection": [{"path": k} for k in keys],
                "partitionNames": months,
                "title": "serve-check",
            }
        },
    )["launchPartitionBackfill"]
    if launched["__typename"] != "LaunchBackfillSuccess":
        raise CheckFailed(
            f"launchPartitionBackfill: {launched['__typename']}: {launched.get('message')}"
        )
    return launched["backfillId"], keys


def _wait_for_backfill(
    gql: GraphQL,
    procs: dict[str, Proc],
    backfill_id: str,
    deadline: float,
    timeout: float,
    runs: list[dict],
    say: Callable[[str], None],
) -> dict:
    """The backfill once it and all its runs are done. `runs` is kept up to date as it goes,
    so that a check that fails half way still reports the runs so far."""
    status = ""
    while True:
        for p in procs.values():
            if not p.alive():
                raise CheckFailed(f"{p.name} exited with code {p.popen.returncode}")
        bf = gql(BACKFILL_QUERY, {"id": backfill_id})["partitionBackfillOrError"]
        if bf["__typename"] != "PartitionBackfill":
            raise CheckFailed(f"backfill {backfill_id}: {bf.get('message')}")
        runs[:] = bf["runs"]
        if bf["status"] != status:
            status = bf["status"]
            say(f"backfill {status}, {len(runs)} run(s)")
        if status in FINISHED and all(r["status"] in RUN_DONE for r in runs):
            return bf
        if time.monotonic() > deadline:
            raise CheckFailed(
                f"backfill not finished after {timeout:.0f}s (status {status}, runs "
                + (", ".join(f"{r['runId'][:8]} {r['status']}" for r in runs) or "none")
                + ")"
            )
        time.sleep(2)


def _problems(bf: dict, data: Path, config_dir: Path, months: list[str]) -> list[str]:
    """What is wrong with a finished backfill and what it left on disk; empty when nothing."""
    status, runs = bf["status"], bf["runs"]
    problems = []
    if status not in ("COMPLETED", "COMPLETED_SUCCESS"):
        err = (bf.get("error") or {}).get("message", "")
        problems.append(f"backfill ended {status}" + (f": {err}" if err else ""))
    failed = [r for r in runs if r["status"] != "SUCCESS"]
    if not runs:
        problems.append("the backfill started no run")
    if failed:
        problems.append(
            "run(s) not successful: " + ", ".join(f"{r['runId']} {r['status']}" for r in failed)
        )
    missing, mails = _outputs(data, config_dir, months)
    if missing:
        problems.append(f"no scorecard PDFs for {', '.join(missing)}")
    if mails:
        problems.append(f"{len(mails)} e-mail(s) went out, e.g. {mails[0]}")
    return problems


def _stop(procs: dict[str, Proc]) -> None:
    # daemon first: it launches nothing more; then the webserver, the code server
    for p in reversed(procs.values()):
        p.terminate()
    for p in reversed(procs.values()):
        p.stop()


def serve_check(
    root: Path,
    server: PgServer,
    *,
    teams: int = 2,
    tickets: int = 400,
    timeout: float = 300,
    out: IO[str] | None = None,
    warehouse: str = "duckdb",
) -> Result:
    """Everything above, under `root` (a new folder); never raises for a failed check.

    `warehouse="ducklake"` puts the warehouse on DuckLake with its catalog in a second new
    database of the same server: then the backfill runs one run per month, in parallel."""
    start = time.monotonic()
    say = _reporter(start, out)
    home, data, logs = root / "dagster_home", root / "data", root / "logs"
    for d in (home, data, logs):
        d.mkdir(parents=True)
    config_dir = root / "config"
    procs = {
        name: Proc(name, [], logs / f"{name}.log")
        for name in ("code-server", "webserver", "daemon")
    }
    months: list[str] = []
    runs: list[dict] = []

    database = ""

    try:
        with contextlib.ExitStack() as stack:
            db = stack.enter_context(temp_database(server, "scorecards_serve_check"))
            database = db
            say(f"database {db} on {server.host}:{server.port}, DAGSTER_HOME {home}")
            lake = _ducklake(stack, server, say) if warehouse == "ducklake" else ""
            try:
                shutil.copy(PRODUCTION_YAML, home / "dagster.yaml")
                make_config(
                    Path(os.environ.get("SCORECARDS_CONFIG_DIR") or REPO / "config"),
                    config_dir,
                    teams,
                )
                months = make_data(data, config_dir, teams, tickets)
                say(f"demo data for {', '.join(months)} in {data}")
                env = _environment(server, db, lake, home, data, config_dir)
                gql = _start_services(procs, root, env, say)
                backfill_id, keys = _launch_backfill(gql, months)
                # The daemon starts after the backfill is stored: its first backfill iteration,
                # right after start, takes it up instead of up to 30 seconds later.
                procs["daemon"].start(env, REPO)
                say(
                    f"backfill {backfill_id} of {len(keys)} assets "
                    f"({', '.join('/'.join(k) for k in keys)}) for {months[0]}...{months[-1]}"
                )
                bf = _wait_for_backfill(
                    gql, procs, backfill_id, start + timeout, timeout, runs, say
                )
                problems = _problems(bf, data, config_dir, months)
                if problems:
                    raise CheckFailed("; ".join(problems))
                say(
                    f"{len(runs)} run(s) succeeded; scorecards for {', '.join(months)}; no e-mail sent"
                )
            finally:
                _stop(procs)
    except Exception as err:  # noqa: BLE001 - reported with the logs, never raised
        message = str(err) if isinstance(err, CheckFailed) else f"{type(err).__name__}: {err}"
        return Result(
            False,
            time.monotonic() - start,
            months,
            runs,
            root,
            {n: p.log for n, p in procs.items()},
            message,
            database,
        )
    return Result(True, time.monotonic() - start, months, runs, root, {}, "", database)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--timeout", type=float, default=300, help="seconds for the whole check")
    ap.add_argument("--teams", type=int, default=2)
    ap.add_argument("--tickets-per-month", type=int, default=400)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument(
        "--warehouse",
        choices=("duckdb", "ducklake"),
        default="duckdb",
        help="the warehouse backend the runs write (ducklake: catalog in a new database)",
    )
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="serve-check-"))
    result = serve_check(
        root,
        PgServer.from_env(),
        teams=args.teams,
        tickets=args.tickets_per_month,
        timeout=args.timeout,
        warehouse=args.warehouse,
    )
    if result.ok:
        print(f"serve-check passed in {result.seconds:.0f}s")
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        return 0
    print(f"serve-check FAILED after {result.seconds:.0f}s: {result.message}", file=sys.stderr)
    for name, path in result.logs.items():
        print(f"  {name} log: {path}", file=sys.stderr)
    print(f"  data and DAGSTER_HOME kept under {root}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
