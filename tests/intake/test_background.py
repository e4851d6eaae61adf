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
