"""The send policy as plain code (scorecards/delivery/policy.py): which runs send, and what the
admins and the run's failure say when the gate stops the e-mails or deliveries fail."""

from __future__ import annotations

from pathlib import Path

from scorecards.delivery.gate import GateCheck, GateResult
from scorecards.delivery.ledger import FAILED, IN_DOUBT, SENT, Delivery, Outcome
from scorecards.delivery.policy import (
    SEND_TAG,
    RunStart,
    delivery_failure,
    doubt_alert,
    explicit_request,
    gate_alert,
    gate_failure,
    not_sent_note,
    send_decision,
)
from scorecards.delivery.send import DeliveryReport

MONTH = "2026-10"
SCHEDULED = RunStart(
    months=[MONTH], own_schedule=True, schedule="monthly", scheduled_month=MONTH, partition=MONTH
)


def test_explicit_request_from_tag_and_config() -> None:
    assert explicit_request({}, None) == ()
    assert explicit_request({SEND_TAG: "False"}, {"send": False, "resend": []}) == ()
    assert explicit_request({SEND_TAG: "TRUE"}, {}) == (f"tag {SEND_TAG}=true",)
    got = explicit_request({}, {"send": True, "resend": ["b", "a"], "confirm_sent": ["x@y"]})
    assert got == ("config send: true", "config resend: a, b", "config confirm_sent: x@y")


def test_the_schedules_own_run_sends_for_its_month_only() -> None:
    assert send_decision(SCHEDULED) == (True, f"the schedule's run for {MONTH}")
    # no partition tag at all is the run's month too; another partition is not
    assert send_decision(RunStart([MONTH], own_schedule=True, scheduled_month=MONTH))[0]
    other_partition = RunStart(
        [MONTH], own_schedule=True, schedule="monthly", scheduled_month=MONTH, partition="2026-09"
    )
    assert not send_decision(other_partition)[0]
    sends, why = send_decision(RunStart([MONTH], schedule="other", scheduled_month="2026-09"))
    assert not sends and why == f"started by the schedule other for 2026-09, not for {MONTH}"
    sends, why = send_decision(RunStart([MONTH], schedule="other"))
    assert not sends and why == f"started by the schedule other for another month, not for {MONTH}"


def test_backfills_sensors_and_manual_runs_send_only_when_asked() -> None:
    assert send_decision(RunStart([MONTH], backfill=True)) == (False, f"backfill of {MONTH}")
    assert send_decision(RunStart(["2026-09", MONTH])) == (False, f"backfill of 2026-09, {MONTH}")
    assert send_decision(RunStart([MONTH], sensor="s")) == (False, "started by the sensor s")
    assert send_decision(RunStart([MONTH])) == (
        False,
        f"{MONTH}: not the schedule's run and no explicit request",
    )
    asked = (f"tag {SEND_TAG}=true",)
    assert send_decision(RunStart(["2026-09", MONTH], request=asked, backfill=True)) == (
        True,
        f"explicit request (tag {SEND_TAG}=true)",
    )


def test_a_reexecution_sends_only_with_a_request_of_its_own() -> None:
    asked = ("config send: true",)
    copied = RunStart([MONTH], asked, parent_run_id="p", parent_request=asked)
    assert not send_decision(copied)[0]
    # the schedule's tags copied from the parent do not count either
    rerun = RunStart(**{**SCHEDULED.__dict__, "parent_run_id": "p", "parent_request": ()})
    sends, why = send_decision(rerun)
    assert not sends and why.startswith("re-execution of run p: ") and SEND_TAG in why
    sends, why = send_decision(RunStart([MONTH], asked, parent_run_id="p", parent_request=()))
    assert sends and why == "re-execution of run p with an explicit request of its own (" + (
        "config send: true)"
    )
    # the parent could not be read: no send
    assert not send_decision(RunStart([MONTH], asked, parent_run_id="p"))[0]


def test_not_sent_note_says_how_to_send() -> None:
    note = not_sent_note("backfill of 2026-10")
    assert note.startswith("backfill of 2026-10: no e-mail sent") and f"{SEND_TAG}=true" in note


def test_gate_alert_and_failure_name_the_failed_checks() -> None:
    failed = [
        GateResult(
            "2026-09",
            [GateCheck("b_check", False, "b went wrong"), GateCheck("ok", True, "fine")],
        ),
        GateResult(MONTH, [GateCheck("a_check", False, "a went wrong")]),
    ]
    subject, lines = gate_alert(failed, "run-1")
    assert subject == f"Scorecards for 2026-09, {MONTH} not sent: a_check, b_check"
    assert lines == [
        "Nothing was sent for 2026-09: the delivery gate failed.",
        "",
        "- b_check: b went wrong",
        "",
        f"Nothing was sent for {MONTH}: the delivery gate failed.",
        "",
        "- a_check: a went wrong",
        "",
        "Dagster run: run-1",
    ]
    assert gate_failure(failed) == (
        "delivery gate failed; nobody was sent a scorecard: "
        f"2026-09 b_check: b went wrong; {MONTH} a_check: a went wrong"
    )


def _report(*outcomes: tuple[str, str, str]) -> DeliveryReport:
    report = DeliveryReport(MONTH, "smtp")
    for recipient, status, error in outcomes:
        d = Delivery(MONTH, "alpha", recipient, Path("alpha.pdf"), "ab" * 32)
        report.outcomes.append(Outcome(d, status, 1, f"<{recipient}>", error))
    return report


def test_doubt_alert_lists_doubts_then_other_failures() -> None:
    report = _report(
        ("a@example.com", SENT, ""),
        ("b@example.com", FAILED, "550 no such user"),
        ("c@example.com", IN_DOUBT, "timeout after DATA"),
    )
    subject, lines = doubt_alert([report], "run-2")
    assert subject == f"Scorecard e-mails in doubt for {MONTH}"
    assert lines[0].startswith("1 scorecard e-mail(s) are in doubt")
    assert f"- {MONTH} alpha → c@example.com, Message-ID <c@example.com>" in lines
    assert (
        "  ops: {scorecard_emails: {config: {confirm_sent: ['<address>']}}}  if it arrived, or"
        in (lines)
    )
    other = lines.index("Other failed deliveries (the next run that sends tries them again):")
    assert lines[other + 1] == f"- {MONTH} alpha → b@example.com: 550 no such user"
    assert lines[-2:] == ["", "Dagster run: run-2"]


def test_delivery_failure_counts_failed_and_doubtful() -> None:
    assert delivery_failure([_report(("a@example.com", SENT, ""))]) is None
    report = _report(("b@example.com", FAILED, "550"), ("c@example.com", IN_DOUBT, "timeout"))
    assert delivery_failure([_report(("a@example.com", SENT, "")), report]) == (
        f"2 delivery(ies) failed or in doubt: {MONTH}: {report.failure_text()}"
    )
