"""Resources: where the data and the configuration live, and where the e-mail goes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import dagster as dg

from assets.concurrency import ensure_pool_limit
from scorecards.config.settings import Settings, load_settings
from scorecards.delivery.mail import default_reply_to
from scorecards.delivery.send import Sender
from scorecards.delivery.smtp import FileOutbox, SmtpSettings, SmtpTransport, Transport


class ScorecardsConfig(dg.ConfigurableResource):
    """The data dir (landing, quarantine, warehouse, outputs) and the config dir (teams, sources)."""

    data_dir: str
    config_dir: str

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """At the start of every run (not in sensors): the instance must let no more writers
        into the warehouse than it takes (assets/concurrency.py); a run that would share the
        DuckDB file fails here, before its first step."""
        if context.run is not None and context.instance is not None:
            ensure_pool_limit(context.instance, logger=context.log)

    def settings(self) -> Settings:
        return load_settings(self.data_dir, self.config_dir)


# resource field -> environment variable; docs/delivery.md lists them
MAIL_ENV: dict[str, str] = {
    "host": "SMTP_HOST",
    "port": "SMTP_PORT",
    "security": "SMTP_SECURITY",
    "user": "SMTP_USER",
    "password": "SMTP_PASSWORD",
    "sender": "SMTP_FROM",
    "reply_to": "SMTP_REPLY_TO",
    "timeout_seconds": "SMTP_TIMEOUT",
    "ca_file": "SMTP_CA_FILE",
}
_INT_FIELDS = {"port", "timeout_seconds"}


class MailResource(dg.ConfigurableResource):
    """Where scorecards and alerts go: the SMTP server named by SMTP_HOST, or without it a file
    outbox, out/<YYYY-MM>/outbox/*.eml. Values come from the environment through EnvVar, so the
    UI shows the variable's name, never the password."""

    host: str = ""
    port: int = 0  # 0: the usual port of `security` (25, 587 or 465)
    security: str = "starttls"  # none | starttls | ssl
    user: str = ""
    password: str = ""
    sender: str = "Service Scorecards <scorecards@localhost>"
    reply_to: str = ""
    timeout_seconds: int = 30
    ca_file: str = ""  # a CA bundle to trust besides the system's

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MailResource:
        """The variables that are set become EnvVars (read again when a run starts); the others
        keep their defaults."""
        environ = os.environ if environ is None else environ
        kwargs: dict = {}
        for name, var in MAIL_ENV.items():
            if environ.get(var, "").strip():
                kwargs[name] = dg.EnvVar.int(var) if name in _INT_FIELDS else dg.EnvVar(var)
        return cls(**kwargs)

    def transport(self, outbox: Path) -> Transport:
        if not self.host:
            return FileOutbox(outbox)
        return SmtpTransport(
            SmtpSettings(
                host=self.host,
                port=self.port or None,
                security=self.security,  # type: ignore[arg-type]
                user=self.user or None,
                password=self.password or None,
                timeout=float(self.timeout_seconds),
                ca_file=self.ca_file or None,
            )
        )

    def sender_for(self, settings: Settings) -> Sender:
        d = settings.teams_file.delivery
        return Sender(
            address=self.sender,
            # SMTP_REPLY_TO, else delivery.admins: "just reply" must reach someone
            reply_to=default_reply_to(self.reply_to, d.admins),
            max_attempts=d.max_attempts,
            backoff_seconds=d.backoff_seconds,
            max_backoff_seconds=d.max_backoff_seconds,
        )
