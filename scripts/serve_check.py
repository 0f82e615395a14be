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
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PRODUCTION_YAML = REPO / "config" / "dagster.production.yaml"
JOB = "monthly_scorecards"
LOCATION = "scorecards"


class CheckFailed(Exception):
    """One line saying what did not work."""


# --- PostgreSQL ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PgServer:
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PgServer:
        env = os.environ if environ is None else environ
        return cls(
            host=env.get("PGHOST", "127.0.0.1"),
            port=int(env.get("PGPORT", "5432")),
            user=env.get("PGUSER", "postgres"),
            password=env.get("PGPASSWORD", ""),
        )

    def connect(self, dbname: str = "postgres"):
        """An autocommit connection; CheckFailed with a clear message when the server is not
        there."""
        import psycopg2

        try:
            conn = psycopg2.connect(
                host=self.host,
                port=self.port,
                user=self.user,
                password=self.password,
                dbname=dbname,
                connect_timeout=5,
            )
        except psycopg2.OperationalError as err:
            detail = " ".join(str(err).split())
            raise CheckFailed(
                f"PostgreSQL is not reachable at {self.host}:{self.port} as {self.user!r} "
                f"({detail}). Start it (`pg_ctlcluster --skip-systemctl-redirect "
                "$(ls /etc/postgresql) main start`, as .ci/run does) or set PGHOST/PGPORT/PGUSER/"
                "PGPASSWORD."
            ) from None
        conn.autocommit = True
        return conn

    def conninfo(self, dbname: str) -> str:
        """A libpq connection string, as DuckLake's catalog setting takes it."""
        info = f"dbname={dbname} host={self.host} port={self.port} user={self.user}"
        return info + (f" password={self.password}" if self.password else "")

    def dagster_env(self, dbname: str) -> dict[str, str]:
        """The variables config/dagster.production.yaml reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": dbname,
        }


@contextlib.contextmanager
def temp_database(server: PgServer, prefix: str = "scorecards_test") -> Iterator[str]:
    """A new, empty database with a name no other test run uses; dropped afterwards (also when
    connections to it are still open)."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield name
    finally:
        with contextlib.suppress(Exception), conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


def database_exists(server: PgServer, name: str) -> bool:
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            return cur.fetchone() is not None
    finally:
        conn.close()


