"""The PDF scorecards, end to end on hand-built data: real warehouse, real WeasyPrint PDFs.

Team alpha (German) has two months of tickets and surveys; team beta (English) has one month of
tickets and no surveys at all. Alpha's name and an analyst note carry markup that must print as
text and fetch nothing.
"""

from __future__ import annotations

import dataclasses
import http.server
import io
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pandas as pd
import pytest
import yaml
from pypdf import PdfReader

from scorecards.churn import scoring as churn
from scorecards.churn.pseudonyms import display_ids
from scorecards.config.environment import read_environment
from scorecards.ingest.load import ingest_customers, ingest_events
from scorecards.kpis.engine import build_team_kpis
from scorecards.render import batch
from scorecards.render.pdf import LocalOnlyFetcher, Renderer
from scorecards.report.data import load_month, team_report
from scorecards.text import formatting as fmt
from scorecards.warehouse.connection import connect
from tests.conftest import Env, customer, survey, ticket

MONTH = "2026-04"
EVIL_NAME = 'Alpha <img src="file:///etc/passwd"> Team'


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        _Recorder.hits.append(self.path)
        body = b"h1 { color: red }"
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def http_server():
    """A real HTTP server: if anything in a scorecard were fetched, it would show up here."""
    _Recorder.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _teams(remote: str) -> dict:
    return {
        "timezone": "Europe/Berlin",
        "company_targets": {"csat": 70},
        "overview": {"locale": "en"},
        "teams": [
            {
                "id": "alpha",
                "name": EVIL_NAME,
                "locale": "de",
                "headline_kpis": ["first_response_time", "first_contact_resolution", "csat"],
                "targets": {"csat": 80, "first_response_time": 60, "first_contact_resolution": 70},
            },
            {
                "id": "beta",
                "name": "Team Beta",
                "locale": "en",
                "headline_kpis": ["first_response_time", "csat", "nps"],
            },
            # Configured, but no ticket or survey ever: every section says "no data".
            {"id": "gamma", "name": "Team Gamma", "locale": "en"},
        ],
    }


