"""Teams from the data: team ids from names (Python and DuckDB SQL alike), resolving the teams
of a month from config and warehouse, and a team found only in the data taken from landing to
its PDF and e-mail under its readable name."""

from __future__ import annotations

import random
import re
import sys
import unicodedata
from email import message_from_bytes, policy
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from pypdf import PdfReader

from scorecards.config.settings import ConfigError, TeamConfig
from scorecards.delivery.send import Sender, deliver
from scorecards.delivery.smtp import FileOutbox
from scorecards.ingest.load import ingest_events
from scorecards.kpis.engine import build_team_kpis
from scorecards.render import batch
from scorecards.warehouse.connection import connect
from scorecards.warehouse.teams import (
    for_month,
    resolve_teams,
    team_id,
    team_id_map,
    team_id_sql,
    team_slug,
    team_slug_sql,
)
from tests.conftest import TEAMS, Env, survey, ticket

MONTH = "2026-04"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Kundenservice Süd", "kundenservice_sued"),
        ("IT Service Desk", "it_service_desk"),
        ("  ", ""),
        ("", ""),
        ("--- !!! ---", ""),
        ("ALL", "all_team"),
        ("all", "all_team"),
        (" Overview ", "overview_team"),
        ("All Stars", "all_stars"),  # only a whole slug is reserved
        ("ÖLGESCHÄFT Großkunden", "oelgeschaeft_grosskunden"),
        ("GROẞKUNDEN", "grosskunden"),  # capital sharp s
        ("Su\u0308d", "sued"),  # ü written as u + combining diaeresis
        ("Café Crème / Zürich", "cafe_creme_zuerich"),
        ("Ñandú São João", "nandu_sao_joao"),
        ("Team #3 (Nord-West)", "team_3_nord_west"),
        ("__2nd__level__", "2nd_level"),
        ("🚀 Launch\tTeam 🇩🇪", "launch_team"),
        ("日本 Support", "support"),
        ("billing", "billing"),
    ],
)
def test_team_slug(name: str, slug: str) -> None:
    assert team_slug(name) == slug
    if slug:
        # Every slug is a valid team id: TeamConfig accepts it.
        assert _ID.fullmatch(slug)
        assert TeamConfig(id=slug, name=name).id == slug


def _sql_slugs(values: list[str], expr=team_slug_sql) -> list[str | None]:  # noqa: ANN001
    con = duckdb.connect()
    con.register("v", pd.DataFrame({"i": range(len(values)), "s": values}))
    got = con.execute(f"SELECT {expr('s')} FROM v ORDER BY i").fetchall()
    con.close()
    return [g for (g,) in got]


def test_sql_slug_equals_python_for_every_known_code_point() -> None:
    # Each code point Python's Unicode database knows, alone and between two letters (where a
    # mark that is dropped and a character that separates give different slugs). Code points it
    # lists as unassigned are left out: DuckDB may know a newer Unicode version.
    chars = [
        chr(i)
        for i in range(1, sys.maxunicode + 1)
        if not 0xD800 <= i <= 0xDFFF and unicodedata.category(chr(i)) != "Cn"
    ]
    values = chars + [f"x{c}y" for c in chars]
    got = _sql_slugs(values)
    diff = [(v, team_slug(v), g) for v, g in zip(values, got, strict=True) if team_slug(v) != g]
    assert not diff, diff[:20]


# What team names in exports are made of: words, spaces, punctuation, digits, umlauts in both
# cases and both Unicode forms, accents, combining marks, emoji (with joiners and flags), other
# scripts, and the reserved words.
_PIECES = [
    *"abcxyzABCXYZ0123456789",
    *" \t\n-_./&,;:'\"()#+*!?@%|\\[]{}<>=~`^$",
    *"äöüÄÖÜßẞ",
    "a\u0308",
    "O\u0308",
    "u\u0308",
    *"éèêÉÈçÇñÑåÅøØłŁæÆœŒıİﬁ½²Ａ",
    "\u0301",
    "\u0327",
    "\u200d",
    "\u00a0",
    *"🚀😀👩🏽🇩🇪",
    "👩\u200d💻",
    *"日本語中文한국어ΑΣσςДЖжعربيעברית",
    "all",
    "ALL",
    "overview",
    "Overview",
    "Team",
    "Süd",
    "IT Service Desk",
]


