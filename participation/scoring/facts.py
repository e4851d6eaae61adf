"""The scorecards' facts as SQL: one row per measured thing, aggregated in the database.

Every measured thing of ARCHITECTURE section 5 is a row (bucket, department, role, component,
value, weight, ticket) of one UNION ALL; penalty incidents are rows (bucket, department, role,
term, ticket) of another. The database sums them per (bucket, department, role, component), so a
full recompute reads each table once whatever the number of months, and the drill-down reads the
same rows filtered to one department, role and component: the figures and the tickets behind them
cannot disagree.

Values and weights are whole numbers so that sums are exact and do not depend on the order in
which the database adds them: a value is in tenths (satisfied 10, basically 6, dissatisfied 0, a
rating of 4 is 8) and a weight in halves (a co-handler's callback counts 1, everything else 2).
A tally's numerator is Σ value·weight / 20 and its denominator Σ weight / 2.

A bucket is a period: rows are put in the bucket whose [start, end) holds their moment (a CASE
over the buckets' bounds, computed in Python in the city's time zone, so months follow the city's
calendar on every database).

The moments: a clock counts when it stopped (met or missed), or, still running, when it fell due
if that is already past; a callback when it was recorded; a return or transfer when it was ruled;
a co-handler's rating when its part was done; reopenings and pauses when they happened.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import aliased

from participation.deadlines.models import ClockKind, ClockState, SlaClock
from participation.extensions import db
from participation.routing.models import Dispute, DisputeStatus, PartRole, PartStatus, Ticket, TicketEvent, TicketPart
from participation.surveys.models import CallbackResult

REOPEN_WINDOW = timedelta(days=30)
FULL, HALF = 2, 1  # weights in halves
CONTACT_EVENTS = ("reply", "contact.recorded")


@dataclass(frozen=True)
class Bucket:
    key: str
    start: datetime
    end: datetime


@dataclass
class Tally:
    """Exact sums: numerator in twentieths, denominator in halves; distinct tickets behind them."""

    num20: int = 0
    den2: int = 0
    tickets: int = 0

    @property
    def num(self) -> float:
        return self.num20 / 20

    @property
    def den(self) -> float:
        return self.den2 / 2


@dataclass
class Aggregate:
    """One bucket's tallies and incidents, keyed by (department, role, component or term)."""

    tallies: dict[tuple[int, str, str], Tally] = field(default_factory=dict)
    incidents: dict[tuple[int, str, str], tuple[int, int]] = field(default_factory=dict)  # (count, tickets)


# -- building blocks -----------------------------------------------------------------------------


def _bucket_of(moment: ColumnElement, buckets: list[Bucket]) -> ColumnElement:
    """The key of the bucket holding `moment` (NULL between buckets that are not adjacent)."""
    if len(buckets) == 1:
        return literal(buckets[0].key, String)
    return case(*[(and_(moment >= b.start, moment < b.end), literal(b.key, String)) for b in buckets])


def _in(moment: ColumnElement, buckets: list[Bucket]) -> ColumnElement:
    return and_(moment >= buckets[0].start, moment < buckets[-1].end)


def _plus_window(moment: ColumnElement) -> ColumnElement:
    if db.session.get_bind().dialect.name == "sqlite":
        return func.datetime(moment, f"+{REOPEN_WINDOW.days} days")
    return moment + literal_column(f"interval '{REOPEN_WINDOW.days} days'")


def _role(column: ColumnElement) -> ColumnElement:
    return case((column == PartRole.CO, literal("co")), else_=literal("lead"))


def _row(bucket, department, role, component, value10, weight, ticket) -> list[ColumnElement]:
    return [
        bucket.label("bucket"),
        department.label("department_id"),
        (role if isinstance(role, ColumnElement) else literal(role)).label("role"),
        literal(component).label("item"),
        (value10 if isinstance(value10, ColumnElement) else literal(value10)).label("value10"),
        literal(weight).label("weight"),
        ticket.label("ticket_id"),
    ]


def _incident(bucket, department, role, term, ticket) -> list[ColumnElement]:
    return [
        bucket.label("bucket"),
        department.label("department_id"),
        (role if isinstance(role, ColumnElement) else literal(role)).label("role"),
        literal(term).label("item"),
        ticket.label("ticket_id"),
    ]


def _met(state: ColumnElement) -> ColumnElement:
    return case((state == ClockState.MET, 10), else_=0)


# -- the measured things -------------------------------------------------------------------------


