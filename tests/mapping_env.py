"""A test environment for the mapping tests (tests/test_mapping.py, tests/test_mapping_shapes.py):
exports written into its landing folder, its sources.yaml, and the warehouse rows they became."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from scorecards.warehouse.connection import connect
from tests.conftest import TEAMS, Env

BERLIN = ZoneInfo("Europe/Berlin")


def mapping_env(tmp_path: Path) -> Env:
    # These exports are a few rows each, so one bad row is a large share: the blocking
    # quarantine check is tested elsewhere, here every row's fate is checked one by one.
    return Env(tmp_path, teams={**TEAMS, "quarantine_threshold": 1.0})


def write_export(env: Env, dataset: str, name: str, text: str, encoding: str = "utf-8") -> Path:
    folder = env.landing / dataset
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def write_sources(env: Env, sources: dict) -> None:
    (env.config / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True))


def warehouse_rows(env: Env, sql: str) -> list[tuple]:
    with connect(env.settings().warehouse_path, read_only=True) as con:
        con.execute("SET TimeZone = 'Europe/Berlin'")
        return con.execute(sql).fetchall()


def check_identity(report) -> None:  # noqa: ANN001 - an IngestReport
    """Every row read of every file is accounted for exactly once."""
    for f in report.files.itertuples():
        assert f.rows_read == (
            f.accepted + f.quarantined + f.duplicates_dropped + f.superseded + f.filtered
        ), f
