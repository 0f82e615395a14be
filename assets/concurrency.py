"""Who may write the warehouse at the same time: one Dagster concurrency pool, defined here.

Every asset that reads or writes the warehouse is in the pool WAREHOUSE_POOL (`pool=` on the
asset). A pool's limit is an instance setting in Dagster (the `concurrency: pools:` part of
dagster.yaml, `dagster instance concurrency set`, or the UI), so the limit the code needs is
defined here and checked, and where missing set, each time a run starts (`ensure_pool_limit`,
called from the ScorecardsConfig resource):

- DuckDB file (the default): one process at a time may open the file for writing, so the limit is
  1. Steps of other runs wait for the slot ("Step blocked by limit for pool warehouse" in the
  run log) instead of failing on DuckDB's lock, and a backfill is one run over its range.
- DuckLake: writers commit through the catalog, so months run in parallel: the limit is
  DUCKLAKE_POOL_LIMIT and a backfill is one run per month.

The pool is enforced per step (granularity "op", Dagster's default): the executor claims a slot
before a step of the pool runs and frees it afterwards, in every run on an instance with
persistent storage, whichever launched it (the daemon's queue, the UI, `python -m pipelines.cli`).
docs/dagster-production.md, "Concurrency", explains the settings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import dagster as dg

from scorecards.config.environment import Environment

WAREHOUSE_POOL = "warehouse"
WarehouseKind = Literal["duckdb", "ducklake"]

# one writer at a time for the DuckDB file; DuckLake: this many months at once (each run is
# single-threaded: two shared cores and the catalog database are the limit, not the lake)
DUCKLAKE_POOL_LIMIT = 4
POOL_LIMITS: dict[str, int] = {"duckdb": 1, "ducklake": DUCKLAKE_POOL_LIMIT}

log = logging.getLogger(__name__)


class PoolLimitError(dg.DagsterError):
    """The instance would let more writers into the warehouse than its backend takes."""


def warehouse_kind() -> WarehouseKind:
    """ "duckdb" or "ducklake": the kind of `Settings.warehouse`, which SCORECARDS_WAREHOUSE
    chooses (docs/warehouse.md). Taken from the environment because the asset builders run
    without settings; the data dir plays no part in the kind. A malformed value still gives a
    kind (by its prefix), so the code location loads and the run reports the value's error."""
    return Environment().warehouse_kind


def pool_limit(kind: str | None = None) -> int:
    """The warehouse pool's limit the backend needs (DuckDB file: 1)."""
    return POOL_LIMITS[kind or warehouse_kind()]


def backfill_policy(kind: str | None = None) -> dg.BackfillPolicy:
    """DuckDB file: one run over the whole range (one writer anyway, and one process start);
    DuckLake: one run per month, run in parallel up to the pool's limit."""
    if (kind or warehouse_kind()) == "ducklake":
        return dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
    return dg.BackfillPolicy.single_run()


@dataclass(frozen=True)
class PoolState:
    """The warehouse pool as an instance sees it."""

    supported: bool  # the instance's storage keeps pool slots (not an in-memory instance)
    limit: int | None  # None: no limit, any number of steps at once
    source: str  # "pool" (set for this pool), "default" (concurrency.pools.default_limit), "none"
    granularity: str  # "op" or "run"


def pool_state(instance: dg.DagsterInstance, pool: str = WAREHOUSE_POOL) -> PoolState:
    pool_config = instance.get_concurrency_config().pool_config
    granularity = pool_config.pool_granularity.value if pool_config.pool_granularity else "op"
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return PoolState(False, None, "none", granularity)
    row = next((p for p in storage.get_pool_limits() if p.name == pool), None)
    default = pool_config.default_pool_limit
    if row is not None and not (row.from_default and row.limit != default):
        # a limit set for the pool, or one taken from the default that is still the default
        return PoolState(True, row.limit, "default" if row.from_default else "pool", granularity)
    if default is not None:
        return PoolState(True, default, "default", granularity)
    return PoolState(True, None, "none", granularity)


def ensure_pool_limit(
    instance: dg.DagsterInstance, kind: str | None = None, logger: logging.Logger | None = None
) -> PoolState:
    """Check, before a run's first step, that the instance lets no more writers into the
    warehouse than the backend takes; set the pool's limit when the instance has none for it
    (or only the default one).

    Raises PoolLimitError, failing the run before it touches anything, when the DuckDB file
    would get two writers: a limit above 1 for the pool (set in the UI or with `dagster instance
    concurrency set`, or concurrency.pools.default_limit above 1), or granularity "run" (which
    leaves runs not started by the queue, such as the CLI's, unguarded)."""
    logger = logger or log
    kind = kind or warehouse_kind()
    need = pool_limit(kind)
    state = pool_state(instance)
    if not state.supported:
        # an in-memory instance: one process, nothing to share a slot with
        logger.debug("instance without pool storage: the %s pool is not enforced", WAREHOUSE_POOL)
        return state
    fix = f"`dagster instance concurrency set {WAREHOUSE_POOL} {need}`"
    if kind == "duckdb" and state.granularity != "op":
        raise PoolLimitError(
            f"the instance's concurrency.pools.granularity is {state.granularity!r}: pool slots "
            "are then only counted by the run queue, and a run started another way could open "
            "the DuckDB warehouse while another writes it. Remove the setting or set it to 'op'."
        )
    if state.limit is None or (state.source == "default" and state.limit != need):
        # no limit, or one the pool only has from concurrency.pools.default_limit: the code's
        instance.event_log_storage.set_concurrency_slots(WAREHOUSE_POOL, need)
        (logger.warning if state.limit is None else logger.info)(
            "concurrency pool %r: limit set to %d for the %s warehouse (the instance had %s)",
            WAREHOUSE_POOL,
            need,
            kind,
            "no limit" if state.limit is None else f"the default limit {state.limit}",
        )
        return PoolState(True, need, "pool", state.granularity)
    if kind == "duckdb" and state.limit > need:
        raise PoolLimitError(
            f"concurrency pool {WAREHOUSE_POOL!r} allows {state.limit} steps at once (set on "
            "this instance in the UI, Deployment > Concurrency, or with the dagster CLI), "
            f"but the DuckDB warehouse file takes one writer at a time: set it to {need} with "
            f"{fix}, or set SCORECARDS_WAREHOUSE to a DuckLake catalog (docs/dagster-production.md)."
        )
    if state.limit == 0:
        logger.warning(
            "concurrency pool %r has limit 0: no step that uses the warehouse will start; %s",
            WAREHOUSE_POOL,
            fix,
        )
    elif state.limit != need:
        logger.info(
            "concurrency pool %r: limit %d from the instance (%s), the %s warehouse takes up to %d",
            WAREHOUSE_POOL,
            state.limit,
            state.source,
            kind,
            need,
        )
    return state
