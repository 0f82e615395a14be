"""E-mail delivery benchmark: `make bench` (`python -m benchmarks.bench_mail`).

Sends one month's scorecards to 200 recipients end to end through `scorecards.delivery.send.deliver`
to a real SMTP server on 127.0.0.1 (`tests.smtp_server.LocalSmtpServer`, in this process):
plan, ledger, mail summaries, building each message with its PDF attached, and SMTP over one
reused session. Three measurements, each repeated (min and median printed):

- starttls: STARTTLS + AUTH, the production setting, on an empty ledger;
- plain: no TLS, no AUTH, on an empty ledger;
- re-run: `deliver` again for the same month once everything was sent (it must send nothing):
  what a repeated or retried run costs.

Every send run starts from a copy of the same warehouse whose ledger is empty, and a fresh
server; it fails loudly unless all 200 messages arrived, each on the first attempt. Where the
time goes (the ledger's connection, reads and writes, summaries, message building, SMTP) is
taken by timing wrappers around those calls; the SMTP share includes the server's own work,
which runs in a thread of this process. A last measurement times ledger writes alone: through
one connection, as `deliver` does, against opening the warehouse for every write.

The data (2 teams, 13 months of small demo data, KPIs and churn scores, the month's PDFs) is
generated, loaded and rendered once under `bench-data/mail/` (untimed) and reused while the
arguments stay the same. Nothing here asserts a time: benchmarks measure, tests check.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import yaml

from benchmarks import bench_render
from benchmarks.bench import MONTH, REPO, machine
from scorecards.config.settings import Settings, load_settings
from scorecards.core.periods import month_range, shift_month
from scorecards.delivery import ledger as delivery_ledger
from scorecards.delivery import send as delivery
from scorecards.delivery.mail import MailBuilder
from scorecards.delivery.smtp import SmtpSettings, SmtpTransport
from scorecards.warehouse.connection import connect
from tests.smtp_server import LocalSmtpServer

TEAMS = 2
MONTHS = 13
RECIPIENTS_PER_TEAM = 90
OVERVIEW_RECIPIENTS = 20
MESSAGES = TEAMS * RECIPIENTS_PER_TEAM + OVERVIEW_RECIPIENTS  # 200
ARGS = {
    "version": 2,  # bump when what ensure_data builds changes (2: records carry the summaries)
    "months": MONTHS,
    "teams": TEAMS,
    "tickets_per_month": 3_000,
    "seed": 11,
    "end_month": MONTH,
    "fmt": "parquet",
    "customers": 3_000,
    "recipients_per_team": RECIPIENTS_PER_TEAM,
    "overview_recipients": OVERVIEW_RECIPIENTS,
}
GENERATOR_KEYS = ("months", "teams", "tickets_per_month", "seed", "end_month", "fmt", "customers")
SENDER = delivery.Sender("Service Scorecards <scorecards@example.com>", backoff_seconds=0.0)


def _config(root: Path, team_ids: list[str]) -> Path:
    """bench_render's teams.yaml (the generated teams, German and English), each team with its
    recipients, and the overview's recipients: MESSAGES addresses in all."""
    conf = bench_render._config(root, team_ids)
    cfg = yaml.safe_load((conf / "teams.yaml").read_text(encoding="utf-8"))
    for team in cfg["teams"]:
        team["recipients"] = [
            f"{team['id']}.{n:03d}@example.com" for n in range(RECIPIENTS_PER_TEAM)
        ]
    cfg["overview"] = {
        "locale": "de",
        "recipients": [f"leitung.{n:03d}@example.com" for n in range(OVERVIEW_RECIPIENTS)],
    }
    (conf / "teams.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return conf


def _pristine(root: Path) -> Path:
    """The warehouse as it is before any delivery: each send run starts from a copy of it."""
    return root / "warehouse.before-delivery.duckdb"


def ensure_data(root: Path) -> tuple[Path, Path]:
    """Generate, load and render the month once (untimed); again when ARGS change."""
    from scorecards.churn.scoring import build_churn_risk
    from scorecards.demo.generate import generate
    from scorecards.kpis.engine import build_team_kpis
    from scorecards.render.batch import build_scorecards

    data_dir = root / "data"
    stamp = root / "generated.json"
    if stamp.exists() and json.loads(stamp.read_text()) == ARGS and _pristine(root).exists():
        return data_dir, root / "config"
    shutil.rmtree(root, ignore_errors=True)
    print(f"generating, loading and rendering {TEAMS} teams in {root} (once) ...", flush=True)
    generate(data_dir, **{k: ARGS[k] for k in GENERATOR_KEYS})
    months = month_range(shift_month(MONTH, -(MONTHS - 1)), MONTH)
    settings = bench_render.load_generated(data_dir, months, lambda ids: _config(root, ids))
    build_churn_risk(settings, months, months[0])
    build_team_kpis(settings, months[1:], months[0])
    result = build_scorecards(settings, MONTH, workers=1)
    if result.failures:
        raise SystemExit(f"rendering the scorecards failed: {result.failures}")
    with connect(settings.warehouse) as con:
        con.execute("CHECKPOINT")
    shutil.copy(settings.warehouse_path, _pristine(root))
    stamp.write_text(json.dumps(ARGS))
    return data_dir, root / "config"


def _fresh_warehouse(root: Path, data_dir: Path) -> None:
    """An empty ledger: the warehouse as it was before any delivery."""
    target = data_dir / "warehouse.duckdb"
    target.with_name(target.name + ".wal").unlink(missing_ok=True)
    shutil.copy(_pristine(root), target)


# --- where the time goes -------------------------------------------------------------------


class Clock:
    """Seconds and calls per part of a run, from timing wrappers around the calls."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    @contextlib.contextmanager
    def part(self, name: str, count: bool = True) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - t0
            self.calls[name] += count


class TimedTransport(SmtpTransport):
    def __init__(self, settings: SmtpSettings, clock: Clock) -> None:
        super().__init__(settings)
        self.clock = clock

    def _connect(self):  # noqa: ANN202
        with self.clock.part("smtp_connect"):  # inside the first send: part of smtp_send
            return super()._connect()

    def send(self, *args, **kwargs) -> str:  # noqa: ANN002, ANN003
        with self.clock.part("smtp_send"):
            return super().send(*args, **kwargs)

    def close(self) -> None:
        with self.clock.part("smtp_quit"):
            super().close()


class TimedBuilder(MailBuilder):
    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock

    def scorecard(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        with self.clock.part("build_message"):
            return super().scorecard(*args, **kwargs)


@contextlib.contextmanager
def instrumented(clock: Clock) -> Iterator[None]:
    """Time the ledger (opening and closing its connection, reads, writes) and the mail
    summaries while `deliver` runs."""
    cls = delivery_ledger.Ledger
    originals = {
        "open": cls.__dict__["open"],
        "write": cls.write,
        "rows": cls.rows,
        "summaries": delivery._summaries,
    }
    open_ledger = cls.open

    @contextlib.contextmanager
    def open_(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        cm = open_ledger(*args, **kwargs)
        with clock.part("ledger_open"):
            ledger = cm.__enter__()
        exc: tuple = (None, None, None)
        try:
            yield ledger
        except BaseException:
            exc = sys.exc_info()
            raise
        finally:
            with clock.part("ledger_open", count=False):
                cm.__exit__(*exc)

    def write(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        with clock.part("ledger_write"):
            return originals["write"](self, *args, **kwargs)

    def rows(self):  # noqa: ANN001, ANN202
        with clock.part("ledger_read"):
            return originals["rows"](self)

    def summaries(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        with clock.part("summaries"):
            return originals["summaries"](*args, **kwargs)

    cls.open = staticmethod(open_)
    cls.write, cls.rows = write, rows
    delivery._summaries = summaries
    try:
        yield
    finally:
        cls.open = originals["open"]
        cls.write, cls.rows = originals["write"], originals["rows"]
        delivery._summaries = originals["summaries"]


# --- the runs -------------------------------------------------------------------------------


def _smtp_settings(srv: LocalSmtpServer, security: str) -> SmtpSettings:
    if security == "none":
        return SmtpSettings("127.0.0.1", srv.port, security="none")
    return SmtpSettings(
        "127.0.0.1",
        srv.port,
        security="starttls",
        user=srv.user,
        password=srv.password,
        ca_file=srv.ca_file,
    )


def _timed_deliver(settings: Settings, srv: LocalSmtpServer, security: str, run_id: str) -> dict:
    clock = Clock()
    transport = TimedTransport(_smtp_settings(srv, security), clock)
    builder = TimedBuilder(clock)
    with instrumented(clock):
        t0 = time.perf_counter()
        report = delivery.deliver(
            settings, MONTH, transport, SENDER, run_id=run_id, builder=builder, sleep=_no_sleep
        )
        wall = time.perf_counter() - t0
    return {
        "report": report,
        "wall": wall,
        "connections": transport.connections,
        "parts": dict(clock.seconds),
        "calls": dict(clock.calls),
    }


def _no_sleep(seconds: float) -> None:
    raise SystemExit(f"a message needed a retry (wait {seconds} s): the benchmark is invalid")


def _expected_recipients(settings: Settings) -> list[str]:
    out = [r for t in settings.teams_file.teams for r in t.recipients]
    return sorted(out + list(settings.teams_file.overview.recipients))


def send_run(root: Path, data_dir: Path, conf: Path, security: str, i: int) -> tuple[dict, dict]:
    """One send on an empty ledger, then the re-run of the same month; both checked."""
    _fresh_warehouse(root, data_dir)
    settings = load_settings(data_dir, conf)
    expected = _expected_recipients(settings)
    if len(expected) != MESSAGES:
        raise SystemExit(f"teams.yaml has {len(expected)} recipients, not {MESSAGES}")
    with LocalSmtpServer(tls=security == "starttls") as srv:
        first = _timed_deliver(settings, srv, security, f"bench-{security}-{i}")
        rep = first["report"]
        got = sorted(r for m in srv.messages for r in m.rcpt_tos)
        problems = []
        if rep.count(delivery_ledger.SENT) != MESSAGES or rep.failures:
            errors = sorted({o.error for o in rep.failures})
            problems.append(
                f"sent {rep.count(delivery_ledger.SENT)} of {MESSAGES}, {len(rep.failures)} failed: "
                + "; ".join(errors[:3])
                + (f" (and {len(errors) - 3} other errors)" if len(errors) > 3 else "")
            )
        if any(o.attempts > 1 for o in rep.outcomes):
            problems.append("some message needed more than one attempt")
        if len(srv.messages) != MESSAGES or got != expected:
            problems.append(f"the server received {len(srv.messages)} messages, not {MESSAGES}")
        with connect(settings.warehouse, read_only=True) as con:
            statuses = dict(
                con.execute(
                    "SELECT status, count(*) FROM delivery_ledger WHERE period = ? GROUP BY 1",
                    [MONTH],
                ).fetchall()
            )
        if statuses != {delivery_ledger.SENT: MESSAGES}:
            problems.append(f"ledger: {statuses}")
        first["sessions"] = srv.sessions
        first["mb"] = sum(len(m.data) for m in srv.messages) / 2**20

        again = _timed_deliver(settings, srv, security, f"bench-{security}-{i}-again")
        rep2 = again["report"]
        if rep2.count(delivery_ledger.ALREADY_SENT) != MESSAGES or rep2.count(delivery_ledger.SENT):
            problems.append(
                f"re-run: {rep2.count(delivery_ledger.SENT)} sent, "
                f"{rep2.count(delivery_ledger.ALREADY_SENT)} already sent"
            )
        if len(srv.messages) != MESSAGES or again["connections"]:
            problems.append(f"re-run: the server now has {len(srv.messages)} messages")
    if problems:
        raise SystemExit(f"{security} run {i + 1}: " + "; ".join(problems))
    return first, again


def ledger_cost(root: Path, deliveries: int = 100) -> dict:
    """Milliseconds per ledger write, outside `deliver`, on a copy of the bench warehouse: through
    one connection for all writes (`Ledger.open` once, as `deliver` does for its send loop), with
    the warehouse opened and closed around every write instead, and opening and closing it with
    nothing written."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
        path = Path(tmp) / "warehouse.duckdb"
        shutil.copy(_pristine(root), path)
        pdf = root / "data" / "out" / MONTH / "scorecards" / "overview.pdf"
        rows = [
            delivery_ledger.Delivery(MONTH, "bench", f"r{i:03d}@example.com", pdf, f"{i:064x}")
            for i in range(deliveries)
        ]
        # what one sent message costs: `sending`, then `sent`
        steps = [
            (d, status, kw)
            for d in rows
            for status, kw in (
                (delivery_ledger.SENDING, {"message_id": "<m@example.com>", "attempt": True}),
                (delivery_ledger.SENT, {}),
            )
        ]
        out: dict = {"writes": len(steps)}

        t0 = time.perf_counter()
        with delivery_ledger.Ledger.open(path, MONTH, "one-connection", "smtp") as ledger:
            for d, status, kw in steps:
                ledger.write(d, status, **kw)
        out["one_connection_ms"] = (time.perf_counter() - t0) / len(steps) * 1000

        t0 = time.perf_counter()
        for d, status, kw in steps:
            with delivery_ledger.Ledger.open(path, MONTH, "per-write", "smtp") as ledger:
                ledger.write(d, status, **kw)
        out["per_write_ms"] = (time.perf_counter() - t0) / len(steps) * 1000

        t0 = time.perf_counter()
        for _ in range(deliveries):
            with connect(path):
                pass
        out["open_close_ms"] = (time.perf_counter() - t0) / deliveries * 1000
    return out


# --- report ---------------------------------------------------------------------------------


def _mm(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f}"


def _parts_table(runs: list[dict]) -> list[str]:
    """Median seconds per part over the runs, the rest of the wall time as 'other'."""
    names = [
        ("ledger_open", "ledger open + close"),
        ("ledger_read", "ledger read (rows)"),
        ("ledger_write", "ledger writes"),
        ("summaries", "mail summaries (read from the records)"),
        ("build_message", "build messages (MIME, PDF)"),
        ("smtp_send", "SMTP send (incl. connect)"),
        ("smtp_connect", "  of it connect, TLS, AUTH"),
        ("smtp_quit", "SMTP QUIT"),
    ]
    lines = []
    for key, label in names:
        vals = [r["parts"].get(key, 0.0) for r in runs]
        calls = statistics.median([r["calls"].get(key, 0) for r in runs])
        if not calls:
            continue
        med = statistics.median(vals)
        share = med / statistics.median([r["wall"] for r in runs])
        lines.append(
            f"    {label:<30} {med:7.3f} s {share:5.0%}  {int(calls):4d} calls, "
            f"{med / calls * 1000:7.2f} ms each"
        )
    top = {"ledger_open", "ledger_read", "ledger_write", "summaries", "build_message"}
    top |= {"smtp_send", "smtp_quit"}
    other = [r["wall"] - sum(v for k, v in r["parts"].items() if k in top) for r in runs]
    lines.append(f"    {'other (plan, SHA-256, decide)':<30} {statistics.median(other):7.3f} s")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_mail", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--root", type=Path, default=REPO / "bench-data" / "mail")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement")
    a = ap.parse_args(argv)
    print(f"machine: {machine()}")
    data_dir, conf = ensure_data(a.root)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-session chatter
    load = os.getloadavg()[0]

    sends: dict[str, list[dict]] = {"starttls": [], "none": []}
    reruns: list[dict] = []
    for security in sends:
        for i in range(a.repeat):
            first, again = send_run(a.root, data_dir, conf, security, i)
            sends[security].append(first)
            reruns.append(again)
    ledger = ledger_cost(a.root)
    load = max(load, os.getloadavg()[0])

    mb = sends["none"][0]["mb"]
    print(
        f"load average (1 min) at start and end, the higher: {load:.2f}\n\n"
        f"delivery {MONTH}: {MESSAGES} messages ({TEAMS} teams × {RECIPIENTS_PER_TEAM} + "
        f"overview × {OVERVIEW_RECIPIENTS}), {mb:.1f} MB received by the server; "
        f"{a.repeat} runs each"
    )
    print(
        f"  {'run':<24} {'seconds min/med':>16} {'msg/s best/med':>15} "
        f"{'SMTP sessions':>14} {'at server':>10}"
    )
    labels = {"starttls": "(a) STARTTLS + AUTH", "none": "(b) plain SMTP"}
    for security, runs in sends.items():
        walls = [r["wall"] for r in runs]
        rates = [MESSAGES / w for w in walls]
        sessions = "/".join(str(r["connections"]) for r in runs)
        seen = "/".join(str(r["sessions"]) for r in runs)
        print(
            f"  {labels[security]:<24} {_mm(walls):>16} "
            f"{f'{max(rates):.1f} / {statistics.median(rates):.1f}':>15} "
            f"{sessions:>14} {seen:>10}"
        )
    walls = [r["wall"] for r in reruns]
    print(f"  {'(c) re-run, 0 to send':<24} {_mm(walls):>16} {'':>15} {0:>14} {'-':>10}")
    print(f"  ({len(reruns)} re-runs, one after each run above; all {MESSAGES} already sent)")
    for security, runs in sends.items():
        print(f"\n  where the time goes, {labels[security]}, median of {len(runs)} runs:")
        print("\n".join(_parts_table(runs)))
    print(f"\n  where the time goes, (c) re-run, median of {len(reruns)} runs:")
    print("\n".join(_parts_table(reruns)))
    print(
        f"\n  ledger writes alone ({ledger['writes']} writes, one run):\n"
        f"    one connection for all writes (deliver before 2026-12) {ledger['one_connection_ms']:7.2f} ms each\n"
        f"    opened and closed for every write (deliver now)  {ledger['per_write_ms']:7.2f} ms each\n"
        f"    opening + closing the warehouse, nothing written {ledger['open_close_ms']:7.2f} ms each",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
