"""Rendering: a team's report (or the overview) → view model → Jinja2 HTML → WeasyPrint PDF.

One `Renderer` per process keeps the compiled templates, the parsed print CSS and WeasyPrint's
FontConfiguration for every document it renders. It fetches nothing but files under
reports/templates/ and the images it made itself (held in memory): any other URL (a remote
stylesheet, a data: URL, file:///etc/passwd) is refused and recorded in `blocked`. Every value from the data
or the notes reaches the HTML through Jinja's autoescape, so it prints as text.

The same inputs give the same bytes: the PDF's creation date is the report date (the last day
of the period), the PDF identifier is a hash of the document's content, and charts are
written without dates and with fixed ids.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import math
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import jinja2
import numpy as np
import pandas as pd
from weasyprint import CSS, HTML, Attachment
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from scorecards import charts
from scorecards import formatting as fmt
from scorecards.kpi_catalog import ALL_TEAMS, KPI_BY_ID, KPIS, LOW_SAMPLE_N, reason_text
from scorecards.report_data import OverviewReport, TeamReport, channel_matrix, kpi_rows_csv

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "reports" / "templates"
AUTHOR = "Service Scorecards"

T: dict[str, dict[str, str]] = {
    "de": {
        "kicker": "Service-Scorecard",
        "page": "Seite",
        "summary": "Überblick",
        "notes": "Was die Zahlen bedeuten",
        "manual_note": "Notiz der Analyse",
        "no_notes": "Keine Auffälligkeiten nach den dokumentierten Regeln.",
        "risk": "Abwanderungsrisiko",
        "at_risk_customers": "Kund:innen mit hohem Risiko",
        "at_risk_share": "Anteil an den betreuten Kund:innen",
        "detractor_share": "Kritiker-Anteil (NPS 0–6)",
        "top_at_risk": "Die 10 Kund:innen mit dem höchsten Abwanderungsrisiko",
        "risk_see_list": "Die Kund:innen mit dem höchsten Risiko und ihre Gründe stehen auf Seite 2.",
        "customer": "Kunde",
        "score": "Risiko",
        "reasons": "Wichtigste Gründe",
        "no_high_risk": "Keine Kund:innen dieses Teams im hohen Risikoband.",
        "risk_not_scored": "Keine Daten: Für diesen Monat wurde kein Abwanderungsrisiko berechnet.",
        "risk_not_scored_why": "Keine Daten: Für diesen Monat wurde kein Abwanderungsrisiko "
        "berechnet ({reason}).",
        "risk_legend": "Risiko: modellgeschätzte Wahrscheinlichkeit, in den nächsten 90 Tagen "
        "abzuwandern; hohes Band ab {high}. Kennungen {ids}.",
        "ids_pseudo": "pseudonymisiert (verschlüsselter Hash)",
        "ids_real": "wie im Warehouse",
        "all_kpis": "Alle Kennzahlen",
        "kpi": "Kennzahl",
        "value": "Wert",
        "ci": "95-%-Intervall",
        "target": "Ziel",
        "vs_target": "Wert · Ziel · Vormonat",
        "prev": "ggü. Vormonat",
        "significant": "Signif.?",
        "yoy": "ggü. Vorjahr",
        "kpi_legend": "Balken: Wert mit 95-%-Intervall (hellblau); senkrechter Strich: Ziel; "
        "Raute: Vormonat; Graustufen: deutlich verfehlt / knapp / erreicht. Signifikant: "
        "Änderung zum Vormonat außerhalb der Zufallsschwankung (p < 0,05). ⚠ n < 30: zu "
        "wenige Fälle, um den Wert zu lesen.",
        "charts": "Verläufe über 13 Monate",
        "appendix": "Anhang",
        "definitions": "Definitionen",
        "denominator": "Basis",
        "data_quality": "Datenqualität im Monat",
        "dataset": "Datensatz",
        "rows_read": "gelesen",
        "accepted": "verwendet",
        "quarantined": "in Quarantäne",
        "duplicates": "Duplikate",
        "quarantine_reasons": "Quarantäne nach Grund",
        "reason": "Grund",
        "rows": "Zeilen",
        "no_ingest": "Keine Daten: Für diesen Monat ist kein Import verzeichnet.",
        "provenance": "Herkunft",
        "better_higher": "höher ist besser",
        "better_lower": "niedriger ist besser",
        "better_none": "ohne Wertung",
        "vs_prev": "Vormonat",
        "vs_yoy": "Vorjahr",
        "no_target": "kein Ziel",
        "target_is": "Ziel {v}",
        "n_is": "n = {n}",
        "n_low": "n = {n}: zu wenige Fälle",
        "yes": "ja",
        "no": "nein",
        "tile_legend": "Pfeil und Vorzeichen zeigen die Richtung der Änderung, das Wort "
        "dahinter, ob sie gut ist. Linie: letzte 13 Monate. Ausgegraut: weniger als 30 Fälle.",
        "volume_caption": "Tickets pro Monat nach Kanal.",
        "times_caption": "Erste Antwortzeit (nach Erstellungsmonat) und Lösungszeit (nach "
        "Lösungsmonat): Median und 90. Perzentil.",
        "survey_caption": "CSAT und NPS mit 95-%-Intervall als Band; gestrichelt: Ziel.",
        "meta": "Bericht für {period} · Stand {date} · Team {team_id}",
        "footer": "{team} · {period} · vertraulich",
        "title": "Service-Scorecard {team} – {period}",
        "subject": "Kennzahlen, Kontext und Abwanderungsrisiko des Teams {team} für {period}",
        "provenance_text": "Erstellt für {period} mit Stand {date} (Periodenende; dieselben "
        "Daten ergeben dieselbe Datei) aus dem Warehouse {warehouse}: {inputs}. KPI-Fingerabdruck "
        "{fingerprint}. Die KPI-Zeilen dieses Berichts (Team und Gesamtunternehmen) sind als "
        "kpis.csv in dieses PDF eingebettet.",
        "inputs_row": "{dataset} {read} Zeilen gelesen, {accepted} verwendet",
        "company": "Gesamt",
        "overview_title": "Service-Scorecards {period}: alle Teams",
        "overview_kicker": "Überblick für die Serviceleitung",
        "overview_table": "Kernkennzahlen je Team",
        "overview_trends": "Verläufe je Team",
        "overview_trends_caption": "Monatswerte {first} bis {last}; Punkt und Zahl: letzter "
        "Monat. Quoten und Zeiten: eine Skala je Spalte für alle Teams (im Kopf); "
        "Ticket-Volumen: je Team eigene Skala.",
        "own_scale": "Skala je Team",
        "overview_subject": "Kernkennzahlen aller Teams und des Gesamtunternehmens für {period}",
        "team": "Team",
        "overview_legend": "Je Zelle: Wert, darunter Änderung ggü. Vormonat (Pfeil, Vorzeichen, "
        "besser/schlechter) und Ziel. Grau: n < 30.",
        "overview_footer": "Alle Teams · {period} · vertraulich",
        "risk_count_change": "Vormonat {v}",
        "risk_share_detail": "von {n} betreuten",
        "detractor_detail": "{n} NPS-Antworten",
    },
    "en": {
        "kicker": "Service scorecard",
        "page": "Page",
        "summary": "Summary",
        "notes": "What the numbers mean",
        "manual_note": "Analyst note",
        "no_notes": "Nothing stands out by the documented rules.",
        "risk": "Churn risk",
        "at_risk_customers": "Customers at high risk",
        "at_risk_share": "Share of served customers",
        "detractor_share": "Detractor share (NPS 0–6)",
        "top_at_risk": "The 10 customers at highest risk of churning",
        "risk_see_list": "The customers at highest risk and their reasons are listed on page 2.",
        "customer": "Customer",
        "score": "Risk",
        "reasons": "Main reasons",
        "no_high_risk": "No customers of this team in the high-risk band.",
        "risk_not_scored": "No data: churn risk was not scored for this month.",
        "risk_not_scored_why": "No data: churn risk was not scored for this month ({reason}).",
        "risk_legend": "Risk: the model's estimated probability of churning within the next 90 "
        "days; high band from {high}. Ids {ids}.",
        "ids_pseudo": "pseudonymised (keyed hash)",
        "ids_real": "as in the warehouse",
        "all_kpis": "All KPIs",
        "kpi": "KPI",
        "value": "Value",
        "ci": "95% interval",
        "target": "Target",
        "vs_target": "Value · target · last month",
        "prev": "vs last month",
        "significant": "Signif.?",
        "yoy": "vs last year",
        "kpi_legend": "Bar: value with its 95% interval (light blue); vertical line: target; "
        "diamond: last month; grey bands: clearly missed / close / met. Significant: the change "
        "since last month is beyond random variation (p < 0.05). ⚠ n < 30: too few cases to read "
        "the value.",
        "charts": "Trends over 13 months",
        "appendix": "Appendix",
        "definitions": "Definitions",
        "denominator": "Base",
        "data_quality": "Data quality this month",
        "dataset": "Dataset",
        "rows_read": "read",
        "accepted": "used",
        "quarantined": "quarantined",
        "duplicates": "duplicates",
        "quarantine_reasons": "Quarantine by reason",
        "reason": "Reason",
        "rows": "Rows",
        "no_ingest": "No data: no import is recorded for this month.",
        "provenance": "Provenance",
        "better_higher": "higher is better",
        "better_lower": "lower is better",
        "better_none": "not judged",
        "vs_prev": "Last month",
        "vs_yoy": "Last year",
        "no_target": "no target",
        "target_is": "Target {v}",
        "n_is": "n = {n}",
        "n_low": "n = {n}: too few cases",
        "yes": "yes",
        "no": "no",
        "tile_legend": "Arrow and sign give the direction of a change, the word after them "
        "whether it is good. Line: last 13 months. Greyed: fewer than 30 cases.",
        "volume_caption": "Tickets per month by channel.",
        "times_caption": "First response time (by month created) and resolution time (by month "
        "resolved): median and 90th percentile.",
        "survey_caption": "CSAT and NPS with their 95% interval as a band; dashed: target.",
        "meta": "Report for {period} · as of {date} · team {team_id}",
        "footer": "{team} · {period} · confidential",
        "title": "Service scorecard {team} – {period}",
        "subject": "KPIs, context and churn risk of team {team} for {period}",
        "provenance_text": "Made for {period} as of {date} (the end of the period; the same data "
        "gives the same file) from the warehouse {warehouse}: {inputs}. KPI fingerprint "
        "{fingerprint}. This report's KPI rows (team and company) are attached inside this PDF as "
        "kpis.csv.",
        "inputs_row": "{dataset} {read} rows read, {accepted} used",
        "company": "Company",
        "overview_title": "Service scorecards {period}: all teams",
        "overview_kicker": "Overview for the head of service",
        "overview_table": "Headline KPIs by team",
        "overview_trends": "Trends by team",
        "overview_trends_caption": "Monthly values {first} to {last}; dot and number: latest "
        "month. Rates and times share one scale per column across teams (in the header); "
        "ticket volume has its own scale per team.",
        "own_scale": "scale per team",
        "overview_subject": "Headline KPIs of all teams and the company for {period}",
        "team": "Team",
        "overview_legend": "Each cell: value, below it the change since last month (arrow, sign, "
        "better/worse) and the target. Grey: n < 30.",
        "overview_footer": "All teams · {period} · confidential",
        "risk_count_change": "last month {v}",
        "risk_share_detail": "of {n} served",
        "detractor_detail": "{n} NPS responses",
    },
}

DATASET_LABELS = {
    "de": {"tickets": "Tickets", "survey_responses": "Umfrageantworten", "customers": "Kund:innen"},
    "en": {"tickets": "Tickets", "survey_responses": "Survey responses", "customers": "Customers"},
}


GENERATED = "generated"


class LocalOnlyFetcher(URLFetcher):
    """Serves the project's template files and the images the renderer made; refuses anything
    else.

    Generated images (charts, sparklines, bullet graphs) are held in memory and addressed as
    `generated/<hash>.svg` under the template folder: short URLs keep the HTML small (a
    base64 data: URL per image made HTML parsing a tenth of the render time).
    """

    def __init__(self, root: Path = TEMPLATE_DIR) -> None:
        super().__init__(allowed_protocols={"file"}, allow_redirects=False)
        self.root = root.resolve()
        self.blocked: list[str] = []
        self.images: dict[str, bytes] = {}

    def add_image(self, svg: bytes | str) -> str:
        raw = svg.encode("utf-8") if isinstance(svg, str) else svg
        name = hashlib.sha256(raw).hexdigest()[:24] + ".svg"
        self.images[name] = raw
        return f"{GENERATED}/{name}"

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        if url.split(":", 1)[0].lower() == "file":
            path = Path(url2pathname(urlparse(url).path)).resolve()
            if path.parent == self.root / GENERATED and path.name in self.images:
                return URLFetcherResponse(
                    url, self.images[path.name], {"Content-Type": "image/svg+xml"}
                )
            if path.is_relative_to(self.root) and path.is_file():
                mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                if path.suffix == ".otf":
                    mime = "font/otf"
                return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})
        self.blocked.append(url)
        raise ValueError(f"refused to fetch {url}: only files under {self.root} are allowed")


def _f(x: object) -> float:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return v


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    pages: int


def _reason(row: pd.Series, locale: str) -> str:
    """Why a KPI row has no value, in the report's language ("" when it has one)."""
    if math.isfinite(_f(row.get("value"))):
        return ""
    return reason_text(row.get("no_data_reason"), locale)


