# ruff: noqa: F811 - the fixtures env and built come from tests/test_delivery.py
"""The hand-off from rendering to delivery: rendering writes each scorecard's e-mail summary into
the record next to its PDF (scorecards/render/content.py), the same the report gives, and
delivery sends from it without building any report again; a missing or unreadable summary is a
recorded failure that names the file, never a message sent without it."""

from __future__ import annotations

import hashlib
import json
import re
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pandas as pd
import pytest

from scorecards.delivery.mail import MailBuilder
from scorecards.delivery.send import deliver
from scorecards.delivery.smtp import FileOutbox
from scorecards.notes.manual import load_manual_notes
from scorecards.render.batch import OVERVIEW, scorecard_dir
from scorecards.render.content import (
    SummaryUnreadable,
    read_record,
    read_summary,
    record_path,
)
from scorecards.report import data as report_data
from scorecards.report import summary as report_summary
from scorecards.report.summary import (
    SUMMARY_VERSION,
    HeadlineKpi,
    MailSummary,
    _headline,
    summary_from_dict,
    summary_to_dict,
)
from scorecards.warehouse.connection import connect
from scorecards.warehouse.teams import for_month
from tests.conftest import Env
from tests.test_delivery import (  # noqa: F401 - fixtures
    MONTH,
    SENDER,
    built,
    env,
)

NAMES = ("alpha", "beta", OVERVIEW)


def _rebuilt(env: Env) -> dict[str, MailSummary]:
    """The summaries as delivery built them before rendering wrote them: from the warehouse."""
    settings = for_month(env.settings(), MONTH)
    data = report_data.load_month(settings, MONTH)
    manual = load_manual_notes(settings.config_dir, MONTH, list(settings.teams))
    out = {
        t: report_summary.team_summary(
            report_data.team_report(settings, data, settings.teams[t], manual)
        )
        for t in NAMES
        if t != OVERVIEW
    }
    out[OVERVIEW] = report_summary.overview_summary(
        report_data.overview_report(settings, data, manual), data, OVERVIEW
    )
    return out


def _pdf(env: Env, name: str) -> Path:
    return scorecard_dir(env.settings(), MONTH) / f"{name}.pdf"


def test_each_record_carries_the_summary_the_report_gives(env: Env) -> None:
    rebuilt = _rebuilt(env)
    for name in NAMES:
        pdf = _pdf(env, name)
        record = json.loads(record_path(pdf).read_text(encoding="utf-8"))
        assert record["summary"]["version"] == SUMMARY_VERSION
        assert read_summary(pdf, name, MONTH) == rebuilt[name]
        # the ledger's view of the record is what it was
        sha = hashlib.sha256(pdf.read_bytes()).hexdigest()
        assert read_record(pdf, sha) == record
        assert len(record["content_sha256"]) == 64 and record["pdf_sha256"] == sha


