"""What needs attention, on constructed months: a team missing five targets, a team with one
significant collapse, a quiet team. Ranking, merged notes, and the e-mail's subject and body in
both languages."""

from __future__ import annotations

import pytest

from scorecards.delivery.mail import MailBuilder
from scorecards.notes.select import context_notes
from scorecards.report import attention as A
from scorecards.report.summary import MailSummary, _headline
from tests.notes_env import MONTH, row, streak, table

NBSP = "\u00a0"


def _team(team: str, rows: list[dict]) -> list[dict]:
    return [r | {"team": team} for r in rows]


def missing_five() -> list[dict]:
    """Enterprise-like: five targets missed, the streaks 24, 24, 13, 9 and 4 months long."""
    rows = streak("average_resolution_time", [50.4] * 24, 12)
    rows += streak("csat", [60.4] * 24, 88)
    rows += streak("first_contact_resolution", [61.0] * 13, 80)
    rows += streak("churn_rate", [1.4] * 9, 0.8)
    rows += streak("escalation_rate", [6.0] * 4, 5.0)
    rows += streak("first_response_time", [20.0] * 3, 30)  # met
    return _team("enterprise", rows)


def collapse() -> list[dict]:
    """Retouren-like: CSAT 80.1 → 39.7, significant; every target met last month."""
    rows = [
        row("csat", 39.7, prev=80.1, target=80, sig=True),
        row("csat", 80.1, back=1, prev=81.0, target=80),
        row("first_response_time", 41.0, prev=43.0, target=60, sig=False),
        row("first_contact_resolution", 76.0, prev=75.5, target=75, sig=False),
    ]
    return _team("returns", rows)


def quiet() -> list[dict]:
    rows = [
        row("csat", 84.0, prev=83.5, target=80, sig=False),
        row("first_response_time", 41.0, prev=43.0, target=60, sig=False),
        row("first_contact_resolution", 76.0, prev=75.5, target=75, sig=False),
    ]
    return _team("billing", rows)


def status(rows: list[dict], team: str, name: str, headline=("csat",)) -> A.TeamStatus:  # noqa: ANN001
    return A.team_status(table(*rows), team, MONTH, name, headline)


def test_five_missed_targets_ranked_by_relative_distance_in_one_sentence() -> None:
    s = status(missing_five(), "enterprise", "Enterprise Accounts")
    # ART 3.2 off its target, churn 0.75, FCR 0.24, CSAT 0.31, escalation 0.2
    assert [m.kpi for m in s.missed] == [
        "average_resolution_time",
        "churn_rate",
        "csat",
        "first_contact_resolution",
        "escalation_rate",
    ]
    assert [m.months for m in s.missed] == [24, 9, 24, 13, 4]
    (en,) = A.attention_sentences(s, "en")
    assert en == (
        f"5 of 6 targets missed: ART 50.4{NBSP}h vs at most 12.0{NBSP}h (24 months running), "
        f"churn rate 1.4% vs at most 0.8% (9 months running), CSAT 60.4% vs 88.0% "
        f"(24 months running), and 2 more."
    )
    (de,) = A.attention_sentences(s, "de")
    assert de.startswith(
        f"5 von 6 Zielen verfehlt: ART 50,4{NBSP}Std. gegen höchstens 12,0{NBSP}Std."
    )
    assert de.endswith("(seit 24 Monaten) und 2 weitere.")
    assert A.subject_status(s, "de") == "5 von 6 Zielen verfehlt, keine echte Veränderung"
    assert A.subject_status(s, "en") == "5 of 6 targets missed, no real change"


def test_five_missed_targets_merge_into_one_note_per_kind() -> None:
    notes = context_notes(table(*missing_five()), "enterprise", MONTH, "en")
    texts = [n.text for n in notes]
    # the new streak (4 months) and the chronic ones (6 or more) merged: two notes, not five
    assert len(texts) == 2
    assert texts[0].startswith("Escalation rate has been above its target for 4 months running")
    assert texts[1].startswith(
        "ART, CSAT, FCR, and churn rate have missed their targets for 24, 24, 13, and 9 months"
    )


def test_a_collapse_comes_after_the_miss_it_caused_and_names_the_change() -> None:
    s = status(collapse(), "returns", "Retouren")
    assert [m.kpi for m in s.missed] == ["csat"] and s.missed[0].months == 1
    assert [c.kpi for c in s.worse] == ["csat"] and not s.better
    de = A.attention_sentences(s, "de")
    assert de == [
        f"1 von 3 Zielen verfehlt: CSAT 39,7{NBSP}% gegen 80,0{NBSP}% (diesen Monat).",
        f"Echte Verschlechterung gegenüber Vormonat: CSAT −40,4{NBSP}Pp. (jetzt 39,7{NBSP}%).",
    ]
    en = A.attention_sentences(s, "en")
    assert en[1] == "Real decline vs last month: CSAT −40.4\u00a0pp (now 39.7%)."
    assert A.subject_status(s, "de") == "1 von 3 Zielen verfehlt, CSAT gesunken"
    assert A.subject_status(s, "en") == "1 of 3 targets missed, CSAT down"


