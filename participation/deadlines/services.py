"""Deadlines at work: recompute a ticket's clocks, pause and resume them, fire checkpoints, escalate.

Clocks are recomputed from the ticket's history (`clocks.compute`) before every commit that adds
ticket events (the routing hook), so every transition keeps them true without calling in here.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from participation.core.errors import Conflict, ValidationFailed
from participation.core.models import utcnow
from participation.core.permissions import SYSTEM, authorize
from participation.deadlines import clocks as clockmath
from participation.deadlines.calendar import AroundTheClock, BusinessCalendar
from participation.deadlines.models import (
    OPEN_CLOCK_STATES,
    CalendarDay,
    CalendarVersion,
    ClockKind,
    ClockState,
    DayKind,
    SlaCheckpoint,
    SlaClock,
)
from participation.extensions import db
from participation.routing.hooks import subscribe
from participation.routing.models import OPEN_STATUSES, Ticket, TicketEvent, TicketPart, TicketStatus

PAUSE_KINDS = ("waiting_citizen", "suspension")
URGENT = "urgent"
_lock = threading.Lock()
_calendar_cache: dict[str, Any] = {"id": None, "calendar": None}


def now() -> datetime:
    """The current time; tests replace this function to control the clock."""
    return utcnow()


# -- calendar and policy ----------------------------------------------------------------------


def current_calendar() -> BusinessCalendar:
    """The latest calendar version as a BusinessCalendar (cached per version)."""
    row = db.session.execute(
        select(CalendarVersion.id, CalendarVersion.created_at).order_by(CalendarVersion.id.desc()).limit(1)
    ).first()
    if row is None:
        from participation.deadlines.setup import ensure_default_calendar

        created = ensure_default_calendar()
        row = (created.id, created.created_at)
    latest, stamp = row
    with _lock:
        if _calendar_cache["id"] == (latest, stamp):  # the time too: a database rebuilt from empty reuses ids
            return _calendar_cache["calendar"]
    version = db.session.get(CalendarVersion, latest)
    days = db.session.execute(select(CalendarDay.day, CalendarDay.kind).where(CalendarDay.version_id == latest)).all()
    calendar = BusinessCalendar.from_settings(
        timezone=version.timezone,
        weekdays=version.weekdays,
        hours=version.hours,
        holidays=[d for d, k in days if k == DayKind.HOLIDAY],
        workdays=[d for d, k in days if k == DayKind.WORKDAY],
        version_id=version.id,
    )
    with _lock:
        _calendar_cache.update(id=(latest, stamp), calendar=calendar)
    return calendar


def calendar_for(ticket: Ticket, business: BusinessCalendar | None = None) -> BusinessCalendar | AroundTheClock:
    """Urgent items run around the clock; the rest in business time (`business`: the current calendar,
    when the caller has it)."""
    return calendar_of(ticket.priority, business or current_calendar())


def calendar_of(priority: str, business: BusinessCalendar) -> BusinessCalendar | AroundTheClock:
    """The calendar a ticket of this priority runs on, given the current business calendar."""
    return AroundTheClock(version_id=business.version_id) if priority == URGENT else business


def targets_for(ticket: Ticket, business: BusinessCalendar | None = None) -> dict[str, int]:
    """The ticket's targets (`business`: the current calendar, whose working day sets a default
    resolve target in minutes, when the caller has it)."""
    from participation.deadlines.setup import targets_for as policy_targets

    category = ticket.primary_category or ticket.submission.category
    return policy_targets(category, ticket.priority, business.minutes_per_day if business else None)


def pause_caps(calendar) -> dict[str, int]:
    """Business minutes a ticket may spend paused per kind (working days in the settings)."""
    days = current_app.config["SLA_PAUSE_CAP_DAYS"]
    return {kind: int(days[kind] * calendar.minutes_per_day) for kind in PAUSE_KINDS}


def is_urgent(text: str) -> bool:
    """Urgent words (gas leak, fire, live wire, ...) raise an item's priority at intake."""
    lowered = text.lower()
    return any(term.lower() in lowered for term in current_app.config["URGENT_TERMS"])


# -- recomputation ----------------------------------------------------------------------------


