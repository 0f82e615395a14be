"""Shared helpers: build a data dir and a config dir on disk from hand-written rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from scorecards.contract import CUSTOMERS, SURVEYS, TICKETS
from scorecards.settings import Settings, load_settings

TEAMS = {
    "timezone": "Europe/Berlin",
    "quarantine_threshold": 0.02,
    "teams": [
        {
            "id": "alpha",
            "name": "Team Alpha",
            "locale": "de",
            "targets": {"csat": 80, "first_response_time": 60},
        },
        {"id": "beta", "name": "Team Beta", "locale": "en"},
    ],
}


def ticket(tid: str, created: str, team: str = "alpha", **kw: object) -> dict:
    row = {
        "ticket_id": tid,
        "customer_id": kw.pop("customer_id", "C1"),
        "team": team,
        "agent_id": "",
        "channel": "email",
        "created_at": created,
        "first_response_at": "",
        "resolved_at": "",
        "handle_time_s": "",
        "wait_time_s": "",
        "contacts": 1,
        "reopened": "false",
        "escalated": "false",
    }
    row.update(kw)
    return row


def survey(rid: str, submitted: str, survey_type: str, score: object, **kw: object) -> dict:
    row = {
        "response_id": rid,
        "ticket_id": "",
        "customer_id": "C1",
        "team": "alpha",
        "survey_type": survey_type,
        "score": score,
        "submitted_at": submitted,
        "comment": "",
    }
    row.update(kw)
    return row


def customer(cid: str, since: str, churned: str = "", segment: str = "smb") -> dict:
    return {"customer_id": cid, "customer_since": since, "churned_at": churned, "segment": segment}


def write_rows(folder: Path, name: str, rows: list[dict], columns: tuple[str, ...]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    pd.DataFrame(rows, columns=list(columns)).to_csv(path, index=False)
    return path


class Env:
    """A data dir + config dir pair under tmp_path."""

    def __init__(self, root: Path, teams: dict | None = None, sources: dict | None = None) -> None:
        self.root = root
        self.data = root / "data"
        self.config = root / "config"
        self.config.mkdir(parents=True, exist_ok=True)
        (self.config / "teams.yaml").write_text(yaml.safe_dump(teams or TEAMS))
        if sources:
            (self.config / "sources.yaml").write_text(yaml.safe_dump(sources))
        self.landing = self.data / "landing"

    def tickets(self, rows: list[dict], name: str = "tickets.csv") -> Path:
        return write_rows(self.landing / "tickets", name, rows, TICKETS.column_names)

    def surveys(self, rows: list[dict], name: str = "surveys.csv") -> Path:
        return write_rows(self.landing / "surveys", name, rows, SURVEYS.column_names)

    def customers(self, rows: list[dict], name: str = "customers.csv") -> Path:
        return write_rows(self.landing / "customers", name, rows, CUSTOMERS.column_names)

    def settings(self) -> Settings:
        return load_settings(self.data, self.config)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)
