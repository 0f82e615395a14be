"""The demo company in numbers: its teams, channels, calendar and customers' comments."""

from __future__ import annotations

import numpy as np

from scorecards.config.settings import TeamsFile
from scorecards.contract.datasets import FALSE_WORDS, TRUE_WORDS

# The demo company works in the default time zone of config/teams.yaml.
TZ: str = TeamsFile.model_fields["timezone"].default
NEVER = np.iinfo(np.int64).max
SEGMENTS = ("smb", "mid_market", "enterprise")

# share, channel mix (CHANNELS order: phone, email, chat, social, web, self_service), speed
# factors for first response / resolution / handling (1 = typical), share of tickets needing
# more than one contact, escalation rate, satisfaction shift (latent units, ~1 = one std dev).
PROFILES: dict[str, tuple] = {
    "billing": (0.225, (0.34, 0.30, 0.12, 0.02, 0.10, 0.12), 1.0, 0.9, 0.9, 0.14, 0.04, 0.15),
    "tech_support": (0.24, (0.22, 0.25, 0.26, 0.02, 0.10, 0.15), 1.2, 1.7, 1.6, 0.28, 0.09, -0.15),
    "onboarding": (0.12, (0.28, 0.32, 0.15, 0.02, 0.13, 0.10), 0.8, 0.8, 1.1, 0.12, 0.03, 0.35),
    "returns": (0.14, (0.12, 0.22, 0.10, 0.03, 0.18, 0.35), 1.1, 1.1, 0.8, 0.16, 0.05, 0.05),
    "enterprise": (0.06, (0.45, 0.40, 0.08, 0.0, 0.05, 0.02), 0.5, 1.3, 1.4, 0.22, 0.10, 0.25),
    "social_care": (0.10, (0.0, 0.05, 0.30, 0.60, 0.05, 0.0), 0.7, 1.0, 0.8, 0.20, 0.06, -0.25),
    "logistics": (0.10, (0.18, 0.24, 0.10, 0.04, 0.14, 0.30), 1.1, 1.4, 0.9, 0.20, 0.05, -0.05),
    "premium": (0.015, (0.55, 0.10, 0.30, 0.0, 0.05, 0.0), 0.3, 0.6, 1.2, 0.08, 0.03, 0.55),
}
# Per channel: wait (s, phone/chat) or first response (min) median, resolution (h after first
# response) median, handling time (s) median, how much more often it needs several contacts.
WAIT_S = np.array([75.0, 0, 40, 0, 0, 0])
FRT_MIN = np.array([0.0, 180, 0, 45, 150, 0.5])
FRT_SIGMA = np.array([0.8, 1.0, 0.8, 1.0, 1.0, 0.5])
RES_H = np.array([1.5, 14, 1.0, 6, 12, 0.4])
AHT_S = np.array([420.0, 330, 540, 240, 300, 90])
MULTI = np.array([1.0, 1.3, 0.8, 1.1, 1.2, 0.4])
HUMAN_ASYNC = np.array([False, True, False, True, True, False])  # answered in office hours
# Channel attractiveness by slot class (office hours, evening, night): no hotline at night,
# self-service and social take over after hours.
CH_BY_CLASS = np.array(
    [[1, 1, 1, 1, 1, 1], [0.03, 1.1, 0.8, 1.6, 1.3, 1.8], [0.01, 1.2, 0.02, 1.5, 1.4, 2.2]]
)
SEASON = np.array([1.12, 1.0, 0.98, 0.95, 0.92, 0.88, 0.85, 0.86, 0.96, 1.02, 1.15, 1.31])
SEASON = SEASON / SEASON.mean()
HOUR_W = np.array(
    [0.15, 0.08, 0.05, 0.04, 0.05, 0.12, 0.3, 0.6, 1.0, 1.35, 1.45, 1.4]
    + [1.2, 1.3, 1.4, 1.35, 1.2, 1.0, 0.85, 0.8, 0.75, 0.6, 0.45, 0.3]
)
DOW_W = np.array([1.25, 1.15, 1.08, 1.02, 0.95, 0.5, 0.38])
HOLIDAYS = {(12, 24), (12, 25), (12, 26), (12, 31), (1, 1)}
BOOLS = tuple(zip(FALSE_WORDS, TRUE_WORDS, strict=True))  # spellings vary by file
COMMENTS = (
    (  # unhappy
        "Dreimal angerufen, immer noch keine Lösung!",
        "Sehr ärgerlich: niemand fühlt sich zuständig.",
        'Took a week, and the "solution" did not work.',
        "Unfreundlich, ich überlege zu kündigen.",
        'Rückerstattung fehlt weiterhin, "wir melden uns" – nie passiert.',
        "Worst support experience, ever.",
    ),
    (  # neutral
        "Okay, aber etwas langsam.",
        "Hat gedauert, aber am Ende passt es.",
        "Fine, though I had to explain twice.",
        'Antwort war "okay", nichts Besonderes.',
        "Geht so; Wartezeit am Telefon zu lang.",
    ),
    (  # happy
        "Schnelle Hilfe, vielen Dank!",
        "Super freundlich und kompetent.",
        "Great service, thanks!",
        "Problem gelöst – danke an Frau Müller.",
        'Quick and easy, "no hassle" at all.',
        "Sehr zufrieden, gerne wieder.",
    ),
)


def pick(rng: np.random.Generator, weights: np.ndarray, k: int) -> np.ndarray:
    """`k` indices drawn with the given weights: one uniform draw each."""
    cdf = np.cumsum(weights)
    return np.minimum(np.searchsorted(cdf, rng.random(k) * cdf[-1], side="right"), len(cdf) - 1)