# --- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Proc:
    name: str
    args: list[str]
    log: Path
    popen: subprocess.Popen | None = None
    _fh: IO[bytes] | None = field(default=None, repr=False)

    def start(self, env: Mapping[str, str], cwd: Path) -> None:
        self._fh = self.log.open("wb")
        self.popen = subprocess.Popen(
            self.args,
            env=dict(env),
            cwd=cwd,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: runs it starts are stopped with it
        )

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def terminate(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM to the process group, SIGKILL after `timeout` seconds."""
        p = self.popen
        if p is not None:
            if p.poll() is None:
                self.terminate()
                try:
                    p.wait(timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(p.pid, signal.SIGKILL)
                    p.wait(10)
            # whatever the group still holds (a run the code server started)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(f"    {line}" for line in text[-lines:])


def wait_for_port(port: int, proc: Proc, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise CheckFailed(f"{proc.name} exited with code {proc.popen.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise CheckFailed(f"{proc.name} did not listen on port {port} within {timeout:.0f}s")


# --- GraphQL ------------------------------------------------------------------------------------


class GraphQL:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/graphql"

    def __call__(self, query: str, variables: Mapping[str, Any] | None = None) -> dict:
        body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
        req = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            payload = json.load(resp)
        if payload.get("errors"):
            raise CheckFailed(f"GraphQL error: {payload['errors'][0].get('message')}")
        return payload["data"]


WORKSPACE_QUERY = """
query {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
}"""

ASSETS_QUERY = """
query { assetNodes { assetKey { path } jobNames isPartitioned } }"""

LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}"""

BACKFILL_QUERY = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill {
      status
      error { message }
      runs { runId status startTime endTime tags { key value } }
    }
    ... on Error { message }
  }
}"""

RELOAD_LOCATION = """
mutation Reload($name: String!) {
  reloadRepositoryLocation(repositoryLocationName: $name) { __typename }
}"""

FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
RUN_DONE = {"SUCCESS", "FAILURE", "CANCELED"}


def wait_for_location(gql: GraphQL, webserver: Proc, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    reloaded = False
    while time.monotonic() < deadline:
        if not webserver.alive():
            raise CheckFailed(f"webserver exited with code {webserver.popen.returncode}")
        try:
            data = gql(WORKSPACE_QUERY)["workspaceOrError"]
        except (urllib.error.URLError, ConnectionError, TimeoutError, CheckFailed) as err:
            last = str(err)
            time.sleep(1)
            continue
        entries = {e["name"]: e for e in data.get("locationEntries", [])}
        entry = entries.get(LOCATION)
        if entry and entry["loadStatus"] == "LOADED":
            loc = entry["locationOrLoadError"] or {}
            if loc.get("__typename") == "RepositoryLocation":
                return
            last = loc.get("message", str(loc))
            if not reloaded:  # the code server was up before the webserver: one reload
                gql(RELOAD_LOCATION, {"name": LOCATION})
                reloaded = True
        else:
            last = f"location {LOCATION}: {entry['loadStatus'] if entry else 'not listed'}"
        time.sleep(1)
    raise CheckFailed(f"code location {LOCATION} did not load within {timeout:.0f}s: {last}")


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
    from scorecards.demo import generate
    from scorecards.ingest.months_state import utc_now

    settings = load_settings(data_dir, config_dir)
    last = last_complete_month(utc_now(), settings.timezone)
    generate(data_dir, months=3, teams=teams, tickets_per_month=tickets, seed=7, end_month=last)
    return record_landing_months(settings)


def _outputs(data_dir: Path, config_dir: Path, months: list[str]) -> tuple[list[str], list[Path]]:
    """Months without a scorecard PDF, and e-mails in any outbox."""
    from scorecards.config.settings import load_settings
    from scorecards.render.publish import scorecard_dir

    settings = load_settings(data_dir, config_dir)
    missing = [m for m in months if not list(scorecard_dir(settings, m).glob("*.pdf"))]
    mails = sorted(settings.out_dir.rglob("outbox/*.eml"))
    return missing, mails


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

    def say(msg: str) -> None:
        print(
            f"[serve-check {time.monotonic() - start:5.1f}s] {msg}",
            file=out or sys.stdout,
            flush=True,
        )

    try:
        with contextlib.ExitStack() as stack:
            db = stack.enter_context(temp_database(server, "scorecards_serve_check"))
            database = db
            say(f"database {db} on {server.host}:{server.port}, DAGSTER_HOME {home}")
            lake = ""
            if warehouse == "ducklake":
                lake_db = stack.enter_context(temp_database(server, "scorecards_serve_lake"))
                lake = f"ducklake:postgres:{server.conninfo(lake_db)}"
                say(f"warehouse on DuckLake, catalog in database {lake_db}")
            try:
                shutil.copy(PRODUCTION_YAML, home / "dagster.yaml")
                make_config(
                    Path(os.environ.get("SCORECARDS_CONFIG_DIR") or REPO / "config"),
                    config_dir,
                    teams,
                )
                months = make_data(data, config_dir, teams, tickets)
                say(f"demo data for {', '.join(months)} in {data}")

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
                wait_for_location(gql, procs["webserver"], 90)
                say(f"webserver on port {web_port}, code location loaded")

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
                backfill_id = launched["backfillId"]
                # The daemon starts after the backfill is stored: its first backfill iteration,
                # right after start, takes it up instead of up to 30 seconds later.
                procs["daemon"].start(env, REPO)
                say(
                    f"backfill {backfill_id} of {len(keys)} assets "
                    f"({', '.join('/'.join(k) for k in keys)}) for {months[0]}...{months[-1]}"
                )

                status = ""
                deadline = start + timeout
                while True:
                    for p in procs.values():
                        if not p.alive():
                            raise CheckFailed(f"{p.name} exited with code {p.popen.returncode}")
                    bf = gql(BACKFILL_QUERY, {"id": backfill_id})["partitionBackfillOrError"]
                    if bf["__typename"] != "PartitionBackfill":
                        raise CheckFailed(f"backfill {backfill_id}: {bf.get('message')}")
                    runs = bf["runs"]
                    if bf["status"] != status:
                        status = bf["status"]
                        say(f"backfill {status}, {len(runs)} run(s)")
                    if status in FINISHED and all(r["status"] in RUN_DONE for r in runs):
                        break
                    if time.monotonic() > deadline:
                        raise CheckFailed(
                            f"backfill not finished after {timeout:.0f}s (status {status}, runs "
                            + (", ".join(f"{r['runId'][:8]} {r['status']}" for r in runs) or "none")
                            + ")"
                        )
                    time.sleep(2)

                problems = []
                if status not in ("COMPLETED", "COMPLETED_SUCCESS"):
                    err = (bf.get("error") or {}).get("message", "")
                    problems.append(f"backfill ended {status}" + (f": {err}" if err else ""))
                failed = [r for r in runs if r["status"] != "SUCCESS"]
                if not runs:
                    problems.append("the backfill started no run")
                if failed:
                    problems.append(
                        "run(s) not successful: "
                        + ", ".join(f"{r['runId']} {r['status']}" for r in failed)
                    )
                missing, mails = _outputs(data, config_dir, months)
                if missing:
                    problems.append(f"no scorecard PDFs for {', '.join(missing)}")
                if mails:
                    problems.append(f"{len(mails)} e-mail(s) went out, e.g. {mails[0]}")
                if problems:
                    raise CheckFailed("; ".join(problems))
                say(
                    f"{len(runs)} run(s) succeeded; scorecards for {', '.join(months)}; no e-mail sent"
                )
            finally:
                # daemon first: it launches nothing more; then the webserver, the code server
                for p in reversed(procs.values()):
                    p.terminate()
                for p in reversed(procs.values()):
                    p.stop()
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
    sys.path.insert(0, str(REPO))
    sys.exit(main())