def _clocks(buckets: list[Bucket], at: datetime) -> list[Select]:
    due = func.coalesce(SlaClock.interim_due_at, SlaClock.due_at)
    stopped = SlaClock.state.in_([ClockState.MET, ClockState.MISSED])
    moment = case((stopped, SlaClock.stopped_at), else_=due)
    counted = or_(
        and_(stopped, _in(SlaClock.stopped_at, buckets)),
        and_(SlaClock.state == ClockState.RUNNING, _in(due, buckets), due < at),
    )
    bucket = _bucket_of(moment, buckets)
    sign_for = (
        select(*_row(bucket, SlaClock.department_id, _role(TicketPart.role), "response", _met(SlaClock.state), FULL,
                     SlaClock.ticket_id))
        .outerjoin(TicketPart, TicketPart.id == SlaClock.part_id)
        .where(counted, SlaClock.kind == ClockKind.SIGN_FOR)
    )  # fmt: skip
    first_contact = select(
        *_row(bucket, SlaClock.department_id, "lead", "response", _met(SlaClock.state), FULL, SlaClock.ticket_id)
    ).where(counted, SlaClock.kind == ClockKind.FIRST_CONTACT)
    contribution = select(
        *_row(bucket, SlaClock.department_id, "co", "collaboration", _met(SlaClock.state), FULL, SlaClock.ticket_id)
    ).where(counted, SlaClock.kind == ClockKind.CONTRIBUTION)
    reopen = aliased(TicketEvent)
    reopened = exists().where(
        reopen.ticket_id == SlaClock.ticket_id,
        reopen.type == "status.reopened",
        reopen.at > moment,
        reopen.at <= _plus_window(moment),
    )
    success = case((and_(SlaClock.state == ClockState.MET, ~reopened), 10), else_=0)
    resolve_lead = select(
        *_row(bucket, SlaClock.department_id, "lead", "resolution", success, FULL, SlaClock.ticket_id)
    ).where(counted, SlaClock.kind == ClockKind.RESOLVE)
    co = aliased(TicketPart)
    resolve_co = (
        select(*_row(bucket, co.department_id, "co", "resolution", success, FULL, SlaClock.ticket_id))
        .join(co, and_(co.ticket_id == SlaClock.ticket_id, co.role == PartRole.CO, co.status != PartStatus.ENDED))
        .where(counted, SlaClock.kind == ClockKind.RESOLVE)
    )
    return [sign_for, first_contact, contribution, resolve_lead, resolve_co]


def _satisfaction10() -> ColumnElement:
    return case((CallbackResult.satisfaction == 1, 10), (CallbackResult.satisfaction == 2, 6), else_=0)


def _callbacks(buckets: list[Bucket]) -> list[Select]:
    bucket = _bucket_of(CallbackResult.at, buckets)
    solved10 = case((CallbackResult.solved, 10), else_=0)
    lead = CallbackResult.lead_department_id
    window = _in(CallbackResult.at, buckets)
    co = aliased(TicketPart)
    on_co = and_(co.ticket_id == CallbackResult.ticket_id, co.role == PartRole.CO, co.status != PartStatus.ENDED)
    return [
        select(*_row(bucket, lead, "lead", "satisfaction", _satisfaction10(), FULL, CallbackResult.ticket_id)).where(
            window, lead.is_not(None)
        ),
        select(*_row(bucket, lead, "lead", "resolution", solved10, FULL, CallbackResult.ticket_id)).where(
            window, lead.is_not(None)
        ),
        select(*_row(bucket, co.department_id, "co", "satisfaction", _satisfaction10(), HALF, CallbackResult.ticket_id))
        .join(co, on_co)
        .where(window),
        select(*_row(bucket, co.department_id, "co", "resolution", solved10, HALF, CallbackResult.ticket_id))
        .join(co, on_co)
        .where(window),
    ]


def _ruled_disputes(buckets: list[Bucket]):
    bucket = _bucket_of(Dispute.ruled_at, buckets)
    where = (
        _in(Dispute.ruled_at, buckets),
        Dispute.status.in_([DisputeStatus.UPHELD, DisputeStatus.OVERRULED]),
    )
    return bucket, where


def _disputes(buckets: list[Bucket]) -> list[Select]:
    bucket, where = _ruled_disputes(buckets)
    upheld10 = case((Dispute.status == DisputeStatus.OVERRULED, 0), else_=10)
    return [
        select(
            *_row(bucket, Dispute.department_id, _role(TicketPart.role), "collaboration", upheld10, FULL,
                  Dispute.ticket_id)
        )
        .join(TicketPart, TicketPart.id == Dispute.part_id)
        .where(*where)
    ]  # fmt: skip


def _ratings(buckets: list[Bucket]) -> list[Select]:
    bucket = _bucket_of(TicketPart.done_at, buckets)
    return [
        select(
            *_row(bucket, TicketPart.department_id, "co", "collaboration", TicketPart.rating * 2, FULL,
                  TicketPart.ticket_id)
        ).where(TicketPart.role == PartRole.CO, TicketPart.rating.is_not(None), _in(TicketPart.done_at, buckets))
    ]  # fmt: skip


def measured(buckets: list[Bucket], at: datetime) -> list[Select]:
    return [*_clocks(buckets, at), *_callbacks(buckets), *_disputes(buckets), *_ratings(buckets)]


