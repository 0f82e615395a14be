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

from scorecards.contract.kpi_catalog import (
    ALL_TEAMS,
    KPI_BY_ID,
    KPIS,
    LOW_SAMPLE_N,
    SERVICE_LEVEL,
    reason_text,
)
from scorecards.core import package_files
from scorecards.render import charts
from scorecards.report.data import OverviewReport, TeamReport, channel_matrix, kpi_rows_csv
from scorecards.text import formatting as fmt

TEMPLATE_DIR = package_files.TEMPLATES_DIR
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
        "at_risk_customers": "Kundinnen und Kunden mit hohem Risiko",
        "at_risk_share": "Anteil an den betreuten Kundinnen und Kunden",
        "detractor_share": "Kritiker-Anteil (NPS 0–6)",
        "top_at_risk": "Die 10 Kundinnen und Kunden mit dem höchsten Abwanderungsrisiko",
        "customer": "Kennung",
        "customer_label": "Name",
        "new_on_list": "neu",
        "new_legend": "neu: im Vormonat nicht im hohen Band.",
        "score": "Risiko",
        "reasons": "Wichtigste Gründe",
        "no_high_risk": "Keine Kundinnen und Kunden dieses Teams im hohen Risikoband.",
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
        "kpi_legend": "✗: Ziel verfehlt. Balken: Wert mit 95-%-Intervall (hellblau), Skala "
        "darunter; senkrechter Strich: Ziel; Raute: Vormonat; Graustufen: deutlich verfehlt / "
        "knapp / erreicht. Signifikant: Änderung zum Vormonat außerhalb der Zufallsschwankung "
        "(p < 0,05); sonst „keine echte Änderung“. Vorjahr: nur die Differenz, ohne Test. "
        "⚠ n < 30: zu wenige Fälle, um den Wert zu lesen.",
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
        "tile_legend": "✗ rot: Ziel verfehlt, ✓: erreicht. Pfeil und besser/schlechter nur "
        "bei einer echten Änderung zum Vormonat (außerhalb der Zufallsschwankung), rot wenn "
        "schlechter; ≈ grau: keine echte Änderung. Vorjahr: Differenz ohne Test. Linie: letzte "
        "13 Monate, gestrichelt das Ziel. Ausgegraut: weniger als 30 Fälle.",
        "volume_caption": "Tickets pro Monat nach Kanal.",
        "times_caption": "Erste Antwortzeit nach Erstellungsmonat: Median (wie die Kachel) "
        "und 90. Perzentil. Lösungszeit nach Lösungsmonat: Mittelwert (ART, wie die Kachel) "
        "und Median. Gestrichelt: Ziel.",
        "survey_caption": "CSAT und NPS mit 95-%-Intervall als Band; gestrichelt: Ziel.",
        "meta": "Bericht für {period} · Stand {date}",
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
        "overview_legend": "Je Zelle: Wert, darunter die Änderung ggü. Vormonat. ✗ rot: Ziel "
        "verfehlt (darunter das Ziel, wenn es nicht für alle gleich ist). Pfeil und "
        "besser/schlechter nur bei echter Änderung, rot wenn schlechter; „≈“: keine echte "
        "Änderung. Grau: n < 30.",
        "target_all": "Ziel {v}",
        "attention": "Was Aufmerksamkeit braucht",
        "overview_attention": "Teams, die Aufmerksamkeit brauchen",
        "nothing_needs_attention": "Kein Team braucht diesen Monat besondere Aufmerksamkeit.",
        "overview_notes": "Hinweise",
        "meets": "✓ Ziel {v} erreicht",
        "misses": "✗ Ziel {v} verfehlt",
        "within_target": "{v} innerhalb von {t}",
        "no_real_change": "keine echte Änderung",
        "overview_footer": "Alle Teams · {period} · vertraulich",
        "risk_count_change": "Vormonat {v}",
        "risk_prev": "Vormonat {v}",
        "risk_new_count": "{n} neu auf der Liste",
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
        "customer": "Id",
        "customer_label": "Name",
        "new_on_list": "new",
        "new_legend": "new: not in the high band last month.",
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
        "kpi_legend": "✗: target missed. Bar: value with its 95% interval (light blue), scale "
        "below; vertical line: target; diamond: last month; grey bands: clearly missed / close / "
        "met. Significant: the change since last month is beyond random variation (p < 0.05); "
        "otherwise \u201cno real change\u201d. Last year: the difference only, not tested. "
        "⚠ n < 30: too few cases to read the value.",
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
        "tile_legend": "✗ in red: target missed, ✓: met. Arrow and better/worse only for a "
        "real change since last month (beyond random variation), red when worse; "
        "≈ in grey: no real change. Last year: the difference, not tested. Line: last 13 months, "
        "dashed the target. Greyed: fewer than 30 cases.",
        "volume_caption": "Tickets per month by channel.",
        "times_caption": "First response time by month created: median (as on the tile) and "
        "90th percentile. Resolution time by month resolved: mean (ART, as on the tile) and "
        "median. Dashed: target.",
        "survey_caption": "CSAT and NPS with their 95% interval as a band; dashed: target.",
        "meta": "Report for {period} · as of {date}",
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
        "overview_legend": "Each cell: value, below it the change since last month. ✗ in red: "
        "target missed (with the target below when it differs between teams). Arrow and "
        "better/worse only for a real change, red when worse; \u201c≈\u201d: no real change. "
        "Grey: n < 30.",
        "target_all": "target {v}",
        "attention": "What needs attention",
        "overview_attention": "Teams that need attention",
        "nothing_needs_attention": "No team needs particular attention this month.",
        "overview_notes": "Notes",
        "meets": "✓ meets target {v}",
        "misses": "✗ misses target {v}",
        "within_target": "{v} within {t}",
        "no_real_change": "no real change",
        "overview_footer": "All teams · {period} · confidential",
        "risk_count_change": "last month {v}",
        "risk_prev": "last month {v}",
        "risk_new_count": "{n} new on the list",
        "risk_share_detail": "of {n} served",
        "detractor_detail": "{n} NPS responses",
    },
}

