"""What `make serve-check` (scripts/serve_check.py) runs Dagster with: temporary databases on a
PostgreSQL server, processes on free ports with their logs, and the webserver's GraphQL API.
tests/test_production_instance.py uses the PostgreSQL part too."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any


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


def wait_for_location(gql: GraphQL, webserver: Proc, location: str, timeout: float) -> None:
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
        entry = entries.get(location)
        if entry and entry["loadStatus"] == "LOADED":
            loc = entry["locationOrLoadError"] or {}
            if loc.get("__typename") == "RepositoryLocation":
                return
            last = loc.get("message", str(loc))
            if not reloaded:  # the code server was up before the webserver: one reload
                gql(RELOAD_LOCATION, {"name": location})
                reloaded = True
        else:
            last = f"location {location}: {entry['loadStatus'] if entry else 'not listed'}"
        time.sleep(1)
    raise CheckFailed(f"code location {location} did not load within {timeout:.0f}s: {last}")