def incidents(buckets: list[Bucket]) -> list[Select]:
    """Penalty incidents; all but wrongful disputes count against the ticket's (current) lead."""
    event_bucket = _bucket_of(TicketEvent.at, buckets)
    lead = Ticket.lead_department_id
    reopen = (
        select(*_incident(event_bucket, lead, "lead", "reopen", TicketEvent.ticket_id))
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(TicketEvent.type == "status.reopened", _in(TicketEvent.at, buckets), lead.is_not(None))
    )
    contact = aliased(TicketEvent)
    contacted = exists().where(
        contact.ticket_id == TicketEvent.ticket_id, contact.type.in_(CONTACT_EVENTS), contact.at <= TicketEvent.at
    )
    pause = (
        select(*_incident(event_bucket, lead, "lead", "pause_without_contact", TicketEvent.ticket_id))
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(
            TicketEvent.type == "clock.paused",
            _in(TicketEvent.at, buckets),
            lead.is_not(None),
            func.coalesce(TicketEvent.payload["kind"].as_string(), "waiting_citizen") == "waiting_citizen",
            ~contacted,
        )
    )
    contradicted = select(
        *_incident(
            _bucket_of(CallbackResult.at, buckets),
            CallbackResult.lead_department_id,
            "lead",
            "contradicted_closure",
            CallbackResult.ticket_id,
        )
    ).where(_in(CallbackResult.at, buckets), CallbackResult.lead_department_id.is_not(None), ~CallbackResult.solved)
    bucket, where = _ruled_disputes(buckets)
    wrongful = (
        select(*_incident(bucket, Dispute.department_id, _role(TicketPart.role), "wrongful_dispute", Dispute.ticket_id))
        .join(TicketPart, TicketPart.id == Dispute.part_id)
        .where(*where, Dispute.status == DisputeStatus.OVERRULED)
    )
    return [reopen, pause, contradicted, wrongful]


# -- reading -------------------------------------------------------------------------------------


def _union(selects: list[Select], department_ids: set[int] | None):
    rows = union_all(*selects).subquery("facts")
    known = and_(rows.c.bucket.is_not(None), rows.c.department_id.is_not(None))
    if department_ids is not None:
        known = and_(known, rows.c.department_id.in_(sorted(department_ids)))
    return rows, known


def aggregate(buckets: list[Bucket], at: datetime, department_ids: set[int] | None = None) -> dict[str, Aggregate]:
    """Every bucket's tallies and incidents (only of the given departments, when given)."""
    out: dict[str, Aggregate] = defaultdict(Aggregate)
    if not buckets:
        return out
    rows, condition = _union(measured(buckets, at), department_ids)
    stmt = (
        select(
            rows.c.bucket,
            rows.c.department_id,
            rows.c.role,
            rows.c.item,
            cast(func.sum(rows.c.value10 * rows.c.weight), Integer),
            cast(func.sum(rows.c.weight), Integer),
            func.count(rows.c.ticket_id.distinct()),
        )
        .where(condition)
        .group_by(rows.c.bucket, rows.c.department_id, rows.c.role, rows.c.item)
    )
    for key, department_id, role, item, num20, den2, tickets in db.session.execute(stmt):
        out[key].tallies[(department_id, role, item)] = Tally(int(num20), int(den2), int(tickets))
    rows, condition = _union(incidents(buckets), department_ids)
    stmt = (
        select(
            rows.c.bucket,
            rows.c.department_id,
            rows.c.role,
            rows.c.item,
            func.count(),
            func.count(rows.c.ticket_id.distinct()),
        )
        .where(condition)
        .group_by(rows.c.bucket, rows.c.department_id, rows.c.role, rows.c.item)
    )
    for key, department_id, role, term, count, tickets in db.session.execute(stmt):
        out[key].incidents[(department_id, role, term)] = (int(count), int(tickets))
    return out


def tickets_behind(
    bucket: Bucket, at: datetime, department_id: int, role: str, item: str, limit: int | None = None
) -> tuple[list[int], int]:
    """The tickets behind one component or penalty term of one scorecard, and how many there are."""
    selects = incidents([bucket]) if item in PENALTY_ITEMS else measured([bucket], at)
    rows, condition = _union(selects, {department_id})
    base = select(rows.c.ticket_id).where(condition, rows.c.role == role, rows.c.item == item).distinct()
    total = db.session.scalar(select(func.count()).select_from(base.subquery()))
    stmt = base.order_by(rows.c.ticket_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt)), int(total or 0)


def departments_of(ticket_ids: set[int]) -> set[int]:
    """Every department a ticket's facts can be counted for: its parts (ended too), its lead, its disputes."""
    if not ticket_ids:
        return set()
    ids = set(db.session.scalars(select(TicketPart.department_id).where(TicketPart.ticket_id.in_(ticket_ids))))
    ids |= set(db.session.scalars(select(Ticket.lead_department_id).where(Ticket.id.in_(ticket_ids))))
    ids |= set(db.session.scalars(select(SlaClock.department_id).where(SlaClock.ticket_id.in_(ticket_ids))))
    ids |= set(
        db.session.scalars(select(CallbackResult.lead_department_id).where(CallbackResult.ticket_id.in_(ticket_ids)))
    )
    return {i for i in ids if i is not None}


PENALTY_ITEMS = ("reopen", "wrongful_dispute", "contradicted_closure", "pause_without_contact")
