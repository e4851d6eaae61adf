"""Mail backends: SMTP for production, .eml files for the embedded default, memory for tests."""

from __future__ import annotations

import hashlib
import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any, Protocol

from flask import current_app

from participation.core.models import utcnow


class Backend(Protocol):
    def send(self, message: EmailMessage) -> None: ...


def message_id(dedupe_key: str, sender: str) -> str:
    """The same outbox row always gets the same Message-ID, so a rare resend is recognisable."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "participation.local"
    digest = hashlib.sha256(dedupe_key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def build(outbox: Any, config: dict) -> EmailMessage:
    """The e-mail for one outbox row (text was rendered in the recipient's language when written)."""
    sender = config["MAIL_DEFAULT_SENDER"]
    message = EmailMessage()
    message["From"] = sender
    message["To"] = outbox.recipient
    message["Subject"] = outbox.subject
    message["Message-ID"] = message_id(outbox.dedupe_key, sender)
    message["Date"] = format_datetime(utcnow())
    message["Auto-Submitted"] = "auto-generated"
    if outbox.urgent:
        message["X-Priority"] = "1"
    message.set_content(outbox.body)
    return message


class SmtpBackend:
    """smtplib with an optional TLS upgrade or implicit TLS, log-in, and a timeout."""

    def __init__(self, config: dict):
        self.config = config

    def send(self, message: EmailMessage) -> None:
        config = self.config
        host, port, timeout = config["MAIL_SERVER"], int(config["MAIL_PORT"]), float(config["MAIL_TIMEOUT"])
        if config["MAIL_USE_SSL"]:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        try:
            if config["MAIL_USE_TLS"] and not config["MAIL_USE_SSL"]:
                smtp.starttls(context=ssl.create_default_context())
            if config["MAIL_USERNAME"]:
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
            smtp.send_message(message)
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()  # the message was accepted already; a failed good-bye must not resend it


class FileBackend:
    """Writes each e-mail as an .eml file (instance/mail by default), so the platform runs offline."""

    def __init__(self, config: dict):
        self.folder = Path(config["MAIL_FILE_DIR"] or Path(current_app.instance_path) / "mail")

    def send(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(str(message["Message-ID"]).encode()).hexdigest()[:12]
        name = f"{utcnow():%Y%m%dT%H%M%S%f}-{digest}.eml"
        temporary = self.folder / f".{name}.tmp"
        temporary.write_bytes(message.as_bytes())
        os.replace(temporary, self.folder / name)


class MemoryBackend:
    """Keeps sent e-mails in app.extensions['mail_sent'] (tests)."""

    def __init__(self, config: dict):
        self.sent = current_app.extensions.setdefault("mail_sent", [])

    def send(self, message: EmailMessage) -> None:
        self.sent.append(message)


BACKENDS = {"smtp": SmtpBackend, "file": FileBackend, "memory": MemoryBackend}


def backend() -> Backend:
    """The backend chosen by MAIL_BACKEND."""
    name = current_app.config["MAIL_BACKEND"]
    try:
        return BACKENDS[name](current_app.config)
    except KeyError:
        raise RuntimeError(f"unknown MAIL_BACKEND {name!r}; use one of {sorted(BACKENDS)}") from None


def is_permanent(error: Exception) -> bool:
    """A 5xx answer about the message will not change by trying again (4xx, log-in and connections may)."""
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return False  # our configuration, not the message: keep it until the password is fixed
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in error.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(error, smtplib.SMTPResponseException):
        return 500 <= error.smtp_code < 600
    return False
