"""Permission rules for routing: who may see and act on tickets, parts and disputes."""

from participation.accounts.models import Role
from participation.core.permissions import can, rule


def is_coordinator(actor) -> bool:
    return actor is not None and actor.has_role(Role.COORDINATOR)


def is_staff_of(actor, department_id) -> bool:
    return (
        actor is not None
        and department_id is not None
        and actor.has_role(Role.DEPARTMENT_STAFF, Role.DEPARTMENT_ADMIN)
        and department_id in actor.department_ids
    )


def judged_on(actor, ticket) -> bool:
    """Whether the actor works for a department that is or was on the ticket: its handling is theirs, so
    they do not answer for its sender (callback, information asked for), whatever other roles they hold."""
    return ticket is not None and any(is_staff_of(actor, p.department_id) for p in ticket.parts)


def _has_part(actor, ticket) -> bool:
    """A department that has left the ticket (a return upheld, its part removed, swapped out as lead) no
    longer sees it; what it did stays in the history and the scorecard. A ticket that closed for everyone
    (withdrawn, rejected, merged) stays in sight of the departments that were on it."""
    return any(is_staff_of(actor, p.department_id) for p in ticket.parts if not p.departed)


def viewable(actor):
    """The rule routing.ticket.view as a query's condition on Ticket, for lists and searches: None for
    coordinators (every ticket); else a part of one of the actor's departments that has not left."""
    if is_coordinator(actor):
        return None
    from sqlalchemy import select

    from participation.routing.models import Ticket, TicketPart

    return (
        select(TicketPart.id)
        .where(
            TicketPart.ticket_id == Ticket.id,
            TicketPart.department_id.in_(sorted(actor.department_ids)),
            TicketPart.departed.is_(False),
        )
        .exists()
    )


def left_from(actor, ticket) -> int | None:
    """The department through which the actor left the ticket, when no part of it is still theirs
    (their old links then lead to that department's inbox with a word of why, not a bare refusal)."""
    if _has_part(actor, ticket):
        return None
    return next((p.department_id for p in ticket.parts if is_staff_of(actor, p.department_id)), None)


@rule("routing.part.sign")
def _sign(actor, _obj):
    """Signing for parts at all: department staff (each part is then checked on its own)."""
    return actor is not None and actor.has_role(Role.DEPARTMENT_STAFF, Role.DEPARTMENT_ADMIN)


@rule("routing.suggest")
def _suggest(actor, _obj):
    return True  # harmless, and rate-limited; the request form may use it


@rule("routing.staff")
def _staff(actor, _obj):
    """Working on tickets at all (the work overview, finding a ticket): coordinators, and staff of a
    department (finding tickets, routing.services.find_tickets applies routing.ticket.view's rule in
    its query; each department's counts are checked with routing.inbox)."""
    return is_coordinator(actor) or (
        actor is not None
        and actor.has_role(Role.DEPARTMENT_STAFF, Role.DEPARTMENT_ADMIN)
        and bool(actor.department_ids)
    )


@rule("routing.triage.view")
def _triage(actor, _obj):
    return is_coordinator(actor)


@rule("routing.dispatch")
def _dispatch(actor, _ticket):
    return is_coordinator(actor)


@rule("routing.coordinate")
def _coordinate(actor, _ticket):
    return is_coordinator(actor)


@rule("routing.dispute.rule")
def _rule(actor, _dispute):
    return is_coordinator(actor)


@rule("routing.ticket.view")
def _view(actor, ticket):
    """Coordinators see every ticket; department staff only those their department has a part in."""
    return is_coordinator(actor) or _has_part(actor, ticket)


@rule("routing.ticket.find")
def _find(actor, ticket):
    """Who may learn that a ticket exists at all: coordinators, staff of a department that is or was on it,
    and its sender. Anyone else asking for it by number is told there is no such ticket, exactly as for a
    number never given out, so ticket numbers cannot be probed one by one."""
    if is_coordinator(actor) or any(is_staff_of(actor, p.department_id) for p in ticket.parts):
        return True
    submission = getattr(ticket, "submission", None)
    return actor is not None and submission is not None and submission.user_id == actor.id


@rule("routing.ticket.code")
def _code(actor, _ticket):
    """Who reads a ticket's tracking code in full: the coordination centre (the hotline, which asks the
    sender's callback by phone). The code lets its holder answer the callback of a request sent without an
    account, so the departments being judged see it shortened."""
    return is_coordinator(actor)


def shown_code(actor, ticket, code: str | None = None) -> str:
    """The ticket's tracking code as this reader may see it: whole, or its first and last characters. `code`:
    a code read elsewhere (the master a ticket's history names, the agenda's evidence), shown alike; the
    rule looks at who reads, so `ticket` may then be None."""
    code = ticket.submission.tracking_code if code is None else code
    return code if can(actor, "routing.ticket.code", ticket) else f"{code[:5]}…{code[-2:]}"


@rule("routing.ticket.note")
def _note(actor, ticket):
    return is_coordinator(actor) or _has_part(actor, ticket)


@rule("routing.ticket.lead")
def _lead(actor, ticket):
    return is_staff_of(actor, ticket.lead_department_id)


@rule("routing.ticket.invite")
def _invite(actor, ticket):
    return is_coordinator(actor) or is_staff_of(actor, ticket.lead_department_id)


@rule("routing.ticket.reopen")
def _reopen(actor, _ticket):
    return is_coordinator(actor)


@rule("routing.part.work")
def _work(actor, part):
    return is_staff_of(actor, part.department_id)


@rule("routing.inbox")
def _inbox(actor, department):
    return is_staff_of(actor, department.id)
