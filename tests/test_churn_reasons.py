"""The reasons next to a churn-risk score: the largest positive contributions, in words."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scorecards.churn.model import FEATURE_IDS, Model, design
from scorecards.churn.reasons import explain


def test_reasons_are_the_largest_positive_contributions_in_words() -> None:
    weights = {"detractor": 1.0, "escalations": 0.6, "open_over_7d": 0.5, "tickets": 0.1}
    model = Model(-3.0, np.array([weights.get(f, 0.0) for f in FEATURE_IDS]), ("2026-01",), 1, 1)
    sig = pd.DataFrame(
        {c: [0, 0] for c in ("csat_low", "ces_min", "max_tickets_30d", "multi_contact")}
        | {
            "detractor": [1, 0],
            "nps_latest": [3, None],
            "escalations": [2, 0],
            "reopened": [0, 0],
            "open_over_7d": [1, 0],
            "oldest_open_days": [12, None],
            "slow_responses": [0, 0],
            "disengaged": [0, 0],
            "tickets": [3, 0],
            "usual_tickets": [None, None],
            "repeat_30d": [0, 0],
            "ces_low": [0, 0],
        }
    )
    de, en = explain(model, design(sig), sig)
    assert de[0] == "2 Eskalationen · Kritiker (NPS 3) · Ticket seit 12 Tagen offen"
    assert en[0] == "2 escalations · Detractor (NPS 3) · Ticket open for 12 days"
    assert de[1] == "" and en[1] == ""
