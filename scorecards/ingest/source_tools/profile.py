"""Reading a vendor export for `sources suggest`: encoding, delimiter, header and a sample of rows.

This reads the file the way a person would look at it, to draft a mapping; the engine that loads
it (scorecards.ingest.landing) reads it again under the mapping finally written.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_ROWS = 5000
DELIMITERS = (",", ";", "\t", "|")


@dataclass
class FileProfile:
    path: Path
    encoding: str  # "utf-8", "utf-8-sig" (with BOM) or "cp1252"
    delimiter: str
    header: list[str]  # as written
    ignored: dict[int, str]  # column index -> why it is ignored (empty or duplicate name)
    rows: list[list[str]]  # sampled data rows
    rows_total: int  # data rows in the file (parsed), or the sample size for Parquet
    notes: list[str] = field(default_factory=list)

    @property
    def encoding_label(self) -> str:
        return {
            "utf-8-sig": "UTF-8 with BOM",
            "utf-8": "UTF-8",
            "cp1252": "cp1252 (Windows-1252)",
        }.get(self.encoding, self.encoding)

    @property
    def columns(self) -> list[str]:
        """The usable source columns: header names that are neither empty nor repeated."""
        return [h for i, h in enumerate(self.header) if i not in self.ignored]

    def values(self, name: str) -> list[str]:
        i = self.header.index(name)
        return [r[i].strip() if i < len(r) else "" for r in self.rows]


def detect_encoding(raw: bytes) -> str:
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A sample cut in the middle of a multi-byte character is still UTF-8.
        if exc.start < len(raw) - 4:
            return "cp1252"
    return "utf-8"


def detect_delimiter(text: str) -> str:
    """The candidate that splits the header into most fields and the next lines into as many."""
    lines = [ln for ln in text.splitlines()[:30] if ln.strip()]
    if not lines:
        return ","
    best, best_key = ",", (-1, -1)
    for d in DELIMITERS:
        rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=d))
        n = len(rows[0])
        if n < 2:
            continue
        consistent = sum(1 for r in rows[1:] if len(r) == n)
        key = (consistent, n)
        if key > best_key:
            best, best_key = d, key
    return best


def _ignored_columns(header: list[str]) -> dict[int, str]:
    ignored: dict[int, str] = {}
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        key = name.strip().lower()
        if not key:
            ignored[i] = f"column {i + 1} has an empty name: ignored"
        elif key in seen:
            ignored[i] = (
                f"column {i + 1} {name.strip()!r} repeats the name of column {seen[key] + 1}: "
                "ignored"
            )
        else:
            seen[key] = i
    return ignored


def read_profile(path: Path, sample_rows: int = SAMPLE_ROWS) -> FileProfile:
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        import duckdb

        con = duckdb.connect()
        rel = con.execute(
            "SELECT * FROM read_parquet(?) LIMIT ?", [str(path), sample_rows]
        ).fetchall()
        header = [d[0] for d in con.description]
        total = con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()[0]
        rows = [["" if v is None else str(v) for v in r] for r in rel]
        return FileProfile(path, "parquet", "", header, _ignored_columns(header), rows, total)
    raw = path.read_bytes()
    if not raw.strip():
        raise ValueError(f"{path}: empty file")
    encoding = detect_encoding(raw[: 4 << 20])
    text = raw.decode(encoding, errors="replace")
    delimiter = detect_delimiter(text[:200_000])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, [])
    rows: list[list[str]] = []
    total = 0
    for r in reader:
        if not any(c.strip() for c in r):
            continue
        total += 1
        if len(rows) < sample_rows:
            rows.append(r)
    prof = FileProfile(path, encoding, delimiter, header, _ignored_columns(header), rows, total)
    widths = Counter(len(r) for r in rows)
    odd = sum(n for w, n in widths.items() if w != len(header))
    if odd:
        prof.notes.append(
            f"{odd} sampled row(s) have a different number of fields than the header "
            f"({len(header)}): the engine will refuse the file until that is fixed"
        )
    return prof
