"""Compute a ticket's SLA clocks from its facts and events: a pure function, no database, no clock.

Every change to a ticket recomputes its clocks from scratch with `compute`, so the stored rows
are always a summary of the history and never drift from it.

Rules:
- resolve and first contact start when the item was submitted; a reopened ticket starts a new
  resolve cycle; sign-for starts when a department was given its part; contribution too (co parts).
- sign-for stops when the part is signed for; contribution when the co part is done; first
  contact at the first public reply, recorded contact or public decision; resolve when resolved.
- pauses ("clock.paused" … "clock.resumed" events) push every running clock back by the business
  time they last, capped per kind; a pause that starts after a clock's due time does not move it;
  disputes and transfers do not stop anything.
- an interim deadline set by the coordinator replaces the due time of one clock.
- checkpoints at the given percentages of the target, escalation levels beyond it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

CHECKPOINTS = (50, 75, 90, 100)
ESCALATIONS = ((125, "head"), (150, "coordinator"))

# A merge is recorded as "merged" (the duplicate is then handled under its master), not as a status event.
TERMINAL_TICKET_EVENTS = {"status.withdrawn", "merged", "status.rejected"}
CONTACT_EVENTS = {"reply", "contact.recorded", "status.resolved", "status.rejected"}


class Calendar(Protocol):
    minutes_per_day: int

    def minutes_between(self, start: datetime, end: datetime) -> float: ...

    def add(self, start: datetime, minutes: float) -> datetime: ...


@dataclass(frozen=True)
class PartFacts:
    part_id: int
    department_id: int
    role: str  # lead | co
    status: str
    assigned_at: datetime
    accepted_at: datetime | None = None
    done_at: datetime | None = None


@dataclass(frozen=True)
class EventFacts:
    at: datetime
    type: str
    payload: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TicketFacts:
    ticket_id: int
    created_at: datetime
    lead_department_id: int | None
    parts: Sequence[PartFacts] = ()
    events: Sequence[EventFacts] = ()


@dataclass
class ClockResult:
    key: str
    kind: str
    cycle: int
    part_id: int | None
    department_id: int | None
    started_at: datetime
    target_minutes: int
    paused_minutes: int
    due_at: datetime
    interim_due_at: datetime | None
    stopped_at: datetime | None
    state: str  # running | paused | met | missed | cancelled
    amber_at: datetime
    next_level: int | None
    next_check_at: datetime | None

    @property
    def effective_due(self) -> datetime:
        return self.interim_due_at or self.due_at


def clock_key(ticket_id: int, part_id: int | None, kind: str, cycle: int) -> str:
    return f"{ticket_id}:{part_id if part_id is not None else '-'}:{kind}:{cycle}"


@dataclass(frozen=True)
class Pause:
    start: datetime
    end: datetime | None  # None: still paused
    kind: str


def pauses_of(events: Sequence[EventFacts]) -> list[Pause]:
    """The pause intervals recorded on the ticket, in order."""
    out: list[Pause] = []
    current: tuple[datetime, str] | None = None
    for event in events:
        if event.type == "clock.paused" and current is None:
            current = (event.at, event.payload.get("kind", "waiting_citizen"))
        elif event.type == "clock.resumed" and current is not None:
            out.append(Pause(current[0], event.at, current[1]))
            current = None
    if current is not None:
        out.append(Pause(current[0], None, current[1]))
    return out


def capped_pauses(pauses: list[Pause], calendar: Calendar, caps: dict[str, int], now: datetime) -> list[Pause]:
    """Cut each pause so that the business time paused per kind stays within its cap (minutes; none: no cap)."""
    used: dict[str, float] = {}
    out = []
    for pause in pauses:
        cap = caps.get(pause.kind)
        left = float("inf") if cap is None else max(0.0, cap - used.get(pause.kind, 0.0))
        end = pause.end or now
        length = calendar.minutes_between(pause.start, end)
        if length > left:
            end = calendar.add(pause.start, left)
            length = left
            out.append(Pause(pause.start, end, pause.kind))
        else:
            out.append(Pause(pause.start, pause.end, pause.kind))
        used[pause.kind] = used.get(pause.kind, 0.0) + length
    return out


def cap_used_up(used: float, cap: float) -> bool:
    """Whether `used` paused minutes reach the cap. A pause the sweep ends at its cap measures a hair
    under it (times are kept to the microsecond, minutes are floats), so a second short counts as reached."""
    return used >= cap - 1 / 60


def _moment(start: datetime, minutes: float, pauses: list[Pause], calendar: Calendar, now: datetime) -> datetime:
    """When `minutes` of unpaused business time after start have run (pauses starting before it push it back)."""
    moment = calendar.add(start, minutes)
    for pause in pauses:
        end = pause.end or now
        if pause.start >= moment or end <= start:
            continue
        moment = calendar.add(moment, calendar.minutes_between(max(pause.start, start), end))
    return moment


def _levels(target: int) -> list[tuple[int, float]]:
    return [(p, target * p / 100) for p in CHECKPOINTS] + [(p, target * p / 100) for p, _who in ESCALATIONS]


def _clock(
    facts: TicketFacts,
    *,
    kind: str,
    cycle: int,
    part: PartFacts | None,
    department_id: int | None,
    start: datetime,
    target: int,
    stop: datetime | None,
    cancelled: bool,
    pauses: list[Pause],
    calendar: Calendar,
    now: datetime,
    fired_level: int,
    not_after: datetime | None = None,
) -> ClockResult:
    key = clock_key(facts.ticket_id, part.part_id if part else None, kind, cycle)
    relevant = [p for p in pauses if (p.end or now) > start and (stop is None or p.start < stop)]
    due = _moment(start, target, relevant, calendar, now)
    if not_after is not None and not_after < due:
        due = max(not_after, start)
    interim = None
    for event in facts.events:
        if event.type == "deadline.interim" and event.payload.get("key") == key:
            interim = datetime.fromisoformat(event.payload["due"])
    effective = interim or due
    paused_minutes = 0.0
    for p in relevant:
        end = min(p.end or now, stop or now)
        paused_minutes += calendar.minutes_between(max(p.start, start), end)
    running_pause = next((p for p in relevant if p.end is None), None)
    amber = _moment(start, target * 0.75, relevant, calendar, now)
    if interim is not None:
        amber = min(amber, interim)
    if cancelled:
        state = "cancelled"
    elif stop is not None:
        state = "met" if stop <= effective else "missed"
    elif running_pause is not None:
        state = "paused"
    else:
        state = "running"
    next_level = next_check = None
    if state == "running":
        for level, minutes in _levels(target):
            if level <= fired_level:
                continue
            if interim is not None and level >= 100:
                at = calendar.add(interim, target * (level - 100) / 100)
            else:
                at = _moment(start, minutes, relevant, calendar, now)
            next_level, next_check = level, at
            break
    return ClockResult(
        key=key,
        kind=kind,
        cycle=cycle,
        part_id=part.part_id if part else None,
        department_id=department_id,
        started_at=start,
        target_minutes=target,
        paused_minutes=round(paused_minutes),
        due_at=due,
        interim_due_at=interim,
        stopped_at=stop,
        state=state,
        amber_at=amber,
        next_level=next_level,
        next_check_at=next_check,
    )


def compute(
    facts: TicketFacts,
    targets: dict[str, int],
    calendar: Calendar,
    now: datetime,
    *,
    caps: dict[str, int] | None = None,
    fired: dict[str, int] | None = None,
) -> list[ClockResult]:
    """Every clock of the ticket as its history says it stands at `now`.

    targets: minutes for sign_for, first_contact, resolve, contribution. caps: business minutes
    a ticket may spend paused per pause kind. fired: the highest checkpoint already fired per key.
    """
    fired = fired or {}
    events = sorted(facts.events, key=lambda e: e.at)
    ended_at = next((e.at for e in events if e.type in TERMINAL_TICKET_EVENTS), None)
    pauses = capped_pauses(pauses_of(events), calendar, caps or {}, now)
    results: list[ClockResult] = []

    def add(**kwargs: Any) -> ClockResult:
        key = clock_key(
            facts.ticket_id, kwargs["part"].part_id if kwargs["part"] else None, kwargs["kind"], kwargs["cycle"]
        )
        clock = _clock(facts, pauses=pauses, calendar=calendar, now=now, fired_level=fired.get(key, 0), **kwargs)
        results.append(clock)
        return clock

    # first contact with the submitter
    contact = next((e.at for e in events if e.type in CONTACT_EVENTS), None)
    add(
        kind="first_contact",
        cycle=1,
        part=None,
        department_id=facts.lead_department_id,
        start=facts.created_at,
        target=targets["first_contact"],
        stop=contact,
        cancelled=contact is None and ended_at is not None,
    )

    # resolution, one cycle per (re)opening
    starts = [facts.created_at] + [e.at for e in events if e.type == "status.reopened"]
    resolves = [e.at for e in events if e.type == "status.resolved"]
    lead_due: datetime | None = None
    for cycle, start in enumerate(starts, 1):
        stop = next((at for at in resolves if at >= start), None)
        clock = add(
            kind="resolve",
            cycle=cycle,
            part=None,
            department_id=facts.lead_department_id,
            start=start,
            target=targets["resolve"],
            stop=stop,
            cancelled=stop is None and ended_at is not None,
        )
        lead_due = clock.effective_due

    # each department's part
    for part in facts.parts:
        gone = part.status in ("ended", "waived")
        signed = part.accepted_at if part.accepted_at and part.accepted_at >= part.assigned_at else None
        add(
            kind="sign_for",
            cycle=1,
            part=part,
            department_id=part.department_id,
            start=part.assigned_at,
            target=targets["sign_for"],
            stop=signed,
            cancelled=signed is None and (gone or ended_at is not None),
        )
        if part.role == "co":
            done = part.done_at if part.done_at and part.done_at >= part.assigned_at else None
            add(
                kind="contribution",
                cycle=1,
                part=part,
                department_id=part.department_id,
                start=part.assigned_at,
                target=targets["contribution"],
                stop=done,
                cancelled=done is None and (gone or ended_at is not None),
                not_after=lead_due,
            )
    return results


def resume_at(facts: TicketFacts, calendar: Calendar, caps: dict[str, int], now: datetime) -> datetime | None:
    """When the running pause (if any) reaches its cap and the clocks run again by themselves."""
    raw = pauses_of(sorted(facts.events, key=lambda e: e.at))
    if not raw or raw[-1].end is not None:
        return None
    running = raw[-1]
    used = 0.0
    for pause in capped_pauses(raw[:-1], calendar, caps, now):
        if pause.kind == running.kind:
            used += calendar.minutes_between(pause.start, pause.end or now)
    left = max(0.0, caps.get(running.kind, 0) - used)
    return calendar.add(running.start, left)
