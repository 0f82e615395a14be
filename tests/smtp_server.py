"""A real SMTP server on 127.0.0.1 (aiosmtpd) for the delivery tests and the mail benchmark.

It records every message it accepts, and can misbehave on purpose, per recipient address:
- `reject`: 550 at RCPT, every time (a permanent failure);
- `busy_once`: 451 at RCPT the first time, accepted afterwards (a transient one);
- `data_busy_once`: 451 after the message's data the first time, accepted afterwards;
- `drop_once`: closes the connection once the message's data is in, before replying (the
  client cannot know whether it was kept; this server keeps nothing), once;
- `hang`: stops answering in the DATA phase (the client's timeout must fire); nothing is kept;
- `keep_hang`: keeps the message, then does not reply until after `hang_seconds` (the client's
  timeout fires first: the message arrived, but the client cannot know), every time;
- `keep_drop`: keeps the message, then closes the connection before replying, every time.
With `echo_auth=True` a refused login is answered with what the client sent, in every encoding
(the password, AUTH LOGIN's and AUTH PLAIN's base64), as a careless server might: the client's
error texts must not show any of it.
With `tls=True` it offers STARTTLS with a throwaway CA's certificate and requires it and AUTH
(user and password as given) before mail is accepted; with `tls="implicit"` the whole session is
TLS from the first byte (SMTP_SECURITY=ssl, port 465 style), AUTH required as well.

Not used by the pipeline itself; aiosmtpd and trustme are development dependencies.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

FAULTS = ("reject", "busy_once", "data_busy_once", "drop_once", "hang", "keep_hang", "keep_drop")


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    def message(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.data)  # type: ignore[return-value]


@dataclass
class _Handler:
    faults: dict[str, str] = field(default_factory=dict)
    hang_seconds: float = 5.0
    messages: list[Received] = field(default_factory=list)
    sessions: set[int] = field(default_factory=set)
    refusals: list[tuple[str, int]] = field(default_factory=list)
    # called with each message kept, while the client still waits for the reply (tests use it
    # to look at the world from the server's side of the exchange)
    on_message: Callable[[Received], None] | None = None
    _done: set[tuple[str, str]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _once(self, fault: str, address: str) -> bool:
        key = (fault, address)
        if key in self._done:
            return False
        self._done.add(key)
        return True

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201, N802
        fault = self.faults.get(address)
        if fault == "reject":
            self.refusals.append((address, 550))
            return "550 5.1.1 <" + address + ">: mailbox unavailable"
        if fault == "busy_once" and self._once(fault, address):
            self.refusals.append((address, 451))
            return "451 4.3.2 busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def _keep(self, session, envelope) -> None:  # noqa: ANN001
        received = Received(
            envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content)
        )
        with self.lock:
            self.sessions.add(id(session))
            self.messages.append(received)
        if self.on_message is not None:
            self.on_message(received)

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        for rcpt in envelope.rcpt_tos:
            fault = self.faults.get(rcpt)
            if fault == "keep_hang":
                self._keep(session, envelope)
                await asyncio.sleep(self.hang_seconds)
                return "250 2.0.0 accepted (too late)"
            if fault == "keep_drop":
                self._keep(session, envelope)
                server.transport.abort()
                return "421 4.4.2 connection dropped"
        for rcpt in envelope.rcpt_tos:
            fault = self.faults.get(rcpt)
            if fault == "data_busy_once" and self._once(fault, rcpt):
                self.refusals.append((rcpt, 451))
                return "451 4.3.0 temporary failure, try again"
            if fault == "drop_once" and self._once(fault, rcpt):
                server.transport.abort()
                return "421 4.4.2 connection dropped"
            if fault == "hang":
                await asyncio.sleep(self.hang_seconds)
                return "451 4.4.2 too late"
        self._keep(session, envelope)
        return "250 2.0.0 accepted"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalSmtpServer:
    """`with LocalSmtpServer(...) as srv:` a running server; `srv.port`, `srv.messages`."""

    def __init__(
        self,
        tls: bool | str = False,
        user: str = "scorecards",
        password: str = "s3cret-Pa55",
        hang_seconds: float = 5.0,
        echo_auth: bool = False,
    ) -> None:
        self.tls = tls
        self.echo_auth = echo_auth
        self.user, self.password = user, password
        self.handler = _Handler(hang_seconds=hang_seconds)
        self._tmp = tempfile.TemporaryDirectory(prefix="local-smtp-")
        self.ca_file: str | None = None
        self.port = 0
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    @property
    def sessions(self) -> int:
        """SMTP sessions that delivered at least one message."""
        return len(self.handler.sessions)

    def fault(self, address: str, kind: str) -> None:
        if kind not in FAULTS:
            raise ValueError(f"fault must be one of {FAULTS}")
        self.handler.faults[address] = kind

    def _auth(self, server, session, envelope, mechanism, auth_data) -> AuthResult:  # noqa: ANN001
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.user
            and auth_data.password.decode() == self.password
        )
        if not ok and self.echo_auth and isinstance(auth_data, LoginPassword):
            user, pw = auth_data.login, auth_data.password
            forms = [pw, base64.b64encode(pw), base64.b64encode(b"\0" + user + b"\0" + pw)]
            echo = " ".join(f.decode("utf-8", "replace") for f in forms)
            return AuthResult(success=False, handled=False, message=f"535 5.7.8 rejected {echo}")
        return AuthResult(success=ok, handled=False)

    def start(self) -> LocalSmtpServer:
        # aiosmtpd warns about its own deprecated Session.login_data on every AUTH
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        kwargs: dict = {}
        if self.tls:
            import trustme

            ca = trustme.CA()
            cert = ca.issue_cert("127.0.0.1", "localhost")
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(ctx)
            ca_path = Path(self._tmp.name) / "ca.pem"
            ca.cert_pem.write_to_path(str(ca_path))
            self.ca_file = str(ca_path)
            kwargs = {"auth_required": True, "authenticator": self._auth}
            if self.tls == "implicit":
                # aiosmtpd does not count an implicit-TLS session as TLS for AUTH; it is one.
                kwargs |= {"ssl_context": ctx, "auth_require_tls": False}
            else:
                kwargs |= {"tls_context": ctx, "require_starttls": True, "auth_require_tls": True}
        self.port = _free_port()
        self._controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, ready_timeout=10, **kwargs
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        self._tmp.cleanup()

    def __enter__(self) -> LocalSmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
