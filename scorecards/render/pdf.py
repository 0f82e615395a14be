"""Rendering: a team's report (or the overview) → view model → Jinja2 HTML → WeasyPrint PDF.

The view models are made by scorecards/render/team_page.py (with risk_section.py) and
overview_page.py; this module turns them into HTML and the HTML into a PDF.

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
import math
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import jinja2
from weasyprint import CSS, HTML, Attachment
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from scorecards.contract.kpi_catalog import ALL_TEAMS
from scorecards.core import package_files
from scorecards.render.overview_page import overview_context
from scorecards.render.team_page import team_context
from scorecards.report.data import OverviewReport, TeamReport, kpi_rows_csv

TEMPLATE_DIR = package_files.TEMPLATES_DIR

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


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    pages: int


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

    # -- HTML --------------------------------------------------------------------------------

    def team_html(self, r: TeamReport, pseudonymised: bool = False, high: float = math.nan) -> str:
        add_image = self.fetcher.add_image
        return self.team_template.render(**team_context(r, add_image, pseudonymised, high))

    def overview_html(self, o: OverviewReport) -> str:
        return self.overview_template.render(**overview_context(o, self.fetcher.add_image))
