"""A real worker takes a submission's analysis before a backlog of e-mails queued ahead of it."""

from __future__ import annotations

import time
from datetime import UTC

import pytest
import requests
from sqlalchemy import func, select

from participation import create_app
from participation.core.uow import transaction
from participation.intake.models import Submission
from participation.notifications.models import OutboxMessage, OutboxStatus
from tests.live import process_env, web_process, worker_process

pytestmark = pytest.mark.redis

BACKLOG = 150


def test_routing_is_not_held_up_by_a_backlog_of_emails(
    db, catalog, database_url, redis_url, tmp_path, monkeypatch, suites_app_stays_current
):
    with transaction():
        db.session.add_all(
            OutboxMessage(dedupe_key=f"backlog-{n}", recipient=f"staff{n}@example.org", subject="s", body="b")
            for n in range(BACKLOG)
        )
    ids = list(db.session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))

    # The e-mails are queued first, as the commits that wrote them would queue them...
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("PARTICIPATION_SECRET_KEY", "queuing-only")
    queuing = create_app()
    with queuing.app_context():
        from participation.notifications.tasks import deliver

        for message_id in ids:
            deliver.delay(message_id)
        db.engine.dispose()  # this app only queued; its connections must not outlive the test

    env = process_env(database_url, str(tmp_path / "uploads"), redis_url)
    env.update(PARTICIPATION_MAIL_BACKEND="file", PARTICIPATION_MAIL_FILE_DIR=str(tmp_path / "mail"))
    with web_process(env, tmp_path, "web") as web:
        # ...then a citizen submits: the analysis task lands behind them in Redis.
        response = requests.post(
            web + "/api/v1/submissions",
            json={"kind": "complaint", "anonymous": True, "text": "The street light on Hill Road is broken"},
        )
        assert response.status_code == 201
        with worker_process(env, tmp_path):
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                db.session.expire_all()
                sent = db.session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.status == OutboxStatus.SENT, OutboxMessage.dedupe_key.like("backlog-%"))
                )
                if sent == BACKLOG:
                    break
                time.sleep(0.2)
    db.session.expire_all()
    analysed_at = db.session.scalar(select(Submission.analysed_at))
    assert analysed_at is not None
    sent_before = db.session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.sent_at < analysed_at, OutboxMessage.dedupe_key.like("backlog-%"))
    )
    assert sent == BACKLOG  # every e-mail went out too
    # Without priorities the worker would have sent the whole backlog first. (Reserving one task ahead,
    # worker_prefetch_multiplier 1, is not what this shows, the backlog being queued before the worker
    # starts: the next test is.)
    assert sent_before <= 3, sent_before


SLOW = 8
SLOW_SECONDS = 1.0


def test_a_busy_worker_holds_back_no_more_than_one_task_ahead(
    db, catalog, database_url, redis_url, tmp_path, monkeypatch, suites_app_stays_current
):
    """The worker is busy with a queue of slow deferrable work when a citizen submits. A worker process
    reserves one queued task ahead (`worker_prefetch_multiplier` 1), so the submission's analysis, which
    goes before deferrable work in Redis, starts after at most the one task already reserved. (Celery's
    default, four ahead, would make it wait for four.)"""
    env = process_env(database_url, str(tmp_path / "uploads"), redis_url)
    starts = tmp_path / "starts.log"
    starts.touch()
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("PARTICIPATION_SECRET_KEY", "queuing-only")
    queuing = create_app()
    celery = queuing.extensions["celery"]
    with (
        web_process(env, tmp_path, "web") as web,
        worker_process(env, tmp_path, include="tests.scaleout.slow_tasks", prefork=True),
    ):
        with queuing.app_context():
            for _ in range(SLOW):
                celery.send_task("tests.slow", args=[str(starts), SLOW_SECONDS], priority=6)
            db.engine.dispose()  # this app only queued; its connections must not outlive the test
        deadline = time.monotonic() + 30
        while not starts.read_text().strip():  # the worker is busy, and has reserved what it may
            assert time.monotonic() < deadline, "the worker never started the slow tasks"
            time.sleep(0.05)
        time.sleep(SLOW_SECONDS / 10)
        response = requests.post(
            web + "/api/v1/submissions",
            json={"kind": "complaint", "anonymous": True, "text": "The street light on Hill Road is broken"},
        )
        # The analysis was queued at the request's commit, before its answer: from here, only what the
        # worker had reserved ahead may start before it.
        submitted = time.time()
        assert response.status_code == 201
        deadline = time.monotonic() + 60
        analysed_at = None
        while analysed_at is None:
            assert time.monotonic() < deadline, "the submission was never analysed"
            time.sleep(0.1)
            db.session.expire_all()
            analysed_at = db.session.scalar(select(Submission.analysed_at))
    with queuing.app_context():
        # The slow tasks still queued (with those the stopped worker had reserved and handed back) are not
        # left to later tests.
        celery.control.purge()
        db.engine.dispose()
    analysed = (analysed_at if analysed_at.tzinfo else analysed_at.replace(tzinfo=UTC)).timestamp()
    started = [float(line) for line in starts.read_text().split()]
    between = [t for t in started if submitted < t < analysed]
    # At most the one task reserved ahead starts between the submission and its analysis.
    print("slow tasks started between the submission and its analysis:", len(between), "of", len(started))
    assert len(between) <= 1, (len(between), len(started))
    assert len(started) < SLOW  # the analysis did not wait for the whole queue
