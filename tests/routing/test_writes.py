"""How a submission's pipeline writes: few flushes, since each costs a fixed amount whatever it holds."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from participation.core.uow import transaction
from participation.intake import services as intake
from participation.routing.models import TicketStatus


def test_an_automatic_dispatch_is_written_in_few_flushes(app, people, submit, monkeypatch):
    """Reads that need none of the transaction's pending rows (the router's catalog reads, the duplicate
    check, the recipients of the notifications) do not write them first; it took 13 flushes before."""
    monkeypatch.setitem(app.config, "ROUTING_AUTO_DISPATCH", True)
    monkeypatch.setitem(app.config, "ROUTING_CONFIDENCE_THRESHOLD", 0.0)
    submit("预热：路灯不亮")  # the router is fitted and the catalog read once, outside the count
    flushes: list[int] = []

    def count(session, _context, _instances):
        flushes.append(len(session.new) + len(session.dirty))

    event.listen(Session, "before_flush", count)
    try:
        ticket = submit()  # stored, then analysed, routed and dispatched in-process after the commit
    finally:
        event.remove(Session, "before_flush", count)
    assert ticket.status == TicketStatus.DISPATCHED and ticket.parts
    assert len(flushes) <= 10, flushes  # 13 before


def test_storing_a_submission_reads_back_nothing_it_knows(app, db, people, submit, monkeypatch):
    """Storing a submission (what the request does where a worker routes it) reads neither the new
    submission's ticket nor the new ticket's parts and categories back, nor the calendar twice."""
    from participation.intake import tasks

    submit("预热：路灯不亮")  # the calendar and policies exist, the router is fitted: outside the count
    monkeypatch.setattr(tasks.analyse_submission, "delay", lambda *_args: None)  # queued, not run
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()[:4]))

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with transaction():
            submission, _ = intake.submit(people.citizen, {"kind": "complaint", "text": "工地半夜施工，噪音太大"})
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert submission.ticket.status == TicketStatus.SUBMITTED
    reads = [s for s in statements if s.startswith("SELECT")]
    read_back = [s for s in reads if "ticket_part" in s or "ticket_category" in s or s.startswith("SELECT ticket.")]
    assert not read_back  # all three before
    assert sum("calendar_version" in s for s in reads) == 1, reads  # twice before
