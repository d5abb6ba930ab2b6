"""SMTP intake: a small SMTP server (aiosmtpd) that feeds each mail into e-mail intake.

Run it with `python manage.py smtp_intake --port 2525` behind the organisation's mail
server, which relays the service addresses to it (it relays nothing itself). On a private
address it may run without more; elsewhere give it a certificate (`CPM_SMTP_TLS_CERT`,
`CPM_SMTP_TLS_KEY`): then STARTTLS is required before any mail, and with
`CPM_SMTP_USER` and `CPM_SMTP_PASSWORD` the sending server must also log in (AUTH PLAIN or
LOGIN, only after STARTTLS). Each received mail is handed, as
the raw RFC 822 bytes, to the same intake as `POST /api/v1/inbound/email` with `raw`: the
raw message is kept whatever happens, idempotent on its Message-ID (a mail without one on the hash
of its bytes), then parsed; attachments are stored on the interaction, up to
`CPM_ATTACHMENT_MAX_BYTES` each. The server answers 250 only after the message is stored,
so a mail server retries (451) whatever we could not store; a redelivered mail is a
duplicate and answered 250 again. Mails over `CPM_SMTP_MAX_BYTES` are refused with 552.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import ssl
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from django.conf import settings
from django.db import close_old_connections

from cases.intake import Received, inbound_receive

logger = logging.getLogger(__name__)


def smtp_receive(raw: bytes, recipients: list[str]) -> Received:
    """Store and process one received mail as an inbound e-mail."""
    headers = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
    message_id = " ".join(str(headers.get("Message-ID", "")).split())[:200]
    external_id = message_id or f"sha256:{hashlib.sha256(raw).hexdigest()}"
    payload = {
        "external_id": external_id,
        "raw": base64.b64encode(raw).decode("ascii"),
        "to": ", ".join(recipients)[:320],
    }
    return inbound_receive(channel="email", payload=payload)


class IntakeHandler:
    """aiosmtpd handler: DATA stores the mail (in a worker thread: the ORM is synchronous)."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        try:
            received = await loop.run_in_executor(
                None, receive_in_thread, raw, list(envelope.rcpt_tos)
            )
        except Exception:  # anything: the sending server keeps the mail and tries again
            logger.exception("SMTP intake could not store a mail")
            return "451 4.3.0 Could not store the message, try again later"
        logger.info(
            "SMTP intake stored inbound message %s (%s)",
            received.message.pk,
            "duplicate" if received.duplicate else received.message.status,
        )
        return "250 2.0.0 Stored"


def receive_in_thread(raw: bytes, recipients: list[str]) -> Received:
    close_old_connections()
    try:
        return smtp_receive(raw, recipients)
    finally:
        close_old_connections()


@dataclass(frozen=True)
class SmtpSecurity:
    """STARTTLS (a certificate and its key) and the one login the sending server uses."""

    cert: str = ""
    key: str = ""
    user: str = ""
    password: str = ""

    @classmethod
    def from_settings(cls) -> SmtpSecurity:
        return cls(
            settings.CPM_SMTP_TLS_CERT,
            settings.CPM_SMTP_TLS_KEY,
            settings.CPM_SMTP_USER,
            settings.CPM_SMTP_PASSWORD,
        )

    def options(self) -> dict[str, Any]:
        """The Controller's options for this; ValueError when they do not fit together."""
        if bool(self.user) != bool(self.password):
            raise ValueError("Set both CPM_SMTP_USER and CPM_SMTP_PASSWORD, or neither.")
        if self.user and not self.cert:
            raise ValueError("A login needs TLS: set CPM_SMTP_TLS_CERT and CPM_SMTP_TLS_KEY.")
        options: dict[str, Any] = {}
        if self.cert:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.cert, self.key or None)
            options |= {"tls_context": context, "require_starttls": True}
        if self.user:
            options |= {"auth_required": True, "authenticator": self.authenticate}
        return options

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user_ok = hmac.compare_digest(data.login, self.user.encode())
        password_ok = hmac.compare_digest(data.password, self.password.encode())
        return AuthResult(success=user_ok and password_ok, handled=False)


def smtp_controller(
    *, host: str, port: int, security: SmtpSecurity | None = None, **kwargs: Any
) -> Controller:
    """An SMTP server for intake on host:port, not yet started (`.start()`, `.stop()`);
    STARTTLS and the login as configured (ValueError when that is incomplete)."""
    security = security or SmtpSecurity.from_settings()
    return Controller(
        IntakeHandler(),
        hostname=host,
        port=port,
        data_size_limit=settings.CPM_SMTP_MAX_BYTES,
        enable_SMTPUTF8=True,
        **security.options(),
        **kwargs,
    )