def facts_of(ticket: Ticket) -> clockmath.TicketFacts:
    return clockmath.TicketFacts(
        ticket_id=ticket.id,
        created_at=ticket.created_at,
        lead_department_id=ticket.lead_department_id,
        parts=[
            clockmath.PartFacts(
                part_id=p.id,
                department_id=p.department_id,
                role=p.role.value,
                status=p.status.value,
                assigned_at=p.assigned_at or p.created_at,
                accepted_at=p.accepted_at,
                done_at=p.done_at,
            )
            for p in ticket.parts
        ],
        events=[clockmath.EventFacts(e.at, e.type, e.payload or {}) for e in ticket.events],
    )


def recompute(ticket: Ticket, at: datetime | None = None) -> list[SlaClock]:
    """Bring the ticket's stored clocks in line with its history; returns them."""
    at = at or now()
    business = current_calendar()
    calendar = calendar_for(ticket, business)
    existing = {c.key: c for c in db.session.scalars(select(SlaClock).where(SlaClock.ticket_id == ticket.id))}
    facts = facts_of(ticket)
    results = clockmath.compute(
        facts,
        targets_for(ticket, business),
        calendar,
        at,
        caps=pause_caps(calendar),
        fired={k: c.level for k, c in existing.items()},
    )
    resume = None
    if ticket.paused_since is not None:
        resume = clockmath.resume_at(facts, calendar, pause_caps(calendar), at)
    out = []
    for result in results:
        clock = existing.get(result.key)
        if clock is None:
            clock = SlaClock(key=result.key, ticket_id=ticket.id, kind=ClockKind(result.kind), cycle=result.cycle)
            db.session.add(clock)
        clock.part_id = result.part_id
        if result.stopped_at is None or clock.department_id is None or clock.state in OPEN_CLOCK_STATES:
            # A running clock is the current lead's; a stopped one stays with the department that held it
            # when it stopped (the scorecards count it there), whoever leads since.
            clock.department_id = result.department_id
        clock.state = ClockState(result.state)
        clock.around_the_clock = ticket.priority == URGENT
        clock.started_at = result.started_at
        clock.target_minutes = result.target_minutes
        clock.paused_minutes = result.paused_minutes
        clock.due_at = result.due_at
        clock.interim_due_at = result.interim_due_at
        clock.stopped_at = result.stopped_at
        clock.amber_at = result.amber_at
        clock.next_level = result.next_level
        clock.next_check_at = result.next_check_at
        if result.state == "paused":  # the sweep resumes the ticket when the pause reaches its cap
            clock.next_level, clock.next_check_at = None, resume
        clock.calendar_version_id = calendar.version_id
        out.append(clock)
    computed = {result.key for result in results}
    for key, clock in existing.items():
        if key not in computed and clock.state in OPEN_CLOCK_STATES:
            # the history no longer has this clock (a co-handler made lead has no contribution to make)
            clock.state, clock.stopped_at, clock.next_level, clock.next_check_at = ClockState.CANCELLED, at, None, None
            out.append(clock)
    return out


@subscribe(order=10)
def _recompute_on_events(events: list[TicketEvent]) -> None:
    tickets: dict[int, Ticket] = {}
    for event in events:
        if event.type == "deadline.checkpoint":
            continue  # the sweep keeps the clock it fired up to date itself
        ticket = event.ticket or db.session.get(Ticket, event.ticket_id)
        tickets[ticket.id] = ticket
    for ticket in tickets.values():
        recompute(ticket)


# -- pauses, contact, interim deadlines -------------------------------------------------------


def _ticket(ticket_id: int, actor: Any) -> Ticket:
    from participation.routing.services import get_ticket

    return get_ticket(ticket_id, actor)


def _reason(reason: str | None, field: str = "reason") -> str:
    reason = (reason or "").strip()
    if not reason:
        missing = _("Say how you reached the submitter.") if field == "note" else _("Give a reason.")
        raise ValidationFailed(fields={field: [missing]})
    if len(reason) > 1000:
        raise ValidationFailed(fields={field: [_("At most %(n)s characters.", n=1000)]})
    return reason


