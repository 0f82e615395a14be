"""The churn section's data: the label column, "new on the list since last month", and every
churn figure with its previous-month value."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from scorecards.churn.pseudonyms import display_ids, display_labels
from scorecards.report.data import CHURN_FIGURES, TeamReport, _at_risk
from tests.conftest import TEAMS, Env


def _churn(rows: list[tuple[str, str, float, str, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "team", "score", "band", "label"])


NOW = _churn(
    [
        ("C1", "alpha", 0.30, "high", "Müller GmbH"),
        ("C2", "alpha", 0.20, "high", None),
        ("C3", "alpha", 0.15, "high", "Schmidt AG"),
        ("C4", "beta", 0.25, "high", "Beta Kunde"),
        ("C5", "alpha", 0.05, "low", "Leise KG"),
    ]
)
# last month C1 was on alpha's list, C3 on beta's (so it is new on alpha's), C2 not at risk
BEFORE = pd.DataFrame({"customer_id": ["C1", "C3"], "team": ["alpha", "beta"]})


def test_new_on_the_list_and_labels(env: Env) -> None:
    settings = env.settings()
    top, new = _at_risk(settings, NOW, "alpha", BEFORE)
    assert list(top.display_id) == ["C1", "C2", "C3"]
    assert list(top.new) == [False, True, True] and new == 2
    assert list(top.label) == ["Müller GmbH", None, "Schmidt AG"]
    # last month not scored: nobody can be called new
    top, new = _at_risk(settings, NOW, "alpha", None)
    assert new is None and top.new.isna().all()


def test_labels_are_pseudonymised_with_the_ids(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = Env(tmp_path, teams={**TEAMS, "churn": {"pseudonymise_ids": True}})
    monkeypatch.setenv("SCORECARDS_ID_KEY", "k3y")
    settings = env.settings()
    top, _ = _at_risk(settings, NOW, "alpha", BEFORE)
    assert all(i.startswith("K-") and len(i) == 14 for i in top.display_id)
    assert top.label[0].startswith("L-") and len(top.label[0]) == 14 and top.label[1] is None
    assert "Müller" not in "".join(str(x) for x in top.label)
    # the same label gives the same pseudonym; a label's pseudonym differs from an id's
    again = display_labels(settings, pd.Series(["Müller GmbH"]))
    assert again[0] == top.label[0]
    assert display_ids(settings, pd.Series(["Müller GmbH"]))[0][2:] == top.label[0][2:]


def test_label_column_is_configurable(tmp_path) -> None:
    env = Env(tmp_path, teams={**TEAMS, "churn": {"label_column": "segment"}})
    assert env.settings().teams_file.churn.label_column == "segment"
    (env.config / "teams.yaml").write_text(
        yaml.safe_dump({**TEAMS, "churn": {"label_column": "customer_id"}})
    )
    with pytest.raises(Exception, match="label_column"):
        env.settings()


def test_every_churn_figure_has_its_previous_month() -> None:
    rows = []
    for i, kpi in enumerate(CHURN_FIGURES):
        for period, value in (("2026-03", 10.0 + i), ("2026-04", 12.0 + i)):
            rows.append(
                {
                    "period": period,
                    "team": "alpha",
                    "kpi": kpi,
                    "value": value,
                    "n": 100,
                    "ci_low": None,
                    "ci_high": None,
                    "prev_value": value - 2 if period == "2026-04" else None,
                    "yoy_value": None,
                    "target": None,
                    "change_significant": period == "2026-04",
                    "no_data_reason": None,
                }
            )
    report = TeamReport(
        team_id="alpha",
        team_name="Alpha",
        locale="en",
        month="2026-04",
        months=["2026-03", "2026-04"],
        headline=[],
        kpis=pd.DataFrame(rows),
        channels=pd.DataFrame(),
        times=pd.DataFrame(),
        ingest=pd.DataFrame(),
        reasons=pd.DataFrame(),
        at_risk=None,
        risk_scored=True,
        at_risk_new=3,
    )
    figures = report.churn_figures()
    for i, kpi in enumerate(CHURN_FIGURES):
        assert figures[kpi]["value"] == 12.0 + i and figures[kpi]["prev_value"] == 10.0 + i
        assert figures[kpi]["change_significant"] is True and figures[kpi]["reason"] is None
    assert figures["at_risk_new"]["value"] == 3