DATASET_LABELS = {
    "de": {
        "tickets": "Tickets",
        "survey_responses": "Umfrageantworten",
        "customers": "Kundinnen und Kunden",
    },
    "en": {"tickets": "Tickets", "survey_responses": "Survey responses", "customers": "Customers"},
}


# Headline tiles are a quarter of the page wide: their titles must fit on one line, so the long
# catalogue labels get a short form here (the table on page 2 prints the full label).
TILE_LABELS: dict[str, dict[str, str]] = {
    "de": {
        "first_response_time": "Erste Antwort (FRT)",
        "first_response_within_target": "Antwort in Zielzeit",
        "average_resolution_time": "Lösungszeit Ø (ART)",
        "resolved_within_target": "Lösung in Zielzeit",
        "average_handling_time": "Bearbeitung Ø (AHT)",
        "first_contact_resolution": "Erstlösung (FCR)",
        "resolution_rate": "Lösungsrate",
        "escalation_rate": "Eskalationsrate",
        "reopen_rate": "Wiedereröffnungen",
        "self_service_rate": "Self-Service-Quote",
        "csat": "Zufriedenheit (CSAT)",
        "nps": "Net Promoter Score",
        "ces": "Kundenaufwand (CES)",
        "churn_rate": "Abwanderungsrate",
        "at_risk_customers": "Hohes Risiko (Anzahl)",
        "at_risk_share": "Hohes Risiko (Anteil)",
        "detractor_share": "Kritiker-Anteil",
    },
    "en": {
        "first_response_time": "First response (FRT)",
        "first_response_within_target": "Answered in target",
        "average_resolution_time": "Resolution time (ART)",
        "resolved_within_target": "Resolved in target",
        "average_handling_time": "Handling time (AHT)",
        "first_contact_resolution": "First contact (FCR)",
        "ces": "Customer effort (CES)",
        "csat": "Satisfaction (CSAT)",
        "at_risk_customers": "At high risk (count)",
        "at_risk_share": "At high risk (share)",
    },
}

