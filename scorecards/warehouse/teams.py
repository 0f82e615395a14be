"""Teams from the data: safe team ids derived from names, and the teams that get a scorecard.

Ingest stores every `team` value as a safe id (`team_id`: a configured team's id or name
becomes its id, anything else `team_slug`; in SQL `team_id_sql` and `team_slug_sql`), and the most frequent raw spelling of each id in the table
`team_names`. `resolve_teams` then gives the teams of a month: the configured ones (they win),
and with `teams_from_data` every other team that has tickets or survey responses, named by
`team_names` and set up with `team_defaults`. `for_month` returns settings carrying them, so the
code that reads `settings.teams` and `settings.target` sees them without knowing where they
came from.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Collection, Iterable
from pathlib import Path

import duckdb
from pydantic import ValidationError

from scorecards.config.environment import WarehouseTarget, as_target
from scorecards.config.settings import Settings, TeamConfig
from scorecards.warehouse.connection import connect
from scorecards.warehouse.sql import sql_str
from scorecards.warehouse.tables import table_exists

log = logging.getLogger(__name__)

# Letters that German spells out without the dots; every other accent is dropped.
_SPELLED_OUT: tuple[tuple[str, str], ...] = (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"))
_SEPARATORS = re.compile(r"[^a-z0-9]+")
# Ids that name something else: ALL the company figures (compared case-insensitively by the
# file system), overview the overview's PDF. A slug equal to one gets this suffix.
RESERVED: tuple[str, ...] = ("all", "overview")
RESERVED_SUFFIX = "_team"


def team_slug(name: str) -> str:
    """The team id for a team name from the data, e.g. 'Kundenservice Süd' -> 'kundenservice_sued'.

    Lower case; ä, ö, ü, ß spelled out as ae, oe, ue, ss; other accents dropped (canonical
    decomposition, combining marks removed); every run of anything but a-z and 0-9 becomes one
    '_', and leading and trailing '_' go. A name with nothing left gives '' (ingest quarantines
    the row); 'all' and 'overview' become 'all_team' and 'overview_team'. `team_slug_sql` is the
    same function in DuckDB SQL.
    """
    s = unicodedata.normalize("NFC", name).lower()
    for letter, spelled in _SPELLED_OUT:
        s = s.replace(letter, spelled)
    s = "".join(
        c for c in unicodedata.normalize("NFD", s) if not unicodedata.category(c).startswith("M")
    )
    s = _SEPARATORS.sub("_", s).strip("_")
    return s + RESERVED_SUFFIX if s in RESERVED else s


def team_slug_sql(expr: str) -> str:
    """A DuckDB expression giving `team_slug` of the VARCHAR expression `expr` (NULL for NULL).

    Equal to `team_slug` for every input made of characters that Python's Unicode database
    knows (tests/test_teams.py checks every such code point); DuckDB's strip_accents may know
    combining marks of a newer Unicode version that Python's still lists as unassigned.
    """
    s = f"lower(nfc_normalize({expr}))"
    for letter, spelled in _SPELLED_OUT:
        s = f"replace({s}, '{letter}', '{spelled}')"
    s = f"trim(regexp_replace(strip_accents({s}), '[^a-z0-9]+', '_', 'g'), '_')"
    reserved = "|".join(RESERVED)
    return f"regexp_replace({s}, '^({reserved})$', '\\1{RESERVED_SUFFIX}')"


def _key(value: str) -> str:
    # How a value from the data is compared with configured ids and names; _key_sql in SQL.
    return unicodedata.normalize("NFC", value).lower().strip(" ")


def _key_sql(expr: str) -> str:
    return f"trim(lower(nfc_normalize({expr})), ' ')"


def team_id_map(teams: Iterable[TeamConfig]) -> dict[str, str]:
    """Lower-cased id and lower-cased name of each configured team -> its id: a value in the
    data that spells either (in any case, outer spaces ignored) belongs to that team. An id
    wins over another team's equal name."""
    teams = list(teams)
    out = {_key(t.name): t.id for t in teams}
    out.update({_key(t.id): t.id for t in teams})
    return out


