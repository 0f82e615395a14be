"""Files that cannot be read stop the run naming the file; bad config names the bad key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scorecards.config.settings import ConfigError, load_settings
from scorecards.ingest.landing import InputFileError
from scorecards.ingest.load import ingest_events
from tests.conftest import TEAMS, Env, ticket

OK = "2026-04-10T10:00:00+02:00"


def test_unsupported_file_type(env: Env) -> None:
    env.tickets([ticket("T1", OK)])
    bad = env.landing / "tickets" / "export.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(InputFileError, match=r"export\.xlsx: not a CSV or Parquet file"):
        ingest_events(env.settings(), ["2026-04"])


def test_missing_required_column_names_file_and_column(env: Env) -> None:
    path = env.landing / "tickets" / "short.csv"
    path.parent.mkdir(parents=True)
    path.write_text(
        "ticket_id,customer_id,team,channel,created_at,contacts,reopened\nT1,C1,alpha,email,2026-04-01,1,no\n"
    )
    with pytest.raises(
        InputFileError, match=r"short\.csv: required column\(s\) missing after mapping: escalated"
    ):
        ingest_events(env.settings(), ["2026-04"])


def test_wrong_delimiter_gets_a_hint(env: Env) -> None:
    path = env.landing / "tickets" / "semicolons.csv"
    path.parent.mkdir(parents=True)
    path.write_text(
        "ticket_id;customer_id;team;channel;created_at;contacts;reopened;escalated\nT1;C1;alpha;email;2026-04-01;1;no;no\n"
    )
    # Detected when the delimiter is left on auto ...
    rep = ingest_events(env.settings(), ["2026-04"])["tickets"]
    assert rep.totals()["accepted"] == 1
    # ... and a hint when a wrong one is set.
    (env.config / "sources.yaml").write_text("tickets:\n  csv: {delimiter: ','}\n")
    with pytest.raises(InputFileError) as err:
        ingest_events(env.settings(), ["2026-04"])
    assert "semicolons.csv" in str(err.value)
    assert "';'-separated" in str(err.value)


def test_broken_parquet_and_ragged_csv(env: Env) -> None:
    folder = env.landing / "tickets"
    folder.mkdir(parents=True)
    (folder / "broken.parquet").write_bytes(b"this is not parquet")
    with pytest.raises(InputFileError, match=r"broken\.parquet: cannot be read"):
        ingest_events(env.settings(), ["2026-04"])
    (folder / "broken.parquet").unlink()
    env.tickets([ticket("T1", OK)], "ragged.csv")
    with (folder / "ragged.csv").open("a") as fh:
        fh.write("T2,C1,alpha,,email,2026-04-10,,,,,1,no,no,EXTRA,FIELDS\n")
    with pytest.raises(InputFileError, match=r"ragged\.csv: cannot be read"):
        ingest_events(env.settings(), ["2026-04"])


def _write_teams(env: Env, data: dict) -> None:
    (env.config / "teams.yaml").write_text(yaml.safe_dump(data))


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (
            lambda t: t["teams"][0]["targets"].update({"csatt": 80}),
            r"teams\[alpha\]\.targets: unknown KPI 'csatt'",
        ),
        (
            lambda t: t["teams"][1].update({"recipients": ["not-an-address"]}),
            r"teams\[beta\]\.recipients: invalid e-mail address 'not-an-address'",
        ),
        (lambda t: t["teams"][0].update({"locale": "fr"}), r"teams\[alpha\]\.locale"),
        (lambda t: t["teams"][0].update({"colour": "red"}), r"teams\[alpha\]\.colour: unknown key"),
        (
            lambda t: t.update({"timezone": "Mars/Olympus"}),
            r"timezone: unknown time zone 'Mars/Olympus'",
        ),
        (lambda t: t["teams"].append(dict(t["teams"][0])), r"team id 'alpha' appears twice"),
        (lambda t: t["teams"][0].update({"id": "ALL"}), r"reserved"),
        (lambda t: t["teams"][0].update({"id": "overview"}), r"reserved for the overview"),
        (lambda t: t.update({"overview": {"kpis": ["csatt"]}}), r"overview\.kpis: unknown KPI"),
        (
            lambda t: t.update({"overview": {"recipients": ["boss(at)example.com"]}}),
            r"overview\.recipients: invalid e-mail address",
        ),
        (lambda t: t.update({"quarantine_threshold": 2}), r"quarantine_threshold"),
    ],
)
def test_bad_team_config_names_the_key(env: Env, patch, message: str) -> None:
    data = yaml.safe_load(yaml.safe_dump(TEAMS))
    patch(data)
    _write_teams(env, data)
    with pytest.raises(ConfigError, match=message) as err:
        env.settings()
    assert "teams.yaml" in str(err.value)


def test_bad_sources_config(env: Env) -> None:
    (env.config / "sources.yaml").write_text("tickets:\n  colums: {ticket_id: Id}\n")
    with pytest.raises(ConfigError, match=r"sources\.yaml.*\n.*tickets\.colums: unknown key"):
        env.settings()


def test_shipped_config_is_valid() -> None:
    settings = load_settings()
    assert len(settings.teams) == 8
    for team in settings.teams.values():
        assert 3 <= len(team.headline_kpis) <= 5, team.id


def test_metrics_doc_covers_every_kpi_in_both_languages() -> None:
    from scorecards.contract.kpi_catalog import KPIS
    from scorecards.text.formatting import kpi_label
    from scorecards.text.kpi_texts import kpi_definition, kpi_denominator

    doc = (Path(__file__).resolve().parents[1] / "docs" / "metrics.md").read_text()
    sections = doc.split("\n## ")
    for kpi in KPIS:
        section = next((s for s in sections if s.startswith(f"`{kpi.id}`")), None)
        assert section is not None, f"docs/metrics.md has no section for {kpi.id}"
        for text in (
            *(kpi_label(kpi.id, locale) for locale in ("de", "en")),
            *(kpi_definition(kpi.id, locale) for locale in ("de", "en")),
            *(kpi_denominator(kpi.id, locale) for locale in ("de", "en")),
            kpi.denominator_en,
        ):
            assert text in section, (kpi.id, text)
        assert {
            "higher": "higher is better",
            "lower": "lower is better",
            "none": "no good direction",
        }[kpi.better] in section
