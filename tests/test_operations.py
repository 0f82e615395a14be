"""Operations: the code location loads whatever lies in landing, partitions come from config, the
months state file or a clock-based default, the CLI runs the months with data and explains a
failure in plain lines, and the failure alert names the bad file. The clock is pinned."""

from __future__ import annotations

import email
import email.policy
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from assets.resources import MailResource
from pipelines import cli
from pipelines.definitions import build_definitions
from pipelines.partitions import (
    DEFAULT_HISTORY_MONTHS,
    partition_start,
    read_state,
    record_landing_months,
    state_path,
)
from pipelines.sensors import alert_admins_on_run_failure, failure_lines
from scorecards.core.periods import days_in_month
from scorecards.ingest.landing import InputFileError
from scorecards.render import batch
from tests.conftest import TEAMS, Env, customer, survey, ticket

ROOT = Path(__file__).resolve().parent.parent
# 15 June 2026, but the tests read "now" only through this clock
NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)
LAST_COMPLETE = "2026-05"
HISTORY = ("2024-01", "2024-02", "2024-03")  # a historical export, long before NOW


def clock() -> datetime:
    return NOW


TEAMS_WITH_ADMIN = {**TEAMS, "delivery": {"admins": ["admin@example.com"]}}

BAD_FILES: dict[str, bytes] = {
    "binary": bytes(range(256)) * 8,
    "empty": b"",
    "cp1252": (
        "ticket_id,customer_id,team,agent_id,channel,created_at,first_response_at,resolved_at,"
        "handle_time_s,wait_time_s,contacts,reopened,escalated\n"
        "T\xe4,C1,Kundenb\xfcro \u20ac,,email,2024-02-03T10:00:00+01:00,,,,,1,false,false\n"
    ).encode("cp1252"),
    "semicolon": b"ticket_id;customer_id;team;created_at\nT9;C1;alpha;2024-02-03T10:00:00+01:00\n",
}


def _history(env: Env, months: tuple[str, ...] = HISTORY, last_day: int | None = None) -> None:
    """Complete months of tickets (three a day), surveys and customers; `last_day` cuts the
    last month short."""
    rows, surveys = [], []
    for month in months:
        days = days_in_month(month)
        if last_day and month == months[-1]:
            days = last_day
        for day in range(1, days + 1):
            for k in range(3):
                at = f"{month}-{day:02d}T{9 + k}:00:00+01:00"
                rows.append(
                    ticket(
                        f"{month}-{day:02d}-{k}",
                        at,
                        team="alpha" if k else "beta",
                        customer_id=f"C{day % 5}",
                        first_response_at=f"{month}-{day:02d}T{9 + k}:20:00+01:00",
                        resolved_at=f"{month}-{day:02d}T{12 + k}:00:00+01:00",
                        handle_time_s=300,
                    )
                )
            surveys.append(survey(f"R{month}{day}", f"{month}-{day:02d}T18:00:00+01:00", "csat", 4))
    env.tickets(rows)
    env.surveys(surveys)
    env.customers([customer(f"C{i}", "2023-01-01") for i in range(5)])


def _schedule_and_sensor(defs: dg.Definitions) -> None:
    schedule = defs.resolve_schedule_def("monthly_scorecards_schedule")
    assert schedule.job_name == "monthly_scorecards"
    assert defs.resolve_sensor_def("alert_admins_on_run_failure") is not None


