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

A bucket is a period: rows are put in the bucket whose [start, end) holds their moment, the bounds
computed in Python in the city's time zone (on PostgreSQL found by `width_bucket` over the sorted
bounds, elsewhere by a CASE), and the rolling 30 days are summed in the same pass.

The moments: a clock counts when it stopped (met or missed), or, still running, when it fell due
if that is already past; a callback when it was recorded; a return or transfer when it was ruled;
a co-handler's rating when its part was done; reopenings and pauses when they happened.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    DateTime,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    cast,
    column,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    union_all,
    values,
)
from sqlalchemy.orm import aliased

from participation.core.models import UTCDateTime
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

    def add(self, key: tuple[int, str, str], num20: int, den2: int, count: int) -> None:
        """Add sums (or take them away, negative) to the tally or incident count of `key`, a penalty term's
        by its item; an entry back at nothing is dropped, as if it had never been measured."""
        if key[2] in PENALTY_ITEMS:
            left = self.incidents.get(key, 0) + count
            if left:
                self.incidents[key] = left
            else:
                self.incidents.pop(key, None)
            return
        tally = self.tallies.get(key) or Tally()
        tally = Tally(tally.num20 + num20, tally.den2 + den2, tally.count + count)
        if tally.num20 or tally.den2 or tally.count:
            self.tallies[key] = tally
        else:
            self.tallies.pop(key, None)


# -- building blocks -----------------------------------------------------------------------------


def _slots(buckets: list[Bucket], rolling: Bucket | None) -> tuple[list[datetime], dict[int, tuple[str | None, bool]]]:
    """The bounds of every bucket and of the rolling window, sorted, and what each interval between two
    of them means: (the month it lies in or None, whether it lies in the rolling window); the
    intervals in neither are left out. Interval i is [bounds[i - 1], bounds[i])."""
    bounds = sorted(
        {b.start for b in buckets} | {b.end for b in buckets} | ({rolling.start, rolling.end} if rolling else set())
    )
    meaning = {}
    for i in range(1, len(bounds)):
        low, high = bounds[i - 1], bounds[i]
        month = next((b.key for b in buckets if b.start <= low and high <= b.end), None)
        rolled = rolling is not None and rolling.start <= low and high <= rolling.end
        if month is not None or rolled:
            meaning[i] = (month, rolled)
    return bounds, meaning


def _slot_of(moment: ColumnElement, bounds: list[datetime], meaning: dict) -> tuple[ColumnElement, Any, Any]:
    """The interval holding `moment` as a column to group by, what to join for it and the condition.

    On PostgreSQL the interval is found by `width_bucket` (a binary search over the bounds) and
    joined to a VALUES list of the intervals wanted: grouping by that list's column lets the planner
    see how few groups there are and spread the sums over its workers (grouping by an expression of
    the moment, it expects one group per moment and sums in one process). Elsewhere a CASE."""
    wanted = sorted(meaning)
    if db.session.get_bind().dialect.name == "postgresql":
        position = func.width_bucket(moment, bindparam("slot_bounds", bounds, type_=ARRAY(DateTime(timezone=True))))
        slots = values(column("n", Integer), name="slots").data([(i,) for i in wanted])
        return slots.c.n, slots, slots.c.n == position
    position = case(*[(moment < bound, i) for i, bound in enumerate(bounds)], else_=len(bounds))
    return position, None, position.in_(wanted)


def _in(moment: ColumnElement, buckets: list[Bucket]) -> ColumnElement:
    return and_(moment >= buckets[0].start, moment < buckets[-1].end)


def _plus_window(moment: ColumnElement) -> ColumnElement:
    if db.session.get_bind().dialect.name == "sqlite":
        return func.datetime(moment, f"+{REOPEN_WINDOW.days} days")
    return moment + literal_column(f"interval '{REOPEN_WINDOW.days} days'")


def _role(column: ColumnElement) -> ColumnElement:
    return case((column == PartRole.CO, literal("co")), else_=literal("lead"))


