"""Pseudonymous customer ids and labels: what the churn CSV and the scorecards show instead of
a real customer id or name when `churn.pseudonymise_ids` is on, "K-"/"L-" + 12 hex characters
of HMAC-SHA256(key, value), the key read from the environment (docs/churn-risk.md)."""

from __future__ import annotations

import hashlib

import duckdb
import pandas as pd

from scorecards.config.settings import ConfigError, Settings

ID_PREFIX = "K-"
LABEL_PREFIX = "L-"  # a pseudonymised customer label (name, account owner): "L-" + 12 hex
ID_HEX = 12  # 48 bits: a collision among 200,000 customers has odds of about 1 in 14,000


def _hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    # HMAC-SHA256 (RFC 2104) = H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)); the padded keys are fixed, so
    # the two hashes can run in DuckDB over a whole column at once.
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    return bytes(b ^ 0x5C for b in key), bytes(b ^ 0x36 for b in key)


def display_sql(settings: Settings, column: str, prefix: str = ID_PREFIX) -> str:
    """SQL for the id shown outside the warehouse: the column itself, or its keyed pseudonym."""
    cfg = settings.teams_file.churn
    if not cfg.pseudonymise_ids:
        return column
    key = settings.environment.secret(cfg.id_key_env)
    if not key:
        raise ConfigError(
            f"{settings.config_dir / 'teams.yaml'}: churn.pseudonymise_ids is true but the "
            f"environment variable {cfg.id_key_env} (churn.id_key_env) holding the key is not set"
        )
    opad, ipad = _hmac_pads(key.encode("utf-8"))
    # Hex literals: COPY takes no parameters, and the key must not depend on quoting.
    return (
        f"CASE WHEN {column} IS NULL THEN NULL ELSE '{prefix}' || left(sha256("
        f"unhex('{opad.hex()}') || unhex(sha256(unhex('{ipad.hex()}') || encode({column})))), "
        f"{ID_HEX}) END"
    )


def display_ids(settings: Settings, ids: pd.Series) -> pd.Series:
    """The customer ids to show outside the warehouse: "K-" + 12 hex characters of
    HMAC-SHA256(key, id) when `churn.pseudonymise_ids` is on, else the ids unchanged.

    The key comes from the environment variable named by `churn.id_key_env`; the same key gives
    the same pseudonym every month, so a customer can be followed without being named."""
    return _display(settings, ids, ID_PREFIX)


def display_labels(settings: Settings, labels: pd.Series) -> pd.Series:
    """The customer labels (the customers column `churn.label_column`: a name, an account owner)
    to show outside the warehouse: unchanged, or with `churn.pseudonymise_ids` on, "L-" + 12 hex
    characters of the same keyed HMAC as the ids (the same label, the same pseudonym), so
    nobody is named in an e-mailed scorecard. Missing labels stay missing."""
    return _display(settings, labels, LABEL_PREFIX)


def _display(settings: Settings, ids: pd.Series, prefix: str) -> pd.Series:
    expr = display_sql(settings, "id", prefix)
    if expr == "id":
        return ids.copy()
    frame = pd.DataFrame({"id": ids.astype("string").reset_index(drop=True)})
    con = duckdb.connect()
    try:
        con.register("_ids", frame)
        got = con.execute(f"SELECT {expr} AS k FROM _ids").df()["k"]
    finally:
        con.close()
    return pd.Series(got.to_numpy(dtype=object), index=ids.index, name=ids.name)