# The appendix explains each KPI in plain words, without the data contract's column names
# (`handle_time_s`, `contacts = 1`): the catalogue's definitions are written for analysts and
# docs/metrics.md. KPIs not listed here print the catalogue's text.
PLAIN_DEFINITIONS: dict[str, dict[str, str]] = {
    "de": {
        "first_response_time": "Median der Zeit von der Erstellung eines Tickets bis zur ersten "
        "Antwort, über die im Monat erstellten Tickets mit erster Antwort: die Hälfte wartete "
        "kürzer, die Hälfte länger.",
        "average_resolution_time": "Mittelwert der Zeit von der Erstellung eines Tickets bis zu "
        "seiner Lösung, über die im Monat gelösten Tickets.",
        "average_handling_time": "Mittelwert der erfassten Bearbeitungszeit je Ticket, über die "
        "im Monat gelösten Tickets, für die sie erfasst ist.",
        "wait_time": "Mittelwert der Wartezeit bis zur Annahme (Telefon, Chat), über die im Monat "
        "erstellten Tickets, für die sie erfasst ist.",
        "first_contact_resolution": "Anteil der im Monat gelösten Tickets, die mit einem einzigen "
        "Kontakt gelöst und nicht wiedereröffnet wurden.",
        "self_service_rate": "Anteil der im Monat erstellten Tickets, die über Self-Service "
        "kamen und vor Monatsende gelöst sind.",
        "churn_rate": "Von den zu Monatsbeginn aktiven Kundinnen und Kunden (vorher gewonnen "
        "und nicht vorher abgewandert) und, für ein Team, von ihm betreut (ein Ticket des Teams "
        "in den 90 Tagen vor Monatsbeginn): der Anteil, der im Monat abgewandert ist.",
        "at_risk_customers": "Am Monatsende aktive Kundinnen und Kunden, deren geschätztes "
        "Abwanderungsrisiko im hohen Band liegt; für ein Team jene, deren Hauptteam es ist (die "
        "meisten ihrer Tickets in den letzten 90 Tagen). Leer, wenn der Monat nicht bewertet "
        "werden konnte.",
    },
    "en": {
        "first_response_time": "Median time from a ticket's creation to its first response, "
        "over the tickets created in the month that have one: half waited less, half longer.",
        "average_resolution_time": "Mean time from a ticket's creation to its resolution, over "
        "the tickets resolved in the month.",
        "average_handling_time": "Mean recorded handling time per ticket, over the tickets "
        "resolved in the month that have one.",
        "wait_time": "Mean wait until a phone call or chat was taken, over the tickets created "
        "in the month that have one.",
        "first_contact_resolution": "Share of the tickets resolved in the month that were solved "
        "in a single contact and not reopened.",
        "self_service_rate": "Share of the tickets created in the month that came through "
        "self-service and are resolved before the month ends.",
        "churn_rate": "Of the customers active at the start of the month (won before it, not "
        "lost before it) and, for a team, served by it (a ticket of the team in the 90 days "
        "before the month starts): the share lost in the month.",
        "at_risk_customers": "Customers active at the end of the month whose estimated churn "
        "risk is in the high band; for a team, those whose primary team it is (most of their "
        "tickets in the last 90 days). Empty when the month could not be scored.",
    },
}

