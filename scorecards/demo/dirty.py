"""Rows that break the contract the way real exports do, so validation has something to catch.

They come from a random stream of their own: with or without them, the clean rows are the same.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from scorecards.demo.model import SEGMENTS

_GARBLED = "31.02.2026 25:61"
# Dirty rows, interleaved so that a small data set still gets a bit of everything.
_DIRTY = {
    "tickets": [
        "unknown_channel",
        "first_response_before_created",
        "missing_customer_id",
        "duplicate_exact",
        "duplicate_conflicting",
        "unparsable_resolved_at",
        "unknown_channel",
        "duplicate_exact_other_file",
        "first_response_before_created",
        "not_a_boolean",
        "missing_team",
        "unparsable_created_at",
        "duplicate_conflicting",
        "unknown_channel",
        "first_response_before_created",
    ],
    "surveys": [
        "score_out_of_range",
        "unknown_survey_type",
        "missing_score",
        "duplicate_exact",
        "duplicate_conflicting",
        "score_out_of_range",
        "duplicate_exact_other_file",
        "unparsable_submitted_at",
        "missing_customer_id",
        "unknown_survey_type",
        "score_not_whole",
        "score_out_of_range",
    ],
    "customers": [
        "churned_before_since",
        "duplicate_exact",
        "unparsable_churned_at",
        "duplicate_conflicting",
        "churned_before_since",
        "missing_customer_id",
        "duplicate_exact",
        "churned_before_since",
        "unparsable_churned_at",
    ],
}
_SETS = {
    "unknown_channel": ("channel", "fax"),
    "unparsable_created_at": ("created_at", _GARBLED),
    "unparsable_resolved_at": ("resolved_at", _GARBLED),
    "unparsable_submitted_at": ("submitted_at", _GARBLED),
    "unparsable_churned_at": ("churned_at", _GARBLED),
    "missing_customer_id": ("customer_id", None),
    "missing_team": ("team", ""),
    "missing_score": ("score", None),
    "not_a_boolean": ("escalated", "maybe"),
    "unknown_survey_type": ("survey_type", "stars"),
    "score_not_whole": ("score", "4.5"),
}


class DirtyRows:
    """The dirty rows still to place per dataset, what was placed, and the clean row each file
    leaves for a later file of its dataset to duplicate."""

    def __init__(self, seed: int, dirty: bool) -> None:
        self.rng = np.random.default_rng([seed, 1])
        self.queue = {k: list(v) if dirty else [] for k, v in _DIRTY.items()}
        self.counts = {k: Counter() for k in _DIRTY}
        self.carry: dict[str, dict | None] = {"tickets": None, "surveys": None}

    def pending(self, dataset: str) -> int:
        return len(self.queue[dataset])

    def place(self, dataset: str, table: pa.Table, n: int, eligible: np.ndarray) -> pa.Table:
        """`table` with the next `n` dirty rows of `dataset` placed on `eligible` rows."""
        table, carry = _dirty(
            table,
            self.queue[dataset][:n],
            eligible,
            self.rng,
            self.carry.get(dataset),
            self.counts[dataset],
        )
        if dataset in self.carry:
            self.carry[dataset] = carry
        self.queue[dataset] = self.queue[dataset][n:]
        return table


def _shift_text(text: str, seconds: float) -> str:
    dt = datetime.fromisoformat(text) + timedelta(seconds=int(seconds))
    return dt.isoformat(sep="T" if dt.tzinfo else " ")


def _conflicting(row: dict) -> dict:
    """A copy of `row` with one value changed, so that it conflicts with the original."""
    new = dict(row)
    for col in ("contacts", "score", "segment"):
        if col in new and new[col] is not None:
            if col == "segment":
                new[col] = SEGMENTS[(SEGMENTS.index(new[col]) + 1) % 3]
            elif col == "score":
                # Step down where possible: a step up from the top of the scale would be
                # out of range and be quarantined as that instead of as a conflict.
                v = int(new[col])
                new[col] = str(v - 1 if v >= 2 else v + 1)
            else:
                new[col] = str(int(new[col]) + 1)
            break
    return new


def _replacement(kind: str, row: dict, rng: np.random.Generator, carry: dict | None) -> list:
    """The rows that take the place of `row` to make it a dirty row of this kind."""
    new = dict(row)
    if kind in _SETS:
        col, val = _SETS[kind]
        new[col] = val
        return [new]
    if kind == "first_response_before_created":
        new["first_response_at"] = _shift_text(row["created_at"], -rng.integers(300, 7200))
        return [new]
    if kind == "churned_before_since":
        new["churned_at"] = _shift_text(row["customer_since"], -rng.integers(1, 400) * 86400)
        return [new]
    if kind == "score_out_of_range":
        new["survey_type"], new["score"] = "csat", "9"
        return [new]
    if kind == "duplicate_conflicting":
        return [row, _conflicting(row)]
    # exact duplicates: right after the original, or a row carried from another file
    return [row, carry if kind.endswith("other_file") and carry else row]


def _dirty(
    table: pa.Table,
    kinds: list[str],
    eligible: np.ndarray,
    rng: np.random.Generator,
    carry: dict | None,
    counts: Counter,
) -> tuple[pa.Table, dict | None]:
    """Replace a few eligible rows by broken versions (duplicates: the row plus a copy) and
    return the new table and a clean row a later file can duplicate."""
    pool = np.flatnonzero(eligible)
    if not kinds or len(pool) <= len(kinds):
        return table, carry
    picked = np.sort(rng.choice(pool, len(kinds) + 1, replace=False))
    keep, victims = int(picked[-1]), picked[:-1]
    order = rng.permutation(len(kinds))
    rows, parts, prev = [], [], 0
    for pos, row in zip(victims, table.take(victims).to_pylist(), strict=True):
        kind = kinds[order[len(parts) // 2]]
        reps = _replacement(kind, row, rng, carry)
        counts[kind] += 1
        parts += [np.arange(prev, pos), np.arange(len(rows), len(rows) + len(reps)) + len(table)]
        rows += reps
        prev = pos + 1
    parts.append(np.arange(prev, len(table)))
    extra = pa.Table.from_pylist(rows, schema=table.schema)
    out = pa.concat_tables([table, extra]).take(np.concatenate(parts))
    return out, table.slice(keep, 1).to_pylist()[0]
