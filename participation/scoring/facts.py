"""The scorecards' facts as SQL: one row per measured thing, aggregated in the database.

Every measured thing of ARCHITECTURE section 5 is a row (moment, department, role, component,
value, weight, ticket) of one UNION ALL; penalty incidents are rows (moment, department, role,
term, ticket) of another. The database sums them per (period, department, role, component), so a
full recompute reads each table once whatever the number of months, and the drill-down reads the
same rows filtered to one department, role and component: the figures and the tickets behind them
cannot disagree.

Values and weights are whole numbers so that sums are exact and do not depend on the order in
which the database adds them: a value is in tenths (satisfied 10, basically 6, dissatisfied 0, a
rating of 4 is 8) and a weight in halves (a co-handler's callback counts 1, everything else 2).
A tally's numerator is Σ value·weight / 20 and its denominator Σ weight / 2.

A bucket is a period: rows are put in the bucket whose [start, end) holds their moment (on
PostgreSQL the city-time month of the moment, elsewhere a CASE over the bounds computed in Python
in the city's time zone), and the rolling 30 days are summed in the same pass.

The moments: a clock counts when it stopped (met or missed), or, still running, when it fell due
if that is already past; a callback when it was recorded; a return or transfer when it was ruled;
a co-handler's rating when its part was done; reopenings and pauses when they happened.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import (
    BigInteger,
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
    text,
    true,
    union_all,
)
from sqlalchemy.orm import aliased

from participation.deadlines.models import ClockKind, ClockState, SlaClock
from participation.extensions import db
from participation.routing.models import Dispute, DisputeStatus, PartRole, PartStatus, Ticket, TicketEvent, TicketPart
from participation.surveys.models import CallbackResult

REOPEN_WINDOW = timedelta(days=30)
MONTH = re.compile(r"\d{4}-\d{2}")
FULL, HALF = 2, 1  # weights in halves
CONTACT_EVENTS = ("reply", "contact.recorded")


@dataclass(frozen=True)
class Bucket:
    key: str
    start: datetime
    end: datetime


@dataclass
class Tally:
    """Exact sums: numerator in twentieths, denominator in halves; how many things were measured."""

    num20: int = 0
    den2: int = 0
    count: int = 0

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
    incidents: dict[tuple[int, str, str], int] = field(default_factory=dict)  # how many


# -- building blocks -----------------------------------------------------------------------------


def _bucket_of(moment: ColumnElement, buckets: list[Bucket]) -> ColumnElement:
    """The key of the bucket holding `moment` (NULL, or a key nobody asked for, between buckets that are
    not adjacent). On PostgreSQL, months are the start of the moment's city-time month (a timestamp;
    `_key` names it), computed once per row."""
    if db.session.get_bind().dialect.name == "postgresql" and all(MONTH.fullmatch(b.key) for b in buckets):
        return func.date_trunc("month", moment, current_app.config.get("CITY_TIMEZONE", "Asia/Shanghai"))
    return case(*[(and_(moment >= b.start, moment < b.end), literal(b.key, String)) for b in buckets])


def _key(bucket: str | datetime | None) -> str | None:
    """A bucket's key: as it is, or the "YYYY-MM" of a month's first moment (city time)."""
    if not isinstance(bucket, datetime):
        return bucket
    local = bucket.astimezone(ZoneInfo(current_app.config.get("CITY_TIMEZONE", "Asia/Shanghai")))
    return f"{local.year:04d}-{local.month:02d}"


def _in(moment: ColumnElement, buckets: list[Bucket]) -> ColumnElement:
    return and_(moment >= buckets[0].start, moment < buckets[-1].end)


def _plus_window(moment: ColumnElement) -> ColumnElement:
    if db.session.get_bind().dialect.name == "sqlite":
        return func.datetime(moment, f"+{REOPEN_WINDOW.days} days")
    return moment + literal_column(f"interval '{REOPEN_WINDOW.days} days'")


def _role(column: ColumnElement) -> ColumnElement:
    return case((column == PartRole.CO, literal("co")), else_=literal("lead"))


def _row(moment, department, role, component, value10, weight, ticket) -> list[ColumnElement]:
    return [
        moment.label("moment"),
        department.label("department_id"),
        (role if isinstance(role, ColumnElement) else literal(role)).label("role"),
        (component if isinstance(component, ColumnElement) else literal(component)).label("item"),
        (value10 if isinstance(value10, ColumnElement) else literal(value10)).label("value10"),
        literal(weight).label("weight"),
        ticket.label("ticket_id"),
    ]


def _incident(moment, department, role, term, ticket) -> list[ColumnElement]:
    return [
        moment.label("moment"),
        department.label("department_id"),
        (role if isinstance(role, ColumnElement) else literal(role)).label("role"),
        (term if isinstance(term, ColumnElement) else literal(term)).label("item"),
        ticket.label("ticket_id"),
    ]


def _met(state: ColumnElement) -> ColumnElement:
    return case((state == ClockState.MET, 10), else_=0)


# -- the measured things -------------------------------------------------------------------------


def _clocks(
    buckets: list[Bucket], at: datetime, departments: set[int] | None = None, tickets: list[int] | None = None
) -> list[Select]:
    due = func.coalesce(SlaClock.interim_due_at, SlaClock.due_at)
    stopped = SlaClock.state.in_([ClockState.MET, ClockState.MISSED])
    moment = case((stopped, SlaClock.stopped_at), else_=due)
    counted = or_(
        and_(stopped, _in(SlaClock.stopped_at, buckets)),
        and_(SlaClock.state == ClockState.RUNNING, _in(due, buckets), due < at),
    )
    # resolve clocks whose ticket was reopened within 30 days after they stopped: found from the few
    # reopenings (by type and time) rather than by a look-up for every clock
    reopen, resolved = aliased(TicketEvent), aliased(SlaClock)
    reopened_ids = (
        select(resolved.id)
        .join(
            reopen,
            and_(
                reopen.ticket_id == resolved.ticket_id,
                reopen.type == "status.reopened",
                reopen.at > resolved.stopped_at,
                reopen.at <= _plus_window(resolved.stopped_at),
            ),
        )
        .where(resolved.kind == ClockKind.RESOLVE, resolved.state == ClockState.MET, _in(resolved.stopped_at, buckets))
        .distinct()
        .cte("reopened")
    )
    narrow = departments is not None or tickets is not None
    if not narrow:
        reopened = reopened_ids.c.id.is_not(None)
    else:  # a few departments' or tickets' clocks: a look-up for each is cheaper than finding every reopening
        reopen_of = aliased(TicketEvent)
        reopened = exists().where(
            reopen_of.ticket_id == SlaClock.ticket_id,
            reopen_of.type == "status.reopened",
            reopen_of.at > SlaClock.stopped_at,
            reopen_of.at <= _plus_window(SlaClock.stopped_at),
        )
    kind = SlaClock.kind
    met = SlaClock.state == ClockState.MET
    success = case((and_(met, kind == ClockKind.RESOLVE), case((reopened, 0), else_=10)), (met, 10), else_=0)
    # one pass over the clocks: sign-for (the part's role), first contact and resolve (the lead),
    # contribution (a co part); a resolve clock succeeds when met and not reopened within 30 days
    clocks = (
        select(
            *_row(
                moment,
                SlaClock.department_id,
                case((kind == ClockKind.SIGN_FOR, _role(TicketPart.role)), (kind == ClockKind.CONTRIBUTION, "co"),
                     else_="lead"),
                case((kind == ClockKind.RESOLVE, "resolution"), (kind == ClockKind.CONTRIBUTION, "collaboration"),
                     else_="response"),
                success,
                FULL,
                SlaClock.ticket_id,
            )
        )
        .outerjoin(TicketPart, TicketPart.id == SlaClock.part_id)
        .where(counted)
    )  # fmt: skip
    if not narrow:
        clocks = clocks.outerjoin(reopened_ids, reopened_ids.c.id == SlaClock.id)
    co = aliased(TicketPart)
    on_co = and_(co.ticket_id == SlaClock.ticket_id, co.role == PartRole.CO, co.status != PartStatus.ENDED)
    # the co-handlers' share of each resolve clock
    co_resolve = select(
        *_row(moment, co.department_id, "co", "resolution", success, FULL, SlaClock.ticket_id)
    ).select_from(SlaClock)
    if departments is not None:
        # a few departments (the drill-down): their own clocks, and the resolve clocks of tickets they
        # co-handle, each found through an index
        chosen = sorted(departments)
        co_resolve = co_resolve.join(co, and_(on_co, co.department_id.in_(chosen)))
        clocks = clocks.where(SlaClock.department_id.in_(chosen))
    else:
        co_resolve = co_resolve.join(co, on_co)
        if not narrow:
            co_resolve = co_resolve.outerjoin(reopened_ids, reopened_ids.c.id == SlaClock.id)
    if tickets is not None:
        clocks = clocks.where(SlaClock.ticket_id.in_(tickets))
        co_resolve = co_resolve.where(SlaClock.ticket_id.in_(tickets))
    return [clocks, co_resolve.where(counted, kind == ClockKind.RESOLVE)]


def _satisfaction10() -> ColumnElement:
    return case((CallbackResult.satisfaction == 1, 10), (CallbackResult.satisfaction == 2, 6), else_=0)


def _callbacks(buckets: list[Bucket], tickets: list[int] | None = None) -> list[Select]:
    """Each callback twice, as satisfaction and as resolution ("solved"): for the lead in full, for each
    co-handler at half weight (one scan of the callbacks for each role)."""
    moment, ticket = CallbackResult.at, CallbackResult.ticket_id
    window = _in(CallbackResult.at, buckets)
    if tickets is not None:
        window = and_(window, CallbackResult.ticket_id.in_(tickets))
    items = union_all(
        select(literal("satisfaction").label("item")), select(literal("resolution").label("item"))
    ).subquery("callback_items")
    value = case((items.c.item == "satisfaction", _satisfaction10()), (CallbackResult.solved, 10), else_=0)
    lead = CallbackResult.lead_department_id
    co = aliased(TicketPart)
    on_co = and_(co.ticket_id == CallbackResult.ticket_id, co.role == PartRole.CO, co.status != PartStatus.ENDED)
    return [
        select(*_row(moment, lead, "lead", items.c.item, value, FULL, ticket))
        .select_from(CallbackResult)
        .join(items, true())
        .where(window, lead.is_not(None)),
        select(*_row(moment, co.department_id, "co", items.c.item, value, HALF, ticket))
        .select_from(CallbackResult)
        .join(co, on_co)
        .join(items, true())
        .where(window),
    ]


def _ruled_disputes(buckets: list[Bucket], tickets: list[int] | None = None):
    moment = Dispute.ruled_at
    where = (
        _in(Dispute.ruled_at, buckets),
        Dispute.status.in_([DisputeStatus.UPHELD, DisputeStatus.OVERRULED]),
        *([Dispute.ticket_id.in_(tickets)] if tickets is not None else []),
    )
    return moment, where


def _disputes(buckets: list[Bucket], tickets: list[int] | None = None) -> list[Select]:
    moment, where = _ruled_disputes(buckets, tickets)
    upheld10 = case((Dispute.status == DisputeStatus.OVERRULED, 0), else_=10)
    return [
        select(
            *_row(moment, Dispute.department_id, _role(TicketPart.role), "collaboration", upheld10, FULL,
                  Dispute.ticket_id)
        )
        .join(TicketPart, TicketPart.id == Dispute.part_id)
        .where(*where)
    ]  # fmt: skip


def _ratings(buckets: list[Bucket], tickets: list[int] | None = None) -> list[Select]:
    moment = TicketPart.done_at
    value = TicketPart.rating * 2
    rated = select(
        *_row(moment, TicketPart.department_id, "co", "collaboration", value, FULL, TicketPart.ticket_id)
    ).where(TicketPart.role == PartRole.CO, TicketPart.rating.is_not(None), _in(TicketPart.done_at, buckets))
    return [rated.where(TicketPart.ticket_id.in_(tickets)) if tickets is not None else rated]


def measured(
    buckets: list[Bucket], at: datetime, departments: set[int] | None = None, tickets: list[int] | None = None
) -> list[Select]:
    """Every measured thing; with `departments`, the clocks are looked up by department (the other
    branches are narrowed by the filter on the union, which the database applies inside each branch);
    with `tickets`, only those tickets' things, each branch looked up by ticket."""
    return [
        *_clocks(buckets, at, departments, tickets),
        *_callbacks(buckets, tickets),
        *_disputes(buckets, tickets),
        *_ratings(buckets, tickets),
    ]


