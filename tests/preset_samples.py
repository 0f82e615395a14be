"""The preset sample exports (scorecards/presets/samples/) and which preset each one tests, for
tests/test_presets.py and tests/test_presets_end_to_end.py."""

from __future__ import annotations

import pandas as pd

from scorecards.config import sources as src
from scorecards.config.sources import load_preset

PRESETS = src.PRESETS_DIR
SAMPLES = PRESETS / "samples"
# preset -> the sample it is tested on (survey presets share their tickets preset's export).
SAMPLE_OF = {
    "zendesk": "zendesk.csv",
    "freshdesk": "freshdesk.csv",
    "servicenow": "servicenow.csv",
    "servicenow_event_log": "servicenow_event_log.csv",
    "jira_service_management": "jira_service_management.csv",
    "jira_service_management_survey": "jira_service_management.csv",
    "call_centre": "call_centre.csv",
    "call_centre_survey": "call_centre.csv",
    "survey": "survey.csv",
}
TICKET_PRESETS = [p for p in SAMPLE_OF if load_preset(p)["dataset"] == "tickets"]


def read_sample(name: str) -> pd.DataFrame:
    """A sample as plain strings, with the encoding and delimiter it is written in."""
    path = SAMPLES / name
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
        enc = "utf-8-sig"
    except UnicodeDecodeError:
        enc = "cp1252"
    first = raw.split(b"\n", 1)[0]
    sep = ";" if first.count(b";") > first.count(b",") else ","
    return pd.read_csv(path, sep=sep, encoding=enc, dtype=str, keep_default_na=False)