def test_sql_slug_equals_python_on_random_names() -> None:
    rng = random.Random(20260411)
    values = ["".join(rng.choices(_PIECES, k=rng.randint(0, 12))) for _ in range(20_000)]
    values += ["all", "ALL", " all ", "__overview__", "Overview!", "alle", "all2"]
    got = _sql_slugs(values)
    diff = [(v, team_slug(v), g) for v, g in zip(values, got, strict=True) if team_slug(v) != g]
    assert not diff, diff[:20]
    # The property holds on more than empty slugs: most names give one.
    assert sum(1 for g in got if g) > len(values) // 2
    # NULL stays NULL.
    assert duckdb.execute(f"SELECT {team_slug_sql('NULL::VARCHAR')}").fetchone() == (None,)


CONFIGURED = [
    TeamConfig(id="billing", name="Abrechnung"),
    TeamConfig(id="logistics", name="Versand & Logistik"),
    TeamConfig(id="Support_EU", name="O'Neil's Support"),
]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("billing", "billing"),
        ("BILLING", "billing"),
        ("Abrechnung", "billing"),
        ("abrechnung ", "billing"),
        ("Versand & Logistik", "logistics"),
        ("versand & logistik", "logistics"),
        ("Versand und Logistik", "versand_und_logistik"),  # not the configured name: a slug
        ("o'neil's support", "Support_EU"),  # a quote in a name is safe in the SQL
        ("support_eu", "Support_EU"),
        ("Kundenservice Süd", "kundenservice_sued"),
        ("ALL", "all_team"),
        ("  ", ""),
    ],
)
def test_team_id_of_a_value_from_the_data(value: str, expected: str) -> None:
    assert team_id(value, CONFIGURED) == expected
    got = duckdb.execute(f"SELECT {team_id_sql('$v', CONFIGURED)}", {"v": value}).fetchone()[0]
    assert got == expected


def test_team_id_map_and_sql_agree_on_random_names() -> None:
    assert team_id_map(CONFIGURED) == {
        "billing": "billing",
        "abrechnung": "billing",
        "logistics": "logistics",
        "versand & logistik": "logistics",
        "support_eu": "Support_EU",
        "o'neil's support": "Support_EU",
    }
    rng = random.Random(7)
    values = ["".join(rng.choices(_PIECES, k=rng.randint(0, 6))) for _ in range(3000)]
    values += ["Abrechnung", "ABRECHNUNG", "Versand & Logistik", "LOGISTICS", "Support_EU"]
    got = _sql_slugs(values, lambda e: team_id_sql(e, CONFIGURED))
    assert got == [team_id(v, CONFIGURED) for v in values]
    assert got[-5:] == ["billing", "billing", "logistics", "logistics", "Support_EU"]


# -- resolving the teams -------------------------------------------------------------------------


def _teams_yaml(**extra: object) -> dict:
    return {
        **TEAMS,
        "team_defaults": {
            "locale": "en",
            "targets": {"csat": 75, "first_response_time": 90},
            "headline_kpis": ["ticket_volume", "csat"],
            "recipients": ["service.leads@example.com"],
        },
        **extra,
    }


def _insert(settings, tickets: dict[str, list[str]], surveys=None, names=None) -> None:  # noqa: ANN001
    """Rows straight into the warehouse file: month -> team of each ticket (or response)."""
    with connect(settings.warehouse_path) as con:
        for table, rows in (("tickets", tickets), ("survey_responses", surveys or {})):
            for month, teams in rows.items():
                for team in teams:
                    con.execute(f"INSERT INTO {table} (team, period) VALUES (?, ?)", [team, month])
        for team, name in (names or {}).items():
            con.execute("INSERT INTO team_names VALUES (?, ?)", [team, name])


