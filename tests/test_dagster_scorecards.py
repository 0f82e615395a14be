"""The team_scorecards asset on an ephemeral instance: files, previews, and failing at the end."""

from __future__ import annotations

import hashlib

import dagster as dg
import pytest
from pypdf import PdfReader

from pipelines.definitions import build_definitions
from scorecards.render import batch
from tests.conftest import Env
from tests.test_dagster import _fill, _run, markdown_rows

RANGE = {
    "dagster/asset_partition_range_start": "2026-03",
    "dagster/asset_partition_range_end": "2026-04",
}


@pytest.fixture
def ready(env: Env) -> tuple[Env, dg.Definitions, dg.DagsterInstance]:
    _fill(env)
    defs = build_definitions(env.settings())
    instance = dg.DagsterInstance.ephemeral()
    assert _run(defs, instance, ["customers"]).success
    upstream = [
        k.to_user_string()
        for k in defs.resolve_all_asset_keys()
        if k.to_user_string() not in ("customers", "team_scorecards")
    ]
    assert _run(defs, instance, upstream, tags=RANGE).success
    return env, defs, instance


def _materialization(result: dg.ExecuteInProcessResult) -> dg.AssetMaterialization:
    mats = [
        e.event_specific_data.materialization
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
    ]
    assert len(mats) == 1
    return mats[0]


def test_scorecards_asset_renders_every_team_with_previews(ready) -> None:
    env, defs, instance = ready
    result = _run(defs, instance, ["team_scorecards"], partition_key="2026-04")
    assert result.success
    meta = _materialization(result).metadata
    assert meta["scorecards"].value == 2
    folder = env.data / "out" / "2026-04" / "scorecards"
    assert sorted(p.name for p in folder.glob("*.pdf")) == ["alpha.pdf", "beta.pdf", "overview.pdf"]
    for name in ("alpha", "beta"):
        assert f"{name}.pdf" in meta["files"].value
        assert 2 <= len(PdfReader(str(folder / f"{name}.pdf")).pages) <= 4
    files = {row["file"]: row for row in markdown_rows(meta["files"].value)}
    assert sorted(files) == ["alpha.pdf", "beta.pdf", "overview.pdf"]
    for name, row in files.items():
        pdf = (folder / name).read_bytes()
        assert row["pages"] == str(len(PdfReader(str(folder / name)).pages))
        assert row["KB"] == f"{len(pdf) / 1024:.0f}"
        assert row["sha256"] == f"`{hashlib.sha256(pdf).hexdigest()[:12]}`"
    preview = meta["preview"].value
    assert preview.count("](data:image/png;base64,") == 2


def test_asset_fails_at_the_end_naming_the_failed_team(
    ready, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, defs, instance = ready
    real = batch._render_team

    def flaky(report, *args):  # noqa: ANN001, ANN202
        if report.team_id == "beta":
            raise ValueError("broken template for beta")
        return real(report, *args)

    monkeypatch.setattr(batch, "_render_team", flaky)
    monkeypatch.setattr(batch, "default_workers", lambda: 1)
    result = _run(defs, instance, ["team_scorecards"], partition_key="2026-04")
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = str(failure.event_specific_data.error)
    assert "beta" in message and "broken template" in message
    assert "alpha" not in message.split("failed:")[-1]
    # The team that worked is on disk all the same.
    assert (env.data / "out" / "2026-04" / "scorecards" / "alpha.pdf").exists()