# Quarantine reasons are stored in English (validation.py, mapping.py); German PDFs translate
# them, the column names included. An unknown reason prints as stored rather than vanish.
_REASONS_DE: dict[str, str] = {
    "unknown channel": "unbekannter Kanal",
    "first response before creation": "erste Antwort vor der Erstellung",
    "resolved before creation": "gelöst vor der Erstellung",
    "contacts below 1": "weniger als ein Kontakt",
    "unknown survey type": "unbekannter Umfragetyp",
    "score out of range": "Bewertung außerhalb der Skala",
    "churned before customer_since": "abgewandert vor Beginn der Kundenbeziehung",
    "no team and no ticket_id": "weder Team noch Ticket-ID",
    "no team and ticket_id not among accepted tickets": "kein Team, und die Ticket-ID gehört zu "
    "keinem gültigen Ticket",
    "submitted before its ticket was created": "abgegeben vor der Erstellung des Tickets",
}
_REASON_PREFIXES_DE: dict[str, str] = {
    "missing required value: ": "Pflichtwert fehlt: ",
    "unparsable timestamp: ": "Zeitpunkt nicht lesbar: ",
    "not a boolean: ": "kein Ja/Nein-Wert: ",
    "not a number: ": "keine Zahl: ",
    "negative value: ": "negativer Wert: ",
    "not a whole number: ": "keine ganze Zahl: ",
    "control character in ": "Steuerzeichen in ",
    "timestamp in the future: ": "Zeitpunkt in der Zukunft: ",
    "duplicate ticket_id with conflicting values in: ": "doppelte Ticket-ID mit abweichenden "
    "Werten in: ",
    "duplicate response_id with conflicting values in: ": "doppelte Antwort-ID mit "
    "abweichenden Werten in: ",
    "duplicate customer_id with conflicting values in: ": "doppelte Kundennummer mit "
    "abweichenden Werten in: ",
}
COLUMNS_DE: dict[str, str] = {
    "ticket_id": "Ticket-ID",
    "customer_id": "Kundennummer",
    "agent_id": "Bearbeiter-ID",
    "response_id": "Antwort-ID",
    "team": "Team",
    "channel": "Kanal",
    "created_at": "Erstellung",
    "first_response_at": "erste Antwort",
    "resolved_at": "Lösung",
    "handle_time_s": "Bearbeitungszeit",
    "wait_time_s": "Wartezeit",
    "contacts": "Kontakte",
    "reopened": "wiedereröffnet",
    "escalated": "eskaliert",
    "survey_type": "Umfragetyp",
    "score": "Bewertung",
    "submitted_at": "Abgabezeitpunkt",
    "customer_since": "Kunde seit",
    "churned_at": "Abwanderung",
    "segment": "Segment",
}


def quarantine_reason(reason: str, locale: str) -> str:
    """A stored quarantine reason in the report's language ("; " joins several)."""
    if locale != "de" or not isinstance(reason, str):
        return reason
    out = []
    for part in reason.split("; "):
        if part in _REASONS_DE:
            out.append(_REASONS_DE[part])
            continue
        for en, de in _REASON_PREFIXES_DE.items():
            if part.startswith(en):
                cols = part[len(en) :].split(", ")
                out.append(de + ", ".join(COLUMNS_DE.get(c, c) for c in cols))
                break
        else:
            out.append(part)
    return "; ".join(out)


def tile_label(kpi: str, locale: str) -> str:
    return TILE_LABELS[locale].get(kpi) or fmt.kpi_label(kpi, locale)


def definition(kpi: str, locale: str) -> str:
    return PLAIN_DEFINITIONS[locale].get(kpi) or getattr(KPI_BY_ID[kpi], f"definition_{locale}")


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


