"""What a scorecard e-mail says about its PDF, built from the report the PDF was rendered from.

Rendering builds it next to each PDF (scorecards/render/batch.py keeps it in the PDF's record,
scorecards/render/content.py) so that delivery needs neither the warehouse nor a second build
of every report: the mail (scorecards/delivery/mail.py) is made from the summary alone. A
summary is the team's status for the subject ("2 von 8 Zielen verfehlt, CSAT gesunken"), the
"what needs attention" sentences (scorecards/report/attention.py), every headline KPI against
its target with its change against last month (never "better"/"worse" for a change the test
calls noise), and the analysts' first manual note; all of it already in the team's language.

On disk it is plain JSON (`summary_to_dict` / `summary_from_dict`) with a `version`: a summary
of another version is refused, not guessed at.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from scorecards.contract.kpi_catalog import ALL_TEAMS, KPI_BY_ID, LOW_SAMPLE_N
from scorecards.report.attention import overview_subject_status, quiet_sentence, subject_status
from scorecards.report.data import MonthData, OverviewReport, TeamReport
from scorecards.text import formatting as fmt
from scorecards.text.catalog import text, texts
from scorecards.text.kpi_texts import reason_text

# every headline KPI (the team's 3-5; the overview's columns)
HEADLINE_IN_MAIL = 8
# Bump when the fields of MailSummary or HeadlineKpi change: older files are then refused (and
# re-rendering the month writes them anew).
SUMMARY_VERSION = 1


@dataclass(frozen=True)
class HeadlineKpi:
    label: str
    value: str
    change: str  # "−3,0 Min. ggü. Vormonat, besser"; "" when there is no previous month
    arrow: str
    low_sample: str  # "n = 12, wenig belastbar" below the sample threshold, else ""
    reason: str = ""  # why there is no value: "keine Umfrageantworten in den Daten"; else ""
    target: str = ""  # "✗ Ziel verfehlt: 82,0 %", "✓ target met: at most 60.0 min"; "" = none
    missed: bool = False  # the target is missed (as the tile says)


@dataclass(frozen=True)
class MailSummary:
    """What a scorecard e-mail says about its PDF."""

    name: str  # team id, or "overview"
    display_name: str
    locale: str
    month: str
    headline: list[HeadlineKpi] = field(default_factory=list)
    note: str = ""
    note_is_manual: bool = False
    status: str = ""  # for the subject: "2 von 8 Zielen verfehlt, CSAT gesunken"; "" = none
    attention: list[str] = field(default_factory=list)  # what needs attention, at most 3


def _headline(rows: pd.DataFrame, kpis: Sequence[str], locale: str) -> list[HeadlineKpi]:
    """The first HEADLINE_IN_MAIL of `kpis` that have a row in `rows` (this month's KPI rows by
    id), each against its target and last month, judged as the tiles judge them."""
    t = texts(locale)
    out = []
    for kpi in [k for k in kpis if k in rows.index][:HEADLINE_IN_MAIL]:
        row = rows.loc[kpi]
        value = _float(row.get("value"))
        sig = row.get("change_significant")
        sig = None if sig is None or pd.isna(sig) else bool(sig)
        ch = fmt.change(kpi, value, _float(row.get("prev_value")), locale, significant=sig)
        change = ""
        if ch["judgement"] or ch["arrow"]:
            verdict = ch["judgement"]
            change = f"{ch['text']} " + t("mail.vs_prev") + (f", {verdict}" if verdict else "")
        n = _float(row.get("n"))
        reason = "" if math.isfinite(value) else reason_text(row.get("no_data_reason"), locale)
        low = (
            t("mail.low_sample", n=fmt.count(n, locale))
            if math.isfinite(n) and n < LOW_SAMPLE_N and not reason
            else ""
        )
        target = _float(row.get("target"))
        # As on the tile: too few cases to say met or missed.
        status = "" if low else fmt.target_status(kpi, value, target)
        target_text = ""
        if low and math.isfinite(target):
            at_most = t("mail.at_most") if KPI_BY_ID[kpi].better == "lower" else ""
            target_text = t("mail.target_unjudged", v=at_most + fmt.kpi_value(kpi, target, locale))
        elif status:
            at_most = t("mail.at_most") if KPI_BY_ID[kpi].better == "lower" else ""
            target_text = (
                f"{fmt.status_text(status, locale)}: {at_most}{fmt.kpi_value(kpi, target, locale)}"
            )
        out.append(
            HeadlineKpi(
                label=fmt.kpi_label(kpi, locale),
                value=fmt.kpi_value(kpi, value, locale),
                change=change,
                arrow=ch["arrow"],
                low_sample=low,
                reason=reason,
                target=target_text,
                missed=status == "missed",
            )
        )
    return out


def _float(x: object) -> float:
    try:
        return math.nan if x is None or pd.isna(x) else float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _manual(notes: Sequence) -> tuple[str, bool]:
    """The first manual note: the attention sentences say what the generated notes would."""
    first = next((n for n in notes if getattr(n, "manual", False)), None)
    return (first.text, True) if first else ("", False)


def team_summary(report: TeamReport) -> MailSummary:
    note, manual = _manual(report.notes)
    status = getattr(report, "status", None)
    attention = list(getattr(report, "attention", []) or [])
    if status is not None and not attention:
        attention = [quiet_sentence(status, report.locale)]
    return MailSummary(
        name=report.team_id,
        display_name=report.team_name,
        locale=report.locale,
        month=report.month,
        headline=_headline(report.current(), report.headline, report.locale),
        note=note,
        note_is_manual=manual,
        status=subject_status(status, report.locale) if status is not None else "",
        attention=attention,
    )


def overview_summary(o: OverviewReport, data: MonthData, name: str) -> MailSummary:
    """The teams that need attention (one line each), the company figures of the overview's
    KPIs against their targets, and the first manual note for all teams."""
    company = data.kpis[data.kpis.team == ALL_TEAMS]
    current = company[company.period == o.month].set_index("kpi")
    note, manual = _manual(o.notes)
    attention = [a.text for a in getattr(o, "attention", [])]
    statuses = list(getattr(o, "statuses", []))
    if statuses and not attention:
        attention = [overview_subject_status(statuses, o.locale) + "."]
        attention[0] = attention[0][0].upper() + attention[0][1:]
    return MailSummary(
        name=name,
        display_name=text(o.locale, "mail.overview_name"),
        locale=o.locale,
        month=o.month,
        headline=_headline(current, o.columns, o.locale),
        note=note,
        note_is_manual=manual,
        status=overview_subject_status(statuses, o.locale) if statuses else "",
        attention=attention,
    )


def summary_to_dict(summary: MailSummary) -> dict:
    """The summary as plain JSON-able data, with its format version."""
    return {"version": SUMMARY_VERSION, **dataclasses.asdict(summary)}


def summary_from_dict(data: object) -> MailSummary:
    """The summary `summary_to_dict` made; ValueError for anything else (another version, a
    missing or unknown field, a value of the wrong type)."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    if data.get("version") != SUMMARY_VERSION:
        raise ValueError(f"format version {data.get('version')!r}, expected {SUMMARY_VERSION}")
    fields = _checked(MailSummary, {k: v for k, v in data.items() if k != "version"}, "")
    headline = fields.get("headline", [])
    if not isinstance(headline, list):
        raise ValueError("headline: a list expected")
    fields["headline"] = [
        HeadlineKpi(**_checked(HeadlineKpi, h, f"headline[{i}].")) for i, h in enumerate(headline)
    ]
    return MailSummary(**fields)


_TYPES: dict[str, type] = {"str": str, "bool": bool}


def _checked(cls: type, data: object, where: str) -> dict:
    """`data` if it has the fields of dataclass `cls` (the required ones at least) with values
    of their types (str, bool, a list of str; a list of HeadlineKpi is checked by the caller)."""
    if not isinstance(data, dict):
        raise ValueError(f"{where.rstrip('.') or 'summary'}: a JSON object expected")
    kinds = {f.name: f.type for f in dataclasses.fields(cls)}
    required = {
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    if unknown := sorted(set(data) - set(kinds)):
        raise ValueError(f"{where}{unknown[0]}: unknown field")
    if missing := sorted(required - set(data)):
        raise ValueError(f"{where}{missing[0]}: missing")
    for name, value in data.items():
        kind = kinds[name]
        if kind in _TYPES and not isinstance(value, _TYPES[kind]):
            raise ValueError(f"{where}{name}: {kind} expected, not {type(value).__name__}")
        if kind == "list[str]" and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            raise ValueError(f"{where}{name}: a list of str expected")
    return dict(data)