def _row(moment, department, role, component, value10, weight, ticket, correction=False) -> list[ColumnElement]:
    """A measured thing: its numerator share value·weight (twentieths), its weight (halves) and 1 for
    the count; a correction only moves the numerator (weight 0, count 0)."""
    value = value10 if isinstance(value10, ColumnElement) else literal(value10)
    return [
        moment.label("moment"),
        department.label("department_id"),
        (role if isinstance(role, ColumnElement) else literal(role)).label("role"),
        (component if isinstance(component, ColumnElement) else literal(component)).label("item"),
        (value * weight).label("num20"),
        literal(0 if correction else weight).label("den2"),
        literal(0 if correction else 1).label("n"),
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
    due = SlaClock.effective_due
    stopped = SlaClock.state.in_([ClockState.MET, ClockState.MISSED])
    moment = case((stopped, SlaClock.stopped_at), else_=due)
    counted = or_(
        and_(stopped, _in(SlaClock.stopped_at, buckets)),
        and_(SlaClock.state == ClockState.RUNNING, _in(due, buckets), due < at),
    )
    kind = SlaClock.kind
    met = SlaClock.state == ClockState.MET
    success = case((met, 10), else_=0)  # a resolve clock reopened within 30 days is corrected below
    # one pass over the clocks: sign-for (the part's role), first contact and resolve (the lead),
    # contribution (a co part)
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
    if tickets is not None:
        clocks = clocks.where(SlaClock.ticket_id.in_(tickets))
        co_resolve = co_resolve.where(SlaClock.ticket_id.in_(tickets))
    return [clocks, co_resolve.where(counted, kind == ClockKind.RESOLVE), *_reopened(buckets, departments, tickets)]


def _reopened(buckets: list[Bucket], departments: set[int] | None, tickets: list[int] | None) -> list[Select]:
    """A resolve clock met but whose ticket was reopened within 30 days after it stopped is not a success:
    its rows above counted it as one, so each gets a correction taking its 10 back (the lead's, and each
    co-handler's). Sums are linear, so the clocks are read without looking up reopenings, and these few
    are found from the reopenings (by type and time), each once."""
    reopen, resolved = aliased(TicketEvent), aliased(SlaClock)
    found = (
        select(resolved.id, resolved.ticket_id, resolved.department_id, resolved.stopped_at)
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
    )
    if tickets is not None:
        found = found.where(resolved.ticket_id.in_(tickets))
    clocks = found.distinct().cte("reopened_clocks")  # found once for both
    co = aliased(TicketPart)
    lead = select(
        *_row(clocks.c.stopped_at, clocks.c.department_id, "lead", "resolution", -10, FULL, clocks.c.ticket_id, True)
    )
    on_co = and_(co.ticket_id == clocks.c.ticket_id, co.role == PartRole.CO, co.status != PartStatus.ENDED)
    if departments is not None:
        lead = lead.where(clocks.c.department_id.in_(sorted(departments)))
        on_co = and_(on_co, co.department_id.in_(sorted(departments)))
    shared = select(
        *_row(clocks.c.stopped_at, co.department_id, "co", "resolution", -10, FULL, clocks.c.ticket_id, True)
    ).join(co, on_co)
    both = union_all(lead, shared).subquery("corrections")
    return [select(*both.c)]


def _satisfaction10() -> ColumnElement:
    return case((CallbackResult.satisfaction == 1, 10), (CallbackResult.satisfaction == 2, 6), else_=0)


def _callbacks(buckets: list[Bucket], tickets: list[int] | None = None) -> list[Select]:
    """Each callback twice, as satisfaction and as resolution ("solved"): for the lead in full, for each
    co-handler at half weight."""
    moment, ticket = CallbackResult.at, CallbackResult.ticket_id
    window = _in(CallbackResult.at, buckets)
    if tickets is not None:
        window = and_(window, CallbackResult.ticket_id.in_(tickets))
    solved = case((CallbackResult.solved, 10), else_=0)
    lead = CallbackResult.lead_department_id
    co = aliased(TicketPart)
    on_co = and_(co.ticket_id == CallbackResult.ticket_id, co.role == PartRole.CO, co.status != PartStatus.ENDED)
    out = []
    for item, value in (("satisfaction", _satisfaction10()), ("resolution", solved)):
        out.append(select(*_row(moment, lead, "lead", item, value, FULL, ticket)).where(window, lead.is_not(None)))
        shared = select(*_row(moment, co.department_id, "co", item, value, HALF, ticket)).join(co, on_co)
        out.append(shared.where(window))
    return out


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
    # one pass over the events: every reopening, and every pause for the citizen without contact before
    # it (the look-up for a contact made once, for the pauses alone)
    reopened = TicketEvent.type == "status.reopened"
    term = case((reopened, "reopen"), else_="pause_without_contact")
    reopen_or_pause = (
        select(*_incident(event_moment, lead, "lead", term, TicketEvent.ticket_id))
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(
            TicketEvent.type.in_(["status.reopened", "clock.paused"]),
            _in(TicketEvent.at, buckets),
            lead.is_not(None),
            or_(reopened, and_(TicketEvent.type == "clock.paused", waiting, ~contacted)),
            *([TicketEvent.ticket_id.in_(tickets)] if tickets is not None else []),
        )
    )
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


def _sums(rows, measure: bool) -> list[ColumnElement]:
    """Σ value·weight and Σ weight of measured things (none for incidents), and how many rows."""
    if not measure:
        return [func.count()]
    return [cast(func.sum(rows.c.num20), BigInteger), cast(func.sum(rows.c.den2), Integer),
            cast(func.sum(rows.c.n), Integer)]  # fmt: skip


_PLANNER = {"jit": "off", "work_mem": "'64MB'", "enable_sort": "off", "enable_nestloop": "off"}


@contextmanager
def _tuned() -> Iterator[None]:
    """The planner settings for reading large shares of the tables, for these statements only.

    No machine-code compiling (not worth it for these plans); the sums group in memory (with grouping
    by the periods' list the planner knows how few groups there are, a few thousand, and would not
    sort millions of rows anyway); no nested loops of index look-ups, chosen when it underestimates
    the rows joined to the periods. The settings go back when the statements are done, so the rest
    of the transaction (a page's own queries, a look-up by ticket) plans as usual."""
    if db.session.get_bind().dialect.name != "postgresql":
        yield
        return
    for name, value in _PLANNER.items():
        db.session.execute(text(f"SET LOCAL {name} = {value}"))
    yield  # on an error the transaction rolls back, and SET LOCAL with it
    for name in _PLANNER:
        db.session.execute(text(f"RESET {name}"))


def aggregate(buckets: list[Bucket], at: datetime, rolling: Bucket | None = None) -> dict[str, Aggregate]:
    """Every bucket's tallies and incidents, and those of the `rolling` window from the same pass over
    the tables. Each kind of fact is grouped by itself (one statement a table or join, which the
    database can spread over its workers) and the few thousand sums are added up here."""
    out: dict[str, Aggregate] = defaultdict(Aggregate)
    windows = [*buckets, *([rolling] if rolling else [])]
    if not windows:
        return out
    span = [Bucket("", min(w.start for w in windows), max(w.end for w in windows))]
    bounds, meaning = _slots(buckets, rolling)
    branches = [(s, True) for s in measured(span, at)] + [(s, False) for s in incidents(span)]
    with _tuned():
        for branch, measure in branches:
            _add_sums(out, branch, measure, bounds, meaning, rolling)
    return out


def _add_sums(
    out: dict[str, Aggregate],
    branch: Select,
    measure: bool,
    bounds: list[datetime],
    meaning: dict[int, tuple[str | None, bool]],
    rolling: Bucket | None,
) -> None:
    """One kind of fact summed per interval, department, role and item, added to its buckets."""
    rows = branch.subquery("facts")
    slot, joined, condition = _slot_of(rows.c.moment, bounds, meaning)
    keys = (slot.label("slot"), rows.c.department_id, rows.c.role, rows.c.item)
    stmt = select(*keys, *_sums(rows, measure)).select_from(rows)
    stmt = stmt.join(joined, condition) if joined is not None else stmt.where(condition)
    stmt = stmt.where(rows.c.department_id.is_not(None)).group_by(*keys)
    for found, department_id, role, item, *figures in db.session.execute(stmt):
        month, rolled = meaning[found]
        targets = [out[month]] if month is not None else []
        if rolled and rolling is not None:
            targets.append(out[rolling.key])
        num20, den2, count = (int(x) for x in figures) if measure else (0, 0, int(figures[0]))
        for target in targets:
            target.add((department_id, role, item), num20, den2, count)


def contributions(
    buckets: list[Bucket], at: datetime, tickets: list[int] | None = None
) -> dict[tuple[str, int, int, str, str], list[int]]:
    """Each ticket's share of each bucket (a few months, in order): (period, ticket, department, role,
    item) → [Σ value·weight, Σ weight, count], incidents with 0 and 0. Summed over the tickets they give
    `aggregate`'s figures; an incremental update replaces a changed ticket's shares and adds the
    difference to the month's sums."""
    out: dict[tuple[str, int, int, str, str], list[int]] = {}
    if not buckets:
        return out
    params: dict = {"at": at, "tickets": tickets}
    for i, bucket in enumerate(buckets):
        params[f"start{i}"], params[f"end{i}"] = bucket.start, bucket.end
    with _tuned() if tickets is None else nullcontext():
        for stmt, measure in _share_statements(len(buckets), tickets is not None):
            for slot, ticket_id, department_id, role, item, *figures in db.session.execute(stmt, params):
                figures = [int(x) for x in figures] if measure else [0, 0, int(figures[0])]
                share = out.setdefault((buckets[slot].key, ticket_id, department_id, role, item), [0, 0, 0])
                for i, value in enumerate(figures):
                    share[i] += value
    return out


_SHARE_STATEMENTS: dict[tuple[str, int, bool], list[tuple[Select, bool]]] = {}


def _share_statements(count: int, by_ticket: bool) -> list[tuple[Select, bool]]:
    """The statements of `contributions` for `count` months (and the given tickets), built once per
    process: the months' bounds, the moment and the tickets are bound parameters (an incremental update
    runs them after every change; building them each time cost more than running them)."""
    key = (db.session.get_bind().dialect.name, count, by_ticket)
    if key not in _SHARE_STATEMENTS:
        moment_type = UTCDateTime()  # as the columns compared with: UTC on SQLite too
        bounds = [
            (bindparam(f"start{i}", type_=moment_type), bindparam(f"end{i}", type_=moment_type)) for i in range(count)
        ]
        at = bindparam("at", type_=moment_type)
        tickets = bindparam("tickets", expanding=True) if by_ticket else None
        span = [Bucket("", bounds[0][0], bounds[-1][1])]  # bounds as parameters, not values
        branches = [(s, True) for s in measured(span, at, tickets=tickets)]
        branches += [(s, False) for s in incidents(span, tickets)]
        statements = []
        for branch, measure in branches:
            rows = branch.subquery("facts")
            slot = case(
                *[(and_(rows.c.moment >= low, rows.c.moment < high), i) for i, (low, high) in enumerate(bounds)]
            )
            keys = (slot.label("slot"), rows.c.ticket_id, rows.c.department_id, rows.c.role, rows.c.item)
            stmt = (
                select(*keys, *_sums(rows, measure))
                .where(rows.c.department_id.is_not(None), rows.c.ticket_id.is_not(None), slot.is_not(None))
                .group_by(*keys)
            )
            statements.append((stmt, measure))
        _SHARE_STATEMENTS[key] = statements
    return _SHARE_STATEMENTS[key]


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
