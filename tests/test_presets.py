"""Presets (scorecards/presets/*.yaml): each loads, is complete, and fits its sample export;
the samples have the quirks they are meant to have. tests/test_presets_end_to_end.py takes each
sample from landing to KPIs and a PDF."""

from __future__ import annotations

import re

import pytest
import yaml

from scorecards.config.sources import SourcesFile, load_preset, preset_names
from scorecards.contract.datasets import DATASETS
from tests.preset_samples import PRESETS, SAMPLE_OF, SAMPLES, read_sample


def test_every_preset_has_a_sample_and_a_test() -> None:
    assert sorted(SAMPLE_OF) == preset_names()
    for name, sample in SAMPLE_OF.items():
        assert (SAMPLES / sample).is_file(), name


@pytest.mark.parametrize("name", preset_names())
def test_preset_file_is_complete_and_names_no_vendor_urls(name: str) -> None:
    data = yaml.safe_load((PRESETS / f"{name}.yaml").read_text(encoding="utf-8"))
    assert set(data) == {"dataset", "title", "docs", "notes", "mapping"}
    assert data["dataset"] in DATASETS
    for key in ("title", "docs", "notes"):
        assert isinstance(data[key], str) and len(data[key]) > 10
        assert not re.search(r"https?://|www\.", data[key]), (name, key)


@pytest.mark.parametrize("name", preset_names())
def test_selecting_a_preset_is_one_line(name: str) -> None:
    ds = load_preset(name)["dataset"]
    parsed = SourcesFile.model_validate({ds: {"preset": name}})
    mapping = parsed.for_dataset(ds)[0]
    assert mapping.preset == name
    # Every required contract column is mapped, derived, declared absent or present by name.
    header = {c.lower() for c in read_sample(SAMPLE_OF[name]).columns}
    for col in DATASETS[ds].columns:
        spec = mapping.column(col.name)
        given = spec.from_ or spec.date or spec.sql or spec.constant is not None or spec.absent
        if col.required:
            assert given or col.name in header, (name, col.name)


def test_a_preset_for_another_dataset_is_refused() -> None:
    with pytest.raises(ValueError, match="maps tickets, not surveys"):
        SourcesFile.model_validate({"surveys": {"preset": "zendesk"}})


def test_user_overrides_merge_per_column_and_per_option() -> None:
    parsed = SourcesFile.model_validate(
        {
            "tickets": {
                "preset": "zendesk",
                "timezone": "America/New_York",
                # Extra spellings at the column keep the preset's `values` (docs/presets.md).
                "columns": {
                    "team": "Organization",
                    "channel": {"from": "Via", "values": {"Carrier Pigeon": "email"}},
                },
                "csv": {"delimiter": ";"},
            }
        }
    )
    m = parsed.tickets[0]
    assert m.timezone == "America/New_York"
    assert m.columns["team"].from_ == "Organization"
    assert m.columns["ticket_id"].from_ == "Id"  # kept from the preset
    channel = m.column("channel").values
    assert channel["Carrier Pigeon"] == "email"
    assert channel["Web Form"] == "web"  # kept from the preset
    assert m.csv.delimiter == ";" and m.csv.encoding == "auto"
    # The short form adds spellings one by one too, and may map one to "no value".
    short = SourcesFile.model_validate(
        {"tickets": {"preset": "zendesk", "values": {"channel": {"Carrier Pigeon": None}}}}
    ).tickets[0]
    assert short.column("channel").values["Carrier Pigeon"] is None
    assert short.column("channel").values["Web Form"] == "web"


@pytest.mark.parametrize("name", preset_names())
def test_every_source_column_the_preset_names_is_in_its_sample(name: str) -> None:
    """Column names are matched case-insensitively; sql expressions name theirs in quotes."""
    header = {c.lower() for c in read_sample(SAMPLE_OF[name]).columns}
    m = load_preset(name)["mapping"]
    named: list[str] = []
    for spec in (m.get("columns") or {}).values():
        if isinstance(spec, str):
            named.append(spec)
            continue
        named += [spec[k] for k in ("from", "date", "time") if k in spec]
        if "sql" in spec:
            named += re.findall(r'"([^"]+)"', spec["sql"])
    named += [k["column"] for k in (m.get("event_log") or {}).get("order_by", [])]
    for flt in m.get("filters") or []:
        if (
            "column" in flt
            and flt["column"] not in DATASETS[load_preset(name)["dataset"]].column_names
        ):
            named.append(flt["column"])
    missing = [c for c in named if c.lower() not in header]
    assert not missing, (name, missing)


def test_samples_have_the_quirks_they_are_meant_to_have() -> None:
    snow = read_sample("servicenow_event_log.csv")
    assert (snow["number"].value_counts() > 1).all()  # several rows per incident
    assert (snow == "?").any().any()
    assert snow["opened_at"].str.match(r"^\d{1,2}/\d{1,2}/\d{4} \d\d:\d\d$").all()
    assert snow.duplicated().any()  # one update repeated verbatim
    assert (SAMPLES / "call_centre.csv").read_bytes().decode("cp1252")  # not UTF-8, ';'
    with pytest.raises(UnicodeDecodeError):
        (SAMPLES / "call_centre.csv").read_bytes().decode("utf-8")
    jira = read_sample("jira_service_management.csv")
    assert jira["Created"].str.match(r"^\d\d/[A-Z][a-z]{2}/\d\d \d{1,2}:\d\d [AP]M$").all()
    for name in set(SAMPLE_OF.values()):
        df = read_sample(name)
        assert 20 <= len(df) <= 60, name
    assert any("Süd" in v for v in read_sample("zendesk.csv")["Group"])
