"""The demo's landing files: names, formats, local time strings and writing them safely."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from scorecards.demo.model import NEVER, TZ

FORMATS = ("csv", "parquet", "mixed")
DATASETS = ("tickets", "surveys", "customers")
_FILE_RE = re.compile(r"^(tickets_\d{4}-\d{2}|surveys_\d{4}-Q\d|customers)\.(csv|parquet)$")


def clear_landing(data_dir: Path) -> Path:
    """`data_dir/landing` with its dataset folders, without the files an earlier run wrote."""
    landing = data_dir / "landing"
    for ds in DATASETS:
        (landing / ds).mkdir(parents=True, exist_ok=True)
        for old in (landing / ds).iterdir():  # a rerun replaces its own files, nothing else
            if _FILE_RE.match(old.name):
                old.unlink()
    return landing


def quarter_of(month: str) -> str:
    return f"{month[:4]}-Q{(int(month[5:]) + 2) // 3}"


@dataclass(frozen=True)
class Layout:
    """Which files are CSV (the rest Parquet) and which CSV file has naive local timestamps."""

    csv_t: list[bool]  # per month
    naive_t: int  # month index
    quarter: list[str]  # per month
    csv_q: dict[str, bool]  # per quarter
    naive_q: str | None

    @classmethod
    def of(cls, months: list[str], cal: np.ndarray, fmt: str) -> Layout:
        n = len(months)
        csv_t = [fmt == "csv" or (fmt == "mixed" and i % 2 == 0) for i in range(n)]
        naive_t = next(
            (i for i in range(n) if csv_t[i] and cal[i] != 10),
            next((i for i in range(n) if csv_t[i]), -1),
        )
        quarter = [quarter_of(m) for m in months]
        qfiles = list(dict.fromkeys(quarter))
        csv_q = {q: fmt == "csv" or (fmt == "mixed" and i % 2 == 0) for i, q in enumerate(qfiles)}
        naive_q = next(
            (q for q in qfiles if csv_q[q] and not q.endswith("Q4")),
            next((q for q in qfiles if csv_q[q]), None),
        )
        return cls(csv_t, naive_t, quarter, csv_q, naive_q)


class Clock:
    """Local time strings fast: Europe/Berlin's UTC offset looked up per hour, not per value."""

    def __init__(self, lo: int, hi: int) -> None:
        hours = pd.date_range(
            pd.Timestamp(lo - 3600, unit="s", tz="UTC").floor("h"),
            pd.Timestamp(hi + 3600, unit="s", tz="UTC"),
            freq="h",
        )
        self.base = int(hours[0].timestamp())
        local = hours.tz_convert(TZ).tz_localize(None).as_unit("s").asi8
        self.off = local - hours.tz_localize(None).as_unit("s").asi8

    def strings(self, secs: np.ndarray, naive: bool) -> pa.Array:
        mask = secs == NEVER
        s = np.where(mask, self.base, secs)
        off = self.off[(s - self.base) // 3600]
        txt = pa.array(np.datetime_as_string((s + off).astype("M8[s]"), unit="s"), mask=mask)
        if naive:
            return pc.replace_substring(txt, "T", " ", max_replacements=1)
        uniq, inv = np.unique(off, return_inverse=True)
        labels = pa.array(
            [
                f"{'+' if o >= 0 else '-'}{abs(o) // 3600:02d}:{abs(o) % 3600 // 60:02d}"
                for o in uniq
            ]
        )
        return pc.binary_join_element_wise(txt, labels.take(pa.array(inv)), "")


class Sink:
    """One landing file, written chunk by chunk under a hidden name and renamed when complete,
    so a pipeline reading the folder meanwhile never sees half a file."""

    def __init__(self, path: Path, csv: bool) -> None:
        self.path, self.csv, self.rows, self._w = path, csv, 0, None
        self._tmp = path.with_name(f".{path.name}.tmp")

    def write(self, table: pa.Table) -> None:
        if self._w is None:
            self._w = (
                pcsv.CSVWriter(self._tmp, table.schema)
                if self.csv
                else pq.ParquetWriter(self._tmp, table.schema)
            )
        self._w.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        if self._w is not None:
            self._w.close()
            self._w = None
            os.replace(self._tmp, self.path)


def ids(prefix: str, seq: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(seq), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def as_text(arr: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pc.cast(pa.array(arr, mask=mask), pa.string())