def incidents(buckets: list[Bucket], tickets: list[int] | None = None) -> list[Select]:
    """Penalty incidents; all but wrongful disputes count against the ticket's (current) lead."""
    event_moment = TicketEvent.at
    lead = Ticket.lead_department_id
    contact = aliased(TicketEvent)
    contacted = exists().where(
        contact.ticket_id == TicketEvent.ticket_id, contact.type.in_(CONTACT_EVENTS), contact.at <= TicketEvent.at
    )
    waiting = func.coalesce(TicketEvent.payload["kind"].as_string(), "waiting_citizen") == "waiting_citizen"
    # one pass over the events: every reopening, and every pause for the citizen without contact before it
    term = case(
        (TicketEvent.type == "status.reopened", "reopen"),
        (and_(waiting, ~contacted), "pause_without_contact"),
    )
    events = (
        select(*_incident(event_moment, lead, "lead", term, TicketEvent.ticket_id))
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(
            TicketEvent.type.in_(["status.reopened", "clock.paused"]),
            _in(TicketEvent.at, buckets),
            lead.is_not(None),
            *([TicketEvent.ticket_id.in_(tickets)] if tickets is not None else []),
        )
        .subquery("event_incidents")
    )
    reopen_or_pause = select(events).where(events.c.item.is_not(None))
    contradicted = select(
        *_incident(
            CallbackResult.at,
            CallbackResult.lead_department_id,
            "lead",
            "contradicted_closure",
            CallbackResult.ticket_id,
        )
    ).where(
        _in(CallbackResult.at, buckets),
        CallbackResult.lead_department_id.is_not(None),
        ~CallbackResult.solved,
        *([CallbackResult.ticket_id.in_(tickets)] if tickets is not None else []),
    )
    moment, where = _ruled_disputes(buckets, tickets)
    wrongful = (
        select(*_incident(moment, Dispute.department_id, _role(TicketPart.role), "wrongful_dispute", Dispute.ticket_id))
        .join(TicketPart, TicketPart.id == Dispute.part_id)
        .where(*where, Dispute.status == DisputeStatus.OVERRULED)
    )
    return [reopen_or_pause, contradicted, wrongful]


