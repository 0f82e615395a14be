"""What the Dagster UI shows, on a real (temporary) Dagster instance: after a range run every
month of team_scorecards carries the metadata of its own files; months that were not e-mailed
are visibly not sent; the delivery gate is blocking; descriptions survive Markdown; counts are
integers."""

from __future__ import annotations

import hashlib
import re

import dagster as dg
import pytest

from pipelines.definitions import build_definitions
from scorecards.render import batch
from tests.conftest import Env
from tests.test_dagster import _fill, _run

MONTHS = ["2026-03", "2026-04"]
RANGE = {
    "dagster/asset_partition_range_start": MONTHS[0],
    "dagster/asset_partition_range_end": MONTHS[-1],
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    env = Env(tmp_path_factory.mktemp("ui-metadata"))
    _fill(env)
    defs = build_definitions(env.settings())
    with pytest.MonkeyPatch.context() as mp, dg.instance_for_test() as instance:
        mp.setattr(batch, "default_workers", lambda: 1)
        assert _run(defs, instance, ["customers"]).success
        upstream = [
            k.to_user_string()
            for k in defs.resolve_all_asset_keys()
            if k.to_user_string() not in ("customers", "team_scorecards", "scorecard_emails")
        ]
        up = _run(defs, instance, upstream, tags=RANGE)
        assert up.success
        scorecards = _run(defs, instance, ["team_scorecards"], tags=RANGE)
        assert scorecards.success
        emails = _run(defs, instance, ["scorecard_emails"], tags=RANGE)
        assert emails.success
        yield env, defs, instance, {"up": up, "scorecards": scorecards, "emails": emails}


def _latest(instance: dg.DagsterInstance, asset: str, month: str) -> dg.AssetMaterialization:
    got = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[month]), limit=1
    )
    [record] = got.records
    return record.asset_materialization


def _mats(result: dg.ExecuteInProcessResult, asset: str) -> list[dg.AssetMaterialization]:
    return [
        m
        for m in result.asset_materializations_for_node(asset)
        if m.asset_key.to_user_string() == asset
    ]


def test_range_run_records_each_months_own_files(world) -> None:
    env, _, instance, runs = world
    # one materialization per month of the range, from the one run
    assert sorted(m.partition for m in _mats(runs["scorecards"], "team_scorecards")) == MONTHS
    hashes = {
        m: hashlib.sha256(
            (env.data / "out" / m / "scorecards" / "alpha.pdf").read_bytes()
        ).hexdigest()[:12]
        for m in MONTHS
    }
    assert hashes[MONTHS[0]] != hashes[MONTHS[1]]
    for month in MONTHS:
        other = next(m for m in MONTHS if m != month)
        meta = _latest(instance, "team_scorecards", month).metadata
        assert meta["month"].value == month
        assert meta["folder"].value.endswith(f"{month}/scorecards")
        assert hashes[month] in meta["files"].value
        assert hashes[other] not in meta["files"].value
        assert meta["preview"].value.startswith(f"**{month}**")
        assert meta["scorecards"].value == 2
        assert meta["run_months"].value == f"{MONTHS[0]}…{MONTHS[-1]}"


def test_months_not_emailed_are_visibly_not_sent(world) -> None:
    _, _, instance, runs = world
    checks = {c.check_name: c for c in runs["emails"].get_asset_check_evaluations()}
    sent = checks["emails_sent"]
    assert not sent.passed and sent.severity == dg.AssetCheckSeverity.WARN
    assert sent.description.startswith("Not sent: backfill of 2026-03, 2026-04")
    for month in MONTHS:
        meta = _latest(instance, "scorecard_emails", month).metadata
        assert meta["emailed"].value is False
        assert meta["status"].value.startswith("NOT SENT")
        assert f"no message of {month} has ever been sent" in meta["status"].value
        assert meta["delivered_earlier"].value == 0


def test_delivery_gate_is_blocking(world) -> None:
    _, defs, _, _ = world
    emails = defs.resolve_assets_def("scorecard_emails")
    specs = {s.name: s for s in emails.check_specs}
    assert specs["delivery_gate"].blocking is True
    assert specs["emails_sent"].blocking is False


def test_descriptions_have_no_text_markdown_would_swallow(world) -> None:
    _, defs, _, _ = world
    texts: list[str] = []
    for ad in defs.assets:
        texts += [d for d in ad.descriptions_by_key.values() if d]
        texts += [s.description for s in ad.check_specs if s.description]
    assert any("<team>.pdf" in t for t in texts)
    for text in texts:
        outside_code = re.sub(r"`[^`]*`", "", text)
        assert not re.search(r"<[A-Za-z/]", outside_code), text


def test_kpi_counts_are_integers(world) -> None:
    _, _, instance, _ = world
    matrix = _latest(instance, "team_kpis", MONTHS[-1]).metadata["kpis_by_team"].value
    [volume] = [line for line in matrix.splitlines() if re.match(r"\| Ticket volume +\|", line)]
    cells = [c.strip() for c in volume.strip("|").split("|")[1:]]
    assert cells and all(re.fullmatch(r"\d{1,3}(,\d{3})*", c) for c in cells), cells


def test_deliveries_table_shows_each_outcome_with_its_cells() -> None:
    """The `deliveries` Markdown of scorecard_emails: one row per outcome, status first, a `|`
    inside an error message cannot break the table."""
    import pandas as pd

    from assets.delivery import _md
    from tests.test_dagster import markdown_rows

    class Report:
        def __init__(self, df: pd.DataFrame) -> None:
            self.df = df

        def table(self) -> pd.DataFrame:
            return self.df

    df = pd.DataFrame(
        {
            "status": ["sent", "failed"],
            "team": ["alpha", "beta"],
            "recipient": ["a@example.com", "b@example.com"],
            "attempts": [1, 3],
            "error": ["", "550 mailbox | unavailable"],
            "pdf_sha256": ["ab12", "cd34"],
        }
    )
    rows = markdown_rows(_md(Report(df)))
    assert list(rows[0]) == ["status", "team", "recipient", "attempts", "error", "PDF"]
    assert [r["status"] for r in rows] == ["sent", "failed"]
    assert rows[1]["error"] == "550 mailbox / unavailable" and rows[1]["attempts"] == "3"
    assert rows[0]["PDF"] == "`ab12`"
    assert _md(Report(df.iloc[:0])) == "_nothing to send_"