def team_id(value: str, teams: Iterable[TeamConfig]) -> str:
    """The team id stored for a `team` value from the data: a configured team's id when the
    value spells its id or name (case-insensitively), else `team_slug(value)` ('' when nothing
    is left). `team_id_sql` is the same in SQL."""
    return team_id_map(teams).get(_key(value)) or team_slug(value)


def team_id_sql(expr: str, teams: Iterable[TeamConfig]) -> str:
    """A DuckDB expression giving `team_id` of the VARCHAR expression `expr` (NULL for NULL)."""
    id_map = team_id_map(teams)
    if not id_map:
        return team_slug_sql(expr)
    whens = " ".join(f"WHEN {sql_str(k)} THEN {sql_str(v)}" for k, v in sorted(id_map.items()))
    return f"(CASE {_key_sql(expr)} {whens} ELSE {team_slug_sql(expr)} END)"


def data_teams(
    source: duckdb.DuckDBPyConnection | WarehouseTarget | Path | str,
    months: Collection[str] | None = None,
) -> dict[str, str]:
    """Team id -> readable name of every team with tickets or survey responses (in `months`,
    default all): the name from `team_names`, else the id."""
    if not isinstance(source, duckdb.DuckDBPyConnection):
        with connect(as_target(source), read_only=True) as con:
            return data_teams(con, months)
    con = source
    where = "team IS NOT NULL AND team <> ''"
    params: dict = {}
    if months is not None:
        where += " AND period IN (SELECT unnest($months))"
        params["months"] = list(months)
    seen = " UNION ".join(
        f"SELECT DISTINCT team FROM {t} WHERE {where}"
        for t in ("tickets", "survey_responses")
        if table_exists(con, t)
    )
    if not seen:
        return {}
    if table_exists(con, "team_names"):
        sql = f"""
            SELECT s.team, coalesce(n.name, s.team)
            FROM ({seen}) s
            LEFT JOIN (SELECT team, min(trim(name)) AS name FROM team_names
                       WHERE trim(name) <> '' GROUP BY team) n USING (team)
        """
    else:
        sql = f"SELECT team, team FROM ({seen})"
    return dict(con.execute(sql, params).fetchall())


def resolve_teams(
    settings: Settings,
    source: duckdb.DuckDBPyConnection | WarehouseTarget | Path | str,
    months: Collection[str] | None = None,
) -> dict[str, TeamConfig]:
    """The teams that get a scorecard: the configured ones in config order, then (with
    `teams_from_data`) every other team in the warehouse data of `months` (default: all data),
    by name, with `team_defaults`. A configured team overrides one with its id in the data."""
    out = dict(settings.configured_teams)
    cfg = settings.teams_file
    if not cfg.teams_from_data:
        return out
    found: list[TeamConfig] = []
    for tid, name in data_teams(source, months).items():
        if tid in out:
            continue
        try:
            found.append(TeamConfig(id=tid, name=name, **cfg.team_defaults.model_dump()))
        except ValidationError:
            # Only a warehouse written before ingest stored safe ids can hold such a value.
            log.warning(
                "team %r in the data is not a valid team id (re-ingest its months): no scorecard",
                tid,
            )
    for team in sorted(found, key=lambda t: (t.name.casefold(), t.id)):
        out[team.id] = team
    return out


def for_month(
    settings: Settings, month: str, con: duckdb.DuckDBPyConnection | None = None
) -> Settings:
    """Settings whose `teams` are the month's teams (`resolve_teams` for that month): a team
    from the data gets a scorecard for the months it has data in. `con`: an open warehouse
    connection to read from, else the warehouse is opened read-only."""
    return settings.with_teams(
        resolve_teams(settings, settings.warehouse if con is None else con, [month])
    )