# -- reading -------------------------------------------------------------------------------------


def _union(selects: list[Select], department_ids: set[int] | None):
    rows = union_all(*selects).subquery("facts")
    known = rows.c.department_id.is_not(None)
    if department_ids is not None:
        known = and_(known, rows.c.department_id.in_(sorted(department_ids)))
    return rows, known


def aggregate(buckets: list[Bucket], at: datetime, rolling: Bucket | None = None) -> dict[str, Aggregate]:
    """Every bucket's tallies and incidents, and those of the `rolling` window from the same pass over
    the tables."""
    out: dict[str, Aggregate] = defaultdict(Aggregate)
    windows = [*buckets, *([rolling] if rolling else [])]
    if not windows:
        return out
    if db.session.get_bind().dialect.name == "postgresql":
        # a big plan is not worth compiling to machine code; the sums group in memory
        db.session.execute(text("SET LOCAL jit = off"))
        db.session.execute(text("SET LOCAL work_mem = '64MB'"))
        # the planner cannot estimate how few groups the computed keys make (periods × departments ×
        # roles × items, a few thousand): without this it sorts millions of rows to group them
        db.session.execute(text("SET LOCAL enable_sort = off"))
    span = [Bucket("", min(w.start for w in windows), max(w.end for w in windows))]
    wanted = {b.key for b in buckets}
    for selects, measure in ((measured(span, at), True), (incidents(span), False)):
        rows, condition = _union(selects, None)
        bucket = _bucket_of(rows.c.moment, buckets) if buckets else literal(None, String)
        in_rolling = (
            case((and_(rows.c.moment >= rolling.start, rows.c.moment < rolling.end), 1), else_=0)
            if rolling
            else literal(0)
        )
        sums = (
            [cast(func.sum(rows.c.value10 * rows.c.weight), Integer), cast(func.sum(rows.c.weight), Integer)]
            if measure
            else []
        )
        keys = (bucket.label("bucket"), in_rolling.label("in_rolling"), rows.c.department_id, rows.c.role, rows.c.item)
        stmt = select(*keys, *sums, func.count()).where(condition).group_by(*keys)
        for found, rolled, department_id, role, item, *figures in db.session.execute(stmt):
            key = _key(found)
            targets = [out[key]] if key in wanted else []
            if rolled:
                targets.append(out[rolling.key])
            for target in targets:
                if measure:
                    num20, den2, count = (int(x) for x in figures)
                    tally = target.tallies.setdefault((department_id, role, item), Tally())
                    tally.num20 += num20
                    tally.den2 += den2
                    tally.count += count
                else:
                    slot = (department_id, role, item)
                    target.incidents[slot] = target.incidents.get(slot, 0) + int(figures[0])
    return out


