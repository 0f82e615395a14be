"""Resources: where the data and the configuration live, handed to every asset."""

from __future__ import annotations

import dagster as dg

from scorecards.settings import Settings, load_settings


class ScorecardsConfig(dg.ConfigurableResource):
    """The data dir (landing, quarantine, warehouse, outputs) and the config dir (teams, sources)."""

    data_dir: str
    config_dir: str

    def settings(self) -> Settings:
        return load_settings(self.data_dir, self.config_dir)
