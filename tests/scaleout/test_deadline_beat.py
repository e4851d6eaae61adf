"""Deadline checkpoints with the real moving parts: two Celery beat processes, a Celery worker, Redis, e-mail files.

Two beats at once (a second one started by mistake, or during a deploy) each send `deadlines.sweep` every
second; the worker sweeps again and again. Every due checkpoint must still fire once, be announced once,
notify each person once, and send each person one e-mail.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from types import SimpleNamespace

import pytest
import redis as redis_lib
from flask import current_app
from sqlalchemy import select

from participation.core.models import utcnow
from participation.core.uow import transaction
from participation.deadlines import services as deadlines
from participation.deadlines.models import SlaCheckpoint
from participation.extensions import db
from participation.notifications.mail import message_id
from participation.notifications.models import Notification, OutboxMessage, OutboxStatus
from participation.routing.models import Ticket, TicketEvent
from tests.live import beat_process, process_env, require_redis, worker_process
from tests.routing.conftest import late_joint_ticket

pytestmark = pytest.mark.redis

SENT = re.compile(r"Sending due task deadlines\.sweep")
SWEPT = re.compile(r"Task deadlines\.sweep\[[^\]]+\] succeeded in [0-9.e-]+s: (\d+)")
ALL_LEVELS = [50, 75, 90, 100, 125, 150]
MORE_CYCLES = 3  # each beat sends at least this many more sweeps after the checkpoints fired


@pytest.fixture
def people(catalog, make_user):
    return SimpleNamespace(
        citizen=make_user("citizen"),
        env=make_user("department_staff", departments=("ENV",)),
        urban=make_user("department_staff", departments=("URBAN",)),
        coordinator=make_user("coordinator"),
    )


def count(pattern: re.Pattern, log) -> int:
    return len(pattern.findall(log.read_text()))


def poll(condition, what: str, logs, timeout: float = 45):
    """Call condition() (after ending the test's read transaction) until it returns a true value."""
    deadline = time.monotonic() + timeout
    while True:
        db.session.rollback()
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {log.name}\n{log.read_text()[-2000:]}" for log in logs)
            raise AssertionError(f"timed out waiting for {what}\n{tails}")
        time.sleep(0.2)


@pytest.fixture
def redis_queue():
    """A Celery queue of this test's own on the suite's Redis database, removed afterwards.

    Its own queue keeps other live tests' workers (same Redis database) away from these tasks, without
    flushing a database someone else may be using.
    """
    url = require_redis()
    queue = f"deadline-beat-{uuid.uuid4().hex[:12]}"
    yield url, queue
    client = redis_lib.Redis.from_url(url)
    for key in client.scan_iter(f"*{queue}*"):
        client.delete(key)


def test_two_beats_fire_each_checkpoint_once_and_send_each_email_once(
    redis_queue, db, people, make_user, database_url, tmp_path
):
    url, queue = redis_queue
    second_env_staff = make_user("department_staff", departments=("ENV",))
    ticket = late_joint_ticket(people)
    # The dispatch e-mails went out in this (eager) process; only the sweep's e-mails are left for the worker.
    assert {m.status for m in db.session.scalars(select(OutboxMessage))} == {OutboxStatus.SENT}
    # First contact and resolution are far past every level (they escalate to the coordinator); the two
    # sign-for clocks are made just past their first checkpoint (half the time).
    with transaction():
        for clock in deadlines.clocks_of(ticket):
            if clock.kind.value == "sign_for":
                assert clock.next_level == 50
                clock.next_check_at = utcnow() - timedelta(minutes=1)
    clocks = {(c.kind.value, c.department.code): c for c in deadlines.clocks_of(ticket)}
    expected_levels = {
        clocks["first_contact", "ENV"].id: ALL_LEVELS,
        clocks["resolve", "ENV"].id: ALL_LEVELS,
        clocks["sign_for", "ENV"].id: [50],
        clocks["sign_for", "URBAN"].id: [50],
    }
    expected_recipients = {  # clock -> who is told, once
        clocks["first_contact", "ENV"].id: {people.coordinator.email},
        clocks["resolve", "ENV"].id: {people.coordinator.email},
        clocks["sign_for", "ENV"].id: {people.env.email, second_env_staff.email},
        clocks["sign_for", "URBAN"].id: {people.urban.email},
    }
    total = sum(len(r) for r in expected_recipients.values())
    clock_ids = {c.key: c.id for c in clocks.values()}
    ticket_id = ticket.id

    mail_dir = tmp_path / "mail"
    env = process_env(database_url, str(tmp_path / "uploads"), url)
    env.update(
        PARTICIPATION_BEAT_TASKS='{"deadlines.sweep": 1.0, "notifications.flush_outbox": 1.0}',
        PARTICIPATION_CELERY=f'{{"task_default_queue": "{queue}"}}',
        PARTICIPATION_MAIL_BACKEND="file",
        PARTICIPATION_MAIL_FILE_DIR=str(mail_dir),
    )
    started = time.monotonic()
    with (
        worker_process(env, tmp_path),
        beat_process(env, tmp_path, "beat-a") as (_a, beat_a),
        beat_process(env, tmp_path, "beat-b") as (_b, beat_b),
    ):
        worker = tmp_path / "worker.log"
        logs = (worker, beat_a, beat_b)

        def delivered():
            events = db.session.scalars(
                select(TicketEvent).where(TicketEvent.ticket_id == ticket_id, TicketEvent.type == "deadline.checkpoint")
            ).all()
            if len(events) < len(expected_levels):
                return False
            keys = [f"ev{e.id}:" for e in events]
            rows = [m for m in db.session.scalars(select(OutboxMessage)) if m.dedupe_key.startswith(tuple(keys))]
            return len(rows) >= total and all(m.status == OutboxStatus.SENT for m in rows)

        poll(delivered, "the checkpoints' e-mails to be sent", logs)
        fired_after = time.monotonic() - started

        # Both beats keep sending sweeps, and the worker keeps doing them: nothing more may happen.
        sent_a, sent_b, swept = count(SENT, beat_a), count(SENT, beat_b), count(SWEPT, worker)
        poll(
            lambda: (
                count(SENT, beat_a) >= sent_a + MORE_CYCLES
                and count(SENT, beat_b) >= sent_b + MORE_CYCLES
                and count(SWEPT, worker) >= swept + 2 * MORE_CYCLES
            ),
            "more beat cycles",
            logs,
            timeout=20,
        )
        worker_log = worker.read_text()
    print(f"checkpoints fired and mailed after {fired_after:.1f}s; {len(SWEPT.findall(worker_log))} sweeps ran")

    db.session.rollback()
    # The sweeps, summed over every run of both beats, fired each checkpoint once.
    assert sum(int(n) for n in SWEPT.findall(worker_log)) == sum(len(v) for v in expected_levels.values())
    assert "Traceback" not in worker_log, worker_log[-3000:]

    # One checkpoint row per (clock, level), exactly the levels that were due.
    rows = db.session.execute(select(SlaCheckpoint.clock_id, SlaCheckpoint.level)).all()
    assert Counter(rows) == Counter((clock, level) for clock, levels in expected_levels.items() for level in levels)
    assert all(n == 1 for n in Counter(rows).values())

    # One announcement per clock: the highest level it reached, naming whom to tell.
    events = db.session.scalars(
        select(TicketEvent).where(TicketEvent.type == "deadline.checkpoint").order_by(TicketEvent.id)
    ).all()
    announced = Counter(clock_ids[e.payload["key"]] for e in events)
    assert announced == Counter(expected_levels.keys())
    for event in events:
        levels = expected_levels[clock_ids[event.payload["key"]]]
        assert event.payload["levels"] == levels
        assert event.payload["level"] == max(levels)
        assert event.payload["notify"] == ("coordinator" if max(levels) == 150 else "handler")
    assert db.session.get(Ticket, ticket_id).escalation_level == 2

    # One in-app notification and one sent outbox e-mail per recipient per announcement.
    by_event = {f"ev{e.id}": clock_ids[e.payload["key"]] for e in events}
    emails = {u.id: u.email for u in (people.coordinator, people.env, second_env_staff, people.urban)}

    def of_events(model):
        return [r for r in db.session.scalars(select(model)) if r.dedupe_key.split(":")[0] in by_event]

    notifications = Counter((n.dedupe_key.split(":")[0], emails[n.user_id]) for n in of_events(Notification))
    expected = Counter((key, email) for key, clock in by_event.items() for email in expected_recipients[clock])
    assert notifications == expected
    outbox = of_events(OutboxMessage)
    assert Counter((m.dedupe_key.split(":")[0], m.recipient) for m in outbox) == expected
    assert {m.status for m in outbox} == {OutboxStatus.SENT}
    assert all(m.attempts == 1 for m in outbox)

    # The worker wrote one e-mail file per outbox row: none twice, none missing.
    parser = BytesParser(policy=policy.default)
    files = [parser.parsebytes(path.read_bytes()) for path in sorted(mail_dir.glob("*.eml"))]
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    assert Counter(m["Message-ID"] for m in files) == Counter(message_id(m.dedupe_key, sender) for m in outbox)
    assert Counter(m["To"] for m in files) == Counter(m.recipient for m in outbox)