def pause(actor: Any, ticket_id: int, kind: str, reason: str) -> Ticket:
    """Stop the ticket's clocks while waiting for the citizen, or for an approved suspension (capped)."""
    from participation.routing.services import _announce, record

    ticket = _ticket(ticket_id, actor)
    if kind not in PAUSE_KINDS:
        raise ValidationFailed(fields={"kind": [_("Choose waiting for the citizen or suspension.")]})
    authorize(actor, "deadlines.pause.waiting" if kind == "waiting_citizen" else "deadlines.pause.suspend", ticket)
    reason = _reason(reason)
    if ticket.status not in OPEN_STATUSES:
        raise Conflict(_("Only an open ticket can be paused."))
    if ticket.paused_since is not None:
        raise Conflict(_("The clocks of this ticket are already paused."))
    calendar = calendar_for(ticket)
    at = now()
    facts = facts_of(ticket)
    used = sum(
        calendar.minutes_between(p.start, p.end or at)
        for p in clockmath.capped_pauses(clockmath.pauses_of(facts.events), calendar, pause_caps(calendar), at)
        if p.kind == kind
    )
    if clockmath.cap_used_up(used, pause_caps(calendar)[kind]):
        raise Conflict(_("This ticket has used all the paused time allowed for this kind of pause."))
    ticket.paused_since = at
    record(ticket, "clock.paused", actor, public=kind == "waiting_citizen", kind=kind, reason=reason)
    _announce(ticket, "clock.paused", public=kind == "waiting_citizen")  # the sender's page shows what is asked
    return ticket


def running_pause(ticket: Ticket) -> TicketEvent | None:
    """The "clock.paused" event of the pause the ticket is in, if it is paused."""
    if ticket.paused_since is None:
        return None
    return next((e for e in reversed(list(ticket.events)) if e.type == "clock.paused"), None)


def waiting_for_citizen(ticket: Ticket) -> str | None:
    """What the departments wait for from the sender (the pause's reason), while they wait on an open
    ticket; else None (a ticket resolved, withdrawn or merged while paused waits for nobody)."""
    if ticket.status not in OPEN_STATUSES:
        return None
    event = running_pause(ticket)
    if event is None or (event.payload or {}).get("kind", "waiting_citizen") != "waiting_citizen":
        return None
    return (event.payload or {}).get("reason") or ""


def resume(actor: Any, ticket_id: int, reason: str = "") -> Ticket:
    """Start the clocks again (the sender sees it when the departments were waiting for them)."""
    from participation.routing.services import _announce, record

    ticket = _ticket(ticket_id, actor)
    authorize(actor, "deadlines.pause.waiting", ticket)
    if ticket.paused_since is None:
        raise Conflict(_("The clocks of this ticket are not paused."))
    public = waiting_for_citizen(ticket) is not None
    ticket.paused_since = None
    record(ticket, "clock.resumed", actor, public=public, reason=(reason or "").strip()[:1000])
    _announce(ticket, "clock.resumed", public=public)
    return ticket


def record_contact(actor: Any, ticket_id: int, note: str) -> Ticket:
    """The lead department reached the submitter (by phone, in person); this stops the first-contact clock."""
    from participation.routing.services import _announce, record

    ticket = _ticket(ticket_id, actor)
    authorize(actor, "routing.ticket.lead", ticket)
    note = _reason(note, "note")
    record(ticket, "contact.recorded", actor, department=ticket.lead_department, message=note)
    _announce(ticket, "contact.recorded")
    return ticket


def set_interim_deadline(actor: Any, ticket_id: int, clock_id: int, due: str | datetime, reason: str) -> SlaClock:
    """The coordinator gives a late clock a new interim deadline (it replaces the due time)."""
    from participation.routing.services import _announce, record

    ticket = _ticket(ticket_id, actor)
    authorize(actor, "deadlines.interim", ticket)
    reason = _reason(reason)
    clock = db.session.get(SlaClock, clock_id)
    if clock is None or clock.ticket_id != ticket.id:
        raise ValidationFailed(fields={"clock": [_("Choose one of this ticket's deadlines.")]})
    if clock.state not in OPEN_CLOCK_STATES:
        raise Conflict(_("This deadline has already stopped."))
    if isinstance(due, str):
        try:
            due = datetime.fromisoformat(due.strip())
        except ValueError:
            raise ValidationFailed(fields={"due": [_("Give a date and time such as 2026-12-01T17:00.")]}) from None
    if due.tzinfo is None:
        from zoneinfo import ZoneInfo

        due = due.replace(tzinfo=ZoneInfo(current_calendar().timezone))
    if due <= now():
        raise ValidationFailed(fields={"due": [_("The new deadline must be in the future.")]})
    record(ticket, "deadline.interim", actor, key=clock.key, due=due.isoformat(), reason=reason, clock=clock.kind.value)
    _announce(ticket, "deadline.interim")
    return clock


