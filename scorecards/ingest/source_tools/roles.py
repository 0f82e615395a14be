"""Which export column plays which contract role, judged from the column names; which dataset a
header looks like; which shipped presets a header matches."""

from __future__ import annotations

from pathlib import Path

import yaml

from scorecards.config.sources import PRESETS_DIR, preset_names
from scorecards.contract.datasets import DATASETS
from scorecards.ingest.source_tools.synonyms import SYNONYMS
from scorecards.ingest.source_tools.values import norm_name


def name_score(name: str, synonyms: tuple[str, ...]) -> float:
    n = norm_name(name)
    if not n:
        return 0.0
    if n in synonyms:
        return 10.0 - synonyms.index(n) / len(synonyms)
    best = 0.0
    for i, s in enumerate(synonyms):
        if len(s) >= 5 and s in n:
            best = max(best, 5.0 - i / len(synonyms) - (len(n) - len(s)) / 100)
    return best


def guess_roles(
    dataset: str, names: list[str], not_timestamps: set[str] | frozenset[str] = frozenset()
) -> dict[str, str]:
    """contract column -> source column, each source column used once, best scores first.
    `not_timestamps`: source columns whose values are no timestamps, kept from timestamp roles."""
    scores = []
    cols = list(SYNONYMS[dataset])
    types = {c.name: c.type for c in DATASETS[dataset].columns}
    for c in cols:
        for n in names:
            if types[c] == "timestamp" and n in not_timestamps:
                continue
            s = name_score(n, SYNONYMS[dataset][c])
            if s > 0:
                scores.append((s, -cols.index(c), c, n))
    roles: dict[str, str] = {}
    used: set[str] = set()
    for _s, _, c, n in sorted(scores, reverse=True):
        if c not in roles and n not in used:
            roles[c] = n
            used.add(n)
    return roles


def guess_dataset(names: list[str], path: Path | None = None) -> str:
    if path is not None:
        for part in reversed(path.parts[:-1]):
            if part in DATASETS:
                return part
    best, best_score = "tickets", -1.0
    for ds in DATASETS:
        roles = guess_roles(ds, names)
        req = DATASETS[ds].required
        score = sum(2 if c in req else 1 for c in roles) / (len(DATASETS[ds].columns) + len(req))
        # A score column is what makes a survey export.
        if (
            ds == "surveys"
            and "score" in roles
            and name_score(roles["score"], ("score", "rating", "nps", "csat", "ces")) >= 5
        ):
            score += 0.3
        if score > best_score:
            best, best_score = ds, score
    return best


def matching_presets(dataset: str, names: list[str]) -> list[tuple[str, int, int]]:
    """(preset, source columns found in the header, source columns it names), best first."""
    have = {norm_name(n) for n in names}
    out = []
    for name in preset_names():
        try:
            data = yaml.safe_load((PRESETS_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if not isinstance(data, dict) or data.get("dataset") != dataset:
            continue
        wanted: set[str] = set()
        for spec in ((data.get("mapping") or {}).get("columns") or {}).values():
            if isinstance(spec, str):
                wanted.add(norm_name(spec))
            elif isinstance(spec, dict):
                for k in ("from", "date", "time"):
                    if isinstance(spec.get(k), str):
                        wanted.add(norm_name(spec[k]))
        wanted.discard("")
        if not wanted:
            continue
        found = len(wanted & have)
        if found >= 3 and found / len(wanted) >= 0.6:
            out.append((name, found, len(wanted)))
    return sorted(out, key=lambda t: (-t[1] / t[2], t[0]))