def test_delivery_sends_from_the_records_without_building_a_report(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _rebuilt(env)

    def no(*args: object, **kwargs: object) -> None:
        raise AssertionError("delivery built a report")

    for module, name in (
        (report_data, "load_month"),
        (report_data, "team_report"),
        (report_data, "overview_report"),
        (report_summary, "team_summary"),
        (report_summary, "overview_summary"),
    ):
        monkeypatch.setattr(module, name, no)
    # and the reports' data is gone from the warehouse
    with connect(env.settings().warehouse) as con:
        con.execute("DROP TABLE team_kpis")
    outbox = env.data / "out" / MONTH / "outbox"
    report = deliver(env.settings(), MONTH, FileOutbox(outbox), SENDER, run_id="r1")
    assert report.count("sent") == 4 and not report.failures
    # each message is, byte for byte, the one the summary built from the warehouse gives
    # (but for the MIME boundary, which is random)
    again_box = env.root / "again"
    for path in sorted(outbox.glob("*.eml")):
        sent = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        name = path.name.split("__")[0]
        again = MailBuilder().scorecard(
            expected[name],
            _pdf(env, name).read_bytes(),
            sender=SENDER.address,
            to=sent["To"],
            msg_id=sent["Message-ID"],
            reply_to=SENDER.reply_to,
            date=sent["Date"].datetime,
        )
        FileOutbox(again_box).send(again, SENDER.address, [sent["To"]], path.stem)
        assert _unbounded(path.read_bytes()) == _unbounded((again_box / path.name).read_bytes())


def _unbounded(raw: bytes) -> bytes:
    return re.sub(rb"===============\d+==", b"BOUNDARY", raw)


def _no_summary(path: Path) -> None:
    record = json.loads(path.read_text(encoding="utf-8"))
    del record["summary"]
    path.write_text(json.dumps(record), encoding="utf-8")


def _other_version(path: Path) -> None:
    record = json.loads(path.read_text(encoding="utf-8"))
    record["summary"]["version"] = SUMMARY_VERSION + 1
    path.write_text(json.dumps(record), encoding="utf-8")


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (_no_summary, "no e-mail summary in"),  # rendered before summaries were written
        (lambda p: p.write_text("{not json", encoding="utf-8"), "cannot read the e-mail summary"),
        (lambda p: p.unlink(), "is missing"),
        (_other_version, "format version"),
    ],
)
def test_a_scorecard_without_a_readable_summary_is_not_sent(env: Env, damage, says: str) -> None:  # noqa: ANN001
    path = record_path(_pdf(env, "beta"))
    damage(path)
    outbox = env.data / "out" / MONTH / "outbox"
    report = deliver(env.settings(), MONTH, FileOutbox(outbox), SENDER, run_id="r1")
    [failure] = report.failures
    assert failure.delivery.team == "beta" and failure.status == "failed"
    assert says in failure.error and str(path) in failure.error
    assert f"materialize team_scorecards for {MONTH}" in failure.error
    assert report.count("sent") == 3
    assert not [p for p in outbox.glob("*.eml") if p.name.startswith("beta__")]


def test_summary_is_versioned_plain_json() -> None:
    summary = MailSummary(
        name="billing",
        display_name="Abrechnung",
        locale="de",
        month="2026-10",
        headline=[HeadlineKpi("CSAT", "79,5\u202f%", "", "", "n = 12", missed=True)],
        note="Wartung <b>am 12.</b>",
        note_is_manual=True,
        status="1 von 3 Zielen verfehlt",
        attention=["CSAT fällt."],
    )
    data = json.loads(json.dumps(summary_to_dict(summary)))
    assert data["version"] == SUMMARY_VERSION and data["headline"][0]["missed"] is True
    assert summary_from_dict(data) == summary
    for broken, says in (
        ({**data, "version": 0}, "format version"),
        ({**data, "extra": 1}, "extra: unknown field"),
        ({k: v for k, v in data.items() if k != "locale"}, "locale: missing"),
        ({**data, "note_is_manual": "yes"}, "note_is_manual: bool expected"),
        ({**data, "attention": [1]}, "attention: a list of str expected"),
        ({**data, "headline": [{"label": "x"}]}, "headline[0].arrow: missing"),
        ([], "not a JSON object"),
    ):
        with pytest.raises(ValueError, match=says.replace("[", r"\[").replace("]", r"\]")):
            summary_from_dict(broken)


def test_a_summary_of_another_scorecard_is_refused(tmp_path: Path) -> None:
    pdf = tmp_path / "alpha.pdf"
    summary = MailSummary(name="beta", display_name="Beta", locale="en", month=MONTH)
    record_path(pdf).write_text(json.dumps({"summary": summary_to_dict(summary)}))
    with pytest.raises(SummaryUnreadable, match=r"is for beta 2026-04, not alpha 2026-04"):
        read_summary(pdf, "alpha", MONTH)


@pytest.mark.parametrize(
    ("n", "target", "missed"),
    [(9, "target +40.0, not judged on so few cases", False), (400, "✗ target missed: +40.0", True)],
)
def test_a_headline_kpi_on_few_cases_is_not_judged_against_its_target(n, target, missed) -> None:  # noqa: ANN001
    rows = pd.DataFrame(
        [{"kpi": "nps", "value": 20.0, "n": n, "prev_value": 20.0, "target": 40.0}]
    ).set_index("kpi")
    [k] = _headline(rows, ["nps"], "en")
    assert k.missed is missed
    assert k.target.replace("\u00a0", " ") == target
