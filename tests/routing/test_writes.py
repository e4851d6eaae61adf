"""How a submission's pipeline writes: few flushes, since each costs a fixed amount whatever it holds."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

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
