"""`make clean` (`python -m pipelines.cli clean`): removes what runs wrote into the data dir the
settings name, and keeps the landing files."""

from __future__ import annotations

import pytest

from pipelines import cli
from tests.conftest import Env


def test_clean_removes_run_outputs_and_keeps_landing(
    env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCORECARDS_DATA_DIR", str(env.data))
    monkeypatch.setenv("SCORECARDS_CONFIG_DIR", str(env.config))
    landing = env.data / "landing" / "tickets" / "t.csv"
    landing.parent.mkdir(parents=True, exist_ok=True)
    landing.write_text("id\n1\n")
    made = [
        env.data / "warehouse.duckdb",
        env.data / "out" / "2026-04" / "team_kpis.csv",
        env.data / "quarantine" / "tickets.csv",
        env.data / ".cache" / "x",
    ]
    for path in made:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    assert cli.main(["clean"]) == 0
    assert [p for p in made if p.exists()] == []
    assert landing.read_text() == "id\n1\n"
    assert str(env.data) in capsys.readouterr().out
