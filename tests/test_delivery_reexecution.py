"""Sending is opt-in, checked through Dagster's own re-execution: runs are executed with
`dg.execute_job` on a persistent test instance and re-executed with `dg.ReexecutionOptions`,
carrying the parent's tags as the UI's re-execution does; the scorecards go to a real aiosmtpd
server, which must see nothing from a re-execution that did not ask afresh."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from assets.resources import MailResource
from pipelines.definitions import build_definitions
from pipelines.schedules import JOB, SCHEDULE
from scorecards.config.environment import CONFIG_DIR_ENV, DATA_DIR_ENV
from scorecards.delivery.policy import SEND_TAG
from tests.conftest import Env
from tests.smtp_server import LocalSmtpServer
from tests.test_delivery import MONTH
from tests.test_delivery import built as built  # noqa: PLC0414 - the fixture

EMAILS = [dg.AssetKey("scorecard_emails")]
BACKFILL_TAGS = {"dagster/backfill": "bkfl", "dagster/partition": MONTH}


def monthly_job() -> dg.JobDefinition:
    """The job as the code location defines it, read from the environment (reconstructable)."""
    return build_definitions(mail=MailResource.from_env()).resolve_job_def(JOB)


@pytest.fixture
def world(built: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """April's scorecards rendered, a server, the SMTP_* and data variables set, an instance."""
    data = tmp_path / "data"
    shutil.copytree(built.data, data)
    monkeypatch.setenv(DATA_DIR_ENV, str(data))
    monkeypatch.setenv(CONFIG_DIR_ENV, str(built.config))
    with LocalSmtpServer() as srv, dg.instance_for_test() as instance:
        monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SMTP_PORT", str(srv.port))
        monkeypatch.setenv("SMTP_SECURITY", "none")
        monkeypatch.setenv("SMTP_TIMEOUT", "10")
        monkeypatch.setenv("SMTP_FROM", "Service Scorecards <scorecards@example.com>")
        yield srv, instance


def _run(instance: dg.DagsterInstance, tags: dict[str, str], **kw) -> dg.JobExecutionResult:  # noqa: ANN003
    return dg.execute_job(
        dg.reconstructable(monthly_job), instance, tags=tags, asset_selection=EMAILS, **kw
    )


def _reexecute(
    instance: dg.DagsterInstance, parent_id: str, extra: dict[str, str] | None = None, drop=()
) -> dg.JobExecutionResult:  # noqa: ANN001
    """Re-execute as the UI does: the parent's tags copied (minus those it drops), plus extra."""
    parent = instance.get_run_by_id(parent_id)
    assert parent is not None
    tags = {k: v for k, v in parent.tags.items() if k not in drop} | (extra or {})
    return dg.execute_job(
        dg.reconstructable(monthly_job),
        instance,
        tags=tags,
        reexecution_options=dg.ReexecutionOptions(parent_run_id=parent_id),
    )


def _emails_meta(instance: dg.DagsterInstance, run_id: str) -> dict:
    [mat] = [
        e.asset_materialization
        for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    ]
    return {k: v.value for k, v in mat.metadata.items()}


def test_a_reexecuted_backfill_run_sends_nothing(world) -> None:  # noqa: ANN001
    srv, instance = world
    backfill = _run(instance, BACKFILL_TAGS)
    assert backfill.success and srv.messages == []
    # the UI's re-execution dropped the backfill tag (issue 12): still nothing
    again = _reexecute(instance, backfill.run_id, drop=("dagster/backfill",))
    assert again.success
    run = instance.get_run_by_id(again.run_id)
    assert run.parent_run_id == backfill.run_id and run.root_run_id == backfill.run_id
    assert "dagster/backfill" not in run.tags
    meta = _emails_meta(instance, again.run_id)
    assert meta["emailed"] is False and "re-execution" in meta["reason"]
    assert srv.messages == []


def test_a_reexecuted_scheduled_run_sends_only_with_a_fresh_request(world) -> None:  # noqa: ANN001
    srv, instance = world
    # the schedule's tick in May asks for April; Dagster adds dagster/schedule_name to its tags
    defs = build_definitions(mail=MailResource.from_env())
    schedule = defs.resolve_schedule_def(SCHEDULE)
    when = dt.datetime(2026, 5, 2, 7, tzinfo=ZoneInfo("Europe/Berlin"))
    with dg.build_schedule_context(
        instance=instance, scheduled_execution_time=when, repository_def=defs.get_repository_def()
    ) as ctx:
        [request] = schedule.evaluate_tick(ctx).run_requests
    assert request.tags["dagster/schedule_name"] == SCHEDULE
    assert request.partition_key == MONTH

    # b1 is refused (550) in the scheduled run, which fails after sending the others
    srv.fault("b1@example.com", "reject")
    scheduled = _run(instance, dict(request.tags))
    assert not scheduled.success
    assert sorted(r.rcpt_tos[0] for r in srv.messages) == [
        "a1@example.com",
        "a2@example.com",
        "boss@example.com",
    ]
    srv.handler.faults.clear()

    # Re-executed from the UI (tags copied, the schedule's among them): no e-mail.
    retry = _reexecute(instance, scheduled.run_id)
    assert retry.success
    assert instance.get_run_by_id(retry.run_id).tags["dagster/schedule_name"] == SCHEDULE
    assert "re-execution" in _emails_meta(instance, retry.run_id)["reason"]
    assert len(srv.messages) == 3

    # Re-executed with the send tag added: a fresh, explicit request; b1 gets it, once.
    asked = _reexecute(instance, retry.run_id, extra={SEND_TAG: "true"})
    assert asked.success
    assert [r.rcpt_tos for r in srv.messages[3:]] == [["b1@example.com"]]

    # Its own re-execution copies that tag: not fresh, nothing sent (the ledger would not
    # send anything either; the reason says which rule held it back).
    copied = _reexecute(instance, asked.run_id)
    assert copied.success and len(srv.messages) == 4
    assert _emails_meta(instance, copied.run_id)["emailed"] is False


def test_an_in_doubt_delivery_alerts_the_admins_with_what_to_check(world) -> None:  # noqa: ANN001
    srv, instance = world
    srv.fault("b1@example.com", "keep_drop")
    result = _run(instance, {"dagster/partition": MONTH, SEND_TAG: "true"})
    assert not result.success
    to_b1 = [r for r in srv.messages if r.rcpt_tos == ["b1@example.com"]]
    assert len(to_b1) == 1  # kept by the server, not sent again
    mid = to_b1[0].message()["Message-ID"]
    [alert] = [r.message() for r in srv.messages if r.rcpt_tos == ["admin@example.com"]]
    assert "in doubt" in alert["Subject"] and MONTH in alert["Subject"]
    body = alert.get_body(("plain",)).get_content()
    assert mid in body and "mailbox" in body and "confirm_sent" in body and "resend" in body
    assert result.run_id in body
    [failure] = [
        e.dagster_event
        for e in instance.all_logs(result.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    ]
    assert failure.step_failure_data.user_failure_data.metadata["admin_alert_sent"].value


@pytest.fixture(scope="module")
def warehouse_backend() -> str:
    """The fixtures imported from test_delivery run on both backends; these tests open the
    DuckDB file directly (or run the Dagster code location on it), so the file only."""
    return "duckdb"
