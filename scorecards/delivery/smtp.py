"""Sending: an SMTP connection reused for many messages, or a file outbox of `.eml` files.

Both transports take a finished `EmailMessage` and its envelope and either return or raise
`SendError`, which says whether the failure is transient (a 4xx reply, a dropped connection:
worth another attempt) or permanent (a 5xx reply: it will fail the same way again), whether the
connection itself is unusable (`connection=True`: no later message will get through either), and
whether the message is **in doubt** (`in_doubt=True`).

The SMTP transport sends each message in explicit steps (MAIL FROM, RCPT TO, DATA, the content),
so it knows which step failed. Once the server has answered DATA with 354 and the content is on
its way, anything but a proper final reply (a timeout, a dropped connection, a garbled reply, any
exception at all) means the server may have kept the message: the error is in doubt and must not
be retried automatically. A 4xx/5xx final reply is a clear refusal and is not in doubt. A timeout
in any step is never retried within the run (a server that stops answering would otherwise cost
the timeout once per attempt), and it marks the connection unusable for the rest of the run.

Error texts are built here from the server's code and reply, and scrubbed of the password in
every form AUTH sends it (plain, AUTH PLAIN's and AUTH LOGIN's base64), so credentials cannot
reach a log, the ledger or the Dagster UI through them.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import Literal, Protocol

Security = Literal["none", "starttls", "ssl"]
SECURITIES: tuple[str, ...] = ("none", "starttls", "ssl")
DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}


class SendError(Exception):
    """A message was not accepted, or may not have been. `transient`: another attempt may
    succeed; `connection`: the session is unusable, later messages would fail too; `in_doubt`:
    the content reached the server without a final reply, so it may have been delivered and must
    not be sent again automatically; `timeout`: the server stopped answering (not retried)."""

    def __init__(
        self,
        message: str,
        transient: bool,
        code: int | None = None,
        connection: bool = False,
        *,
        in_doubt: bool = False,
        timeout: bool = False,
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.code = code
        self.connection = connection
        self.in_doubt = in_doubt
        self.timeout = timeout

    @property
    def retryable(self) -> bool:
        """Worth another attempt within this run: transient, not in doubt, not a timeout."""
        return self.transient and not self.in_doubt and not self.timeout


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
        self._secrets = secret_forms(settings.user, settings.password)

    def describe(self) -> str:
        return self.settings.describe()

    def scrub(self, text: str) -> str:
        return scrub(text, self._secrets)

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
        elif _is_timeout(exc):
            text = f"no answer from {where} within {s.timeout:g} s while opening the session"
            return SendError(text, transient=True, connection=True, timeout=True)
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
        """MAIL FROM, RCPT TO, DATA and the content as separate steps. Until the server has
        answered DATA with 354 a failure is an ordinary one (retried if transient); after it,
        only a 4xx/5xx final reply is: anything else leaves the message in doubt."""
        conn = self._conn
        assert conn is not None
        content = _flatten(msg)
        try:
            conn.ehlo_or_helo_if_needed()
            options = [f"SIZE={len(content)}"] if conn.has_extn("size") else []
            code, reply = conn.mail(sender, options)
            if code != 250:
                self._reset()
                raise self._refused(f"sender {sender} refused", code, reply)
            for rcpt in recipients:
                code, reply = conn.rcpt(rcpt)
                if code not in (250, 251):
                    self._reset()
                    raise self._refused("recipient refused", code, reply)
            conn.putcmd("data")
            code, reply = conn.getreply()
            if code != 354:
                self._reset()
                raise self._refused("DATA refused", code, reply)
        except SendError:
            raise
        except Exception as exc:  # noqa: BLE001 - before DATA: nothing was handed over
            self._drop()
            raise self._before_data(exc) from None
        # From here on the server has the content, or part of it: in doubt unless it answers.
        try:
            conn.send(_dot_stuffed(content))
            code, reply = conn.getreply()
        except Exception as exc:  # noqa: BLE001 - whatever it is, the message may have arrived
            self._drop()
            raise self._in_doubt(exc) from None
        if code == 250:
            return "250 accepted"
        if 400 <= code < 600:
            # a clear refusal of this message: not kept, the session still usable once reset
            self._reset()
            raise self._refused("message refused", code, reply)
        self._drop()
        raise self._in_doubt(f"no valid reply to the message ({code} {self.scrub(str(reply))})")

    def _before_data(self, exc: BaseException) -> SendError:
        if _is_timeout(exc):
            return self._timeout(in_doubt=False)
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return SendError(f"connection dropped: {self.scrub(str(exc))}", transient=True)
        if isinstance(exc, smtplib.SMTPResponseException):
            return self._refused("SMTP error", exc.smtp_code, exc.smtp_error)
        if isinstance(exc, (OSError, smtplib.SMTPException)):
            return SendError(f"connection error: {self.scrub(_os_error(exc))}", transient=True)
        return SendError(
            f"unexpected {type(exc).__name__}: {self.scrub(str(exc))}", transient=False
        )

    def _in_doubt(self, exc: BaseException | str) -> SendError:
        if isinstance(exc, BaseException) and _is_timeout(exc):
            return self._timeout(in_doubt=True)
        what = exc if isinstance(exc, str) else self.scrub(_os_error(exc))
        return SendError(
            f"the message was transmitted but not confirmed: {what}",
            transient=False,
            in_doubt=True,
        )

    def _timeout(self, in_doubt: bool) -> SendError:
        where = "after the message was transmitted" if in_doubt else "before DATA"
        return SendError(
            f"no answer from {self.settings.host} within {self.settings.timeout:g} s ({where})",
            transient=not in_doubt,
            connection=True,
            in_doubt=in_doubt,
            timeout=True,
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


def _is_timeout(exc: BaseException) -> bool:
    # smtplib reports a read timeout while waiting for a reply as a disconnect
    return isinstance(exc, TimeoutError) or (
        isinstance(exc, smtplib.SMTPServerDisconnected) and "timed out" in str(exc)
    )


# Headers are folded only past this length (RFC 5322's limit is 998): folded at 78, a subject
# that says the month's status gets an empty first line or a doubled blank in some clients.
HEADER_LINE = 400


def _flatten(msg: EmailMessage) -> bytes:
    """The message as sent: what smtplib's send_message would transmit (CRLF line ends)."""
    with io.BytesIO() as buf:
        BytesGenerator(
            buf, policy=msg.policy.clone(linesep="\r\n", max_line_length=HEADER_LINE)
        ).flatten(msg)
        return buf.getvalue()


def _dot_stuffed(content: bytes) -> bytes:
    """The DATA content with leading dots doubled and the final CRLF.CRLF (RFC 5321 4.5.2)."""
    q = re.sub(rb"(?m)^\.", b"..", content)
    if not q.endswith(b"\r\n"):
        q += b"\r\n"
    return q + b".\r\n"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def secret_forms(user: str | None, password: str | None) -> list[str]:
    """Every form in which AUTH puts the password on the wire, longest first: the password,
    its base64 (AUTH LOGIN's second line), AUTH PLAIN's base64 of NUL user NUL password (and
    without the leading NUL), and each base64 without its '=' padding."""
    if not password:
        return []
    forms = {password, _b64(password)}
    if user:
        forms |= {_b64(f"\0{user}\0{password}"), _b64(f"{user}\0{password}")}
    forms |= {f.rstrip("=") for f in list(forms) if f.endswith("=")}
    return sorted((f for f in forms if f), key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


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
            tmp.write_bytes(msg.as_bytes(policy=SMTP_POLICY.clone(max_line_length=HEADER_LINE)))
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise SendError(f"cannot write {path}: {exc}", transient=False) from None
        return f"written to {path}"

    def close(self) -> None:
        pass
