"""The generator's bulk path: copies of the services' history, and scorecards computed in one pass over it."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from participation.core.uow import transaction
from participation.deadlines import services as deadlines
from participation.deadlines.models import ClockKind, ClockState, SlaClock
from participation.extensions import db as _db
from participation.intake.models import Submission
from participation.routing.models import Ticket, TicketEvent
from participation.scoring import facts
from participation.scoring import services as scoring
from participation.scoring.models import Scorecard, ScoreContribution
from participation.surveys.models import CallbackResult
from tests.test_demo_generate import UNTIL, _empty_tables

BASE, TOTAL = 24, 80  # two full copies and a partial one (8 tickets)


@pytest.fixture(scope="module")
def bulk(app):
    from participation.cli import load_demo

    ctx = app.app_context()
    ctx.push()
    load_demo()
    result = app.test_cli_runner().invoke(
        args=["demo", "generate", "--tickets", str(TOTAL), "--seed", "5", "--until", UNTIL, "--months", "2"]
        + ["--bulk-base", str(BASE), "--spread-weeks", "4"]
    )
    assert result.exit_code == 0, result.output
    assert f"Copying the history of {BASE} tickets up to {TOTAL}" in result.output
    yield
    _empty_tables()
    ctx.pop()


def _types_of(ticket_ids) -> Counter:
    rows = _db.session.execute(select(TicketEvent.type).where(TicketEvent.ticket_id.in_(ticket_ids)))
    return Counter(t for (t,) in rows)


def test_copies_hold_the_same_events_with_their_own_ids_codes_and_keys(bulk):
    ids = list(_db.session.scalars(select(Ticket.id).order_by(Ticket.id)))
    assert len(ids) == TOTAL
    base, span = ids[:BASE], max(ids[:BASE])
    original = _types_of(base)
    for copy in (1, 2):
        assert _types_of([t + copy * span for t in base]) == original
    assert _types_of([t + 3 * span for t in base[:8]]) == _types_of(base[:8])  # the partial copy
    codes = list(_db.session.scalars(select(Submission.tracking_code)))
    assert len(codes) == len(set(codes)) == TOTAL
    for clock in _db.session.scalars(select(SlaClock).where(SlaClock.ticket_id > span)):
        part = str(clock.part_id) if clock.part_id is not None else "-"
        assert clock.key == f"{clock.ticket_id}:{part}:{clock.kind.value}:{clock.cycle}"
        assert clock.part_id is None or clock.part.ticket_id == clock.ticket_id
    # a copy moved back whole weeks: the same weekday and hour as its original
    first, copied = _db.session.get(Ticket, base[0]), _db.session.get(Ticket, base[0] + span)
    shift = first.created_at - copied.created_at
    assert abs(shift - timedelta(days=7)) < timedelta(seconds=1)  # copy 1 of a 4-week spread: a week back
    # callbacks of copies have no survey response behind them
    assert not _db.session.scalar(
        select(func.count()).where(CallbackResult.ticket_id > span, CallbackResult.response_id.is_not(None))
    )


def test_a_copied_ticket_recomputes_to_the_same_clocks(bulk):
    ticket = _db.session.scalar(select(Ticket).order_by(Ticket.id.desc()).limit(1))
    before = sorted(_db.session.scalars(select(SlaClock.key).where(SlaClock.ticket_id == ticket.id)))
    with transaction():
        deadlines.recompute(ticket)
    assert sorted(_db.session.scalars(select(SlaClock.key).where(SlaClock.ticket_id == ticket.id))) == before


def _snapshot(periods) -> list:
    _db.session.expire_all()
    rows = _db.session.scalars(select(Scorecard).where(Scorecard.period.in_(periods)))
    return sorted(
        (c.period, c.department_id, c.role, c.score, json.dumps(c.components, sort_keys=True), json.dumps(c.penalties))
        for c in rows
    )


def test_one_pass_over_all_months_equals_each_month_on_its_own(bulk):
    at = scoring.now()
    periods = scoring.periods_with_activity()
    assert len(periods) >= 3
    with transaction():
        scoring.recompute_all([*periods, scoring.ROLLING], at)
    together = _snapshot([*periods, scoring.ROLLING])
    with transaction():
        _db.session.execute(Scorecard.__table__.delete())
        for period in [*periods, scoring.ROLLING]:
            scoring.recompute(period, at)
    assert _snapshot([*periods, scoring.ROLLING]) == together
    measured = sum(c.items for c in _db.session.scalars(select(Scorecard).where(Scorecard.period.in_(periods))))
    assert measured > TOTAL  # every ticket is measured several times over


def _kept_sums(period) -> dict:
    """The per-ticket shares of a month summed per department, role and item."""
    rows = _db.session.execute(
        select(
            ScoreContribution.department_id,
            ScoreContribution.role,
            ScoreContribution.item,
            func.sum(ScoreContribution.num20),
            func.sum(ScoreContribution.den2),
            func.sum(ScoreContribution.count),
        )
        .where(ScoreContribution.period == period)
        .group_by(ScoreContribution.department_id, ScoreContribution.role, ScoreContribution.item)
    )
    return {(d, r, i): (int(n), int(w), int(c)) for d, r, i, n, w, c in rows if c}


def _card_sums(period) -> dict:
    out = {}
    for card in _db.session.scalars(select(Scorecard).where(Scorecard.period == period)):
        for item, entry in card.components.items():
            if entry["count"]:
                out[(card.department_id, card.role, item)] = (
                    round(entry["num"] * 20),
                    round(entry["den"] * 2),
                    entry["count"],
                )
        for term, entry in card.penalties.items():
            if entry["count"]:
                out[(card.department_id, card.role, term)] = (0, 0, entry["count"])
    return out


def test_an_incremental_update_of_one_ticket_equals_a_full_recompute(bulk):
    at = datetime(2026, 5, 16, tzinfo=UTC)  # the data's last month is still open
    period = scoring.period_of(at)
    start, _end = scoring.period_bounds(period)
    clock = _db.session.scalar(
        select(SlaClock)
        .where(SlaClock.kind == ClockKind.RESOLVE, SlaClock.state == ClockState.MET, SlaClock.stopped_at >= start)
        .order_by(SlaClock.id.desc())
        .limit(1)
    )
    assert clock is not None and not scoring.is_closed(period, at)
    with transaction():
        _db.session.execute(Scorecard.__table__.delete())
        scoring.recompute(period, at)
    before = _snapshot([period])
    assert _kept_sums(period) == _card_sums(period) != {}  # the shares add up to the scorecards
    # and to what the full read of the month (the one pass over all months) sums
    read = facts.aggregate([scoring._bucket(period, at)], at)[period]
    summed = {key: (t.num20, t.den2, t.count) for key, t in read.tallies.items()}
    summed |= {key: (0, 0, n) for key, n in read.incidents.items()}
    assert summed == _kept_sums(period)
    with transaction():  # the ticket's resolution turns late; only its facts are read again
        _db.session.execute(update(SlaClock).where(SlaClock.id == clock.id).values(state=ClockState.MISSED))
        scoring.update_tickets({clock.ticket_id}, [period], at)
    incremental = _snapshot([period])
    assert incremental != before
    with transaction():
        scoring.recompute(period, at)
    assert _snapshot([period]) == incremental
    # the clock's stop moves back to the closed month before: it no longer counts in this one
    with transaction():
        _db.session.execute(
            update(SlaClock).where(SlaClock.id == clock.id).values(stopped_at=start - timedelta(days=3))
        )
        scoring.update_tickets({clock.ticket_id}, [period], at)
    moved = _snapshot([period])
    assert moved != incremental
    assert _kept_sums(period) == _card_sums(period)
    with transaction():
        scoring.recompute(period, at)
    assert _snapshot([period]) == moved
    # once the month closes, computing it freezes it and its shares are dropped
    with transaction():
        scoring.update_tickets({clock.ticket_id}, [period], at + timedelta(days=40))
    assert all(c.frozen for c in _db.session.scalars(select(Scorecard).where(Scorecard.period == period)))
    assert _kept_sums(period) == {}
