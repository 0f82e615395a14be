"""Command line for scripted runs: `python -m pipelines.cli demo | run | months`.

`demo` is what `make demo` calls: demo data when the landing folder is empty, then every asset
for every month with data in one run, recorded in $DAGSTER_HOME so the UI shows it.

`run` and `months` first scan the landing folder (a bad file stops here, as one line naming the
file) and record the months with data in `<data dir>/.state/months.json`, where the Dagster
definitions take their first partition from. Without `--from`/`--to`, `run` covers the months
that have data, not every month up to the last calendar month. A failed run prints each failed
check's explanation and each failed step's error as one line; `--debug` adds tracebacks.

Exit codes: 0 done, 1 a run failed, 2 bad configuration, input file or arguments.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import traceback
from dataclasses import replace
from typing import TextIO

import dagster as dg
import pandas as pd

from pipelines.definitions import build_definitions
from pipelines.partitions import (
    Clock,
    partition_start,
    read_state,
    record_landing_months,
    state_path,
    utc_now,
)
from pipelines.partitions import partition_keys as _keys
from pipelines.sensors import failure_lines
from scorecards.config.settings import ConfigError, Settings, load_settings
from scorecards.contract.datasets import TICKETS
from scorecards.core.periods import month_range
from scorecards.delivery.send import outbox_dir
from scorecards.ingest.landing import InputFileError, list_landing_files
from scorecards.kpis.preview import markdown_preview
from scorecards.render.batch import scorecard_dir

PARTITIONED = ["tickets", "survey_responses", "customer_churn_risk", "team_kpis"]


class UsageError(Exception):
    """A request the CLI cannot carry out as asked (months out of range, no data): one line."""


def partition_keys(defs: dg.Definitions, clock: Clock | None = None) -> list[str]:
    return _keys(defs.resolve_assets_def("team_kpis").partitions_def, clock)


def data_range(data_months: list[str], keys: list[str]) -> tuple[str, str] | None:
    """First and last month with landing data inside the partitions, or None."""
    have = [m for m in data_months if keys and keys[0] <= m <= keys[-1]]
    return (have[0], have[-1]) if have else None


def _instance() -> dg.DagsterInstance:
    if not os.environ.get("DAGSTER_HOME"):
        raise UsageError(
            "DAGSTER_HOME is not set: set it to the folder of the Dagster instance "
            "(`make` uses ./.dagster) so the UI sees the runs"
        )
    return dg.DagsterInstance.get()


def _report_failure(
    instance: dg.DagsterInstance, run_id: str, what: str, err: TextIO, debug: bool
) -> None:
    print(f"run {run_id} failed ({what}):", file=err)
    for line in failure_lines(instance, run_id) or ["no failed step or check was recorded"]:
        print(f"  {line}", file=err)
    if debug:
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
            data = entry.dagster_event.step_failure_data if entry.dagster_event else None
            if data and data.error:
                print(f"\n--- {entry.step_key} ---\n{data.error.to_string()}", file=err)
    print("  the full log: the run in the Dagster UI (`make ui`, Runs)", file=err)


def _months_to_run(
    settings: Settings,
    data_months: list[str],
    keys: list[str],
    first: str | None,
    last: str | None,
) -> tuple[str, str]:
    """[first, last] as asked, or the months with landing data; UsageError outside `keys`."""
    if not keys:
        raise UsageError("no complete month to run yet (the partitions are empty)")
    if first is None or last is None:
        found = data_range(data_months, keys)
        if found is None:
            raise UsageError(
                f"no landing data in {keys[0]}...{keys[-1]} under {settings.landing_dir}"
                + (f" (data found for {data_months[0]}...{data_months[-1]})" if data_months else "")
                + "; give --from/--to to run months anyway"
            )
        first, last = first or found[0], last or found[1]
    if first not in keys or last not in keys or first > last:
        raise UsageError(f"months must be within {keys[0]}...{keys[-1]}, got {first}...{last}")
    return first, last


def _run_steps(
    first: str, last: str, scorecards: bool, email: bool
) -> list[tuple[list[str], dict[str, str]]]:
    """The runs to launch in order, each an asset selection and its run tags."""
    steps: list[tuple[list[str], dict[str, str]]] = [
        (["customers"], {}),
        (
            PARTITIONED,
            {
                "dagster/asset_partition_range_start": first,
                "dagster/asset_partition_range_end": last,
            },
        ),
    ]
    if scorecards:
        # PDFs (and with `email` their e-mails) for the range's last month only: older months
        # are a backfill away in the UI. The e-mails go to the file outbox unless SMTP_HOST is
        # set, and the ledger makes a second `make demo` send nothing new.
        selection = ["team_scorecards", "scorecard_emails"] if email else ["team_scorecards"]
        # --email is an explicit request: only the schedule's own runs send without one
        asked = {"scorecards/send_email": "true"} if email else {}
        steps.append((selection, {"dagster/partition": last, **asked}))
    return steps


def run(
    settings: Settings,
    first: str | None = None,
    last: str | None = None,
    scorecards: bool = True,
    email: bool = False,
    *,
    instance: dg.DagsterInstance | None = None,
    clock: Clock = utc_now,
    debug: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> bool:
    """Materialize customers, then the partitioned assets for [first, last] in a single run.

    Without first/last: the months with landing data. Raises InputFileError for an unreadable
    landing file (before anything runs) and UsageError for months outside the partitions."""
    out, err = out or sys.stdout, err or sys.stderr
    data_months = record_landing_months(settings, clock)
    defs = build_definitions(settings, clock=clock)
    first, last = _months_to_run(settings, data_months, partition_keys(defs, clock), first, last)
    empty = [m for m in month_range(first, last) if m not in data_months]
    if empty:
        print(f"note: no landing data for {', '.join(empty)}; their checks will fail", file=err)
    instance = instance or _instance()
    assets = list(defs.assets)
    for selection, tags in _run_steps(first, last, scorecards, email):
        result = dg.materialize(
            assets,
            selection=selection,
            resources=defs.resources,
            instance=instance,
            tags=tags,
            raise_on_error=False,
            # The run's full event log is in the UI; the terminal gets the failure summary
            # (with --debug also Dagster's warnings and errors, tracebacks included).
            run_config={
                "loggers": {
                    "console": {"config": {"log_level": "WARNING" if debug else "CRITICAL"}}
                }
            },
        )
        if not result.success:
            months = tags.get("dagster/partition") or (
                f"{first}...{last}" if tags else "whole table"
            )
            _report_failure(
                instance, result.run_id, f"{', '.join(selection)}; {months}", err, debug
            )
            return False
    print(f"materialized {', '.join(['customers', *PARTITIONED])} for {first}...{last}", file=out)
    if scorecards:
        print(f"rendered {'and e-mailed ' if email else ''}the scorecards for {last}", file=out)
    return True


def _print_outputs(settings: Settings, last: str) -> None:
    print("\noutputs:")
    print(f"  warehouse      {settings.warehouse.describe()}")
    print(
        f"  KPI table      {settings.out_dir / last / 'team_kpis.csv'}  (one per month in {settings.out_dir})"
    )
    print(f"  churn risk     {settings.out_dir / last / 'churn_risk.csv'}  (docs/churn-risk.md)")
    print(f"  quarantine     {settings.quarantine_dir}")
    print(f"  scorecards     {scorecard_dir(settings, last)}  (one PDF per team and overview.pdf)")
    if os.environ.get("SMTP_HOST"):
        print(f"  e-mail         sent through {os.environ['SMTP_HOST']} (ledger: delivery_ledger)")
    else:
        print(
            f"  e-mail         {outbox_dir(settings, last)}  (.eml files; set SMTP_HOST to send, "
            "docs/delivery.md)"
        )
    print("  Dagster UI     make ui  (http://127.0.0.1:3000)")
    csv = settings.out_dir / last / "team_kpis.csv"
    if csv.exists():
        print(f"\ncompany figures (ALL) for {last}:\n")
        print(markdown_preview(pd.read_csv(csv)))


def demo(args: argparse.Namespace, clock: Clock = utc_now) -> int:
    settings = load_settings()
    if not list_landing_files(settings.landing_dir, TICKETS):
        from scorecards.demo.generate import generate

        print(f"no landing data in {settings.landing_dir}: generating demo data ...")
        generate(
            settings.data_dir,
            months=args.months,
            teams=8,
            tickets_per_month=args.tickets_per_month,
            seed=1,
        )
    ok = run(settings, email=True, clock=clock, debug=args.debug)
    if ok:
        keys = partition_keys(build_definitions(settings, clock=clock), clock)
        found = data_range(list(read_state(settings).months), keys)
        _print_outputs(settings, found[1] if found else keys[-1])
    return 0 if ok else 1


def months(settings: Settings, clock: Clock = utc_now) -> int:
    """Scan the landing folder, record its months and print the partition range it gives."""
    data_months = record_landing_months(settings, clock)
    keys = partition_keys(build_definitions(settings, clock=clock), clock)
    print(f"{keys[0]}...{keys[-1]}" if keys else "no partitions yet")
    print(f"partitions start: {partition_start(settings, clock).detail}")
    if data_months:
        print(f"months with data: {data_months[0]}...{data_months[-1]} ({len(data_months)})")
        gaps = [m for m in month_range(data_months[0], data_months[-1]) if m not in data_months]
        if gaps:
            print(f"months without data inside that range: {', '.join(gaps)}")
    else:
        print(f"no landing data under {settings.landing_dir}")
    print(f"recorded in {state_path(settings)}")
    return 0


def sources(args: argparse.Namespace) -> int:
    """`sources suggest|check <file>`: draft or try a mapping (scorecards/ingest/source_tools/)."""
    from scorecards.ingest.source_tools.cli import main_sources

    return main_sources(args.action, args.file, args.dataset)


def _parser() -> argparse.ArgumentParser:
    # --debug before or after the command; the subcommands' copy defaults to SUPPRESS so it
    # does not reset a --debug given before the command
    def debug_flag(default: object) -> argparse.ArgumentParser:
        flag = argparse.ArgumentParser(add_help=False)
        flag.add_argument(
            "--debug",
            action="store_true",
            default=default,
            help="print tracebacks, not only the one-line errors",
        )
        return flag

    parser = argparse.ArgumentParser(prog="python -m pipelines.cli", parents=[debug_flag(False)])
    common = debug_flag(argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_demo = sub.add_parser(
        "demo", parents=[common], help="demo data if none, then all assets for all months"
    )
    p_demo.add_argument("--months", type=int, default=24)
    p_demo.add_argument("--tickets-per-month", type=int, default=20000)
    p_run = sub.add_parser(
        "run",
        parents=[common],
        help="all assets for a range of months (default: the months with data)",
    )
    p_run.add_argument("--from", dest="first", help="first month, YYYY-MM")
    p_run.add_argument("--to", dest="last", help="last month, YYYY-MM")
    p_run.add_argument(
        "--email", action="store_true", help="also e-mail the last month's scorecards"
    )
    sub.add_parser(
        "months", parents=[common], help="scan the landing folder, print the partition range"
    )
    sub.add_parser(
        "pool",
        parents=[common],
        help="set the warehouse pool's limit on the instance ($DAGSTER_HOME) now, not at the "
        "first run, so Deployment > Concurrency shows it",
    )
    sub.add_parser(
        "clean",
        parents=[common],
        help="delete what runs made in the data dir (warehouse, outputs, quarantine, cache), "
        "keeping the landing files",
    )
    # --- sources suggest|check (docs/sources.md) ---
    p_src = sub.add_parser(
        "sources", parents=[common], help="draft (suggest) or try (check) a mapping for a file"
    )
    p_src.add_argument("action", choices=["suggest", "check"])
    p_src.add_argument("file")
    p_src.add_argument("--dataset", choices=["tickets", "surveys", "customers"])
    return parser


def pool(instance: dg.DagsterInstance | None = None) -> int:
    """The check each run makes when it starts (assets/concurrency.py), made now."""
    from assets.concurrency import WAREHOUSE_POOL, PoolLimitError, ensure_pool_limit

    instance = instance or dg.DagsterInstance.get()
    try:
        state = ensure_pool_limit(instance)
    except PoolLimitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if state.source == "default":
        # the same limit, written for the pool itself: the UI lists only pools' own limits
        instance.event_log_storage.set_concurrency_slots(WAREHOUSE_POOL, state.limit)
        state = replace(state, source="pool")
    limit = "no storage for pools" if not state.supported else f"limit {state.limit}"
    print(f"concurrency pool {WAREHOUSE_POOL}: {limit} ({state.source})")
    return 0


def clean(settings: Settings) -> int:
    """`make clean`: what the runs wrote, in the data dir the settings name (the one place that
    knows where it is), not the landing files people brought."""
    data = settings.data_dir
    wal = settings.warehouse_path.with_name(settings.warehouse_path.name + ".wal")
    made = [
        settings.warehouse_path,
        wal,
        settings.out_dir,
        settings.quarantine_dir,
        data / ".cache",
    ]
    for path in made:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    print(f"removed the outputs of runs in {data} (landing files kept)")
    return 0


def main(
    argv: list[str] | None = None,
    *,
    clock: Clock = utc_now,
    instance: dg.DagsterInstance | None = None,
) -> int:
    args = _parser().parse_args(argv)
    if args.cmd == "sources":
        return sources(args)
    if args.cmd == "pool":
        return pool(instance)
    try:
        if args.cmd == "demo":
            return demo(args, clock)
        settings = load_settings()
        if args.cmd == "clean":
            return clean(settings)
        if args.cmd == "months":
            return months(settings, clock)
        ok = run(
            settings,
            args.first,
            args.last,
            email=args.email,
            instance=instance,
            clock=clock,
            debug=args.debug,
        )
        return 0 if ok else 1
    except (ConfigError, InputFileError, UsageError) as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