def _fill(env: Env) -> None:
    rows = []
    for month, days, teams in (("2026-03", 31, ["alpha"]), ("2026-04", 30, ["alpha", "beta"])):
        for day in range(1, days + 1):
            for team in teams:
                for k in range(2 if team == "alpha" else 1):
                    prefix = "A" if team == "alpha" else "B"
                    cust = f"{prefix}C{(day + k) % 9}"
                    rows.append(
                        ticket(
                            f"{prefix}-{month}-{day:02d}-{k}",
                            f"{month}-{day:02d}T{9 + k}:00:00+02:00",
                            team=team,
                            customer_id=cust,
                            channel=("email", "phone", "chat")[(day + k) % 3],
                            first_response_at=f"{month}-{day:02d}T{9 + k}:{7 + day % 40:02d}:00+02:00",
                            resolved_at=f"{month}-{day:02d}T{13 + k}:00:00+02:00",
                            handle_time_s=300 + 7 * day,
                            contacts=2 if day % 5 == 0 else 1,
                            escalated="true" if day % 11 == 0 else "false",
                        )
                    )
    env.tickets(rows)
    # Alpha only: 3 CSAT answers in April (2 of 3 in the top two boxes: 66.7 %).
    env.surveys(
        [
            survey("S1", "2026-04-03T18:00:00+02:00", "csat", 5, customer_id="AC1"),
            survey("S2", "2026-04-04T18:00:00+02:00", "csat", 4, customer_id="AC2"),
            survey("S3", "2026-04-05T18:00:00+02:00", "csat", 2, customer_id="AC3"),
            survey("S4", "2026-03-05T18:00:00+02:00", "csat", 5, customer_id="AC3"),
        ]
    )
    env.customers(
        [customer(f"AC{i}", "2025-01-01") for i in range(9)]
        + [customer(f"BC{i}", "2025-01-01") for i in range(9)]
    )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, http_server: str) -> Env:
    env = Env(tmp_path_factory.mktemp("render"), teams=_teams(http_server))
    _fill(env)
    notes = env.config / "notes"
    notes.mkdir()
    (notes / f"{MONTH}.yaml").write_text(
        yaml.safe_dump(
            {
                "teams": {
                    "alpha": [
                        f'Wartung am 12. <link rel="stylesheet" href="{http_server}/evil.css"> '
                        '<img src="file:///etc/passwd">'
                    ]
                }
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    settings = env.settings()
    ingest_events(settings, ["2026-03", "2026-04"])
    ingest_customers(settings)
    _score_everyone_high(settings)
    build_team_kpis(settings, ["2026-03", "2026-04"], "2026-03")
    return env


def _score_everyone_high(settings) -> None:  # noqa: ANN001
    """Risk rows for every customer of both teams, all in the high band: each team's list must
    still show only its own customers. (Two months of data are too few to fit the real model;
    its scoring is tested in test_churn_scoring.py. This tests what the scorecard does with scores.)"""
    rows = [
        {
            "period": MONTH,
            "customer_id": f"{prefix}C{i}",
            "team": team,
            "score": 0.9 - i / 100,
            "band": "high",
            "reasons_de": f"{i + 1} Eskalationen",
            "reasons_en": f"{i + 1} escalations",
        }
        for prefix, team in (("A", "alpha"), ("B", "beta"))
        for i in range(9)
    ]
    with connect(settings.warehouse_path) as con:
        churn.ensure_schema(con)
        con.register("_risk", pd.DataFrame(rows))
        con.execute("INSERT INTO customer_churn_risk BY NAME SELECT * FROM _risk")


@pytest.fixture(scope="module")
def published(env: Env) -> batch.BatchResult:
    result = batch.build_scorecards(env.settings(), MONTH, workers=1)
    assert not result.failures, result.failures
    return result


def _pdf(env: Env, name: str) -> Path:
    return env.data / "out" / MONTH / "scorecards" / f"{name}.pdf"


def _text(path: Path) -> str:
    reader = PdfReader(str(path))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _kpis(env: Env) -> pd.DataFrame:
    return pd.read_csv(env.data / "out" / MONTH / "team_kpis.csv")


def _value(env: Env, team: str, kpi: str, col: str = "value") -> float:
    df = _kpis(env)
    return float(df[(df.team == team) & (df.kpi == kpi)][col].iloc[0])


def test_files_pages_and_size(env: Env, published: batch.BatchResult) -> None:
    names = sorted(f.name for f in published.files)
    assert names == ["alpha", "beta", "gamma", "overview"]
    for f in published.files:
        assert f.path.exists() and f.path.stat().st_size == f.size
        pages = len(PdfReader(str(f.path)).pages)
        assert pages == f.pages
        if f.name != "overview":
            assert 2 <= pages <= 4, (f.name, pages)
        assert f.size < 200 * 1024, (f.name, f.size)


def test_values_are_formatted_for_each_locale(env: Env, published: batch.BatchResult) -> None:
    de, en = _text(_pdf(env, "alpha")), _text(_pdf(env, "beta"))
    csat = _value(env, "alpha", "csat")
    assert round(csat, 1) == 66.7
    assert fmt.kpi_value("csat", csat, "de") in de  # "66,7 %"
    assert "66,7" in de and "66.7" not in de
    assert "Bericht für April 2026 · Stand 30.04.2026" in de
    frt_b = _value(env, "beta", "first_response_time")
    assert fmt.kpi_value("first_response_time", frt_b, "en") in en
    assert "Report for April 2026 · as of Apr 30, 2026" in en
    assert "Überblick" in de and "Summary" in en
    ticket_volume = _value(env, "ALL", "ticket_volume")
    assert fmt.count(ticket_volume, "en") in _text(_pdf(env, "overview"))


def test_small_sample_and_missing_surveys(env: Env, published: batch.BatchResult) -> None:
    de, en = _text(_pdf(env, "alpha")), _text(_pdf(env, "beta"))
    # Alpha's CSAT rests on 3 answers: greyed, with its n and the reason.
    assert "n = 3: zu wenige Fälle" in de
    # Beta has no survey at all: CSAT and NPS say so instead of printing nan or 0.
    assert "no data" in en
    assert not re.search(r"\bnan\b", en, re.IGNORECASE)


def test_team_without_any_data_renders_no_data(env: Env, published: batch.BatchResult) -> None:
    text = _text(_pdf(env, "gamma"))
    assert "Team Gamma" in text
    assert text.count("no data") >= 5
    assert not re.search(r"\bnan\b", text, re.IGNORECASE)


def test_attached_csv_round_trips(env: Env, published: batch.BatchResult) -> None:
    reader = PdfReader(str(_pdf(env, "alpha")))
    attached = reader.attachments
    assert list(attached) == ["kpis.csv"]
    got = pd.read_csv(io.BytesIO(attached["kpis.csv"][0]))
    want = _kpis(env)
    want = want[want.team.isin(["alpha", "ALL"])]
    assert set(got.team) == {"alpha", "ALL"}
    assert len(got) == len(want)
    merged = got.merge(want, on=["team", "kpi"], suffixes=("_pdf", "_csv"))
    assert len(merged) == len(want)
    pd.testing.assert_series_equal(merged.value_pdf, merged.value_csv, check_names=False, atol=1e-6)
    pd.testing.assert_series_equal(merged.n_pdf, merged.n_csv, check_names=False)


def test_fonts_are_embedded(env: Env, published: batch.BatchResult) -> None:
    reader = PdfReader(str(_pdf(env, "alpha")))
    fonts = {}
    for page in reader.pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            font = font.get_object()
            desc = (font.get("/DescendantFonts") or [font])[0].get_object()
            fd = desc["/FontDescriptor"].get_object()
            fonts[str(font["/BaseFont"])] = any(
                k in fd for k in ("/FontFile", "/FontFile2", "/FontFile3")
            )
    assert fonts and all(fonts.values()), fonts
    assert all("Inter" in name for name in fonts), fonts
    if shutil.which("pdffonts"):
        out = subprocess.run(
            ["pdffonts", str(_pdf(env, "alpha"))], capture_output=True, text=True, check=True
        ).stdout.splitlines()[2:]
        assert out and all(re.search(r"\byes\s+yes\s+yes\b", line) for line in out), out


def test_pdf_metadata_tags_and_bookmarks(env: Env, published: batch.BatchResult) -> None:
    reader = PdfReader(str(_pdf(env, "beta")))
    meta = reader.metadata
    assert meta.title == "Service scorecard Team Beta – April 2026"
    assert meta.author == "Service Scorecards"
    assert "Team Beta" in meta.subject
    root = reader.trailer["/Root"]
    assert root["/Lang"] == "en"
    assert bool(root["/MarkInfo"]["/Marked"])
    assert "/StructTreeRoot" in root

    def flat(items: list) -> list[str]:
        return [t for o in items for t in (flat(o) if isinstance(o, list) else [o.title])]

    titles = flat(reader.outline)
    for section in ("Summary", "What the numbers mean", "Churn risk", "All KPIs", "Appendix"):
        assert any(section in t for t in titles), titles
    assert PdfReader(str(_pdf(env, "alpha"))).trailer["/Root"]["/Lang"] == "de"


def test_at_risk_list_shows_own_customers_with_reasons(
    env: Env, published: batch.BatchResult
) -> None:
    alpha, beta = _text(_pdf(env, "alpha")), _text(_pdf(env, "beta"))
    # One gender form (issue 13): the pair form, as in the definitions.
    assert "Die 10 Kundinnen und Kunden mit dem höchsten Abwanderungsrisiko" in alpha
    assert "Kund:innen" not in alpha
    for i in range(9):
        assert f"AC{i}" in alpha and f"BC{i}" in beta
    assert "1 Eskalationen" in alpha and "1 escalations" in beta
    assert fmt.kpi_value("at_risk_customers", 9, "de") in alpha


def test_only_own_team_and_company(env: Env, published: batch.BatchResult) -> None:
    alpha, beta = _text(_pdf(env, "alpha")), _text(_pdf(env, "beta"))
    assert "Team Beta" not in alpha and "beta" not in alpha.lower()
    assert "Alpha" not in beta and "alpha" not in beta.lower()
    for text, other in ((alpha, "BC"), (beta, "AC")):
        assert not re.search(rf"\b{other}\d\b", text)
    # The attachment too: the team's rows and the company's, nothing else.
    got = pd.read_csv(io.BytesIO(PdfReader(str(_pdf(env, "beta"))).attachments["kpis.csv"][0]))
    assert set(got.team) == {"beta", "ALL"}


def test_markup_in_data_prints_as_text_and_nothing_is_fetched(
    env: Env, published: batch.BatchResult, http_server: str
) -> None:
    text = _text(_pdf(env, "alpha"))
    flat = re.sub(r"\s+", " ", text)
    assert '<img src="file:///etc/passwd">' in flat
    assert "evil.css" in flat and '<link rel="stylesheet"' in flat
    assert _Recorder.hits == []
    assert "root:" not in text  # /etc/passwd's contents


def test_fetcher_refuses_everything_outside_the_templates(http_server: str, tmp_path: Path) -> None:
    renderer = Renderer()
    html = (
        f'<html><head><link rel="stylesheet" href="{http_server}/remote.css"></head><body>'
        '<img src="file:///etc/passwd"><img src="../../pyproject.toml">'
        '<img src="fonts/Inter-Regular.otf"><img src="data:image/svg+xml;base64,PHN2Zy8+">'
        "<p>x</p></body></html>"
    )
    renderer._pdf(html, pd.Timestamp("2026-04-30").date())
    blocked = renderer.fetcher.blocked
    assert any("remote.css" in u for u in blocked)
    assert any(u.endswith("/etc/passwd") for u in blocked)
    assert any(u.endswith("pyproject.toml") for u in blocked)
    assert any(u.startswith("data:") for u in blocked)
    assert not any("Inter-Regular" in u for u in blocked)
    assert _Recorder.hits == []
    assert isinstance(renderer.fetcher, LocalOnlyFetcher)


def test_same_inputs_same_bytes(env: Env, published: batch.BatchResult) -> None:
    first = {f.name: f.path.read_bytes() for f in published.files}
    again = batch.build_scorecards(env.settings(), MONTH, workers=2)
    assert not again.failures
    assert {f.name: f.path.read_bytes() for f in again.files} == first


def test_manual_note_first_and_marked(env: Env, published: batch.BatchResult) -> None:
    text = _text(_pdf(env, "alpha"))
    notes = text[text.index("Was die Zahlen bedeuten") :]
    assert (
        notes.split("\n")[1].startswith("NOTIZ DER ANALYSE") or "Notiz der Analyse" in notes[:200]
    )
    assert "Wartung am 12." in notes


def test_one_failing_team_does_not_stop_the_others(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = batch._render_team

    def flaky(report, *args):  # noqa: ANN001, ANN202
        if report.team_id == "alpha":
            raise RuntimeError("disk full while drawing alpha")
        return real(report, *args)

    monkeypatch.setattr(batch, "_render_team", flaky)
    result = batch.build_scorecards(env.settings(), MONTH, workers=1)
    assert set(result.failures) == {"alpha"}
    assert "disk full" in result.failures["alpha"]
    assert sorted(f.name for f in result.files) == ["beta", "gamma", "overview"]


def test_overview_has_every_team_and_the_company(env: Env, published: batch.BatchResult) -> None:
    text = _text(_pdf(env, "overview"))
    assert "Team Beta" in text and "Company" in text
    assert '<img src="file:///etc/passwd">' in re.sub(r"\s+", " ", text)


def test_missing_kpis_for_month_is_a_clear_error(env: Env) -> None:
    with pytest.raises(LookupError, match="no team KPIs for 2026-06"):
        load_month(env.settings(), "2026-06")


def test_report_is_built_from_own_rows_only(env: Env, published: batch.BatchResult) -> None:
    settings = env.settings()
    data = load_month(settings, MONTH)
    rep = team_report(settings, data, settings.teams["beta"])
    assert set(rep.kpis.team) == {"beta", "ALL"}
    assert rep.channels.columns.tolist() == ["period", "channel", "tickets"]


def test_pseudonymised_ids_when_the_config_asks(
    env: Env, published: batch.BatchResult, tmp_path: Path
) -> None:
    settings = env.settings()
    copy = tmp_path / "data"
    shutil.copytree(env.data, copy)
    tf = settings.teams_file
    tf = tf.model_copy(update={"churn": tf.churn.model_copy(update={"pseudonymise_ids": True})})
    # the key as the settings read it from the environment when they are loaded
    key = {tf.churn.id_key_env: "test-key-not-a-secret"}
    environment = read_environment(key, secrets=(tf.churn.id_key_env,))
    pseudo = dataclasses.replace(settings, data_dir=copy, teams_file=tf, environment=environment)
    result = batch.build_scorecards(pseudo, MONTH, teams=["alpha"], workers=1, overview=False)
    assert not result.failures, result.failures
    text = _text(result.files[0].path)
    assert not re.search(r"\bAC\d\b", text)
    want = display_ids(pseudo, pd.Series(["AC0"])).iloc[0]
    assert want.startswith("K-") and want in text
    assert "pseudonymisiert" in text
    # Without the key the run says what is missing instead of printing real ids.
    keyless = dataclasses.replace(pseudo, environment=read_environment({}))
    failed = batch.build_scorecards(keyless, MONTH, teams=["alpha"], workers=1, overview=False)
    assert tf.churn.id_key_env in failed.failures["alpha"]


def test_team_added_after_the_kpis_fails_with_what_to_do(
    env: Env, published: batch.BatchResult, tmp_path: Path
) -> None:
    settings = env.settings()
    tf = settings.teams_file
    added = tf.teams[0].model_copy(update={"id": "delta", "name": "Team Delta"})
    late = dataclasses.replace(
        settings,
        data_dir=shutil.copytree(env.data, tmp_path / "data"),
        teams_file=tf.model_copy(update={"teams": [*tf.teams, added]}),
    )
    result = batch.build_scorecards(late, MONTH, workers=1, overview=False)
    assert set(result.failures) == {"delta"}
    assert "re-materialize team_kpis for 2026-04" in result.failures["delta"]
    assert sorted(f.name for f in result.files) == ["alpha", "beta", "gamma"]


def test_rendering_without_harfbuzz_subset_refuses_instead_of_other_bytes(monkeypatch) -> None:
    """Without HarfBuzz-Subset WeasyPrint would subset fonts with fontTools and the same month
    would give other PDF bytes on this machine than on one with it: refused, saying what to do."""
    import weasyprint.text.ffi as ffi

    from scorecards.render.pdf import FontSubsetterMissing, Renderer

    monkeypatch.setattr(ffi, "harfbuzz_subset", None)
    with pytest.raises(FontSubsetterMissing, match="libharfbuzz-subset0"):
        Renderer()
