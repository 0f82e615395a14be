"""E-mail delivery in Dagster, end to end on an ephemeral instance against a real SMTP server:
a 12-month backfill sends nothing, the scheduled run sends one message per recipient, a second
run sends none; the gate and the run-failure sensor alert the admins; no credential is logged."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest

import assets.delivery
from assets.delivery import ALERTED, run_start
from assets.resources import MAIL_ENV, MailResource
from pipelines.definitions import build_definitions
from pipelines.partitions import record_landing_months
from pipelines.schedules import JOB
from pipelines.sensors import alert_admins_on_run_failure
from scorecards.core.periods import last_complete_month, month_range
from scorecards.delivery.policy import SEND_TAG, send_decision
from scorecards.render import batch
from tests.conftest import Env, customer, survey, ticket
from tests.smtp_server import LocalSmtpServer
from tests.test_delivery import EVERYONE, TEAMS

PASSWORD = "Pa55-w0rd-nobody-may-see"
NOW = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)
SEND = {"ops": {"scorecard_emails": {"config": {"send": True}}}}
MONTHS = month_range("2025-10", "2026-10")
BACKFILL = {
    "dagster/backfill": "abcdefgh",
    "dagster/asset_partition_range_start": "2025-10",
    "dagster/asset_partition_range_end": "2026-09",
}


def _year(env: Env) -> None:
    rows, surveys = [], []
    for month in MONTHS:
        y, m = (int(p) for p in month.split("-"))
        days = (dt.date(y + m // 12, m % 12 + 1, 1) - dt.timedelta(days=1)).day
        for day in range(1, days + 1):
            for k in range(3):
                tid = f"{month}-{day:02d}-{k}"
                team = "beta" if k == 0 else "alpha"
                rows.append(
                    ticket(
                        tid,
                        f"{month}-{day:02d}T{9 + k}:00:00+01:00",
                        team=team,
                        customer_id=f"C{(day + k) % 9}",
                        first_response_at=f"{month}-{day:02d}T{9 + k}:{10 + 7 * k}:00+01:00",
                        resolved_at=f"{month}-{day:02d}T{12 + k}:00:00+01:00",
                        handle_time_s=300 + 60 * k,
                    )
                )
            surveys.append(
                survey(f"R{month}-{day}", f"{month}-{day:02d}T18:00:00+01:00", "csat", 1 + day % 5)
            )
    env.tickets(rows)
    env.surveys(surveys)
    env.customers([customer(f"C{i}", "2025-01-01") for i in range(9)])


@pytest.fixture(scope="module")
def server():
    with LocalSmtpServer(tls=True, password=PASSWORD) as srv:
        yield srv


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, server: LocalSmtpServer):
    """Data for 13 months, definitions whose mail resource comes from SMTP_* variables (as in
    production), one instance for the whole story."""
    env = Env(tmp_path_factory.mktemp("dagster-delivery"), teams=TEAMS)
    _year(env)
    record_landing_months(env.settings())  # as `pipelines.cli run` does
    environ = {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(server.port),
        "SMTP_SECURITY": "starttls",
        "SMTP_USER": server.user,
        "SMTP_PASSWORD": PASSWORD,
        "SMTP_FROM": "Service Scorecards <scorecards@example.com>",
        "SMTP_TIMEOUT": "5",
        "SMTP_CA_FILE": server.ca_file,
    }
    with pytest.MonkeyPatch.context() as mp:
        for k, v in environ.items():
            mp.setenv(k, v)
        # one process: spawning a worker pool per month costs more than it saves on 3 PDFs
        mp.setattr(batch, "default_workers", lambda: 1)
        # the story is told on 23 November 2026: October is the latest complete month
        mp.setattr(assets.delivery, "_now", lambda: NOW)
        defs = build_definitions(env.settings(), MailResource.from_env())
        instance = dg.DagsterInstance.ephemeral()
        yield env, defs, instance


def _job(defs: dg.Definitions) -> dg.JobDefinition:
    return defs.resolve_job_def(JOB)


def _by_recipient(server: LocalSmtpServer) -> dict[str, list]:
    out: dict[str, list] = {}
    for r in server.messages:
        for rcpt in r.rcpt_tos:
            out.setdefault(rcpt, []).append(r.message())
    return out


def _materialization(result: dg.ExecuteInProcessResult, key: str) -> dg.AssetMaterialization | None:
    for e in result.all_events:
        if e.event_type_value == "ASSET_MATERIALIZATION":
            mat = e.event_specific_data.materialization
            if mat.asset_key.to_user_string() == key:
                return mat
    return None


def _event_log_text(instance: dg.DagsterInstance, run_id: str) -> str:
    records = instance.all_logs(run_id)
    return "\n".join(json.dumps(dg.serialize_value(r), default=str) for r in records)


def _emails(
    defs: dg.Definitions, instance: dg.DagsterInstance, month: str, run_config: dict | None = None
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        list(defs.assets),
        selection=["scorecard_emails"],
        partition_key=month,
        resources=defs.resources,
        instance=instance,
        raise_on_error=False,
        run_config=SEND if run_config is None else run_config,
    )


def _evaluate_sensor(
    defs: dg.Definitions, instance: dg.DagsterInstance, failed: dg.ExecuteInProcessResult
) -> None:
    """One evaluation of the run-failure sensor for `failed`, as the daemon would run it."""
    with dg.build_run_status_sensor_context(
        sensor_name="alert_admins_on_run_failure",
        dagster_instance=instance,
        dagster_run=failed.dagster_run,
        dagster_event=failed.get_run_failure_event(),
        resources=defs.resources,
    ) as ctx:
        alert_admins_on_run_failure(ctx.for_run_failure())


def _november_tick(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.RunRequest:
    """The schedule's tick on 2 November 07:00 Berlin: it asks for October."""
    schedule = defs.resolve_schedule_def("monthly_scorecards_schedule")
    when = dt.datetime(2026, 11, 2, 7, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert schedule.cron_schedule == "0 7 2 * *"
    assert schedule.execution_timezone == "Europe/Berlin"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    with dg.build_schedule_context(
        instance=instance, scheduled_execution_time=when, repository_def=defs.get_repository_def()
    ) as ctx:
        [request] = schedule.evaluate_tick(ctx).run_requests
    assert request.partition_key == "2026-10" and request.run_key == "2026-10"
    return request


def test_backfill_sends_nothing_schedule_sends_once_rerun_sends_none(world, server) -> None:
    env, defs, instance = world
    job = _job(defs)

    # A 12-month backfill of the whole job: KPIs and scorecards rebuilt, no e-mail.
    backfill = job.execute_in_process(instance=instance, tags=BACKFILL, raise_on_error=False)
    assert backfill.success
    assert server.messages == []
    for month in MONTHS[:-1]:
        assert (env.data / "out" / month / "scorecards" / "alpha.pdf").exists()
        assert not (env.data / "out" / month / "outbox").exists()
    assert _materialization(backfill, "team_scorecards") is not None
    emails = _materialization(backfill, "scorecard_emails").metadata
    assert emails["emailed"].value is False and "backfill of 2025-10" in emails["reason"].value

    request = _november_tick(defs, instance)
    scheduled = job.execute_in_process(
        instance=instance, partition_key=request.partition_key, tags=request.tags
    )
    assert scheduled.success
    got = _by_recipient(server)
    assert set(got) == EVERYONE and all(len(v) == 1 for v in got.values())
    # the subject carries the month's status: "Team Alpha, Oktober 2026: 1 von 2 Zielen …"
    assert [m["Subject"].split(": ")[0] for m in got["a1@example.com"]] == [
        "Team Alpha, Oktober 2026"
    ]
    meta = _materialization(scheduled, "scorecard_emails").metadata
    assert meta["sent"].value == 4 and meta["failed"].value == 0
    gate = [c for c in scheduled.get_asset_check_evaluations() if c.check_name == "delivery_gate"]
    assert [c.passed for c in gate] == [True]
    assert "smtp://scorecards@127.0.0.1" in meta["transport"].value

    # Running it again (a retry, a second click) sends nothing.
    again = job.execute_in_process(
        instance=instance, partition_key=request.partition_key, tags=request.tags
    )
    assert again.success
    assert len(server.messages) == 4
    meta = _materialization(again, "scorecard_emails").metadata
    assert meta["sent"].value == 0 and meta["already_sent"].value == 4

    # The data is corrected after sending: the new version is held, not sent, until asked.
    pdf = env.data / "out" / "2026-10" / "scorecards" / "alpha.pdf"
    pdf.write_bytes(pdf.read_bytes() + b"\n% corrected\n")
    held = _emails(defs, instance, "2026-10")
    assert held.success and len(server.messages) == 4
    assert _materialization(held, "scorecard_emails").metadata["held_changed_after_send"].value == 2
    resent = _emails(
        defs, instance, "2026-10", {"ops": {"scorecard_emails": {"config": {"resend": ["alpha"]}}}}
    )
    assert resent.success and len(server.messages) == 6
    assert {r.rcpt_tos[0] for r in server.messages[4:]} == {"a1@example.com", "a2@example.com"}

    # A run the schedule did not start, without an explicit request, sends nothing.
    old = _emails(defs, instance, "2026-08", run_config={})
    assert old.success and len(server.messages) == 6
    reason = _materialization(old, "scorecard_emails").metadata["reason"].value
    assert "not the schedule's run" in reason

    # The password was used (AUTH over STARTTLS) but appears nowhere in the event logs.
    for result in (backfill, scheduled, again):
        assert PASSWORD not in _event_log_text(instance, result.run_id)

    # A backfill that asks for e-mail (the documented tag) sends, once per recipient and month.
    asked = job.execute_in_process(
        instance=instance,
        tags={
            **BACKFILL,
            "dagster/asset_partition_range_start": "2026-08",
            SEND_TAG: "true",
        },
    )
    assert asked.success
    assert len(server.messages) == 6 + 2 * 4
    subjects = {r.message()["Subject"].split(": ")[0] for r in server.messages}
    assert {"Team Beta, August 2026", "Team Beta, September 2026"} <= subjects


def test_gate_failure_alerts_admins_and_sends_no_scorecard(world, server) -> None:
    env, defs, instance = world
    month = "2026-09"
    job = _job(defs)
    rebuilt = job.execute_in_process(
        instance=instance, partition_key=month, tags={"dagster/backfill": "x"}
    )
    assert (
        rebuilt.success
        and not _materialization(rebuilt, "scorecard_emails").metadata["emailed"].value
    )
    # beta's September tickets vanish from the warehouse (a partial export, say)
    con = duckdb.connect(str(env.data / "warehouse.duckdb"))
    con.execute("DELETE FROM tickets WHERE period = ? AND team = 'beta'", [month])
    con.close()
    before = len(server.messages)
    result = _emails(defs, instance, month)
    assert not result.success
    new = server.messages[before:]
    assert [r.rcpt_tos for r in new] == [["admin@example.com"]]
    alert = new[0].message()
    assert "2026-09" in alert["Subject"] and "no_team_without_tickets" in alert["Subject"]
    body = alert.get_body(("plain",)).get_content()
    assert "beta" in body and result.run_id in body
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_failure_data.user_failure_data.metadata[ALERTED].value is True
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "delivery_gate" and not check.passed
    assert "no_team_without_tickets" in check.description

    # The run-failure sensor sees this run and does not alert a second time.
    _evaluate_sensor(defs, instance, result)
    assert len(server.messages) == before + 1


def test_run_failure_sensor_emails_admins_run_id_and_step(world, server) -> None:
    env, defs, instance = world
    month = "2026-07"
    # e-mails for a month whose scorecards were never rendered: the step fails at the end
    for pdf in (env.data / "out" / month / "scorecards").glob("*.pdf"):
        pdf.unlink()
    result = _emails(defs, instance, month)
    assert not result.success
    before = len(server.messages)
    _evaluate_sensor(defs, instance, result)
    [received] = server.messages[before:]
    assert received.rcpt_tos == ["admin@example.com"]
    msg = received.message()
    body = msg.get_body(("plain",)).get_content()
    assert result.run_id in body and "Failing step: scorecard_emails" in body
    assert "materialize team_scorecards" in body and month in body
    assert PASSWORD not in msg.as_string()


def _decide(tags: dict, months: list[str], *rest) -> tuple[bool, str]:
    """The send decision for a run with these tags (assets.delivery.run_start reads them)."""
    return send_decision(run_start(tags, months, *rest))


def test_who_may_send() -> None:
    sched = {
        "dagster/schedule_name": "monthly_scorecards_schedule",
        "scorecards/scheduled_month": "2026-10",
        "dagster/partition": "2026-10",
    }
    assert _decide(sched, ["2026-10"], ())[0]
    # the schedule's tags for another month than the run's, or another schedule: no
    assert not _decide(sched, ["2026-09"], ())[0]
    other = {**sched, "dagster/schedule_name": "something_else"}
    assert not _decide(other, ["2026-10"], ())[0]
    # backfills, UI materializations and sensor runs send only when asked
    assert "backfill" in _decide({"dagster/backfill": "x"}, ["2026-10"], ())[1]
    assert not _decide({}, ["2026-09", "2026-10"], ())[0]
    assert not _decide({}, ["2026-10"], ())[0]
    assert "sensor" in _decide({"dagster/sensor_name": "s"}, ["2026-10"], ())[1]
    asked = (f"tag {SEND_TAG}=true",)
    assert _decide({"dagster/backfill": "x"}, ["2026-09", "2026-10"], asked)[0]
    # re-executions: copied schedule tags or a copied request do not count; a new one does
    assert not _decide(sched, ["2026-10"], (), "parent", ())[0]
    assert not _decide({}, ["2026-10"], asked, "parent", asked)[0]
    assert _decide({}, ["2026-10"], asked, "parent", ())[0]
    assert not _decide({}, ["2026-10"], asked, "parent", None)[0]  # parent unknown
    berlin = ZoneInfo("Europe/Berlin")
    # just after midnight on 1 January in Berlin is still December in UTC
    assert (
        last_complete_month(dt.datetime(2027, 1, 2, 7, tzinfo=berlin), "Europe/Berlin") == "2026-12"
    )
    assert (
        last_complete_month(dt.datetime(2026, 12, 1, 0, 30, tzinfo=berlin), "Europe/Berlin")
        == "2026-11"
    )


def test_mail_resource_reads_the_environment_without_showing_secrets() -> None:
    res = MailResource.from_env({"SMTP_HOST": "mail.example.com", "SMTP_PASSWORD": "x"})
    assert set(MAIL_ENV.values()) >= {"SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY", "SMTP_USER"}
    # EnvVar fields: the config the UI shows names the variable, not its value
    assert isinstance(res.password, dg.EnvVar) and res.password.env_var_name == "SMTP_PASSWORD"
    assert MailResource.from_env({}).host == ""


def test_demo_path_writes_the_outbox_once(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """What `make demo` runs (pipelines.cli.run): without SMTP_HOST, one .eml per recipient in
    the latest month's outbox; a second run writes nothing new."""
    from pipelines.cli import run

    for var in MAIL_ENV.values():
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    (tmp_path / "dagster").mkdir()
    monkeypatch.setattr(batch, "default_workers", lambda: 1)
    monkeypatch.setattr(assets.delivery, "_now", lambda: NOW)
    env = Env(tmp_path / "demo", teams=TEAMS)
    _year(env)
    settings = env.settings()
    assert run(settings, "2025-10", "2026-09")  # a past month: no e-mail
    assert not (env.data / "out" / "2026-09" / "outbox").exists()
    assert run(settings, "2025-10", "2026-10", email=True)
    outbox = env.data / "out" / "2026-10" / "outbox"
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == len(EVERYONE)
    assert {f.name.split("__")[1] for f in files} == EVERYONE
    stamps = {f: f.stat().st_mtime_ns for f in files}
    assert run(settings, "2026-10", "2026-10", email=True)
    assert {f: f.stat().st_mtime_ns for f in sorted(outbox.glob("*.eml"))} == stamps
    # older months were loaded in a range run: no e-mail for them
    assert not (env.data / "out" / "2026-08" / "outbox").exists()


@pytest.fixture(scope="module")
def warehouse_backend() -> str:
    """The fixtures imported from test_delivery run on both backends; these tests open the
    DuckDB file directly (or run the Dagster code location on it), so the file only."""
    return "duckdb"
