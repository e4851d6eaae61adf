"""Delivery through a real SMTP server: retried with backoff, nothing lost, nothing sent twice."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from email import message_from_bytes

from sqlalchemy import select

from participation.core.uow import transaction
from participation.notifications import services
from participation.notifications.mail import message_id
from participation.notifications.models import OutboxMessage, OutboxStatus
from participation.notifications.tasks import deliver, flush, send_one


def write_one(make_user, dedupe: str = "d1") -> OutboxMessage:
    user = make_user("citizen")
    with transaction():
        services.notify([user], "ticket_update", params={"code": "MAIL1", "variant": "reply"}, dedupe=dedupe)
    from participation.extensions import db

    return db.session.scalar(select(OutboxMessage))


def test_failing_server_is_retried_with_backoff_and_delivers_exactly_once(app, db, make_user, smtp_server, clock):
    smtp_server.failures = 2
    base = timedelta(seconds=app.config["MAIL_RETRY_BASE_SECONDS"])
    start = clock.now
    message = write_one(make_user)  # the commit queued it; the first attempt got 451
    assert smtp_server.refused == 1 and smtp_server.received == []
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)
    assert message.next_attempt_at == start + base and "451" in message.last_error

    assert flush() == {"released": 0}  # not due yet: nothing tried
    clock.now = start + base
    assert flush()["pending"] == 1  # second 451: wait twice as long
    db.session.refresh(message)
    assert message.attempts == 2 and message.next_attempt_at == start + base + 2 * base

    clock.now = start + base + 2 * base
    assert flush()["sent"] == 1
    db.session.refresh(message)
    assert (message.status, message.attempts, message.last_error) == (OutboxStatus.SENT, 3, "")
    assert len(smtp_server.received) == 1
    received = message_from_bytes(smtp_server.received[0].original_content)
    assert received["Message-ID"] == message_id(message.dedupe_key, app.config["MAIL_DEFAULT_SENDER"])
    from email.header import decode_header, make_header

    assert "MAIL1" in str(make_header(decode_header(received["Subject"])))  # Chinese subjects are encoded

    clock.advance(days=1)  # later sweeps and late duplicate deliveries change nothing
    assert flush() == {"released": 0}
    assert deliver(message.id) == "skipped"
    assert len(smtp_server.received) == 1


def test_gives_up_after_the_last_attempt_and_admins_see_it(app, db, make_user, smtp_server, clock, runner):
    smtp_server.failures = 100
    app.config["MAIL_MAX_ATTEMPTS"], saved = 3, app.config["MAIL_MAX_ATTEMPTS"]
    try:
        message = write_one(make_user)
        for _ in range(5):
            clock.advance(days=1)
            flush()
    finally:
        app.config["MAIL_MAX_ATTEMPTS"] = saved
    db.session.refresh(message)
    assert (message.status, message.attempts) == (OutboxStatus.FAILED, 3)
    assert smtp_server.refused == 3 and smtp_server.received == []
    listing = runner.invoke(args=["notifications", "failed"])
    assert listing.exit_code == 0 and message.recipient in listing.output and "451" in listing.output
    smtp_server.failures = 0
    assert runner.invoke(args=["notifications", "retry", str(message.id)]).exit_code == 0
    assert len(smtp_server.received) == 1  # sent again as soon as the retry was committed
    assert flush() == {"released": 0}


def test_a_permanent_refusal_fails_at_once(db, make_user, smtp_server, clock):
    smtp_server.failures, smtp_server.code = 1, "550 5.1.1 No such mailbox"
    message = write_one(make_user)
    assert (message.status, message.attempts) == (OutboxStatus.FAILED, 1)


def test_two_deliveries_of_one_message_send_it_once(app, db, make_user, smtp_server, clock):
    smtp_server.failures = 1
    message = write_one(make_user)  # left pending after the first 451
    clock.advance(hours=1)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def worker():
        with app.app_context():
            barrier.wait()
            outcomes.append(send_one(message.id))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["sent", "skipped"]
    assert len(smtp_server.received) == 1
    assert send_one(message.id) == "skipped"


def test_a_claim_left_by_a_dead_worker_is_released_and_sent_with_the_same_message_id(app, db, make_user, sent, clock):
    message = write_one(make_user)
    sent.clear()
    db.session.refresh(message)
    message.status, message.claimed_at = OutboxStatus.SENDING, clock.now  # as if a worker died mid-send
    db.session.commit()
    assert flush() == {"released": 0}  # a fresh claim is left alone
    clock.advance(seconds=app.config["OUTBOX_CLAIM_TIMEOUT_SECONDS"] + 1)
    outcome = flush()
    assert outcome["released"] == 1
    db.session.refresh(message)
    assert message.status == OutboxStatus.PENDING and "stopped" in message.last_error
    clock.now = message.next_attempt_at  # the crash counts as an attempt: it waits its backoff
    assert flush()["sent"] == 1
    assert [m["Message-ID"] for m in sent] == [message_id(message.dedupe_key, app.config["MAIL_DEFAULT_SENDER"])]


def test_file_backend_writes_eml_files(app, db, make_user, clock, tmp_path):
    saved = app.config["MAIL_BACKEND"], app.config["MAIL_FILE_DIR"]
    app.config.update(MAIL_BACKEND="file", MAIL_FILE_DIR=str(tmp_path))
    try:
        message = write_one(make_user)
    finally:
        app.config["MAIL_BACKEND"], app.config["MAIL_FILE_DIR"] = saved
    files = list(tmp_path.glob("*.eml"))
    assert message.status == OutboxStatus.SENT and len(files) == 1
    assert message_from_bytes(files[0].read_bytes())["To"] == message.recipient


def test_make_run_sends_mail_from_its_own_thread_not_from_the_request(app, db, make_user, smtp_server):
    """In the embedded mode a slow mail server must not hold up the person whose action wrote the e-mail."""
    from participation.core.scheduler import hand_over
    from participation.notifications.tasks import MAILER, start_embedded_mailer

    assert not hand_over(MAILER, [1])  # no mailer thread (tests, production): the commit delivers itself
    smtp_server.delay = 2.0  # the server takes two seconds over each message
    users = [make_user("citizen") for _ in range(3)]
    mailer = start_embedded_mailer(app)
    try:
        with transaction():
            services.notify(users, "ticket_update", params={"code": "MAIL2", "variant": "reply"}, dedupe="slow")
        assert smtp_server.received == []  # the commit came back without waiting for the server
        rows = db.session.scalars(select(OutboxMessage)).all()
        assert len(rows) == 3 and {m.status for m in rows} <= {OutboxStatus.PENDING, OutboxStatus.SENDING}
        deadline = time.monotonic() + 30
        while len(smtp_server.received) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(smtp_server.received) == 3
    finally:
        assert mailer.stop()  # it finished what it had been given, then ended
    db.session.expire_all()
    assert {m.status for m in db.session.scalars(select(OutboxMessage))} == {OutboxStatus.SENT}
    assert not hand_over(MAILER, [1])


def test_the_embedded_beat_runs_its_jobs_and_stops_promptly(app, db, make_user, smtp_server, monkeypatch):
    from participation.core.scheduler import EmbeddedBeat

    monkeypatch.setitem(app.config, "MAIL_RETRY_BASE_SECONDS", 0)
    smtp_server.failures = 1
    write_one(make_user)  # the first attempt is refused: pending, due again at once
    assert smtp_server.refused == 1 and smtp_server.received == []
    beat = EmbeddedBeat(app, {"notifications.flush_outbox": 3600.0}).start()
    deadline = time.monotonic() + 20
    while not smtp_server.received and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(smtp_server.received) == 1  # its first turn flushed the outbox
    started = time.monotonic()
    assert beat.stop()
    assert time.monotonic() - started < 5  # not after the hour-long interval


def test_the_beat_job_gives_each_due_email_a_delivery_of_its_own(app, db, monkeypatch, clock):
    """A hung mail server must hold up one e-mail at a time, not a worker process for a whole batch:
    the beat job queues deliveries (behind routing) instead of sending the batch itself."""
    from participation.notifications import tasks

    now = clock.now
    long_ago = now - timedelta(seconds=app.config["OUTBOX_CLAIM_TIMEOUT_SECONDS"] + 60)
    rows = (  # key, created, due, attempts
        ("due-lost", long_ago, long_ago, 0),  # its delivery was lost (a worker died with it)
        ("due-retry", now - timedelta(minutes=2), now, 1),  # a retry now due
        ("due-held", now - timedelta(hours=8), now, 0),  # held back by quiet hours until now
        ("on-its-way", now, now, 0),  # queued by its own commit a moment ago: not again
        ("later", now, now + timedelta(hours=1), 1),  # not due
    )
    with transaction():
        for key, created, due_at, attempts in rows:
            db.session.add(
                OutboxMessage(
                    dedupe_key=key, recipient=f"{key}@example.org", subject="s", body="b",
                    created_at=created, next_attempt_at=due_at, attempts=attempts,
                )
            )  # fmt: skip
    queued: list[int] = []
    monkeypatch.setattr(tasks, "deliver", type("Stub", (), {"delay": staticmethod(queued.append)}))
    assert tasks.flush_outbox() == {"released": 0, "queued": 3}
    due = {m.id for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.like("due-%")))}
    assert set(queued) == due
    assert {m.status for m in db.session.scalars(select(OutboxMessage))} == {OutboxStatus.PENDING}  # none sent here
