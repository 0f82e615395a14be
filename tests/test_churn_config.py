"""The churn section of teams.yaml: a bad value names its key."""

from __future__ import annotations

import pytest

from scorecards.config.settings import ConfigError
from tests.conftest import TEAMS, Env

# every test here runs on the DuckDB file and on DuckLake (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("warehouse_backend")


@pytest.mark.parametrize(
    "churn, message",
    [
        ({"bands": {"high": 0.1, "medium": 0.2}}, "churn.bands: medium (0.2) must be below high"),
        ({"bands": {"high": 1.5}}, "churn.bands.high"),
        ({"window_dayz": 90}, "churn.window_dayz: unknown key"),
        ({"training_months": 2, "min_training_months": 3}, "min_training_months (3)"),
    ],
)
def test_bad_churn_config_names_the_key(env: Env, churn: dict, message: str) -> None:
    bad = Env(env.root / "bad", teams={**TEAMS, "churn": churn})
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        bad.settings()
    assert "teams.yaml" in str(info.value)