# --- partitions without reading landing data ------------------------------------------------


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_definitions_load_with_a_bad_landing_file(
    tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    env = Env(tmp_path)
    _history(env)
    record_landing_months(env.settings())  # a good scan first: the state says 2024-01
    bad = env.landing / "tickets" / f"export_{kind}.csv"
    bad.write_bytes(BAD_FILES[kind])

    caplog.set_level("INFO", logger="pipelines.partitions")
    defs = build_definitions(env.settings(), clock=clock)
    _schedule_and_sensor(defs)
    keys = cli.partition_keys(defs, clock)
    assert (keys[0], keys[-1]) == ("2024-01", LAST_COMPLETE)
    assert "from the last landing scan" in caplog.text

    if kind == "cp1252":
        return  # may well be readable (the encoding is detected): nothing to fail on
    # ... while what reads the folder fails on it, naming it; a failed scan keeps the state
    with pytest.raises(InputFileError) as info:
        record_landing_months(env.settings())
    assert info.value.path == bad and str(bad) in str(info.value)
    assert read_state(env.settings()).months[0] == "2024-01"


def test_partition_start_from_config_state_or_default(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = Env(tmp_path)
    settings = env.settings()
    path = state_path(settings)
    default = "2024-05"  # 24 months before May 2026, the last complete month
    assert DEFAULT_HISTORY_MONTHS == 24

    # no state file, then every kind of broken one: the default, never an exception
    assert partition_start(settings, clock).month == default
    path.parent.mkdir(parents=True)
    for content in (
        b"\xff\xfe\x00garbage",
        b"{",
        b"[]",
        b'{"months": "2024-01"}',
        b'{"months": ["2024-13"]}',
        b'{"months": []}',
        b'{"months": [1]}',
    ):
        path.write_bytes(content)
        start = partition_start(settings, clock)
        assert (start.month, start.source) == (default, "default"), content
        assert str(path) in start.detail
    caplog.set_level("WARNING", logger="pipelines.partitions")
    defs = build_definitions(settings, clock=clock)
    assert cli.partition_keys(defs, clock)[0] == default
    assert "default start 2024-05" in caplog.text and "pipelines.cli months" in caplog.text

    # a readable state file
    path.write_text(json.dumps({"months": ["2025-02", "2025-01"]}))
    assert partition_start(settings, clock).month == "2025-01"
    # data only in the running month still gives one partition
    path.write_text(json.dumps({"months": ["2026-06"]}))
    assert partition_start(settings, clock).month == LAST_COMPLETE

    # config wins over both
    configured = Env(tmp_path / "configured", teams={**TEAMS, "first_month": "2025-07"})
    state_path(configured.settings()).parent.mkdir(parents=True)
    state_path(configured.settings()).write_text(json.dumps({"months": ["2023-01"]}))
    start = partition_start(configured.settings(), clock)
    assert (start.month, start.source) == ("2025-07", "config")


def test_pinned_clock_pins_the_last_partition_and_the_schedule(tmp_path: Path) -> None:
    env = Env(tmp_path)
    settings = env.settings()
    for now, last in (
        (datetime(2026, 1, 1, 0, 30, tzinfo=UTC), "2025-12"),  # 01:30 on 1 January in Berlin
        (datetime(2025, 12, 31, 22, 59, tzinfo=UTC), "2025-11"),  # 23:59 on 31 December
    ):
        defs = build_definitions(settings, clock=lambda now=now: now)
        assert cli.partition_keys(defs, lambda now=now: now)[-1] == last
        schedule = defs.resolve_schedule_def("monthly_scorecards_schedule")
        repo = defs.get_repository_def()
        # a manual evaluation without a tick time asks the clock ...
        with dg.build_schedule_context(repository_def=repo) as ctx:
            [request] = schedule.evaluate_tick(ctx).run_requests
        assert request.partition_key == last
        # ... a tick goes by its own time, whatever the clock says
        tick = datetime(2025, 3, 2, 7, tzinfo=UTC)
        with dg.build_schedule_context(repository_def=repo, scheduled_execution_time=tick) as ctx:
            [request] = schedule.evaluate_tick(ctx).run_requests
        assert (request.partition_key, request.run_key) == ("2025-02", "2025-02")


def test_code_location_loads_through_dagster_with_a_bad_file(tmp_path: Path) -> None:
    """`dagster definitions validate` loads pipelines.definitions as `make ui` would."""
    env = Env(tmp_path)
    env.tickets([ticket("T1", "2026-04-02T10:00:00+02:00")])
    (env.landing / "tickets" / "garbage.csv").write_bytes(BAD_FILES["binary"])
    (tmp_path / "home").mkdir()
    environ = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "home"),
        "SCORECARDS_DATA_DIR": str(env.data),
        "SCORECARDS_CONFIG_DIR": str(env.config),
    }
    dagster = Path(sys.executable).parent / "dagster"
    proc = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "garbage.csv" not in proc.stdout + proc.stderr


# --- a bad file fails its run, and the alert names it ---------------------------------------