# -- the sweep ----------------------------------------------------------------------------------


def _who(level: int) -> str:
    for percent, who in clockmath.ESCALATIONS:
        if percent == level:
            return who
    return "handler"


def _insert_checkpoints(rows: list[dict]) -> set[tuple[int, int]]:
    """Insert the checkpoints' unique rows in one statement; returns the (clock, level) pairs this sweep won.

    A pair another sweep inserted first is skipped by the unique key (ON CONFLICT DO NOTHING).
    """
    if not rows:
        return set()
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = SlaCheckpoint.__table__
    won: set[tuple[int, int]] = set()
    for i in range(0, len(rows), 1000):
        stmt = (
            insert(table)
            .values(rows[i : i + 1000])
            .on_conflict_do_nothing(index_elements=["clock_id", "level"])
            .returning(table.c.clock_id, table.c.level)
        )
        won.update((clock_id, level) for clock_id, level in db.session.execute(stmt))
    return won


def _due_clocks(at: datetime, limit: int) -> list[SlaClock]:
    stmt = (
        select(SlaClock)
        .where(SlaClock.next_check_at <= at, SlaClock.state.in_([ClockState.RUNNING, ClockState.PAUSED]))
        .order_by(SlaClock.next_check_at)
        .limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=SlaClock)
    return list(db.session.scalars(stmt))


def sweep(at: datetime | None = None, limit: int = 5000) -> int:
    """Fire every due checkpoint once and resume pauses that reached their cap; returns checkpoints fired.

    Safe to run from two beat processes at once: each checkpoint has a unique key, and on
    PostgreSQL the due rows are taken with SKIP LOCKED so the sweeps share the work. A clock
    that is several levels behind (the sweep did not run for a while) fires them all, but only
    the highest is announced, so nobody gets "half the time is gone" for a ticket already late.
    """
    from participation.routing.services import record

    at = at or now()
    clocks = _due_clocks(at, limit)
    if not clocks:
        return 0
    tickets = {
        t.id: t
        for t in db.session.scalars(
            select(Ticket).where(Ticket.id.in_({c.ticket_id for c in clocks})).options(selectinload(Ticket.submission))
        )
    }
    calendar = current_calendar()
    around = AroundTheClock(version_id=calendar.version_id)
    reached: dict[int, list[int]] = {}
    changed: set[int] = set()
    for clock in clocks:
        ticket = tickets[clock.ticket_id]
        if ticket.status == TicketStatus.DUPLICATE:
            # Merged before the clocks took "merged" for an end: its history ends them now, nothing fires.
            if ticket.id not in changed:
                recompute(ticket, at)
                changed.add(ticket.id)
            continue
        if clock.state == ClockState.PAUSED:
            cap_reached, clock.next_check_at = clock.next_check_at, None
            if ticket.paused_since is not None:
                waited_for_sender = waiting_for_citizen(ticket) is not None
                ticket.paused_since = None
                event = record(
                    ticket, "clock.resumed", SYSTEM, public=waited_for_sender, reason="cap reached", automatic=True
                )
                event.at = cap_reached  # the history says when the cap was reached, not when the sweep ran
                changed.add(ticket.id)
                if waited_for_sender:  # the sender's page stops asking
                    from participation.intake.services import announce_status

                    announce_status(ticket.submission, ticket.status.value)
            continue
        clock_calendar = around if ticket.priority == URGENT else calendar
        while clock.next_level is not None and clock.next_check_at is not None and clock.next_check_at <= at:
            reached.setdefault(clock.id, []).append(clock.next_level)
            clock.level = clock.next_level
            _advance(clock, clock_calendar)
    won = _insert_checkpoints(
        [
            {"clock_id": clock.id, "ticket_id": clock.ticket_id, "level": level, "fired_at": at}
            for clock in clocks
            for level in reached.get(clock.id, [])
        ]
    )
    fired = 0
    for clock in clocks:
        levels = [level for level in reached.get(clock.id, []) if (clock.id, level) in won]
        if not levels:
            continue
        ticket = tickets[clock.ticket_id]
        fired += len(levels)
        level = max(levels)
        who = _who(level)
        record(
            ticket,
            "deadline.checkpoint",
            SYSTEM,
            clock=clock.kind.value,
            key=clock.key,
            level=level,
            levels=levels,
            notify=who,
            department_id=clock.department_id,
            due=clock.effective_due.isoformat(),
        )
        escalation = {"head": 1, "coordinator": 2}.get(who, 0)
        if escalation > ticket.escalation_level:
            ticket.escalation_level, ticket.escalated_at = escalation, at
        changed.add(ticket.id)
    _announce_many([tickets[t] for t in sorted(changed)])
    return fired


