"""Transactions on the warehouse, and writes that survive DuckLake's write conflicts.

DuckLake detects conflicts at commit, e.g. "Transaction conflict - attempting to insert into
table ... but another transaction has deleted from it", when two processes write one table at
once, even different months of it. The loser's work is rolled back whole, so running it again
is safe. On the DuckDB file a writer holds the file alone and this never happens.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
import weakref
from collections.abc import Callable, Iterator
from typing import TypeVar

import duckdb

from scorecards.config.environment import DEFAULT_RETRIES

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_BACKOFF_S = 0.2
RETRY_MAX_BACKOFF_S = 5.0

# How often a connection's writes are tried: `connect` records its target's retry count
# (SCORECARDS_WAREHOUSE_RETRIES) here, so the writers need not carry the setting around.
_TRIES: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, int] = weakref.WeakKeyDictionary()


def set_tries(con: duckdb.DuckDBPyConnection, tries: int) -> None:
    """Retry `con`'s write transactions up to `tries` times in all."""
    _TRIES[con] = tries


def tries_of(con: duckdb.DuckDBPyConnection) -> int:
    """How often `con`'s writes are tried in all (`set_tries`, else the default)."""
    return _TRIES.get(con, DEFAULT_RETRIES)


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN TRANSACTION; COMMIT when the block ends normally; ROLLBACK when it raises (a
    failed COMMIT has already ended the transaction)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        # after a failed COMMIT there is no transaction left to roll back
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise


def is_conflict(exc: BaseException) -> bool:
    """Whether `exc` is a write conflict that running the write again can resolve."""
    return isinstance(exc, duckdb.Error) and "conflict" in str(exc).lower()


def retry(
    fn: Callable[[], T],
    what: str,
    tries: int = DEFAULT_RETRIES,
    where: str = "the warehouse",
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`fn()`, run again with a growing pause while it fails with a write conflict, up to
    `tries` times in all; `what` and `where` name it in the log."""
    delay = RETRY_BACKOFF_S
    for attempt in range(1, tries + 1):
        try:
            return fn()
        except duckdb.Error as exc:
            if not is_conflict(exc) or attempt == tries:
                raise
            # jitter: two losers of one conflict should not collide again on the same beat
            pause = delay * (0.5 + random.random())
            log.warning(
                "%s: transaction conflict on %s (attempt %d of %d), retrying in %.2f s: %s",
                what,
                where,
                attempt,
                tries,
                pause,
                str(exc).splitlines()[0],
            )
            sleep(pause)
            delay = min(delay * 2, RETRY_MAX_BACKOFF_S)
    raise AssertionError("unreachable")


def write_transaction(
    con: duckdb.DuckDBPyConnection,
    fn: Callable[[], T],
    what: str = "warehouse write",
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `fn` (the statements of one write) in a transaction and commit; when DuckLake reports
    a transaction conflict, roll back and run all of `fn` again, with a growing pause, up to the
    connection's retry count. `fn` must therefore only write through `con` (no side effects
    elsewhere) and decide from what it reads inside the transaction."""

    def once() -> T:
        with transaction(con):
            return fn()

    return retry(once, what, tries_of(con), sleep=sleep)
