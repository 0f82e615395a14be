"""Write-audit-publish: a load that fails a blocking check changes nothing.

Real components: the code location's assets on a Dagster test instance, the warehouse (the
DuckDB file and DuckLake, tests/conftest.py),
landing CSVs; the ingest's clock is injected, so the tests pass on any day."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from assets.ingest import build_ingest_assets
from pipelines.definitions import build_definitions
from pipelines.sensors import failure_lines
from scorecards.core.periods import month_range
from scorecards.ingest.audit import IngestRejected
from scorecards.ingest.load import ingest_events
from scorecards.warehouse.connection import connect
from scorecards.warehouse.tables import dump
from tests.conftest import TEAMS, Env, customer, ticket
from tests.test_completeness import at, clock, event_rows

MONTHS = ("2026-08", "2026-11")
NOV = "2026-11"
INGEST = {"tickets", "survey_responses", "customers"}
RANGE = {
    "dagster/asset_partition_range_start": MONTHS[0],
    "dagster/asset_partition_range_end": MONTHS[1],
}


def _month_rows() -> list[dict]:
    return event_rows(month_range(*MONTHS))


def _day(row: dict) -> date:
    return date.fromisoformat(row["created_at"][:10])


def _env(tmp_path: Path) -> Env:
    env = Env(tmp_path, teams={**TEAMS, "first_month": MONTHS[0]})
    env.tickets(_month_rows(), "tickets_export.csv")
    env.customers([customer(f"C{i}", "2025-01-01") for i in range(40)])
    return env


def _defs(env: Env) -> tuple[list[dg.AssetsDefinition], dict]:
    """The code location's assets, with the ingest assets taking the injected clock."""
    defs = build_definitions(env.settings(), clock=clock)
    partitions = defs.resolve_assets_def("team_kpis").partitions_def
    kept = [a for a in defs.assets if not {k.to_user_string() for k in a.keys} & INGEST]
    return [*kept, *build_ingest_assets(partitions, clock)], defs.resources


def _run(env: Env, instance: dg.DagsterInstance, selection: list[str], **kw):
    assets, resources = _defs(env)
    return dg.materialize(
        assets,
        selection=selection,
        resources=resources,
        instance=instance,
        raise_on_error=False,
        **kw,
    )


MONTHLY = ["tickets", "survey_responses", "team_kpis"]

# every test here runs on the DuckDB file and on DuckLake (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("warehouse_backend")


def _state(env: Env) -> dict[str, object]:
    """Everything a load may change: the warehouse, the published quarantine files, the KPI
    CSVs."""
    quarantine = env.data / "quarantine"
    return {
        "warehouse": dump(env.settings().warehouse),
        "quarantine": {
            str(p.relative_to(quarantine)): p.read_bytes()
            for p in sorted(quarantine.rglob("*.csv"))
            if "rejected" not in p.parts
        },
        "out": {
            str(p.relative_to(env.data)): p.read_bytes()
            for p in sorted((env.data / "out").rglob("team_kpis.csv"))
        },
    }


def _failure(result: dg.ExecuteInProcessResult) -> str:
    [step] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert step.step_key == "ingest_events"
    return step.event_specific_data.user_failure_data.description


def _nov_tickets(env: Env) -> int:
    with connect(env.settings().warehouse, read_only=True) as con:
        return con.execute("SELECT count(*) FROM tickets WHERE period = ?", [NOV]).fetchone()[0]


@pytest.fixture
def published(warehouse_backend: object, tmp_path: Path):
    """A good load of August to November with KPIs, on a test instance."""
    env = _env(tmp_path)
    with dg.instance_for_test() as instance:
        assert _run(env, instance, ["customers"]).success
        first = _run(env, instance, MONTHLY, tags=RANGE)
        assert first.success
        yield env, instance


