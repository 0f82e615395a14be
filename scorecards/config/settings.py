"""Settings: where data lives, and the validated contents of config/teams.yaml and sources.yaml.

Everything that reads configuration goes through `load_settings`, so a bad key is reported once,
with the file and the key's path, before any data is touched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from scorecards.config.environment import (
    Environment,
    WarehouseTarget,
    read_environment,
    target_from_env,
)
from scorecards.config.sources import SourcesFile
from scorecards.contract.kpi_catalog import ALL_TEAMS, KPI_IDS
from scorecards.core import package_files

DATASETS: tuple[str, ...] = ("tickets", "surveys", "customers")

# A plain address (local@domain.tld) in ASCII, nothing a mail header could read as more: no
# display name, comment, quoting, list separator or line break.
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or invalid; the message names file and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TeamConfig(_Strict):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    locale: Literal["de", "en"] = "de"
    targets: dict[str, float] = Field(default_factory=dict)
    headline_kpis: list[str] = Field(default_factory=list)
    recipients: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id_is_safe(cls, v: str) -> str:
        # Team ids become file names and warehouse keys.
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", v):
            raise ValueError(f"team id {v!r} may only contain letters, digits, '_', '.', '-'")
        if v == ALL_TEAMS:
            raise ValueError(f"team id {ALL_TEAMS!r} is reserved for the company figures")
        if v.lower() == "overview":
            raise ValueError("team id 'overview' is reserved for the overview's file name")
        return v

    @field_validator("targets", "headline_kpis")
    @classmethod
    def _known_kpis(cls, v: Any) -> Any:
        unknown = [k for k in v if k not in KPI_IDS]
        if unknown:
            raise ValueError(
                f"unknown KPI {', '.join(map(repr, unknown))}; known: {', '.join(KPI_IDS)}"
            )
        return v

    @field_validator("recipients")
    @classmethod
    def _valid_addresses(cls, v: list[str]) -> list[str]:
        bad = [a for a in v if not _EMAIL.fullmatch(a)]
        if bad:
            raise ValueError(f"invalid e-mail address {', '.join(map(repr, bad))}")
        return v


class TeamDefaults(_Strict):
    """What a team found only in the data gets (teams_from_data): the fields of a configured
    team except its id and name, which come from the data."""

    locale: Literal["de", "en"] = "de"
    targets: dict[str, float] = Field(default_factory=dict)
    headline_kpis: list[str] = Field(default_factory=list)
    recipients: list[str] = Field(default_factory=list)

    @field_validator("targets", "headline_kpis")
    @classmethod
    def _known(cls, v: Any) -> Any:
        return TeamConfig._known_kpis(v)

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        return TeamConfig._valid_addresses(v)


class OverviewConfig(_Strict):
    """The head of service's overview: language, recipients and which KPIs it compares."""

    locale: Literal["de", "en"] = "de"
    recipients: list[str] = Field(default_factory=list)
    kpis: list[str] = Field(
        default_factory=lambda: [
            "ticket_volume",
            "first_response_time",
            "first_contact_resolution",
            "csat",
            "nps",
            "escalation_rate",
            "churn_rate",
        ]
    )
    trend_kpis: list[str] = Field(
        default_factory=lambda: [
            "ticket_volume",
            "first_response_time",
            "first_contact_resolution",
            "csat",
        ]
    )

    @field_validator("kpis", "trend_kpis")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        return TeamConfig._known_kpis(v)

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        return TeamConfig._valid_addresses(v)