def _better_text(kpi: str, locale: str) -> str:
    return T[locale][f"better_{KPI_BY_ID[kpi].better}"]


def _n_text(n: float, locale: str) -> str:
    key = "n_low" if n < LOW_SAMPLE_N else "n_is"
    return T[locale][key].format(n=fmt.count(n, locale))


class FontSubsetterMissing(RuntimeError):
    """WeasyPrint would subset fonts with fontTools: the PDF bytes would depend on the machine."""


def require_font_subsetter() -> None:
    """Refuse to render without HarfBuzz-Subset. WeasyPrint falls back to fontTools without it,
    whose font streams differ from HarfBuzz's (and between renders), so an unchanged month would
    look changed to the delivery ledger. `make` installs it (scripts/system-deps.sh)."""
    from weasyprint.text.ffi import harfbuzz_subset

    if harfbuzz_subset is None:
        raise FontSubsetterMissing(
            "HarfBuzz-Subset (libharfbuzz-subset.so.0) is not installed, so PDFs would not be "
            "reproducible; install it (Debian/Ubuntu: apt-get install libharfbuzz-subset0, or "
            "run `make`, which does) and run again"
        )


class Renderer:
    """Compiled templates, parsed CSS and fonts, kept for every document this process renders."""

    def __init__(self, template_dir: Path = TEMPLATE_DIR) -> None:
        require_font_subsetter()
        self.template_dir = template_dir.resolve()
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.template_dir),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=False,
        )
        self.fetcher = LocalOnlyFetcher(self.template_dir)
        self.font_config = FontConfiguration()
        self.css = CSS(
            filename=str(self.template_dir / "scorecard.css"),
            font_config=self.font_config,
            url_fetcher=self.fetcher,
        )
        self.team_template = self.env.get_template("scorecard.html.j2")
        self.overview_template = self.env.get_template("overview.html.j2")
        charts.configure()

    # -- documents ---------------------------------------------------------------------------

    def _pdf(self, html: str, created: dt.date, attachments: Sequence[Attachment] = ()) -> Rendered:
        stamp = dt.datetime(created.year, created.month, created.day, tzinfo=dt.UTC)
        for a in attachments:
            a.created = a.modified = stamp
        # Image names are content hashes, so the HTML identifies the document's content.
        ident = hashlib.sha256(html.encode("utf-8")).hexdigest()[:32].encode("ascii")
        try:
            doc = HTML(
                string=html, base_url=self.template_dir.as_uri() + "/", url_fetcher=self.fetcher
            ).render(
                font_config=self.font_config,
                stylesheets=[self.css],
                pdf_variant="pdf/ua-1",
                pdf_tags=True,
            )
            pdf = doc.write_pdf(
                attachments=list(attachments),
                pdf_identifier=ident,
                pdf_variant="pdf/ua-1",
                pdf_tags=True,
            )
        finally:
            self.fetcher.images.clear()
        return Rendered(pdf, len(doc.pages))

    def render_team(
        self, report: TeamReport, pseudonymised: bool = False, high: float = math.nan
    ) -> Rendered:
        html = self.team_html(report, pseudonymised=pseudonymised, high=high)
        csv = Attachment(
            string=kpi_rows_csv(report),
            name="kpis.csv",
            description=f"KPI rows {report.team_id} and {ALL_TEAMS}, {report.month}",
            url_fetcher=self.fetcher,
        )
        return self._pdf(html, report.report_date, [csv])

    def render_overview(self, o: OverviewReport) -> Rendered:
        return self._pdf(self.overview_html(o), o.report_date)

    def overview_html(self, o: OverviewReport) -> str:
        loc, t = o.locale, T[o.locale]
        period = fmt.month_name(o.month, loc)
        title = t["overview_title"].format(period=period)
        doc = {
            "title": title,
            "heading": title,
            "author": AUTHOR,
            "subject": t["overview_subject"].format(period=period),
            "keywords": "scorecard, overview, " + o.month,
            "created": o.report_date.isoformat(),
            "period": period,
            "running_title": t["overview_kicker"],
            "footer": t["overview_footer"].format(period=period),
            "meta_line": t["meta"].format(
                period=period, date=fmt.date(o.report_date, loc), team_id=ALL_TEAMS
            ),
        }
        columns = [
            {"label": fmt.kpi_short_label(k, loc), "better": _better_text(k, loc)}
            for k in o.columns
        ]
        rows = []
        for tid, name in [(ALL_TEAMS, t["company"]), *o.teams]:
            cells = []
            for k in o.columns:
                v, prev = o.value(tid, k), o.value(tid, k, "prev_value")
                target, n = o.value(tid, k, "target"), o.value(tid, k, "n")
                d = _cell_delta(fmt.change(k, v, prev, loc, ""))
                cells.append(
                    {
                        "value": fmt.kpi_value(k, v, loc),
                        "change": d["text"],
                        "judgement": d["judgement"],
                        "target": t["target_is"].format(v=fmt.kpi_value(k, target, loc))
                        if math.isfinite(target)
                        else "",
                        "low_sample": math.isfinite(n)
                        and n < LOW_SAMPLE_N
                        and KPI_BY_ID[k].kind != "count",
                        "reason": "" if math.isfinite(v) else o.reason(tid, k),
                    }
                )
            rows.append({"name": name, "company": tid == ALL_TEAMS, "cells": cells})
        order = [ALL_TEAMS, *(tid for tid, _ in o.teams)]
        names = {ALL_TEAMS: t["company"], **dict(o.teams)}
        trend_columns, trend_rows = self._overview_trends(o, order, names)
        return self.overview_template.render(
            locale=loc,
            t=t,
            doc=doc,
            columns=columns,
            rows=rows,
            trend_columns=trend_columns,
            trend_rows=trend_rows,
            trend_caption=t["overview_trends_caption"].format(
                first=fmt.month_name(o.months[0], loc), last=period
            ),
            notes=o.notes,
        )

    def _overview_trends(
        self, o: OverviewReport, order: list[str], names: dict[str, str]
    ) -> tuple[list[dict], list[dict]]:
        """Small multiples as a table: a 13-month line per team and KPI with its latest value.

        Rates and times share one y-range per column, so the lines compare in height across
        teams; counts get each team's own range, or small teams would lie flat."""
        loc = o.locale
        series = {
            tid: {
                k: np.array([o.value(tid, k, month=m) for m in o.months], dtype=float)
                for k in o.trend_kpis
            }
            for tid in order
        }
        columns, scales = [], {}
        for k in o.trend_kpis:
            vals = np.concatenate([series[tid][k] for tid in order if tid != ALL_TEAMS])
            vals = vals[np.isfinite(vals)]
            shared = KPI_BY_ID[k].kind != "count" and len(vals) > 0
            scales[k] = (float(vals.min()), float(vals.max())) if shared else None
            scale_text = (
                f"{fmt.kpi_value(k, scales[k][0], loc)} – {fmt.kpi_value(k, scales[k][1], loc)}"
                if shared
                else T[loc]["own_scale"]
            )
            columns.append({"label": fmt.kpi_short_label(k, loc), "scale": scale_text})
        rows = []
        for tid in order:
            cells = []
            for k in o.trend_kpis:
                v = series[tid][k]
                colour = charts.INK if tid == ALL_TEAMS else charts.OKABE_ITO["blue"]
                svg = charts.sparkline_svg(v, width=90, height=20, scale=scales[k], colour=colour)
                last = v[np.isfinite(v)][-1] if np.isfinite(v).any() else math.nan
                cells.append(
                    {
                        "spark": self.fetcher.add_image(svg),
                        "alt": _series_text(names.get(tid, tid), k, o.months, v, loc),
                        "last": fmt.kpi_value(k, last, loc),
                    }
                )
            rows.append({"name": names.get(tid, tid), "company": tid == ALL_TEAMS, "cells": cells})
        return columns, rows

    # -- view model: team --------------------------------------------------------------------

    def team_html(self, r: TeamReport, pseudonymised: bool = False, high: float = math.nan) -> str:
        loc = r.locale
        t = T[loc]
        period = fmt.month_name(r.month, loc)
        date = fmt.date(r.report_date, loc)
        cur = r.current()
        doc = {
            "title": t["title"].format(team=r.team_name, period=period),
            "author": AUTHOR,
            "subject": t["subject"].format(team=r.team_name, period=period),
            "keywords": "scorecard, KPI, " + r.team_id + ", " + r.month,
            "created": r.report_date.isoformat(),
            "period": period,
            "running_title": f"{t['kicker']} · {r.team_name}",
            "footer": t["footer"].format(team=r.team_name, period=period),
            "meta_line": t["meta"].format(period=period, date=date, team_id=r.team_id),
        }
        return self.team_template.render(
            locale=loc,
            t=t,
            doc=doc,
            team_name=r.team_name,
            tiles=[self._tile(r, k) for k in r.headline if k in cur.index],
            notes=r.notes,
            risk=self._risk(r, pseudonymised, high),
            kpi_rows=self._kpi_rows(r),
            charts=self._charts(r),
            definitions=_halves(
                [
                    {
                        "label": fmt.kpi_label(k, loc),
                        "definition": getattr(KPI_BY_ID[k], f"definition_{loc}"),
                        "denominator": getattr(KPI_BY_ID[k], f"denominator_{loc}"),
                    }
                    for k in self._kpis_shown(r)
                ]
            ),
            quality=self._quality(r),
            provenance=self._provenance(r),
        )

    def _kpis_shown(self, r: TeamReport) -> list[str]:
        have = set(r.current().index)
        return [k.id for k in KPIS if k.id in have]

    def _tile(self, r: TeamReport, kpi: str) -> dict:
        loc, t = r.locale, T[r.locale]
        row = r.current().loc[kpi]
        value, target, n = _f(row.value), _f(row.target), _f(row.n)
        hist = r.series(kpi).value.to_numpy(dtype=float)
        return {
            "label": fmt.kpi_label(kpi, loc),
            "value": fmt.kpi_value(kpi, value, loc),
            "reason": _reason(row, loc),
            "target": t["target_is"].format(v=fmt.kpi_value(kpi, target, loc))
            if math.isfinite(target)
            else t["no_target"],
            "prev": fmt.change(kpi, value, _f(row.prev_value), loc, t["vs_prev"]),
            "yoy": fmt.change(kpi, value, _f(row.yoy_value), loc, t["vs_yoy"]),
            # A KPI the data cannot give has no sample to warn about: its reason says it all.
            "n": "" if _reason(row, loc) else _n_text(n, loc),
            "low_sample": bool(n < LOW_SAMPLE_N),
            "spark": self.fetcher.add_image(charts.sparkline_svg(hist)),
            "spark_alt": _series_text(r.team_name, kpi, r.months, hist, r.locale),
            "better": _better_text(kpi, loc),
        }

    def _kpi_rows(self, r: TeamReport) -> list[dict]:
        loc, t = r.locale, T[r.locale]
        cur = r.current()
        rows = []
        for kpi in self._kpis_shown(r):
            row = cur.loc[kpi]
            value, target, prev = _f(row.value), _f(row.target), _f(row.prev_value)
            lo, hi, n = _f(row.ci_low), _f(row.ci_high), _f(row.n)
            sig = row.change_significant
            low = bool(n < LOW_SAMPLE_N)
            pd_ = fmt.change(kpi, value, prev, loc, "")
            yd = fmt.change(kpi, value, _f(row.yoy_value), loc, "")
            alt = (
                f"{fmt.kpi_label(kpi, loc)}: {fmt.kpi_value(kpi, value, loc)}"
                + (f", {t['ci']} {fmt.interval(kpi, lo, hi, loc)}" if math.isfinite(lo) else "")
                + (
                    f", {t['target']} {fmt.kpi_value(kpi, target, loc)}"
                    if math.isfinite(target)
                    else ""
                )
                + (
                    f", {t['vs_prev']} {fmt.kpi_value(kpi, prev, loc)}"
                    if math.isfinite(prev)
                    else ""
                )
            )
            rows.append(
                {
                    "label": fmt.kpi_label(kpi, loc),
                    "better": _better_text(kpi, loc),
                    "value": fmt.kpi_value(kpi, value, loc),
                    "ci": fmt.interval(kpi, lo, hi, loc) or "–",
                    "target": fmt.kpi_value(kpi, target, loc) if math.isfinite(target) else "–",
                    "bullet": self.fetcher.add_image(
                        charts.bullet_svg(kpi, value, target, prev, lo, hi, faded=low)
                    ),
                    "bullet_alt": alt,
                    "prev_change": _cell_delta(pd_),
                    "significant": "–"
                    if sig is None or pd.isna(sig)
                    else (t["yes"] if bool(sig) else t["no"]),
                    "yoy_change": _cell_delta(yd),
                    "n": "–" if _reason(row, loc) else fmt.count(n, loc),
                    "low_sample": low and not _reason(row, loc),
                    "reason": _reason(row, loc),
                }
            )
        return rows

    def _charts(self, r: TeamReport) -> list[dict]:
        loc, t = r.locale, T[r.locale]
        out = []
        vol = charts.volume_chart(channel_matrix(r.channels, r.months), r.months, loc)
        times = charts.times_chart(r.times, r.months, loc)
        survey = charts.survey_chart(r.series("csat"), r.series("nps"), r.months, loc)
        for chart, cap in (
            (vol, "volume_caption"),
            (times, "times_caption"),
            (survey, "survey_caption"),
        ):
            out.append(
                {"src": self.fetcher.add_image(chart.svg), "alt": chart.alt, "caption": t[cap]}
            )
        return out

    def _risk(self, r: TeamReport, pseudonymised: bool, high: float) -> dict:
        loc, t = r.locale, T[r.locale]
        cur = r.current()

        def kpi_or_none(k: str) -> pd.Series | None:
            return cur.loc[k] if k in cur.index else None

        count, share, det = (
            kpi_or_none(k) for k in ("at_risk_customers", "at_risk_share", "detractor_share")
        )
        scored = r.risk_scored and count is not None and math.isfinite(_f(count.value))
        out: dict = {"scored": scored, "rows": []}
        if not scored:
            why = _reason(count, loc) if count is not None else ""
            out["not_scored"] = (
                t["risk_not_scored_why"].format(reason=why) if why else t["risk_not_scored"]
            )
            return out
        out["count"] = fmt.kpi_value("at_risk_customers", _f(count.value), loc)
        out["count_change"] = t["risk_count_change"].format(
            v=fmt.kpi_value("at_risk_customers", _f(count.prev_value), loc)
        )
        out["share"] = (
            fmt.kpi_value("at_risk_share", _f(share.value), loc)
            if share is not None
            else fmt.NO_DATA[loc]
        )
        trend = r.series("at_risk_share").value.to_numpy(dtype=float)
        out["share_spark"] = self.fetcher.add_image(charts.sparkline_svg(trend))
        out["share_spark_alt"] = _series_text(
            r.team_name, "at_risk_share", r.months, trend, r.locale
        )
        out["share_detail"] = (
            t["risk_share_detail"].format(n=fmt.count(_f(share.n), loc))
            if share is not None
            else ""
        )
        out["detractors"] = (
            fmt.kpi_value("detractor_share", _f(det.value), loc)
            if det is not None
            else fmt.NO_DATA[loc]
        )
        out["detractor_detail"] = (
            (
                _n_text(_f(det.n), loc)
                if _f(det.n) < LOW_SAMPLE_N
                else t["detractor_detail"].format(n=fmt.count(_f(det.n), loc))
            )
            if det is not None
            else ""
        )
        reasons_col = f"reasons_{loc}"
        if r.at_risk is not None:
            for row in r.at_risk.itertuples():
                out["rows"].append(
                    {
                        "id": row.display_id,
                        "score": fmt.number(100 * row.score, loc, 0) + fmt._UNIT_SUFFIX["%"][loc],
                        "reasons": getattr(row, reasons_col) or "–",
                    }
                )
        out["legend"] = t["risk_legend"].format(
            high=fmt.number(100 * high, loc, 0) + fmt._UNIT_SUFFIX["%"][loc]
            if math.isfinite(high)
            else "–",
            ids=t["ids_pseudo"] if pseudonymised else t["ids_real"],
        )
        return out

    def _quality(self, r: TeamReport) -> dict:
        loc = r.locale
        labels = DATASET_LABELS[loc]
        rows = [
            {
                "dataset": labels.get(x.dataset, x.dataset),
                "read": fmt.count(x.rows_read, loc),
                "accepted": fmt.count(x.accepted, loc),
                "quarantined": fmt.count(x.quarantined, loc),
                "duplicates": fmt.count(x.duplicates_dropped, loc),
            }
            for x in r.ingest.itertuples()
        ]
        reasons = [
            {
                "dataset": labels.get(x.dataset, x.dataset),
                "reason": x.reason,
                "rows": fmt.count(x.rows, loc),
            }
            for x in r.reasons.itertuples()
        ]
        return {"rows": rows, "reasons": reasons}

    def _provenance(self, r: TeamReport) -> str:
        loc, t = r.locale, T[r.locale]
        inputs = (
            "; ".join(
                t["inputs_row"].format(
                    dataset=DATASET_LABELS[loc].get(x.dataset, x.dataset),
                    read=fmt.count(x.rows_read, loc),
                    accepted=fmt.count(x.accepted, loc),
                )
                for x in r.ingest.itertuples()
            )
            or fmt.NO_DATA[loc]
        )
        return t["provenance_text"].format(
            period=fmt.month_name(r.month, loc),
            date=fmt.date(r.report_date, loc),
            warehouse="warehouse.duckdb",
            inputs=inputs,
            fingerprint=r.fingerprint(),
        )


