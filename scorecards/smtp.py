"""Sending: an SMTP connection reused for many messages, or a file outbox of `.eml` files.

Both transports take a finished `EmailMessage` and its envelope and either return or raise
`SendError`, which says whether the failure is transient (a 4xx reply, a dropped connection, a
timeout: worth another attempt) or permanent (a 5xx reply: it will fail the same way again), and
whether the connection itself is unusable (`connection=True`: no later message will get through
either). Error texts are built here from the server's code and reply, and scrubbed of the
password, so credentials cannot reach a log, the ledger or the Dagster UI through them.
"""

from __future__ import annotations

import base64
import contextlib
import os
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import Literal, Protocol

Security = Literal["none", "starttls", "ssl"]
SECURITIES: tuple[str, ...] = ("none", "starttls", "ssl")
DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}


class SendError(Exception):
    """A message was not accepted. `transient`: another attempt may succeed."""

    def __init__(
        self, message: str, transient: bool, code: int | None = None, connection: bool = False
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.code = code
        self.connection = connection


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int | None = None
    security: Security = "starttls"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    # a CA bundle to trust in addition to the system's (a company CA, a test server's CA)
    ca_file: str | None = None

    def __post_init__(self) -> None:
        if self.security not in SECURITIES:
            raise ValueError(
                f"SMTP security must be one of {', '.join(SECURITIES)}, got {self.security!r}"
            )
        if bool(self.user) != bool(self.password):
            raise ValueError("SMTP user and password must be given together")
        if self.user and self.security == "none" and self.host not in ("localhost", "127.0.0.1"):
            # AUTH without TLS would send the password in the clear over the network.
            raise ValueError(
                f"SMTP_USER is set but SMTP_SECURITY=none: the password would cross the network "
                f"to {self.host} unencrypted; use starttls or ssl"
            )

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]

    def describe(self) -> str:
        """Where mail goes, safe to log: no password."""
        who = f"{self.user}@" if self.user else ""
        return f"smtp://{who}{self.host}:{self.effective_port} ({self.security})"


class Transport(Protocol):
    # "smtp" or "outbox": the ledger keeps the two apart, so a month written to the outbox is
    # still due when a server is configured.
    channel: str

    def send(self, msg: EmailMessage, sender: str, recipients: list[str], name: str) -> str: ...

    def close(self) -> None: ...

    def describe(self) -> str: ...

    def scrub(self, text: str) -> str: ...


