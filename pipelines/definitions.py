"""The Dagster code location: assets, checks, partitions and resources, built from the settings.

Loading it reads the configuration and at most the small months state file, never a landing
file (pipelines/partitions.py): a bad input file fails the run that reads it, while the schedule
and the failure-alert sensor keep running."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping

import dagster as dg

from assets.churn import build_churn_assets
from assets.delivery import build_delivery_assets
from assets.ingest import build_ingest_assets
from assets.kpis import build_kpi_assets
from assets.resources import MailResource, ScorecardsConfig
from assets.scorecards import build_scorecard_assets
from pipelines.partitions import Clock, first_month, monthly_partitions, utc_now
from pipelines.schedules import monthly_job, monthly_schedule
from pipelines.sensors import alert_admins_on_run_failure
from scorecards.config.settings import ConfigError, Settings, load_settings

# The backfill policy (one run per range for the DuckDB file, one per month for DuckLake:
# assets/concurrency.py) is a deliberate choice; Dagster marks the parameter beta, which is
# worth knowing once, not on every load.
warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*backfill_policy.*")


def build_definitions(
    settings: Settings | None = None,
    mail: MailResource | None = None,
    *,
    clock: Clock | None = None,
) -> dg.Definitions:
    """`clock` pins "now" (partition end and start default, the schedule's fallback) for tests;
    without it the partitions follow Dagster's clock."""
    settings = settings or load_settings()
    first = first_month(settings, clock or utc_now)
    partitions = monthly_partitions(settings, first, clock)
    assets = [
        *build_ingest_assets(partitions, clock),
        *build_churn_assets(partitions, first, settings.teams_file.churn),
        *build_kpi_assets(partitions, first),
    ]
    names = {key.to_user_string() for a in assets for key in a.keys}
    upstream = [n for n in ("team_kpis", "customer_churn_risk") if n in names]
    assets += build_scorecard_assets(partitions, upstream)
    assets += build_delivery_assets(partitions, clock)
    job = monthly_job()
    return dg.Definitions(
        assets=assets,
        jobs=[job],
        schedules=[monthly_schedule(job, settings, clock)],
        sensors=[alert_admins_on_run_failure],
        resources={
            "scorecards": ScorecardsConfig(
                data_dir=str(settings.data_dir), config_dir=str(settings.config_dir)
            ),
            "mail": mail or MailResource.from_env(),
        },
        executor=executor_from_env(),
    )


EXECUTOR_ENV = "SCORECARDS_EXECUTOR"


def executor_from_env(environ: Mapping[str, str] | None = None) -> dg.ExecutorDefinition:
    """SCORECARDS_EXECUTOR: `in_process` (default), `multiprocess` or `k8s` (a pod per step,
    with Dagster's K8sRunLauncher: docs/deployment.md).

    The default is one process per run, steps one after another: on the DuckDB file the
    warehouse takes one writer at a time anyway, and a process per step would only add start-up
    time. Whatever the executor, every step that opens the warehouse holds a slot of the
    "warehouse" pool (assets/concurrency.py), so a step per process or per pod never meets a
    lock; per-step pods pay off on DuckLake, where months run in parallel."""
    environ = os.environ if environ is None else environ
    name = environ.get(EXECUTOR_ENV, "").strip().lower() or "in_process"
    if name == "in_process":
        return dg.in_process_executor
    if name == "multiprocess":
        return dg.multiprocess_executor
    if name == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor
    raise ConfigError(f"{EXECUTOR_ENV}={name!r}: expected in_process, multiprocess or k8s")


@dg.definitions
def defs() -> dg.Definitions:
    """What `dagster dev -w workspace.yaml` and `-m pipelines.definitions` load: built when the
    code location loads, not when the module is imported (the CLI and tests import it)."""
    return build_definitions()