class _IndexedOverview:
    """An OverviewReport whose `value` and `reason` look a row up in a dict. The report's own
    look-ups filter the whole 13-month frame on every call: 10,000 calls for 100 teams took
    40 s. Same answers: the first row of (team, KPI, month), NaN or "" when there is none."""

    def __init__(self, o: OverviewReport) -> None:
        self._o = o
        df = o.kpis
        self._rows: dict[tuple, int] = {}
        for i, key in enumerate(zip(df.team, df.kpi, df.period, strict=True)):
            self._rows.setdefault(key, i)
        self._cols = {c: df[c].to_numpy() for c in df.columns}

    def __getattr__(self, name: str) -> object:
        return getattr(self._o, name)

    def value(self, team: str, kpi: str, column: str = "value", month: str | None = None) -> float:
        i = self._rows.get((team, kpi, month or self._o.month))
        if i is None:
            return math.nan
        x = self._cols[column][i]
        return float(x) if pd.notna(x) else math.nan

    def reason(self, team: str, kpi: str) -> str:
        i = self._rows.get((team, kpi, self._o.month))
        if i is None or "no_data_reason" not in self._cols:
            return ""
        return reason_text(self._cols["no_data_reason"][i], self._o.locale)


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
        o = _IndexedOverview(o)  # type: ignore[assignment]
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
            "meta_line": t["meta"].format(period=period, date=fmt.date(o.report_date, loc)),
        }
        everyone = [(ALL_TEAMS, t["company"]), *o.teams]
        # A target the same for every row goes into the column head; otherwise a missed cell
        # carries its own target under the change.
        uniform: dict[str, str] = {}
        for k in o.columns:
            shown = {fmt.kpi_value(k, o.value(tid, k, "target"), loc) for tid, _ in everyone}
            if len(shown) == 1 and math.isfinite(o.value(ALL_TEAMS, k, "target")):
                uniform[k] = shown.pop()
        columns = [
            {
                "label": fmt.kpi_short_label(k, loc),
                "better": _better_text(k, loc),
                "target": t["target_all"].format(v=uniform[k]) if k in uniform else "",
            }
            for k in o.columns
        ]
        rows = []
        for tid, name in everyone:
            cells = []
            for k in o.columns:
                v, prev = o.value(tid, k), o.value(tid, k, "prev_value")
                target, n = o.value(tid, k, "target"), o.value(tid, k, "n")
                sig = o.value(tid, k, "change_significant")
                low = math.isfinite(n) and n < LOW_SAMPLE_N and KPI_BY_ID[k].kind != "count"
                d = fmt.change(
                    k, v, prev, loc, "", significant=None if math.isnan(sig) else bool(sig)
                )
                if d["tone"] == "noise" and d["text"] != fmt.NO_DATA[loc]:
                    # Within random variation: "≈ +1,2" in grey, no arrow and no word.
                    change = {"text": f"≈\u202f{d['text']}", "judgement": "", "tone": "noise"}
                else:
                    change = _cell_delta(d)
                status = "" if low else fmt.target_status(k, v, target)
                cells.append(
                    {
                        "value": fmt.kpi_value(k, v, loc),
                        "status": status,
                        "mark": fmt.STATUS_MARK["missed"] if status == "missed" else "",
                        "change": change["text"],
                        "judgement": change["judgement"],
                        "tone": change["tone"],
                        "target": t["target_is"].format(v=fmt.kpi_value(k, target, loc))
                        if status == "missed" and k not in uniform
                        else "",
                        "low_sample": low,
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
            notes=[n for n in o.notes if getattr(n, "manual", False)],
            generated_notes=[n for n in o.notes if not getattr(n, "manual", False)]
            + list(getattr(o, "generated_notes", None) or []),
            attention=_attention(getattr(o, "attention", None)),
            has_attention=hasattr(o, "attention"),
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
                svg = charts.sparkline_svg(
                    v,
                    width=90,
                    height=20,
                    scale=scales[k],
                    colour=colour,
                    target=o.value(tid, k, "target"),
                )
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
            "meta_line": t["meta"].format(period=period, date=date),
        }
        return self.team_template.render(
            locale=loc,
            t=t,
            doc=doc,
            team_name=r.team_name,
            attention=_attention(getattr(r, "attention", None))[:3],
            tiles=[self._tile(r, k) for k in r.headline if k in cur.index],
            notes=r.notes,
            risk=self._risk(r, pseudonymised, high),
            kpi_rows=self._kpi_rows(r),
            charts=self._charts(r),
            definitions=_halves(
                [
                    {
                        "label": fmt.kpi_label(k, loc),
                        "definition": definition(k, loc),
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
        cur = r.current()
        row = cur.loc[kpi]
        value, target, n = _f(row.value), _f(row.target), _f(row.n)
        hist = r.series(kpi).value.to_numpy(dtype=float)
        low = bool(n < LOW_SAMPLE_N)
        # Too few cases to judge: the target is shown, but neither met nor missed.
        status = "" if low else fmt.target_status(kpi, value, target)
        target_text = fmt.kpi_value(kpi, target, loc)
        prev = fmt.change(kpi, value, _f(row.prev_value), loc, t["vs_prev"], significant=_sig(row))
        if prev["tone"] == "noise" and prev["arrow"] != "►":
            # Within random variation: "≈ +1,3 Pp." in grey, no arrow and no "better" (the
            # legend says: no real change). Words would wrap on five tiles.
            prev = {**prev, "arrow": "≈", "judgement": ""}
        return {
            "label": tile_label(kpi, loc),
            "full_label": fmt.kpi_label(kpi, loc),
            "value": fmt.kpi_value(kpi, value, loc),
            "reason": _reason(row, loc),
            "status": status,
            "target": (t["misses"] if status == "missed" else t["meets"]).format(v=target_text)
            if status
            else (
                t["target_is"].format(v=target_text) if math.isfinite(target) else t["no_target"]
            ),
            "service_level": self._service_level(r, kpi, cur),
            "prev": prev,
            "yoy": _neutral_change(kpi, value, _f(row.yoy_value), loc, t["vs_yoy"]),
            # A KPI the data cannot give has no sample to warn about: its reason says it all.
            "n": "" if _reason(row, loc) else _n_text(n, loc),
            "low_sample": low,
            "spark": self.fetcher.add_image(charts.sparkline_svg(hist, target=target)),
            "spark_alt": _series_text(r.team_name, kpi, r.months, hist, r.locale)
            + (f"; {t['target']} {target_text}" if math.isfinite(target) else ""),
            "better": _better_text(kpi, loc),
        }

    def _service_level(self, r: TeamReport, kpi: str, cur: pd.DataFrame) -> str:
        """The share within the time target, under a time tile whose service-level KPI exists:
        a median of 5 minutes against a 60-minute target can hide 40 % waiting longer."""
        sl = {v: k for k, v in SERVICE_LEVEL.items()}.get(kpi)
        if sl is None or sl not in cur.index:
            return ""
        share, target = _f(cur.loc[sl].value), _f(cur.loc[kpi].target)
        if not (math.isfinite(share) and math.isfinite(target)):
            return ""
        return T[r.locale]["within_target"].format(
            v=fmt.kpi_value(sl, share, r.locale), t=fmt.kpi_value(kpi, target, r.locale)
        )

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
            pd_ = fmt.change(kpi, value, prev, loc, "", significant=_sig(row))
            yd = _neutral_change(kpi, value, _f(row.yoy_value), loc, "")
            status = "" if low else fmt.target_status(kpi, value, target)
            a, b = charts.bullet_scale(kpi, value, target, prev, hi)
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
                    "status": status,
                    "mark": fmt.STATUS_MARK["missed"] if status == "missed" else "",
                    "scale": _scale_labels(kpi, a, b, loc),
                    "ci": fmt.interval(kpi, lo, hi, loc) or "–",
                    "target": fmt.kpi_value(kpi, target, loc) if math.isfinite(target) else "–",
                    "bullet": self.fetcher.add_image(
                        charts.bullet_svg(kpi, value, target, prev, lo, hi, faded=low)
                    ),
                    "bullet_alt": alt,
                    # Within random variation: the number in grey, and "nein" in the
                    # significance column says why it carries no arrow and no judgement.
                    "prev_change": {**_cell_delta(pd_), "judgement": ""}
                    if pd_["tone"] == "noise"
                    else _cell_delta(pd_),
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
        times = charts.times_chart(
            r.times,
            r.months,
            loc,
            frt=r.series("first_response_time"),
            art=r.series("average_resolution_time"),
        )
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
        new_count = getattr(r, "at_risk_new", None)
        if new_count is not None:
            out["count_change"] += " · " + t["risk_new_count"].format(n=fmt.count(new_count, loc))
        out["share"] = (
            fmt.kpi_value("at_risk_share", _f(share.value), loc)
            if share is not None
            else fmt.NO_DATA[loc]
        )
        out["share_prev"] = (
            t["risk_prev"].format(v=fmt.kpi_value("at_risk_share", _f(share.prev_value), loc))
            if share is not None
            else ""
        )
        out["detractors_prev"] = (
            t["risk_prev"].format(v=fmt.kpi_value("detractor_share", _f(det.prev_value), loc))
            if det is not None
            else ""
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
        label_col = _first_column(r.at_risk, ("display_label", "customer_label", "label"))
        new_col = _first_column(r.at_risk, ("new_on_list", "is_new", "new"))
        if label_col is not None and not r.at_risk[label_col].map(_truthy).any():
            label_col = None  # an empty column says nothing
        out["has_label"] = label_col is not None
        out["label_heading"] = getattr(r, "label_heading", "") or t["customer_label"]
        out["has_new"] = new_col is not None
        if r.at_risk is not None:
            for row in r.at_risk.to_dict("records"):
                label = row.get(label_col) if label_col else None
                out["rows"].append(
                    {
                        "id": row["display_id"],
                        "label": label if isinstance(label, str) and label else "–",
                        "new": bool(new_col) and _truthy(row.get(new_col)),
                        "score": fmt.number(100 * row["score"], loc, 0)
                        + fmt._UNIT_SUFFIX["%"][loc],
                        "reasons": row.get(reasons_col) or "–",
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
                "reason": quarantine_reason(x.reason, loc),
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
    """A change for a table cell: "▲ +2,7 Min." with its judgement; a change within random
    variation without arrow ("+2,7 Min.", "keine echte Änderung"), toned down."""
    if d["text"] in ("", fmt.NO_DATA["de"], fmt.NO_DATA["en"]) or (
        not d["arrow"] and d.get("tone") not in ("noise", "untested")
    ):
        return {"text": "–", "judgement": "", "tone": ""}
    arrow = f"{d['arrow']}\u202f" if d["arrow"] else ""
    return {"text": arrow + d["text"], "judgement": d["judgement"], "tone": d.get("tone", "")}


def _scale_labels(kpi: str, a: float, b: float, locale: str) -> list[str]:
    """The bullet graph's scale printed under it: its ends, and zero when it lies between."""
    unit = KPI_BY_ID[kpi].unit
    digits = 0 if abs(b - a) >= 5 else 1

    def lab(x: float) -> str:
        text = fmt.number(x, locale, digits)
        return "+" + text if unit == "points" and x > 0 else text

    mid = [lab(0.0)] if a < 0 < b else []
    suffix = fmt._UNIT_SUFFIX[unit][locale]
    return [lab(a), *mid, lab(b) + suffix]


def _truthy(x: object) -> bool:
    """True for a set flag or a non-empty label; False for None, NaN and pd.NA."""
    try:
        if pd.isna(x):  # type: ignore[arg-type]
            return False
    except (TypeError, ValueError):
        pass
    return bool(x)


def _first_column(df: pd.DataFrame | None, names: Sequence[str]) -> str | None:
    """The first of `names` that `df` has: the churn list's optional columns."""
    if df is None:
        return None
    return next((c for c in names if c in df.columns), None)


def _attention(items: object) -> list[str]:
    """Attention sentences as plain text, whatever form report_data gives them in: strings,
    or objects with a `text` (and, for the overview, a `team_name`)."""
    out = []
    for item in items or []:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, tuple) and len(item) == 2:
            out.append(f"{item[0]}: {item[1]}")
        else:
            text = getattr(item, "text", None) or str(item)
            name = getattr(item, "team_name", None)
            out.append(f"{name}: {text}" if name and not text.startswith(name) else text)
    return out


def _sig(row: pd.Series) -> bool | None:
    """Whether the change since last month is significant; None when not known."""
    sig = row.get("change_significant") if hasattr(row, "get") else None
    if sig is None or pd.isna(sig):
        return None
    return bool(sig)


def _neutral_change(kpi: str, cur: float, ref: float, locale: str, label: str) -> dict:
    """A change that was not tested (against last year): the signed difference only, no arrow
    and no better/worse, so noise is never dressed up as news."""
    if not (math.isfinite(cur) and math.isfinite(ref)):
        return {
            "arrow": "",
            "text": fmt.NO_DATA[locale],
            "label": label,
            "judgement": "",
            "tone": "",
        }
    return {
        "arrow": "",
        "text": fmt.kpi_delta(kpi, cur - ref, locale),
        "label": label,
        "judgement": "",
        "tone": "untested",
    }


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