def _announce_many(tickets: list[Ticket]) -> None:
    """The live "ticket.updated" of routing's _announce, for many tickets with one query for their departments."""
    from participation.core.sockets import publish
    from participation.routing.rooms import department_room, queue_room, ticket_room
    from participation.routing.services import NAMESPACE

    departments: dict[int, set[int]] = {}
    if tickets:
        rows = db.session.execute(
            select(TicketPart.ticket_id, TicketPart.department_id).where(
                TicketPart.ticket_id.in_([t.id for t in tickets])
            )
        )
        for ticket_id, department_id in rows:
            departments.setdefault(ticket_id, set()).add(department_id)
    for ticket in tickets:
        data = {"ticket_id": ticket.id, "status": ticket.status.value, "event": "deadline"}
        rooms = [ticket_room(ticket.id), queue_room()]
        rooms += [department_room(d) for d in sorted(departments.get(ticket.id, ()))]
        publish("ticket.updated", data, rooms, NAMESPACE)


def _level_at(clock: SlaClock, calendar, level: int) -> datetime:
    if clock.interim_due_at is not None and level >= 100:
        return calendar.add(clock.interim_due_at, clock.target_minutes * (level - 100) / 100)
    base = calendar.add(clock.started_at, clock.target_minutes * level / 100)
    return calendar.add(base, clock.paused_minutes) if clock.paused_minutes else base


def _advance(clock: SlaClock, calendar) -> None:
    """Move the clock's next checkpoint past the level it just reached (without rereading history)."""
    levels = list(clockmath.CHECKPOINTS) + [p for p, _w in clockmath.ESCALATIONS]
    following = [p for p in levels if p > clock.level]
    if not following:
        clock.next_level = clock.next_check_at = None
        return
    clock.next_level = following[0]
    clock.next_check_at = _level_at(clock, calendar, following[0])


# -- reading ------------------------------------------------------------------------------------


def clocks_of(ticket: Ticket) -> list[SlaClock]:
    stmt = select(SlaClock).where(SlaClock.ticket_id == ticket.id).order_by(SlaClock.id)
    return list(db.session.scalars(stmt))


def open_clocks_by_part(part_ids: list[int]) -> dict[int, SlaClock]:
    """The nearest open deadline of each part (for the inbox): its sign-for or contribution clock and, for a
    lead part, the ticket's first-contact and resolution clocks, which are the lead's to meet."""
    if not part_ids:
        return {}
    lead_of = dict(
        db.session.execute(
            select(TicketPart.ticket_id, TicketPart.id)
            .join(Ticket, Ticket.id == TicketPart.ticket_id)
            .where(TicketPart.id.in_(part_ids), TicketPart.department_id == Ticket.lead_department_id)
        ).all()
    )
    stmt = select(SlaClock).where(
        or_(
            SlaClock.part_id.in_(part_ids),
            and_(SlaClock.part_id.is_(None), SlaClock.ticket_id.in_(list(lead_of) or [-1])),
        ),
        SlaClock.state.in_(OPEN_CLOCK_STATES),
    )
    out: dict[int, SlaClock] = {}
    for clock in db.session.scalars(stmt):
        part_id = clock.part_id if clock.part_id is not None else lead_of[clock.ticket_id]
        current = out.get(part_id)
        if current is None or clock.effective_due < current.effective_due:
            out[part_id] = clock
    return out


def _late(at: datetime) -> tuple:
    """A clock of the escalation queue: open, past the time it answers to."""
    return SlaClock.state.in_(OPEN_CLOCK_STATES), SlaClock.effective_due <= at


def escalation_count(actor: Any, at: datetime | None = None) -> int:
    """How many tickets the escalation queue lists: open ones with a late clock, or escalated."""
    authorize(actor, "deadlines.escalations.view")
    late = select(SlaClock.id).where(SlaClock.ticket_id == Ticket.id, *_late(at or now())).exists()
    return db.session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.status.in_(OPEN_STATUSES), or_(Ticket.escalation_level > 0, late))
    )