class SmtpTransport:
    """One SMTP session for a run's messages, opened on first use and again after a drop."""

    channel = "smtp"

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._conn: smtplib.SMTP | None = None
        # set after an error: the server may have closed the session since, so it is probed
        # (NOOP) before the next message rather than costing that message an attempt
        self._suspect = False
        self.connections = 0  # how many sessions were opened (the benchmark reports it)
        secrets = [settings.password or ""]
        if settings.user and settings.password:
            # what AUTH PLAIN sends, should a server echo it back
            plain = f"\0{settings.user}\0{settings.password}".encode()
            secrets.append(base64.b64encode(plain).decode("ascii"))
        self._secrets = [s for s in secrets if s]

    def describe(self) -> str:
        return self.settings.describe()

    def scrub(self, text: str) -> str:
        for s in self._secrets:
            text = text.replace(s, "***")
        return text

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.settings.ca_file)

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        conn: smtplib.SMTP | None = None
        try:
            if s.security == "ssl":
                conn = smtplib.SMTP_SSL(
                    s.host, s.effective_port, timeout=s.timeout, context=self._context()
                )
            else:
                conn = smtplib.SMTP(s.host, s.effective_port, timeout=s.timeout)
                if s.security == "starttls":
                    conn.ehlo()
                    conn.starttls(context=self._context())
                    conn.ehlo()
            if s.user:
                conn.login(s.user, s.password or "")
        except (UnicodeError, OSError, smtplib.SMTPException) as exc:
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.close()
            raise self._session_error(exc) from None
        self.connections += 1
        return conn

    def _session_error(self, exc: BaseException) -> SendError:
        """Why no session could be had; every such error stops the run's sending."""
        s = self.settings
        where = f"{s.host}:{s.effective_port}"
        code = exc.smtp_code if isinstance(exc, smtplib.SMTPResponseException) else None
        transient = False
        # the order matters: SSLError is an OSError, and the SMTP errors are SMTPExceptions
        if isinstance(exc, UnicodeError):
            # smtplib encodes AUTH as ASCII; its own message would quote the offending character
            text = (
                "SMTP_USER or SMTP_PASSWORD contains characters SMTP AUTH cannot send (non-ASCII)"
            )
        elif isinstance(exc, smtplib.SMTPAuthenticationError):
            text = f"SMTP login as {s.user} at {s.host} refused: {self._reply(exc)}"
        elif isinstance(exc, smtplib.SMTPNotSupportedError):
            text = f"{s.host} does not support what SMTP_SECURITY={s.security} needs: {exc}"
        elif isinstance(exc, ssl.SSLError):
            text = f"TLS with {where} failed: {exc}"
        elif isinstance(exc, smtplib.SMTPResponseException):
            text = f"{s.host} refused the session: {self._reply(exc)}"
            transient = 400 <= exc.smtp_code < 500
        else:
            text = f"cannot reach {where}: {self.scrub(_os_error(exc))}"
            transient = True
        return SendError(text, transient=transient, code=code, connection=True)

    def _reply(self, exc: smtplib.SMTPResponseException) -> str:
        text = exc.smtp_error
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        return self.scrub(f"{exc.smtp_code} {' '.join(str(text).split())}")

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()

    def _reset(self) -> None:
        """After a refused recipient or message the session stays usable once reset."""
        try:
            if self._conn is not None:
                self._conn.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def send(self, msg: EmailMessage, sender: str, recipients: list[str], name: str = "") -> str:
        if self._conn is not None and self._suspect:
            try:
                if self._conn.noop()[0] != 250:
                    self._drop()
            except (OSError, smtplib.SMTPException):
                self._drop()
        self._suspect = False
        if self._conn is None:
            self._conn = self._connect()
        try:
            return self._send(msg, sender, recipients)
        except SendError:
            self._suspect = True
            raise

    def _send(self, msg: EmailMessage, sender: str, recipients: list[str]) -> str:
        assert self._conn is not None
        try:
            refused = self._conn.send_message(msg, from_addr=sender, to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            self._reset()
            raise self._refused("recipient refused", code, reply) from None
        except smtplib.SMTPSenderRefused as exc:
            self._reset()
            raise self._refused(f"sender {sender} refused", exc.smtp_code, exc.smtp_error) from None
        except smtplib.SMTPDataError as exc:
            self._reset()
            raise self._refused("message refused", exc.smtp_code, exc.smtp_error) from None
        except TimeoutError:
            self._drop()
            raise self._timeout() from None
        except smtplib.SMTPServerDisconnected as exc:
            self._drop()
            # smtplib reports a read timeout while waiting for a reply as a disconnect
            if "timed out" in str(exc):
                raise self._timeout() from None
            raise SendError(f"connection dropped: {self.scrub(str(exc))}", transient=True) from None
        except smtplib.SMTPResponseException as exc:
            self._drop()
            raise self._refused("SMTP error", exc.smtp_code, exc.smtp_error) from None
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise SendError(
                f"connection error: {self.scrub(_os_error(exc))}", transient=True
            ) from None
        if refused:  # only possible with several recipients; we always send to one
            code, reply = next(iter(refused.values()))
            raise self._refused("recipient refused", code, reply)
        return "250 accepted"

    def _timeout(self) -> SendError:
        return SendError(
            f"no answer from {self.settings.host} within {self.settings.timeout:g} s",
            transient=True,
        )

    def _refused(self, what: str, code: int, reply: bytes | str) -> SendError:
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        text = self.scrub(" ".join(text.split()))
        # 4xx: try again later; 5xx: will not work. A code outside both (-1 from smtplib for a
        # garbled reply) is treated as transient.
        transient = not (500 <= code < 600)
        return SendError(f"{what}: {code} {text}", transient=transient, code=code)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                conn.close()


def _os_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class FileOutbox:
    """Messages as `.eml` files (RFC 5322, CRLF line ends) in a folder: what `make demo` uses
    instead of a server. Any mail client opens them; each is written whole or not at all."""

    channel = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def scrub(self, text: str) -> str:
        return text

    def describe(self) -> str:
        return f"file outbox {self.folder}"

    def send(self, msg: EmailMessage, sender: str, recipients: list[str], name: str) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{name}.eml"
        tmp = path.with_name(path.name + ".tmp")
        try:
            tmp.write_bytes(msg.as_bytes(policy=SMTP_POLICY))
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise SendError(f"cannot write {path}: {exc}", transient=False) from None
        return f"written to {path}"

    def close(self) -> None:
        pass
