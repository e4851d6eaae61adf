"""Analysis and routing out of the request: the embedded thread, and submissions left unanalysed."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from participation.core.models import utcnow
from participation.core.scheduler import hand_over
from participation.core.uow import transaction
from participation.intake import services as intake
from participation.intake import tasks
from participation.intake.models import Submission
from participation.routing.models import TicketStatus
from tests.conftest import live_client


def _store(actor, text: str = "小区门口路灯坏了一个月了，晚上一片漆黑") -> int:
    with transaction():
        submission, _ = intake.submit(actor, {"kind": "complaint", "text": text, "district": "EAST-HILL"})
        return submission.id


def test_make_run_answers_once_stored_and_routes_in_its_own_thread(app, db, client, login, people, monkeypatch):
    """In the embedded mode the person submitting does not wait for analysis and routing, and sees them
    arrive live."""
    assert not hand_over(tasks.ANALYSER, [1])  # no thread (tests, production): the commit queues the task itself
    login(people.citizen)
    live = live_client(app, "/intake", client)
    assert live.emit("follow_mine", {}, namespace="/intake", callback=True) == {"ok": True}
    heard: list[str] = []

    def listen() -> list[str]:
        heard.extend(e["args"][0]["status"] for e in live.get_received("/intake") if e["name"] == "submission.status")
        return heard

    release = threading.Event()
    analysis = tasks.analyse

    def held(text):
        release.wait(5)  # the analysis waits until the test lets it go (or five seconds)
        return analysis(text)

    monkeypatch.setattr(tasks, "analyse", held)
    analyser = tasks.start_embedded_analyser(app)
    try:
        submission_id = _store(people.citizen)
        # The commit came back while the analysis is held: in the request it would have waited five
        # seconds and come back analysed.
        db.session.expire_all()
        submission = db.session.get(Submission, submission_id)
        assert submission.analysed_at is None and submission.ticket.status == TicketStatus.SUBMITTED
        assert listen() == ["submitted"]
        release.set()
        deadline = time.monotonic() + 30
        while submission.analysed_at is None and time.monotonic() < deadline:
            time.sleep(0.1)
            db.session.rollback()
            db.session.expire_all()
        assert submission.analysed_at is not None
        assert submission.ticket.status in (TicketStatus.TRIAGE, TicketStatus.DISPATCHED)
        while len(listen()) < 2 and time.monotonic() < deadline:  # published after the thread's commit
            time.sleep(0.05)
        assert heard[:2] == ["submitted", "triage"]
    finally:
        release.set()
        assert analyser.stop()  # it finished what it had been given, then ended
    assert not hand_over(tasks.ANALYSER, [1])


def test_submissions_left_unanalysed_are_queued_again(app, db, people, monkeypatch):
    """A task lost with a worker, or an embedded server stopped with items queued: the periodic job takes
    up what has waited ANALYSIS_RETRY_MINUTES, and leaves newer, analysed and day-old items alone."""
    monkeypatch.setattr(tasks, "queue_analysis", lambda ids: None)  # stored, the task lost
    lost, recent, done, given_up = (_store(people.citizen) for _ in range(4))
    monkeypatch.undo()
    with transaction():
        for submission_id in (lost, done):
            db.session.get(Submission, submission_id).created_at = utcnow() - timedelta(minutes=11)
        db.session.get(Submission, done).analysed_at = utcnow()
        db.session.get(Submission, given_up).created_at = utcnow() - timedelta(days=1, minutes=1)
    assert tasks.analyse_pending() == 1  # in-process here: analysed and routed at once
    db.session.expire_all()
    assert db.session.get(Submission, lost).analysed_at is not None
    assert db.session.get(Submission, lost).ticket.status != TicketStatus.SUBMITTED
    assert db.session.get(Submission, recent).analysed_at is None
    assert db.session.get(Submission, recent).ticket.status == TicketStatus.SUBMITTED
    assert db.session.get(Submission, given_up).analysed_at is None  # older than a day: no longer tried
    assert tasks.analyse_pending() == 0


def test_a_background_thread_tries_again_after_a_transient_failure(app):
    """A database or service briefly out of reach: the item is tried again after each delay while the
    others go on; another kind of error, or the last delay spent, and it is logged and left."""
    from participation.core.scheduler import Background

    done: list[object] = []
    tries: dict[object, int] = {}
    finished = threading.Event()

    def work(item):
        tries[item] = tries.get(item, 0) + 1
        if item == "flaky" and tries[item] < 3:
            raise OSError("connection refused")
        if item == "down":
            raise OSError("still refused")
        if item == "broken":
            raise ValueError("a bug, not the network")
        done.append(item)
        if item == "flaky":
            finished.set()

    background = Background(app, "test-retry", work, retry_on=(OSError,), delays=(0.05, 0.05, 0.05)).start()
    try:
        assert background.submit(["flaky", "down", "broken", "plain"])
        assert finished.wait(5)
        deadline = time.monotonic() + 5
        while tries.get("down", 0) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # no fifth try of "down" comes
    finally:
        assert background.stop()
    assert done == ["plain", "flaky"]  # the others did not wait for the retries
    assert tries == {"flaky": 3, "down": 4, "broken": 1, "plain": 1}


def test_retries_still_waiting_are_dropped_when_the_thread_stops(app):
    from participation.core.scheduler import Background

    tries: list[object] = []

    def work(item):
        tries.append(item)
        raise OSError("refused")

    background = Background(app, "test-stop", work, retry_on=(OSError,), delays=(30.0,)).start()
    threads = threading.active_count()
    background.submit(range(200))  # the database is down: every item waits for its retry
    deadline = time.monotonic() + 5
    while len(tries) < 200 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == threads  # the waiting items hold no thread of their own
    started = time.monotonic()
    assert background.stop()  # at once, not after the retries' delay
    assert time.monotonic() - started < 5
    assert sorted(tries) == list(range(200))


def test_the_embedded_analyser_tries_again_when_the_database_is_out_of_reach(app, db, people, monkeypatch):
    """make run: a submission whose analysis meets a lost database connection is analysed and routed on
    the next try, a second later, not ten minutes later by `analyse_pending`."""
    from sqlalchemy.exc import OperationalError

    analysis = tasks.analyse
    failures = []

    def once_unreachable(text):
        if not failures:
            failures.append(text)
            raise OperationalError("SELECT 1", {}, OSError("server closed the connection unexpectedly"))
        return analysis(text)

    monkeypatch.setattr(tasks, "analyse", once_unreachable)
    analyser = tasks.start_embedded_analyser(app)
    try:
        submission_id = _store(people.citizen)
        deadline = time.monotonic() + 30
        submission = db.session.get(Submission, submission_id)
        while submission.analysed_at is None and time.monotonic() < deadline:
            time.sleep(0.1)
            db.session.rollback()
            db.session.expire_all()
        assert failures and submission.analysed_at is not None
        assert submission.ticket.status in (TicketStatus.TRIAGE, TicketStatus.DISPATCHED)
    finally:
        assert analyser.stop()
