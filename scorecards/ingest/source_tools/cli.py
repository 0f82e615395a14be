"""The `sources suggest|check <file>` command; pipelines/cli.py parses its arguments."""

from __future__ import annotations

import sys
from pathlib import Path

from scorecards.ingest.source_tools.check import check
from scorecards.ingest.source_tools.suggest import suggest_text


def main_sources(action: str, file: str, dataset: str | None = None) -> int:
    """What `python -m pipelines.cli sources suggest|check` runs; returns the exit code."""
    path = Path(file)
    if not path.is_file():
        print(f"{path}: no such file", file=sys.stderr)
        return 2
    if action == "suggest":
        try:
            print(suggest_text(path, dataset), end="")
        except (OSError, ValueError) as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            return 1
        return 0
    try:
        result = check(path, dataset)
    except (OSError, ValueError) as exc:  # e.g. an invalid config/sources.yaml
        print(f"{exc}", file=sys.stderr)
        return 1
    print(result.text, end="")
    return 0 if result.ok else 1