def test_a_bad_update_file_is_rejected_and_the_previous_load_stays(published) -> None:
    env, instance = published
    before = _state(env)
    nov_rows = _nov_tickets(env)
    # An update export re-sends 200 of November's open tickets, now with resolved_at: each
    # ticket exists twice with conflicting values, both copies are quarantined (27%).
    resent = [
        {**r, "resolved_at": at(_day(r), 23 * 60)}
        for r in _month_rows()
        if r["created_at"].startswith(NOV)
    ][:200]
    env.tickets(resent, "tickets_update.csv")

    result = _run(env, instance, MONTHLY, partition_key=NOV)
    assert not result.success
    # nothing was written: tables, ingest_months, quarantine files and KPIs as before
    assert _state(env) == before and _nov_tickets(env) == nov_rows
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == set()
    # the failure says why, with month, figure, threshold and what to do
    text = _failure(result)
    assert text.startswith(f"Nothing was written for {NOV}")
    assert f"{NOV} 2" in text and "above the 2.00% threshold" in text
    assert "keep the previous load" in text and f"re-materialize {NOV}" in text
    rejected = env.data / "quarantine" / "rejected" / "tickets" / f"{NOV}.csv"
    assert str(rejected) in text
    assert rejected.read_text().count("duplicate ticket_id with conflicting values") == 400
    # the check results are recorded on the instance, and the CLI / alert lines show them
    checks = {
        (e.asset_key.to_user_string(), e.check_name): e.passed
        for e in result.get_asset_check_evaluations()
    }
    assert checks[("tickets", "quarantine_share_below_threshold")] is False
    assert checks[("tickets", "data_reaches_month_end")] is True
    lines = failure_lines(instance, result.run_id)
    assert "check tickets.quarantine_share_below_threshold failed:" in lines
    assert any(
        line.startswith("step ingest_events failed: Failure: Nothing was written") for line in lines
    )

    # The export is fixed (the updated tickets replace their open versions): swapped in.
    updated = {r["ticket_id"]: r for r in resent}
    env.tickets([updated.get(r["ticket_id"], r) for r in _month_rows()], "tickets_export.csv")
    (env.landing / "tickets" / "tickets_update.csv").unlink()
    fixed = _run(env, instance, MONTHLY, partition_key=NOV)
    assert fixed.success
    assert _nov_tickets(env) == nov_rows and not rejected.exists()
    after = _state(env)
    assert after["warehouse"] != before["warehouse"]
    assert after["out"][f"out/{NOV}/team_kpis.csv"] != before["out"][f"out/{NOV}/team_kpis.csv"]
    with connect(env.settings().warehouse, read_only=True) as con:
        resolved = con.execute(
            "SELECT count(*) FROM tickets WHERE period = ? AND resolved_at IS NOT NULL", [NOV]
        ).fetchone()[0]
    assert resolved == 200


def test_a_truncated_export_cannot_replace_a_complete_month(published) -> None:
    env, instance = published
    before = _state(env)
    # The export is replaced by one cut off on the 20th, plus one ticket dated 2099.
    cut = [r for r in _month_rows() if r["created_at"][:10] <= "2026-11-20"]
    cut.append(ticket("FUTURE", "2099-01-01T10:00:00+01:00"))
    env.tickets(cut, "tickets_export.csv")

    result = _run(env, instance, MONTHLY, partition_key=NOV)
    assert not result.success
    assert _state(env) == before
    text = _failure(result)
    assert "tickets.data_reaches_month_end: the ticket data ends at 2026-11-20" in text
    assert "2026-11 has 30 days" in text
    # and the domain function says the same without Dagster
    with pytest.raises(IngestRejected, match="data_reaches_month_end"):
        ingest_events(env.settings(), [NOV], clock=clock, blocking_checks=True)
    assert _state(env) == before


def test_a_month_with_a_gap_is_rejected_before_it_is_written(published) -> None:
    env, instance = published
    before = _state(env)
    gap = [r for r in _month_rows() if not "2026-11-05" <= r["created_at"][:10] <= "2026-11-25"]
    env.tickets(gap, "tickets_export.csv")
    result = _run(env, instance, MONTHLY, partition_key=NOV)
    assert not result.success and _state(env) == before
    assert "no tickets from 5 to 25 November; usual 49 a day" in _failure(result)