def contributions(buckets: list[Bucket], at: datetime, tickets: list[int] | None = None) -> list[Select]:
    """Each ticket's share of each bucket (a few months, in order): rows of (period, ticket_id,
    department_id, role, item, num20, den2, count), one select for the measured things and one for the
    penalty incidents (their num20 and den2 are 0). Summed over the tickets they give `aggregate`'s
    figures; an incremental update replaces a changed ticket's rows and adds the difference."""
    span = [Bucket("", buckets[0].start, buckets[-1].end)]
    out = []
    for selects, measure in ((measured(span, at, tickets=tickets), True), (incidents(span, tickets), False)):
        rows, known = _union(selects, None)
        period = case(
            *[(and_(rows.c.moment >= b.start, rows.c.moment < b.end), literal(b.key, String)) for b in buckets]
        )
        sums = (
            [cast(func.sum(rows.c.value10 * rows.c.weight), BigInteger), cast(func.sum(rows.c.weight), Integer)]
            if measure
            else [cast(literal(0), BigInteger), literal(0, Integer)]
        )
        keys = (period.label("period"), rows.c.ticket_id, rows.c.department_id, rows.c.role, rows.c.item)
        out.append(
            select(*keys, *sums, func.count()).where(known, period.is_not(None), rows.c.ticket_id.is_not(None))
            .group_by(*keys)
        )  # fmt: skip
    return out


def tickets_behind(
    bucket: Bucket, at: datetime, department_id: int, role: str, item: str, limit: int | None = None
) -> tuple[list[int], int]:
    """The tickets behind one component or penalty term of one scorecard, and how many there are."""
    selects = incidents([bucket]) if item in PENALTY_ITEMS else measured([bucket], at, {department_id})
    rows, condition = _union(selects, {department_id})
    base = (
        select(rows.c.ticket_id)
        .where(
            condition,
            rows.c.role == role,
            rows.c.item == item,
            rows.c.moment >= bucket.start,
            rows.c.moment < bucket.end,
        )
        .distinct()
    )
    total = db.session.scalar(select(func.count()).select_from(base.subquery()))
    stmt = base.order_by(rows.c.ticket_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt)), int(total or 0)


PENALTY_ITEMS = ("reopen", "wrongful_dispute", "contradicted_closure", "pause_without_contact")
