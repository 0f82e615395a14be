"""Writing a `Suggestion` as the draft config/sources.yaml entry that `sources suggest` prints.

Written by hand rather than by yaml.dump: one line per contract column in contract order, each
with its comment, and flow mappings a person can read and edit in place.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import yaml

from scorecards.config.sources import PRESETS_DIR
from scorecards.contract.datasets import DATASETS

if TYPE_CHECKING:
    from scorecards.ingest.source_tools.suggest import Suggestion

# The mark on every drafted line a person must look at before the mapping is used.
TO_CHECK = "to check"


def yaml_scalar(value: Any) -> str:
    """A YAML scalar or flow collection: plain when that reads back the same, else JSON."""
    plain = r"[A-Za-z_][A-Za-z0-9_ ()./-]*"
    if isinstance(value, str) and re.fullmatch(plain, value) and value == value.strip():
        try:
            if yaml.safe_load(value) == value:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value, ensure_ascii=False)


def yaml_flow(d: dict[str, Any]) -> str:
    """A one-line YAML mapping; keys quoted where YAML would read them otherwise (`true`)."""
    return "{" + ", ".join(f"{yaml_scalar(k)}: {yaml_scalar(v)}" for k, v in d.items()) + "}"


def _preset_dataset(name: str) -> str:
    try:
        return str(yaml.safe_load((PRESETS_DIR / f"{name}.yaml").read_text())["dataset"])
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return "?"


def render_yaml(s: Suggestion) -> str:
    p = s.profile
    lines = [
        f"# Drafted by `sources suggest` from {p.path.name} ({p.rows_total} data rows, "
        f"{min(p.rows_total, len(p.rows))} sampled).",
    ]
    if p.encoding != "parquet":
        delim = {"\t": "tab"}.get(p.delimiter, repr(p.delimiter))
        lines.append(f"# encoding: {p.encoding_label}; delimiter: {delim}")
    lines.append(f"# header: {' | '.join(p.header)}")
    for name, found, total in s.presets:
        lines.append(
            f"# The header matches preset {name!r} ({found} of its {total} columns, "
            f"{_preset_dataset(name)}): `preset: {name}` may replace most of this; keys below "
            "override it."
        )
    for n in s.notes:
        lines.append(f"# NOTE {n}")
    lines.append(
        "# Check every line marked 'to check', then run `python -m pipelines.cli sources check`."
    )
    lines.append(f"{s.dataset}:")
    ind = "  "
    m = s.mapping
    lines.append(f'{ind}# match: "{s.dataset}/*.csv"   # which landing files use this mapping')
    for key in ("csv", "numbers"):
        if key in m:
            lines.append(f"{ind}{key}: {yaml_flow(m[key])}")
    if "event_log" in m:
        ev = m["event_log"]
        if ev.get("order_by"):
            lines.append(f"{ind}event_log:")
            lines.append(f"{ind}  order_by: {yaml_scalar(ev['order_by'])}")
        else:
            lines.append(f"{ind}event_log: {{}}   # {TO_CHECK}: ordered by file and row")
    if "filters" in m:
        lines.append(f"{ind}filters:")
        for f in m["filters"]:
            lines.append(f"{ind}  - {yaml_flow(f)}")
    lines.append(f"{ind}columns:")
    contract_order = list(DATASETS[s.dataset].column_names)
    for c in sorted(m["columns"], key=contract_order.index):
        spec = m["columns"][c]
        comment = s.comments.get(c)
        tail = f"   # {comment}" if comment else ""
        if isinstance(spec, str):
            lines.append(f"{ind}  {c}: {yaml_scalar(spec)}{tail}")
        else:
            lines.append(f"{ind}  {c}: {yaml_flow(spec)}{tail}")
    if not m["columns"]:
        lines[-1] += " {}"
    return "\n".join(lines) + "\n"