def test_a_quiet_team_needs_no_attention_and_noise_is_never_better_or_worse() -> None:
    s = status(quiet(), "billing", "Abrechnung")
    assert not s.needs_attention and s.score == 0
    assert A.attention_sentences(s, "de") == []
    assert A.quiet_sentence(s, "de") == (
        "Nichts Auffälliges: alle 3 Ziele erreicht, keine echte Verschlechterung gegenüber Vormonat."
    )
    assert A.subject_status(s, "en") == "all 3 targets met, no real change"
    # the e-mail's KPI lines: a change within noise says so, never "better"
    current = table(*quiet()).set_index("kpi")
    lines = _headline(current, ["first_response_time", "csat"], "en")
    assert lines[0].change == "−2.0\u00a0min vs last month, no real change"
    assert "better" not in lines[1].change and lines[1].target == "✓ target met: 80.0%"


def test_overview_ranks_the_teams_that_need_attention_and_notes_shared_misses() -> None:
    rows = missing_five() + collapse() + quiet()
    statuses = [
        status(rows, "billing", "Abrechnung"),
        status(rows, "returns", "Retouren"),
        status(rows, "enterprise", "Enterprise Accounts"),
    ]
    att = A.overview_attention(statuses, "de")
    assert [a.team_id for a in att] == ["enterprise", "returns"]  # billing is quiet
    assert att[0].score > att[1].score and att[0].missed == 5 and att[0].targets == 6
    assert att[1].text == (
        f"Retouren: 1 von 3 Zielen verfehlt (CSAT 39,7{NBSP}% gegen 80,0{NBSP}%); "
        f"echt verschlechtert: CSAT −40,4{NBSP}Pp."
    )
    assert A.overview_subject_status(statuses, "en") == "2 of 3 teams need attention"
    notes = A.overview_notes(statuses, table(), "ALL", MONTH, "de")
    assert notes[0].text == (
        f"CSAT verfehlt das Ziel in 2 von 3 Teams: Retouren (39,7{NBSP}%) und "
        f"Enterprise Accounts (60,4{NBSP}%)."
    )
    assert all(not n.manual for n in notes)


@pytest.mark.parametrize("locale", ["de", "en"])
def test_the_email_says_the_month_in_three_parts(locale: str) -> None:
    s = status(collapse(), "returns", "Retouren")
    current = table(*collapse())
    current = current[current.period == MONTH].set_index("kpi")
    summary = MailSummary(
        name="returns",
        display_name="Retouren",
        locale=locale,
        month=MONTH,
        headline=_headline(
            current, ["first_response_time", "first_contact_resolution", "csat"], locale
        ),
        status=A.subject_status(s, locale),
        attention=A.attention_sentences(s, locale),
    )
    msg = MailBuilder().scorecard(
        summary, b"%PDF", sender="s@example.com", to="lead@example.com", msg_id="<m@example.com>"
    )
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    if locale == "de":
        assert msg["Subject"] == "Retouren, Oktober 2026: 1 von 3 Zielen verfehlt, CSAT gesunken"
        assert "Was Aufmerksamkeit braucht:\n- 1 von 3 Zielen verfehlt: CSAT" in text
        assert (
            f"- Kundenzufriedenheit (CSAT): 39,7{NBSP}%, ✗ Ziel verfehlt: 80,0{NBSP}% "
            f"(−40,4{NBSP}Pp. ggü. Vormonat, schlechter)" in text
        )
        assert f"✓ Ziel erreicht: höchstens 60,0{NBSP}Min." in text
    else:
        assert msg["Subject"] == "Retouren, October 2026: 1 of 3 targets missed, CSAT down"
        assert "What needs attention:\n- 1 of 3 targets missed: CSAT" in text
        assert "- Customer satisfaction (CSAT): 39.7%, ✗ target missed: 80.0%" in text
        assert "no real change" in text  # FRT and FCR moved within noise
    assert text.count("\n- ") == 2 + 3  # two attention sentences, three KPI lines
    assert "Real decline" in html or "Echte Verschlechterung" in html


def test_no_rows_no_attention() -> None:
    s = A.team_status(table(), "x", MONTH)
    assert s.score == 0 and not s.needs_attention and A.attention_sentences(s, "en") == []
    assert A.subject_status(s, "en") == "no real change"