def test_resolve_teams_config_first_then_the_data(tmp_path: Path) -> None:
    env = Env(tmp_path, teams=_teams_yaml())
    settings = env.settings()
    assert settings.teams_file.teams_from_data  # on unless turned off
    _insert(
        settings,
        tickets={
            "2026-03": ["alpha", "kundenservice_sued", "it_service_desk", "old_team"],
            MONTH: ["alpha", "beta", "kundenservice_sued", "it_service_desk", None],
        },
        surveys={MONTH: ["surveys_only", "alpha"]},
        names={"kundenservice_sued": "Kundenservice Süd", "it_service_desk": "IT Service Desk"},
    )
    teams = resolve_teams(settings, settings.warehouse_path, [MONTH])
    # Configured teams first, in config order, as configured; then the data's teams by name.
    assert list(teams) == ["alpha", "beta", "it_service_desk", "kundenservice_sued", "surveys_only"]
    assert teams["alpha"] == settings.configured_teams["alpha"]
    assert teams["beta"].name == "Team Beta" and teams["beta"].recipients == []
    sued = teams["kundenservice_sued"]
    assert sued.name == "Kundenservice Süd"  # from team_names
    assert sued.locale == "en" and sued.headline_kpis == ["ticket_volume", "csat"]
    assert sued.recipients == ["service.leads@example.com"]
    assert teams["surveys_only"].name == "surveys_only"  # no name recorded: the id
    # Without months: every month of data; and a connection works as well as the path.
    with connect(settings.warehouse_path, read_only=True) as con:
        assert "old_team" in resolve_teams(settings, con)
        assert "old_team" not in resolve_teams(settings, con, [MONTH])

    month = for_month(settings, MONTH)
    assert list(month.teams) == list(teams)
    assert list(month.configured_teams) == ["alpha", "beta"]
    assert month.target("kundenservice_sued", "csat") == 75  # team_defaults
    assert month.target("alpha", "csat") == 80  # the team's own config
    assert month.target("alpha", "nps") is None  # config overrides: no default filled in
    assert settings.target("kundenservice_sued", "csat") is None  # the unresolved settings

    off = Env(tmp_path / "off", teams=_teams_yaml(teams_from_data=False)).settings()
    assert list(resolve_teams(off, settings.warehouse_path, [MONTH])) == ["alpha", "beta"]


def test_a_value_that_is_no_team_id_is_skipped(tmp_path: Path) -> None:
    # Only a warehouse from before ingest stored team ids can hold raw names.
    env = Env(tmp_path)
    settings = env.settings()
    _insert(settings, tickets={MONTH: ["alpha", "Kundenservice Süd", "ALL", "ok_team"]})
    assert list(resolve_teams(settings, settings.warehouse_path)) == ["alpha", "beta", "ok_team"]


@pytest.mark.parametrize(
    ("defaults", "message"),
    [
        ({"targets": {"csatt": 80}}, r"team_defaults\.targets: unknown KPI 'csatt'"),
        ({"headline_kpis": ["nope"]}, r"team_defaults\.headline_kpis: unknown KPI 'nope'"),
        ({"recipients": ["not an address"]}, r"team_defaults\.recipients: invalid e-mail"),
        ({"locale": "fr"}, r"team_defaults\.locale"),
        ({"name": "x"}, r"team_defaults\.name: unknown key"),
    ],
)
def test_team_defaults_are_validated(tmp_path: Path, defaults: dict, message: str) -> None:
    env = Env(tmp_path, teams={**TEAMS, "team_defaults": defaults})
    with pytest.raises(ConfigError, match=message):
        env.settings()


# -- end to end: landing -> KPIs -> PDF -> e-mail ------------------------------------------------


def _text(path: Path) -> str:
    return "\n".join(p.extract_text() or "" for p in PdfReader(str(path)).pages)


