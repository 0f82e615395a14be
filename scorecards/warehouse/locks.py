"""Locks across the processes that use one warehouse (e.g. two deliveries of one month)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import re
import time
from collections.abc import Iterator
from pathlib import Path

from scorecards.config.environment import WarehouseTarget, as_target


class WarehouseBusyError(RuntimeError):
    """Another process held the warehouse's write lock for longer than we wait."""


def catalog_error(target: WarehouseTarget, exc: Exception) -> Exception:
    """The error for a DuckLake catalog that cannot be reached, naming it (password masked)."""
    return RuntimeError(f"cannot open the DuckLake warehouse ({target.describe()}): {exc}")


def _lock_key(name: str) -> int:
    # PostgreSQL advisory locks take one bigint: a stable hash of the name, signed.
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextlib.contextmanager
def named_lock(
    where: WarehouseTarget | Path | str, name: str, wait_s: float = 600.0
) -> Iterator[None]:
    """Hold an exclusive lock called `name` among all processes using this warehouse.

    DuckLake: a PostgreSQL session advisory lock in the catalog database, on a connection of
    its own. DuckDB file: an flock on a file in `.locks/` beside it. Both are released when the
    holder ends, however it ends (a crashed run leaves no lock behind). Raises
    WarehouseBusyError after `wait_s`."""
    target = as_target(where)
    if target.kind == "ducklake":
        with _pg_lock(target, name, wait_s):
            yield
        return
    assert target.path is not None
    folder = target.path.parent / ".locks"
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:80]
    path = folder / f"{target.path.stem}.{safe}.{_lock_key(name) & 0xFFFFFFFF:08x}.lock"
    with open(path, "a+b") as fh:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise WarehouseBusyError(
                        f"lock {name!r} on {target.describe()} held by another process for "
                        f"more than {wait_s:.0f} s"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def _pg_lock(target: WarehouseTarget, name: str, wait_s: float) -> Iterator[None]:
    import psycopg2  # the DuckLake backend only; a dependency of dagster-postgres

    conninfo = target.postgres_conninfo
    if conninfo is None:
        raise ValueError(f"no PostgreSQL catalog to lock in: {target.describe()}")
    key = _lock_key(name)
    try:
        pg = psycopg2.connect(conninfo, connect_timeout=10, application_name="scorecards-lock")
    except psycopg2.Error as exc:
        raise catalog_error(target, exc) from None
    try:
        pg.autocommit = True
        with pg.cursor() as cur:
            deadline = time.monotonic() + wait_s
            delay = 0.02
            while True:
                cur.execute("SELECT pg_try_advisory_lock(%s)", (key,))
                if cur.fetchone()[0]:
                    break
                if time.monotonic() > deadline:
                    raise WarehouseBusyError(
                        f"lock {name!r} on {target.describe()} held by another process for "
                        f"more than {wait_s:.0f} s"
                    )
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
            try:
                yield
            finally:
                # closing the session would release it too; unlock first so a pooled or
                # slow-closing connection cannot keep it
                with contextlib.suppress(psycopg2.Error):
                    cur.execute("SELECT pg_advisory_unlock(%s)", (key,))
    finally:
        pg.close()
