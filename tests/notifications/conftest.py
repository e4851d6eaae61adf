"""Fixtures for notifications: the routing cast, a controllable clock, sent mail, a real SMTP server."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest

from tests.routing.conftest import joint_ticket, people, submit  # noqa: F401  (fixtures reused)

# 10:00 in the city (UTC+8) on a Monday.
MORNING = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        from datetime import timedelta

        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch):
    """The notifications' clock, moved by the test instead of by sleeping."""
    from participation.notifications import services

    fake = Clock(MORNING)
    monkeypatch.setattr(services, "clock", fake)
    return fake


@pytest.fixture
def sent(app, db):
    """E-mails the memory backend 'sent' during the test."""
    box = app.extensions.setdefault("mail_sent", [])
    box.clear()
    yield box
    box.clear()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FlakyHandler:
    """An SMTP server that answers 451 (try again later) to the first `failures` messages."""

    def __init__(self, failures: int = 0, code: str = "451 4.3.0 Try again later"):
        self.failures = failures
        self.code = code
        self.received: list = []
        self.refused = 0
        self.delay = 0.0  # seconds before answering each message: a slow server

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        if self.failures > 0:
            self.failures -= 1
            self.refused += 1
            return self.code
        self.received.append(envelope)
        return "250 2.0.0 OK"


@pytest.fixture
def smtp_server(app, db):
    """A real SMTP server on a free local port, and the app configured to send through it."""
    from aiosmtpd.controller import Controller

    handler = FlakyHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    saved = {k: app.config[k] for k in ("MAIL_BACKEND", "MAIL_SERVER", "MAIL_PORT", "MAIL_TIMEOUT")}
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_TIMEOUT=5.0)
    try:
        yield handler
    finally:
        app.config.update(saved)
        controller.stop()
