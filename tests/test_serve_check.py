"""`make serve-check` under pytest, so `make test` (and CI) runs it: code server, webserver and
daemon as three processes on the production instance (PostgreSQL), a three-month backfill
launched through GraphQL, every run successful, the PDFs there and no e-mail sent; on the DuckDB
file (one run over the range, one writer at a time) and on DuckLake (a run per month, months in
parallel).

PostgreSQL must be running (127.0.0.1:5432, or PGHOST/PGPORT/PGUSER/PGPASSWORD): without it the
test fails and says so, it does not skip (.ci/run starts PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.serve_check import serve_check
from scripts.serve_stack import PgServer, database_exists


def _tags(run: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["tags"]}


def _month(tags: dict[str, str]) -> str | None:
    """The one month a run covers; None for a run without partitions. A range of several
    months fails the test: on DuckLake every run is one month."""
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    assert start == end, f"a run over {start}...{end}"
    return start


@pytest.mark.parametrize("warehouse", ["duckdb", "ducklake"])
def test_serve_check(tmp_path: Path, capsys: pytest.CaptureFixture[str], warehouse: str) -> None:
    server = PgServer.from_env()
    server.connect().close()  # a clear failure when PostgreSQL is not there
    # a ceiling for a loaded machine, not a speed check (docs/benchmarks.md measures)
    result = serve_check(tmp_path / "serve-check", server, warehouse=warehouse, timeout=600)
    out = capsys.readouterr().out
    logs = "\n".join(f"  {name} log: {path}" for name, path in result.logs.items())
    assert result.ok, f"{result.message}\n{logs}\n{out}"
    assert len(result.months) == 3
    assert result.runs and all(r["status"] == "SUCCESS" for r in result.runs)
    tags = [_tags(r) for r in result.runs]
    if warehouse == "duckdb":
        # one writer: the backfill runs the months as one range (single-run backfill policy)
        ranged = [t for t in tags if "dagster/asset_partition_range_start" in t]
        assert ranged and all(
            (t["dagster/asset_partition_range_start"], t["dagster/asset_partition_range_end"])
            == (result.months[0], result.months[-1])
            for t in ranged
        )
    else:
        # DuckLake: runs of one month each (multi-run backfill policy; the customers snapshot,
        # which has no partitions, runs apart), and at least two of them at the same time
        monthly = [(r, _month(t)) for r, t in zip(result.runs, tags, strict=True) if _month(t)]
        assert {m for _, m in monthly} == set(result.months), tags
        spans = sorted((r["startTime"], r["endTime"]) for r, _ in monthly)
        assert any(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False)), spans
    # the databases are gone
    assert result.database and not database_exists(server, result.database)
    print(f"serve-check ({warehouse}) took {result.seconds:.0f}s")