@pytest.mark.parametrize("kind", ["binary", "empty"])
def test_bad_file_fails_the_run_and_the_alert_names_it(tmp_path: Path, kind: str) -> None:
    env = Env(tmp_path, teams=TEAMS_WITH_ADMIN)
    _history(env)
    record_landing_months(env.settings())
    bad = env.landing / "tickets" / f"{kind}.csv"
    bad.write_bytes(BAD_FILES[kind])
    defs = build_definitions(env.settings(), MailResource(), clock=clock)
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        list(defs.assets),
        selection=["tickets", "survey_responses"],
        partition_key="2024-02",
        resources=defs.resources,
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    lines = failure_lines(instance, result.run_id)
    [line] = [x for x in lines if x.startswith("step ingest_events failed:")]
    assert f"InputFileError: {bad}:" in line and "Traceback" not in line

    with dg.build_run_status_sensor_context(
        sensor_name="alert_admins_on_run_failure",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
        resources=defs.resources,
    ) as ctx:
        alert_admins_on_run_failure(ctx.for_run_failure())
    [eml] = (env.data / "out" / "2024-02" / "outbox").glob("alert__*.eml")
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    body = msg.get_body(("plain",)).get_content()
    assert msg["To"] == "admin@example.com"
    assert "Failing step: ingest_events" in body and str(bad) in body


# --- the CLI ---------------------------------------------------------------------------------


def _cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: Env) -> dg.DagsterInstance:
    monkeypatch.setenv("SCORECARDS_DATA_DIR", str(env.data))
    monkeypatch.setenv("SCORECARDS_CONFIG_DIR", str(env.config))
    for var in ("SMTP_HOST", "SMTP_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    # one process: a worker pool per month costs more than it saves on two PDFs
    monkeypatch.setattr(batch, "default_workers", lambda: 1)
    return dg.DagsterInstance.ephemeral()


def test_cli_run_defaults_to_the_months_with_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    env = Env(tmp_path)
    _history(env)
    instance = _cli_env(tmp_path, monkeypatch, env)
    assert cli.main(["months"], clock=clock) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"2024-01...{LAST_COMPLETE}"
    assert "months with data: 2024-01...2024-03 (3)" in out

    # 26 empty months follow the export: not run, so their checks cannot block it
    assert cli.main(["run"], clock=clock, instance=instance) == 0
    out = capsys.readouterr()
    assert "for 2024-01...2024-03" in out.out and "scorecards for 2024-03" in out.out
    assert out.err == ""
    for month in HISTORY:
        assert (env.data / "out" / month / "team_kpis.csv").exists()
    assert not (env.data / "out" / "2024-04").exists()


def test_cli_explains_a_failed_check_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    env = Env(tmp_path)
    _history(env, last_day=20)  # March ends on the 20th
    instance = _cli_env(tmp_path, monkeypatch, env)
    assert cli.main(["run"], clock=clock, instance=instance) == 1
    err = capsys.readouterr().err
    assert "check tickets.data_reaches_month_end failed:" in err
    assert "data ends at 2024-03-20 11:00" in err and "2024-03 has 31 days" in err
    # audited before it was written: the step says nothing was written, and what to do
    assert "step ingest_events failed: Failure: Nothing was written for 2024-01" in err
    assert "re-materialize 2024-01, 2024-02, 2024-03" in err
    assert "Traceback" not in err and "Stack Trace" not in err
    # the explanation comes from the run's event log in the instance
    [run] = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
    assert any("2024-03" in line for line in failure_lines(instance, run.run_id))


def test_cli_one_line_errors_and_debug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    env = Env(tmp_path)
    _history(env)
    bad = env.landing / "tickets" / "zz_binary.csv"
    bad.write_bytes(BAD_FILES["binary"])
    instance = _cli_env(tmp_path, monkeypatch, env)

    assert cli.main(["run"], clock=clock, instance=instance) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}: ") and err.count("\n") == 1, err
    assert not instance.get_runs()  # nothing ran
    assert cli.main(["run", "--debug"], clock=clock, instance=instance) == 2
    assert "Traceback" in capsys.readouterr().err
    assert cli.main(["--debug", "months"], clock=clock) == 2
    assert "Traceback" in capsys.readouterr().err
    bad.unlink()

    # months outside the partitions: one line, exit 2
    assert cli.main(["run", "--from", "2023-01", "--to", "2023-02"], clock=clock) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: months must be within 2024-01...") and err.count("\n") == 1

    # a configuration error: one line naming the file and the key
    (env.config / "teams.yaml").write_text("timezone: Europe/Berlin\nteamz: []\n")
    assert cli.main(["run"], clock=clock, instance=instance) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "teams.yaml" in err and "teamz" in err
    assert err.count("\n") == 1 and "Traceback" not in err