ESCALATION_SORTS = ("late", "level", "oldest")


def escalation_page(actor: Any, sort: str = "late", limit: int | None = None) -> tuple[list[dict], int]:
    """The escalation queue's first `limit` tickets (all without it) and how many there are in all: a city
    far behind may have more than a page, which the page and the API say rather than hide."""
    at = now()
    rows = escalation_queue(actor, sort=sort, at=at, limit=limit)
    total = escalation_count(actor, at) if limit is not None and len(rows) >= limit else len(rows)
    return rows, total


def escalation_queue(
    actor: Any, sort: str = "late", at: datetime | None = None, limit: int | None = None
) -> list[dict]:
    """Overdue and escalated open tickets, the latest first (or by escalation level, or the oldest first);
    the first `limit` of them when given (escalation_count says how many there are). How late each is
    is measured from the clocks' columns; only the tickets listed are loaded with their request, parts
    and late clocks, so a city with thousands of late tickets gets its first page at once."""
    authorize(actor, "deadlines.escalations.view")
    at = at or now()
    business = current_calendar()
    # Each read carries what the ranking needs of its tickets: a ticket settled between the two reads
    # (another request at work) stays as the first read saw it, rather than missing from the second.
    late = db.session.execute(
        select(
            SlaClock.id,
            SlaClock.ticket_id,
            SlaClock.effective_due,
            Ticket.priority,
            Ticket.escalation_level,
            Ticket.created_at,
        )
        .join(Ticket, Ticket.id == SlaClock.ticket_id)
        .where(Ticket.status.in_(OPEN_STATUSES), *_late(at))
        .order_by(SlaClock.id)
    ).all()
    escalated = db.session.execute(
        select(Ticket.id, Ticket.escalation_level, Ticket.created_at).where(
            Ticket.status.in_(OPEN_STATUSES), Ticket.escalation_level > 0
        )
    ).all()
    tickets: dict[int, dict] = {}

    def entry(ticket_id: int, level: int, created_at: datetime) -> dict:
        return tickets.setdefault(
            ticket_id, {"level": level, "created_at": created_at, "clocks": [], "late_minutes": 0.0}
        )

    for clock_id, ticket_id, due, priority, level, created_at in late:
        minutes = calendar_of(priority, business).minutes_between(due, at)
        row = entry(ticket_id, level, created_at)
        row["clocks"].append((clock_id, minutes))
        row["late_minutes"] = max(row["late_minutes"], minutes)
    for ticket_id, level, created_at in escalated:
        entry(ticket_id, level, created_at)
    if sort == "level":
        order = sorted(tickets, key=lambda t: (-tickets[t]["level"], -tickets[t]["late_minutes"], t))
    elif sort == "oldest":
        order = sorted(tickets, key=lambda t: (tickets[t]["created_at"], t))
    else:
        order = sorted(tickets, key=lambda t: (-tickets[t]["late_minutes"], t))
    shown = order if limit is None else order[:limit]
    loaded = {
        ticket.id: ticket
        for ticket in db.session.scalars(
            select(Ticket)
            .where(Ticket.id.in_(shown or [-1]))
            # The rows show each ticket's request, lead and departments (the shortcuts offer those not on it).
            .options(selectinload(Ticket.parts), selectinload(Ticket.submission), selectinload(Ticket.lead_department))
        )
    }
    clock_ids = [clock_id for t in shown for clock_id, _minutes in tickets[t]["clocks"]]
    clocks = {
        clock.id: clock
        for clock in db.session.scalars(
            select(SlaClock).where(SlaClock.id.in_(clock_ids or [-1])).options(selectinload(SlaClock.department))
        )
    }
    unhappy = set(  # escalated by the callback (dissatisfied again after a reopening), not by a deadline
        db.session.scalars(
            select(TicketEvent.ticket_id).where(
                TicketEvent.ticket_id.in_(shown or [-1]), TicketEvent.type == "callback.escalated"
            )
        )
    )
    return [
        {
            "ticket": loaded[t],
            "clocks": [(clocks[clock_id], minutes) for clock_id, minutes in tickets[t]["clocks"]],
            "late_minutes": tickets[t]["late_minutes"],
            "callback": t in unhappy,
        }
        for t in shown
    ]