def _series_text(who: str, kpi: str, months: Sequence[str], values: np.ndarray, locale: str) -> str:
    """Alt text of a trend line: whose KPI it is and every month's value."""
    parts = [
        f"{fmt.month_name(m, locale, short=True)} {fmt.kpi_value(kpi, v, locale)}"
        for m, v in zip(months, values, strict=True)
        if math.isfinite(v)
    ]
    return f"{who}, {fmt.kpi_label(kpi, locale)}: " + ("; ".join(parts) or fmt.NO_DATA[locale])


def _halves(items: list[dict]) -> list[list[dict]]:
    """Split the definitions into two columns of about equal text length."""
    # In lines: the term, then the text at about 62 characters a line in a half-page column.
    sizes = [2 + (len(i["definition"]) + len(i["denominator"]) + 8) // 62 for i in items]
    total, run = sum(sizes), 0
    for k, size in enumerate(sizes):
        run += size
        if run >= total / 2:
            return [items[: k + 1], items[k + 1 :]]
    return [items, []]


def _cell_delta(d: dict) -> dict:
    if not d["arrow"]:
        return {"text": "–", "judgement": ""}
    return {"text": f"{d['arrow']}\u202f{d['text']}", "judgement": d["judgement"]}


def first_page_png(pdf: bytes, scale: float = 0.9) -> bytes:
    """The first page as PNG, for the preview in the Dagster UI."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        # A 32-colour palette keeps a preview near 10 KB: the UI stores one per team and month.
        image = doc[0].render(scale=scale).to_pil().convert("RGB").quantize(colors=32)
        buf = io.BytesIO()
        image.save(buf, format="PNG", optimize=True)
        return buf.getvalue()
    finally:
        doc.close()
