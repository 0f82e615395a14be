"""Render a month's scorecards: every team's PDF and the overview, in parallel, failure by failure.

Files land in `<data dir>/out/<YYYY-MM>/scorecards/<team id>.pdf` and `overview.pdf`, each
written to a temporary name and renamed, so a reader never sees half a PDF; next to each, its
record `<team id>.json`: what it says, and what its e-mail says (scorecards/render/content.py).
One team's failure does not stop the others: it is collected, and the caller decides (the
Dagster asset fails at the end naming the teams). Worker processes each build one `Renderer` and
keep it for all the teams they are given; with one worker (or one team) everything runs in this
process.
"""

from __future__ import annotations

import atexit
import hashlib
import multiprocessing as mp
import os
import traceback
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from scorecards.config.settings import Settings
from scorecards.notes.manual import load_manual_notes
from scorecards.render.content import content_sha256, write_record
from scorecards.report.data import MonthData, TeamReport, load_month, overview_report, team_report
from scorecards.report.summary import MailSummary, overview_summary, team_summary
from scorecards.warehouse.teams import for_month

OVERVIEW = "overview"


@dataclass(frozen=True)
class ScorecardFile:
    name: str  # team id, or "overview"
    path: Path
    size: int
    pages: int
    sha256: str


@dataclass
class BatchResult:
    month: str
    files: list[ScorecardFile] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # team id -> error


def scorecard_dir(settings: Settings, month: str) -> Path:
    return settings.out_dir / month / "scorecards"


def _risk_options(settings: Settings) -> tuple[bool, float]:
    """Whether ids are pseudonymised and where the high band starts (from the churn config)."""
    churn = settings.teams_file.churn
    return churn.pseudonymise_ids, churn.bands.high


# -- worker side ----------------------------------------------------------------------------------

_renderer = None
# What every job of a run needs, set once per process by `_init` (the initializer of each worker
# process, or directly when rendering in this process): jobs then travel as a team id.
_job: dict = {}


@atexit.register
def _drop_renderer() -> None:
    # WeasyPrint's FontConfiguration cleans up in __del__; at interpreter exit that would run
    # after the modules it needs are gone and print a TypeError.
    global _renderer
    _renderer = None


def _get_renderer():  # noqa: ANN202 - scorecards.render.pdf.Renderer, imported lazily in workers
    global _renderer
    if _renderer is None:
        from scorecards.render.pdf import Renderer

        _renderer = Renderer()
    return _renderer


def _init(settings: Settings, data: MonthData, manual: dict, pseudo: bool, high: float) -> None:
    _job.update(settings=settings, data=data, manual=manual, pseudo=pseudo, high=high)


def _render_team(report: TeamReport, pseudonymised: bool, high: float) -> tuple[bytes, int]:
    out = _get_renderer().render_team(report, pseudonymised=pseudonymised, high=high)
    return out.pdf, out.pages


# What a job gives back: the PDF, its page count, what it says (for the delivery ledger,
# scorecards/render/content.py) and its e-mail's summary, all from the one report it built.
Job = tuple[bytes, int, str, MailSummary]


def _team_job(team_id: str) -> Job:
    settings = _job["settings"]
    report = team_report(settings, _job["data"], settings.teams[team_id], _job["manual"])
    pdf, pages = _render_team(report, _job["pseudo"], _job["high"])
    content = content_sha256(report, pseudonymised=_job["pseudo"], high=_job["high"])
    return pdf, pages, content, team_summary(report)


def _overview_job() -> Job:
    report = overview_report(_job["settings"], _job["data"], _job["manual"])
    out = _get_renderer().render_overview(report)
    return (
        out.pdf,
        out.pages,
        content_sha256(report),
        overview_summary(report, _job["data"], OVERVIEW),
    )


def _write(path: Path, pdf: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(pdf)
    tmp.replace(path)


def _file(name: str, path: Path, pdf: bytes, pages: int) -> ScorecardFile:
    return ScorecardFile(name, path, len(pdf), pages, hashlib.sha256(pdf).hexdigest())


def _error(exc: BaseException) -> str:
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return last


def default_workers() -> int:
    return os.cpu_count() or 1


def build_scorecards(
    settings: Settings,
    month: str,
    teams: Sequence[str] | None = None,
    workers: int | None = None,
    overview: bool = True,
) -> BatchResult:
    """Render the month's scorecards for `teams` (default: every configured team and, with
    teams_from_data, every other team with data in the month) and the overview. Raises only for
    what stops every team (no KPIs for the month, a bad notes file); a single team's failure is
    returned in `failures`."""
    settings = for_month(settings, month)
    data = load_month(settings, month)
    wanted = list(teams) if teams is not None else list(settings.teams)
    unknown = [t for t in wanted if t not in settings.teams]
    if unknown:
        raise KeyError(
            f"unknown team(s) {', '.join(unknown)} in {month}; known: {', '.join(settings.teams)}"
        )
    manual = load_manual_notes(settings.config_dir, month, list(settings.teams))
    pseudo, high = _risk_options(settings)
    outdir = scorecard_dir(settings, month)
    result = BatchResult(month)

    # Jobs are (name, function, arguments); the overview goes first, being the longest (about
    # four scorecards' time).
    jobs = ([(OVERVIEW, _overview_job, ())] if overview else []) + [
        (tid, _team_job, (tid,)) for tid in wanted
    ]
    init_args = (settings, data, manual, pseudo, high)
    n_workers = min(workers or default_workers(), len(jobs))
    rendered: dict[str, Job] = {}
    if n_workers <= 1:
        _init(*init_args)
        for name, fn, args in jobs:
            try:
                rendered[name] = fn(*args)
            except Exception as exc:  # noqa: BLE001 - one team's failure must not stop the others
                result.failures[name] = _error(exc)
    else:
        # spawn, not fork: the parent may hold DuckDB and Dagster threads that fork would copy
        # mid-flight.
        with ProcessPoolExecutor(
            n_workers, mp_context=mp.get_context("spawn"), initializer=_init, initargs=init_args
        ) as pool:
            futures = {name: pool.submit(fn, *args) for name, fn, args in jobs}
            for name, fut in futures.items():
                try:
                    rendered[name] = fut.result()
                except Exception as exc:  # noqa: BLE001
                    result.failures[name] = _error(exc)

    for name in [*wanted, OVERVIEW]:
        if name in rendered:
            # content and summary: made by the job from the report it rendered (the parent, or
            # delivery, would otherwise build every report a second time, in series)
            pdf, pages, content, summary = rendered[name]
            path = outdir / f"{name}.pdf"
            _write(path, pdf)
            write_record(path, pdf, content, summary)
            result.files.append(_file(name, path, pdf, pages))
    return result