def test_team_only_in_the_data_gets_its_scorecard_under_its_name(tmp_path: Path) -> None:
    env = Env(tmp_path, teams=_teams_yaml())
    rows = []
    # alpha as configured; "TEAM BETA" is beta's configured name in another case; "Kundenservice
    # Süd" is configured nowhere (and spelled once with outer spaces).
    for n, team in enumerate(["alpha"] * 3 + ["TEAM BETA"] * 2 + ["Kundenservice Süd"] * 4):
        rows.append(
            ticket(
                f"T{n}",
                f"2026-04-{n + 1:02d}T10:00:00+02:00",
                team=team,
                first_response_at=f"2026-04-{n + 1:02d}T10:30:00+02:00",
                resolved_at=f"2026-04-{n + 1:02d}T16:00:00+02:00",
            )
        )
    rows.append(ticket("T-sp", "2026-04-20T10:00:00+02:00", team="  Kundenservice Süd "))
    rows.append(ticket("T-end", "2026-04-30T22:00:00+02:00", team="alpha"))
    env.tickets(rows)
    env.surveys([survey("S1", "2026-04-05T18:00:00+02:00", "csat", 5, team="Kundenservice Süd")])
    # An analyst's note addresses the team by its id like any configured team.
    (env.config / "notes").mkdir()
    (env.config / "notes" / f"{MONTH}.yaml").write_text(
        "teams:\n  kundenservice_sued: [Neu im April aus Team Nord hervorgegangen]\n"
    )
    settings = env.settings()
    ingest_events(settings, [MONTH])
    kpis = build_team_kpis(settings, [MONTH], MONTH)[MONTH].set_index(["team", "kpi"])
    assert kpis.at[("kundenservice_sued", "ticket_volume"), "value"] == 5
    assert kpis.at[("beta", "ticket_volume"), "value"] == 2
    assert kpis.at[("kundenservice_sued", "csat"), "target"] == 75  # team_defaults
    assert kpis.at[("alpha", "csat"), "target"] == 80  # config
    assert pd.isna(kpis.at[("alpha", "nps"), "target"])

    result = batch.build_scorecards(settings, MONTH, workers=1)
    assert not result.failures, result.failures
    assert sorted(f.name for f in result.files) == [
        "alpha",
        "beta",
        "kundenservice_sued",
        "overview",
    ]
    folder = batch.scorecard_dir(settings, MONTH)
    sued = _text(folder / "kundenservice_sued.pdf")
    assert "Kundenservice Süd" in sued
    assert "Ticket volume" in sued  # team_defaults: English, its headline KPIs
    assert "Neu im April aus Team Nord hervorgegangen" in sued
    assert "Team Beta" in _text(folder / "beta.pdf")  # config wins over the data's spelling
    overview = _text(folder / "overview.pdf")
    assert "Kundenservice Süd" in overview and "Team Beta" in overview

    # The team_defaults recipient gets the data team's scorecard, named by its name; alpha and
    # beta have no recipients: a PDF, no e-mail.
    outbox = tmp_path / "outbox"
    report = deliver(settings, MONTH, FileOutbox(outbox), Sender("bot@example.com"))
    assert [(o.delivery.team, o.delivery.recipient, o.status) for o in report.outcomes] == [
        ("kundenservice_sued", "service.leads@example.com", "sent")
    ]
    assert sorted(report.no_recipients) == ["alpha", "beta", "overview"]
    (eml,) = outbox.glob("*.eml")
    msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert "Kundenservice Süd" in msg["Subject"]
    (attachment,) = msg.iter_attachments()
    assert attachment.get_filename() == f"Scorecard_Kundenservice_Sued_{MONTH}.pdf"


def test_without_teams_from_data_only_configured_teams_get_a_scorecard(tmp_path: Path) -> None:
    env = Env(tmp_path, teams=_teams_yaml(teams_from_data=False))
    env.tickets(
        [
            ticket("T1", "2026-04-02T10:00:00+02:00", team="alpha"),
            ticket("T2", "2026-04-03T10:00:00+02:00", team="IT Service Desk"),
            ticket("T3", "2026-04-30T22:00:00+02:00", team="alpha"),
        ]
    )
    settings = env.settings()
    ingest_events(settings, [MONTH])
    kpis = build_team_kpis(settings, [MONTH], MONTH)[MONTH]
    # The team still has its KPI rows (the company figures include it), without targets.
    assert kpis[kpis.team == "it_service_desk"].target.isna().all()
    result = batch.build_scorecards(settings, MONTH, workers=1, overview=False)
    assert [f.name for f in result.files] == ["alpha", "beta"]
