"""Command line for scripted runs: `python -m pipelines.cli demo | run | months`.

`demo` is what `make demo` calls: demo data when the landing folder is empty, then every asset
for every month in one run, recorded in $DAGSTER_HOME so the UI shows it.
"""

from __future__ import annotations

import argparse
import os
import sys

import dagster as dg
import pandas as pd

from pipelines.definitions import build_definitions
from scorecards.contract import TICKETS
from scorecards.delivery import outbox_dir
from scorecards.kpis import markdown_preview
from scorecards.landing import list_landing_files
from scorecards.publish import scorecard_dir
from scorecards.settings import Settings, load_settings

PARTITIONED = ["tickets", "survey_responses", "customer_churn_risk", "team_kpis"]


def partition_keys(defs: dg.Definitions) -> list[str]:
    return defs.resolve_assets_def("team_kpis").partitions_def.get_partition_keys()


def run(
    settings: Settings,
    first: str | None = None,
    last: str | None = None,
    scorecards: bool = True,
    email: bool = False,
) -> bool:
    """Materialize customers, then the partitioned assets for [first, last] in a single run."""
    defs = build_definitions(settings)
    keys = partition_keys(defs)
    first, last = first or keys[0], last or keys[-1]
    if first not in keys or last not in keys:
        raise SystemExit(f"months must be within {keys[0]}...{keys[-1]}, got {first}...{last}")
    instance = dg.DagsterInstance.get()
    assets = list(defs.assets)
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
        steps.append((selection, {"dagster/partition": last}))
    for selection, tags in steps:
        result = dg.materialize(
            assets,
            selection=selection,
            resources=defs.resources,
            instance=instance,
            tags=tags,
            raise_on_error=False,
            # The run's full event log is in the UI; the terminal gets warnings and errors only.
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        if not result.success:
            print(
                f"run {result.run_id} failed; open `make ui` and look at the run for details",
                file=sys.stderr,
            )
            return False
    print(f"materialized {', '.join(['customers', *PARTITIONED])} for {first}...{last}")
    if scorecards:
        print(f"rendered {'and e-mailed ' if email else ''}the scorecards for {last}")
    return True


def _print_outputs(settings: Settings, last: str) -> None:
    print("\noutputs:")
    print(f"  warehouse      {settings.warehouse_path}")
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


def demo(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not list_landing_files(settings.landing_dir, TICKETS):
        from scorecards.demo import generate

        print(f"no landing data in {settings.landing_dir}: generating demo data ...")
        generate(
            settings.data_dir,
            months=args.months,
            teams=8,
            tickets_per_month=args.tickets_per_month,
            seed=1,
        )
    ok = run(settings, email=True)
    if ok:
        _print_outputs(settings, partition_keys(build_definitions(settings))[-1])
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.cli")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_demo = sub.add_parser("demo", help="demo data if none, then all assets for all months")
    p_demo.add_argument("--months", type=int, default=24)
    p_demo.add_argument("--tickets-per-month", type=int, default=20000)
    p_run = sub.add_parser("run", help="all assets for a range of months (default: all)")
    p_run.add_argument("--from", dest="first")
    p_run.add_argument("--to", dest="last")
    p_run.add_argument(
        "--email", action="store_true", help="also e-mail the last month's scorecards"
    )
    sub.add_parser("months", help="print the partition range")
    args = parser.parse_args(argv)
    if args.cmd == "demo":
        return demo(args)
    settings = load_settings()
    if args.cmd == "months":
        keys = partition_keys(build_definitions(settings))
        print(f"{keys[0]}...{keys[-1]}")
        return 0
    return 0 if run(settings, args.first, args.last, email=args.email) else 1


if __name__ == "__main__":
    raise SystemExit(main())
