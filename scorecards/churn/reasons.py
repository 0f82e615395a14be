"""The reasons next to a churn-risk score: the signals that add most to it, in German and in
English words from the text catalogue ("2 escalations · Detractor (NPS 3)")."""

from __future__ import annotations

import numpy as np
import pandas as pd
from babel.numbers import format_decimal

from scorecards.churn.model import FEATURE_IDS, Model
from scorecards.text.catalog import N_, text

REASONS_MAX = 3
REASON_SEP = " · "

# Per feature: the signal column whose number the phrase shows, and the phrase's text keys for
# one and for several (None: one text whatever the number).
_PHRASES: dict[str, tuple[str, str, str | None]] = {
    # Translators: {v} the customer's number of tickets, {w} the days of the scoring window
    "tickets": ("tickets", N_("churn.reason.tickets.one"), N_("churn.reason.tickets.many")),
    "detractor": ("nps_latest", N_("churn.reason.detractor.one"), None),
    "csat_low": ("csat_low", N_("churn.reason.csat_low.one"), N_("churn.reason.csat_low.many")),
    "ces_low": ("ces_min", N_("churn.reason.ces_low.one"), None),
    "repeat_30d": ("max_tickets_30d", N_("churn.reason.repeat_30d.one"), None),
    "multi_contact": (
        "multi_contact",
        N_("churn.reason.multi_contact.one"),
        N_("churn.reason.multi_contact.many"),
    ),
    "escalations": (
        "escalations",
        N_("churn.reason.escalations.one"),
        N_("churn.reason.escalations.many"),
    ),
    "reopened": ("reopened", N_("churn.reason.reopened.one"), N_("churn.reason.reopened.many")),
    "open_over_7d": ("oldest_open_days", N_("churn.reason.open_over_7d.one"), None),
    "slow_responses": (
        "slow_responses",
        N_("churn.reason.slow_responses.one"),
        N_("churn.reason.slow_responses.many"),
    ),
    # Translators: {v} the customer's tickets, {u} their average in a window as long
    "disengaged": ("tickets", N_("churn.reason.disengaged.one"), None),
}
# explain's `lang`: 0 German, 1 English
_LANGS = ("de", "en")
_DISENGAGED = FEATURE_IDS.index("disengaged")


def _phrase(feature: str, value: float, usual: float, lang: int, window_days: int) -> str:
    # Missing numbers arrive as -1 (np.unique cannot group NaN).
    _, one, many = _PHRASES[feature]
    locale = _LANGS[lang]
    # Counts without grouping; the usual rate with one decimal at most ("3", "3,5")
    v = format_decimal(value, format="0", locale=locale) if value >= 0 else "–"
    u = format_decimal(usual, format="0.#", locale=locale) if usual >= 0 else "–"
    w = format_decimal(window_days, format="0", locale=locale)
    return text(locale, many if many and value != 1 else one, v=v, u=u, w=w)


def explain(
    model: Model, x: np.ndarray, signals: pd.DataFrame, window_days: int = 90
) -> tuple[np.ndarray, np.ndarray]:
    """The signals that add most to each score (coefficient × feature > 0, at most three, the
    largest first, ties in feature order) in German and English, joined with " · ".

    Vectorised: a phrase is formatted once per distinct (signal, number), a line once per
    distinct combination of phrases, never once per customer."""
    n_rows = len(x)
    contrib = x * model.coef
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :REASONS_MAX]
    keep = np.take_along_axis(contrib, order, axis=1) > 0
    rows, ranks = np.nonzero(keep)
    feats = order[rows, ranks]
    shown = np.column_stack(
        [signals[_PHRASES[f][0]].to_numpy(dtype=float, na_value=-1.0) for f in FEATURE_IDS]
    )
    usual = signals["usual_tickets"].to_numpy(dtype=float, na_value=-1.0)
    # One integer per distinct phrase: feature, shown number, usual rate to one decimal (-1 when
    # missing). Hash-based factorize is linear; np.unique(axis=0) would sort rows.
    value = shown[rows, feats].astype(np.int64) + 1
    tenth = np.where(feats == _DISENGAGED, np.round(usual[rows] * 10), -1).astype(np.int64) + 1
    phrase_key = (feats.astype(np.int64) << 56) | (value << 28) | tenth
    codes, uniq = pd.factorize(phrase_key, sort=True)
    keys = np.full((n_rows, REASONS_MAX), -1, dtype=np.int64)
    keys[rows, ranks] = codes
    line_key = ((keys[:, 0] + 1) << 42) | ((keys[:, 1] + 1) << 21) | (keys[:, 2] + 1)
    line_codes, lines_uniq = pd.factorize(line_key, sort=True)
    parts = np.column_stack([(lines_uniq >> s_) & ((1 << 21) - 1) for s_ in (42, 21, 0)]) - 1
    decoded = [
        (int(k >> 56), float((k >> 28) & ((1 << 28) - 1)) - 1, ((k & ((1 << 28) - 1)) - 1) / 10)
        for k in uniq.tolist()
    ]
    out = []
    for lang in (0, 1):
        phrases = [_phrase(FEATURE_IDS[f], v, u, lang, window_days) for f, v, u in decoded]
        lines = np.array(
            [REASON_SEP.join(phrases[k] for k in combo if k >= 0) for combo in parts.tolist()],
            dtype=object,
        )
        out.append(lines[line_codes] if n_rows else np.array([], dtype=object))
    return out[0], out[1]