class ChurnBands(_Strict):
    # Lower bounds of the score for band high and band medium; below medium is low.
    high: float = Field(default=0.12, gt=0, lt=1)
    medium: float = Field(default=0.06, gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> ChurnBands:
        if not self.medium < self.high:
            raise ValueError(f"medium ({self.medium}) must be below high ({self.high})")
        return self


class ChurnConfig(_Strict):
    """Churn-risk scoring (scorecards/churn/scoring.py, docs/churn-risk.md)."""

    window_days: int = Field(default=90, ge=7, le=366)
    horizon_days: int = Field(default=90, ge=7, le=366)
    history_days: int = Field(default=180, ge=0, le=730)
    training_months: int = Field(default=12, ge=1, le=60)
    min_training_months: int = Field(default=3, ge=1, le=60)
    l2: float = Field(default=1.0, ge=0)
    bands: ChurnBands = Field(default_factory=ChurnBands)
    pseudonymise_ids: bool = False
    id_key_env: str = Field(default="SCORECARDS_ID_KEY", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    # The customers column shown next to each customer at risk (a name or an account owner,
    # mapped onto the contract column `label` in sources.yaml), or null for none; pseudonymised
    # with the ids when pseudonymise_ids is on. Its heading on the scorecards, per language.
    label_column: Literal["label", "segment"] | None = "label"
    label_heading: dict[Literal["de", "en"], str] = Field(
        default_factory=lambda: {"de": "Kunde", "en": "Customer"}
    )

    @model_validator(mode="after")
    def _enough_months(self) -> ChurnConfig:
        if self.min_training_months > self.training_months:
            raise ValueError(
                f"min_training_months ({self.min_training_months}) is more than "
                f"training_months ({self.training_months})"
            )
        return self


class ScheduleConfig(_Strict):
    """When the monthly run starts, in the partitions' time zone (the previous month is sent)."""

    day_of_month: int = Field(default=2, ge=1, le=28)
    hour: int = Field(default=7, ge=0, le=23)
    minute: int = Field(default=0, ge=0, le=59)
    # false: the schedule is defined but starts stopped (turn it on in the UI)
    enabled: bool = True

    @property
    def cron(self) -> str:
        return f"{self.minute} {self.hour} {self.day_of_month} * *"


class DeliveryConfig(_Strict):
    """E-mail delivery (scorecards/delivery/send.py): who gets alerts, when and how hard to retry."""

    # get the gate alerts and the run-failure alerts
    admins: list[str] = Field(default_factory=list)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    # SMTP attempts per message for transient errors (4xx, dropped connection, timeout)
    max_attempts: int = Field(default=4, ge=1, le=10)
    # wait before the 2nd attempt; doubled for each further attempt, at most max_backoff_seconds
    backoff_seconds: float = Field(default=2.0, ge=0, le=300)
    max_backoff_seconds: float = Field(default=30.0, ge=0, le=600)

    @field_validator("admins")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        return TeamConfig._valid_addresses(v)


class CompletenessConfig(_Strict):
    """When a month's data counts as complete (scorecards/ingest/completeness.py): judged from the
    month's own days against the usual pattern of earlier months, never from the newest
    timestamp anywhere in the data."""

    # The usual volume of a day: the median of the same weekday over up to this many earlier
    # months with data (days between a month's first and last day with data, empty days as 0).
    history_months: int = Field(default=6, ge=1, le=24)
    # A day is low when its volume is below this share of its usual volume (and so far below
    # that chance cannot explain it); an empty day that usually has data is low too.
    low_day_ratio: float = Field(default=0.25, gt=0, lt=1)
    # More low days than this in a month, for the company or for one team, block the month.
    max_low_days: int = Field(default=2, ge=0, le=31)
    # Of the days that usually have data, at least this share must have some.
    min_day_coverage: float = Field(default=0.9, ge=0, le=1)
    # The newest timestamp within the month must reach its last day minus this many days.
    end_tolerance_days: int = Field(default=0, ge=0, le=7)
    # Judge every team's days against the team's own usual pattern too (a team's export missing).
    judge_teams: bool = True
    # A timestamp later than now plus this many hours is quarantined as in the future.
    future_tolerance_hours: float = Field(default=24, ge=0, le=24 * 31)


class TeamsFile(_Strict):
    timezone: str = "Europe/Berlin"
    first_month: str | None = None
    quarantine_threshold: float = Field(default=0.02, ge=0, le=1)
    company_targets: dict[str, float] = Field(default_factory=dict)
    overview: OverviewConfig = Field(default_factory=OverviewConfig)
    teams: list[TeamConfig] = Field(default_factory=list)
    # Every team found in the data (tickets, survey responses) gets a scorecard, with
    # team_defaults; a team listed under `teams` overrides (scorecards/warehouse/teams.py).
    teams_from_data: bool = True
    team_defaults: TeamDefaults = Field(default_factory=TeamDefaults)
    churn: ChurnConfig = Field(default_factory=ChurnConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    completeness: CompletenessConfig = Field(default_factory=CompletenessConfig)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @field_validator("first_month")
    @classmethod
    def _month(cls, v: str | None) -> str | None:
        if v is not None and not _MONTH.match(v):
            raise ValueError(f"first_month must look like 2025-01, got {v!r}")
        return v

    @field_validator("company_targets")
    @classmethod
    def _known_company_kpis(cls, v: dict[str, float]) -> dict[str, float]:
        return TeamConfig._known_kpis(v)

    @model_validator(mode="after")
    def _unique_ids(self) -> TeamsFile:
        seen: set[str] = set()
        for t in self.teams:
            if t.id in seen:
                raise ValueError(f"team id {t.id!r} appears twice")
            seen.add(t.id)
        return self


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    config_dir: Path
    teams_file: TeamsFile
    sources: SourcesFile
    warnings: tuple[str, ...] = field(default=())
    # The teams after `with_teams` (configured and found in the data, scorecards/warehouse/teams.py);
    # None: only the configured teams.
    resolved_teams: tuple[TeamConfig, ...] | None = None
    # The environment variables (config/environment.py): the only way the domain reads them.
    environment: Environment = field(default_factory=Environment)

    @property
    def timezone(self) -> str:
        return self.teams_file.timezone

    @property
    def teams(self) -> dict[str, TeamConfig]:
        """Every team that gets a scorecard: the configured ones, and after `with_teams` also
        those found in the data."""
        teams = self.teams_file.teams if self.resolved_teams is None else self.resolved_teams
        return {t.id: t for t in teams}

    @property
    def configured_teams(self) -> dict[str, TeamConfig]:
        """The teams of config/teams.yaml alone."""
        return {t.id: t for t in self.teams_file.teams}

    def with_teams(self, teams: Mapping[str, TeamConfig]) -> Settings:
        """A copy whose `teams` (and so `target`) are `teams`, e.g. from teams.resolve_teams."""
        return replace(self, resolved_teams=tuple(teams.values()))

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / "quarantine"

    @property
    def out_dir(self) -> Path:
        return self.data_dir / "out"

    @property
    def warehouse(self) -> WarehouseTarget:
        """The warehouse backend chosen by SCORECARDS_WAREHOUSE (docs/warehouse.md), with its
        memory limit and retry count, from the environment the settings were loaded with."""
        try:
            return target_from_env(self.data_dir, self.environment.environ)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    @property
    def warehouse_path(self) -> Path:
        """The DuckDB warehouse file: the selected one when the backend is DuckDB, else where
        the default one would be (kept for callers that handle DuckDB files only)."""
        target = self.warehouse
        return target.path if target.path is not None else self.data_dir / "warehouse.duckdb"

    def target(self, team: str, kpi: str) -> float | None:
        if team == ALL_TEAMS:
            return self.teams_file.company_targets.get(kpi)
        cfg = self.teams.get(team)
        return cfg.targets.get(kpi) if cfg else None


def _format_pydantic(path: Path, err: ValidationError, raw: Any) -> str:
    lines = [f"{path}: invalid configuration"]
    for e in err.errors():
        loc = list(e["loc"])
        # Name a team by its id rather than its list position where we can.
        if len(loc) >= 2 and loc[0] == "teams" and isinstance(loc[1], int):
            try:
                loc[1] = f"[{raw['teams'][loc[1]].get('id', loc[1])}]"
            except (KeyError, IndexError, TypeError, AttributeError):
                loc[1] = f"[{loc[1]}]"
        elif len(loc) >= 2 and isinstance(loc[1], int) and isinstance(raw, dict):
            # A dataset's mappings: one mapping is written without a list around it.
            loc[1] = None if isinstance(raw.get(loc[0]), dict) else f"[{loc[1]}]"
            loc = [p for p in loc if p is not None]
        key = ".".join(str(p) for p in loc).replace(".[", "[")
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)


def _read_yaml(path: Path, model: type[BaseModel]) -> Any:
    if not path.exists():
        return model()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_pydantic(path, exc, raw)) from None


def load_settings(
    data_dir: str | Path | None = None,
    config_dir: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read and validate the configuration. Paths default to the environment, then to the source
    checkout's data/ and config/; an installed package has no default (docs/deployment.md).
    `environ` stands in for the process environment (which is read when None), once: the
    Settings keep a copy of the variables they use (config/environment.py)."""
    env = Environment(environ)
    try:
        data = Path(data_dir or env.data_dir or package_files.default_data_dir())
        conf = Path(config_dir or env.config_dir or package_files.default_config_dir())
    except package_files.PackageFilesError as exc:
        raise ConfigError(str(exc)) from None
    data, conf = data.resolve(), conf.resolve()
    teams = _read_yaml(conf / "teams.yaml", TeamsFile)
    sources = _read_yaml(conf / "sources.yaml", SourcesFile)
    # read once: what the run sees is what it was started with, in every worker process too
    env = read_environment(environ, secrets=(teams.churn.id_key_env,))
    return Settings(
        data_dir=data, config_dir=conf, teams_file=teams, sources=sources, environment=env
    )
