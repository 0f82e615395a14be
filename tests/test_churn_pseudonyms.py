"""Customer ids shown outside the warehouse: keyed HMAC pseudonyms when configured."""

from __future__ import annotations

import hashlib
import hmac

import pandas as pd
import pytest

from scorecards.churn.pseudonyms import display_ids
from scorecards.config.settings import ConfigError
from tests.churn_env import churn_teams
from tests.conftest import Env

# every test here runs on the DuckDB file and on DuckLake (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("warehouse_backend")


def test_display_ids_are_keyed_pseudonyms(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = pd.Series(["C1", "C0000002", "C1"], index=[5, 6, 7])
    assert display_ids(env.settings(), ids).tolist() == ids.tolist()

    teams = churn_teams(pseudonymise_ids=True, id_key_env="TEST_CHURN_KEY")
    on = Env(env.root / "on", teams=teams)
    monkeypatch.delenv("TEST_CHURN_KEY", raising=False)
    with pytest.raises(ConfigError, match="TEST_CHURN_KEY"):
        display_ids(on.settings(), ids)
    monkeypatch.setenv("TEST_CHURN_KEY", "s3cret")
    got = display_ids(on.settings(), ids)
    want = "K-" + hmac.new(b"s3cret", b"C0000002", hashlib.sha256).hexdigest()[:12]
    assert got.loc[6] == want
    assert got.loc[5] == got.loc[7] != got.loc[6]
    assert list(got.index) == [5, 6, 7]
    long_key = "k" * 100  # longer than SHA-256's block: hashed first, as HMAC prescribes
    monkeypatch.setenv("TEST_CHURN_KEY", long_key)
    assert (
        display_ids(on.settings(), ids).loc[5]
        == "K-" + hmac.new(long_key.encode(), b"C1", hashlib.sha256).hexdigest()[:12]
    )
