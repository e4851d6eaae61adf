"""Who is told what about a ticket: one place maps new ticket events to notifications.

Runs before commit with the transaction's new events (routing.hooks), so the notifications
commit or roll back with the change. Every key is built from the event id: nothing twice.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import func, select

from participation.accounts.models import User
from participation.extensions import db
from participation.notifications import services
from participation.routing.hooks import subscribe
from participation.routing.models import TicketEvent

# Public events the submitter hears about, and the variant of the text for each. A resolution is told by
# the callback request that every resolution sends (surveys.callbacks), to the master's sender and to every
# follower's: one notice, not two.
SUBMITTER_EVENTS = {
    "reply": "reply",
    "status.rejected": "rejected",
    "status.reopened": "reopened",
    "clock.paused": "waiting",  # public only when the departments wait for the sender
}
NOT_FOR_FOLLOWERS = {"submitted", "merged", "status.resolved"}


def path(endpoint: str, **values: Any) -> str:
    """A site path for a link, also outside a request (workers, the command line)."""
    adapter = current_app.url_map.bind("localhost", script_name=current_app.config.get("APPLICATION_ROOT") or "/")
    return adapter.build(endpoint, values)


def _names(department: Any) -> dict:
    return {"zh": department.name_zh, "en": department.name_en} if department is not None else {}


def _title(ticket: Any) -> str:
    submission = ticket.submission
    return (submission.title or submission.text[:60]).strip()


def _without_actor(users: list[User], event: TicketEvent) -> list[User]:
    """Nobody is told about what they did themselves."""
    return [u for u in users if u.id != event.actor_id]


def _staff_notice(
    event: TicketEvent,
    users: list[User],
    kind: str,
    department: Any = None,
    link: str | None = None,
    *,
    key: str = "",
    **params: Any,
) -> None:
    ticket = event.ticket
    services.notify(
        _without_actor(users, event),
        kind,
        ticket=ticket,
        params={"title": _title(ticket), "department": _names(department), **params},
        link=link or path("routing.ticket", ticket_id=ticket.id),
        urgent=ticket.priority == "urgent",
        dedupe=f"ev{event.id}:{kind}{key}",  # key: one event may tell of two changes (a part left, another joined)
    )


def tell_submitter(ticket: Any, kind: str, dedupe: str, **params: Any) -> None:
    """The submitter's account, else the contact e-mail of a named submission; never an anonymous one."""
    submission = ticket.submission
    if submission.anonymous:
        return
    params = {"code": submission.tracking_code, **params}
    link = path("intake.track", code=submission.tracking_code)
    if submission.user is not None:
        services.notify([submission.user], kind, ticket=ticket, params=params, link=link, dedupe=dedupe)
    elif submission.contact_email:
        language = submission.language if submission.language in current_app.config["LANGUAGES"] else None
        services.notify_address(
            submission.contact_email, kind, ticket=ticket, params=params, link=link, dedupe=dedupe, locale=language
        )


def _dispatched(event: TicketEvent) -> None:
    for part in event.ticket.parts:
        if part.status.value != "ended":
            users = services.department_staff(part.department_id)
            _staff_notice(event, users, "ticket_assigned", part.department)


def _new_department(event: TicketEvent) -> None:
    """A department invited, made the lead, or handed a part after a ruling."""
    department = event.department
    if event.type.startswith("dispute."):
        from participation.catalog.models import Department
        from participation.routing.models import Dispute

        code = (event.payload or {}).get("new_department")
        if code:
            department = db.session.query(Department).filter_by(code=code).one_or_none()
        elif "new_department" in (event.payload or {}):
            department = None  # upheld with no department taking the part over: nobody new to tell
        else:  # rulings recorded before the department was always written down
            dispute = db.session.get(Dispute, (event.payload or {}).get("dispute_id") or 0)
            department = dispute.suggested_department if dispute is not None else None
        if department is not None and department.id == event.department_id:
            return
    if department is None:
        return
    if event.type == "part.invited":
        variant = "invited"
    elif department.id == event.ticket.lead_department_id:  # made the lead: by a swap or an upheld return
        variant = "lead"
    else:
        variant = ""
    _staff_notice(event, services.department_staff(department.id), "ticket_assigned", department, variant=variant)


def _dispute_opened(event: TicketEvent) -> None:
    variant = "transfer" if (event.payload or {}).get("kind") == "transfer" else ""
    _staff_notice(event, services.coordinators(), "dispute_opened", event.department, variant=variant)


def _dispute_ruled(event: TicketEvent) -> None:
    from participation.routing.models import Dispute

    variant = event.type.removeprefix("dispute.")
    dispute = db.session.get(Dispute, (event.payload or {}).get("dispute_id") or 0)
    worded = f"transfer_{variant}" if dispute is not None and dispute.kind.value == "transfer" else variant
    # Upheld, the department's part has ended and the ticket is no longer its to open: the notice says
    # what happened and leads to its inbox.
    link = path("routing.inbox", department=event.department_id) if variant == "upheld" else None
    _staff_notice(
        event, services.department_staff(event.department_id), "dispute_ruled", event.department, link, variant=worded
    )
    if variant == "upheld":
        _new_department(event)
        from participation.routing.models import TicketPart

        part = db.session.get(TicketPart, (event.payload or {}).get("part_id") or 0)
        if part is not None and part.role.value == "co":  # a co-handler's part ended
            from participation.catalog.models import Department

            _tell_lead(event, event.department, "left")
            code = (event.payload or {}).get("new_department")
            joined = db.session.query(Department).filter_by(code=code).one_or_none() if code else None
            _tell_lead(event, joined, "joined")


def _checkpoint(event: TicketEvent) -> None:
    payload = event.payload or {}
    level = int(payload.get("level") or 0)
    department_id = payload.get("department_id")
    audience = payload.get("notify")
    if audience == "handler":
        users = services.department_staff(department_id)
    elif audience == "head":
        users = services.department_heads(department_id)
    elif audience == "coordinator":
        users = services.coordinators()
    else:
        return
    kind = "deadline_warning" if level < 100 else "deadline_overdue" if level == 100 else "escalated"
    department = None
    if department_id is not None:
        from participation.catalog.models import Department

        department = db.session.get(Department, department_id)
    _staff_notice(
        event,
        users,
        kind,
        department,
        clock=payload.get("clock", ""),
        level=level,
        due=_local_time(payload.get("due")),
    )


def _local_time(value: Any) -> str:
    """An ISO timestamp shown in the city's time, to the minute."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value or "")
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(ZoneInfo(current_app.config["CITY_TIMEZONE"])).strftime("%Y-%m-%d %H:%M")


def _reopened(event: TicketEvent) -> None:
    """The lead department is back at work: the reason is the citizen's or the coordinator's."""
    ticket = event.ticket
    reason = (event.payload or {}).get("message") or ""
    _staff_notice(
        event,
        services.department_staff(ticket.lead_department_id),
        "ticket_reopened",
        ticket.lead_department,
        reason=reason,
    )


def _callback_escalated(event: TicketEvent) -> None:
    """Unhappy again after a reopening: the coordination centre supervises, the lead's head is told too."""
    ticket = event.ticket
    users = services.coordinators() + services.department_heads(ticket.lead_department_id)
    _staff_notice(
        event, list({u.id: u for u in users}.values()), "escalated", ticket.lead_department, variant="callback"
    )


def _left(event: TicketEvent, department: Any, variant: str, **params: Any) -> None:
    """A department's part ended without its work being done: it is told, and led to its inbox when the
    ticket is no longer its to open."""
    if department is None:
        return
    link = path("routing.inbox", department=department.id) if variant != "waived" else None
    _staff_notice(
        event, services.department_staff(department.id), "part_ended", department, link, variant=variant, **params
    )


def _tell_lead(event: TicketEvent, department: Any, variant: str) -> None:
    """The lead department hears of a change among its co-handlers that it did not make itself."""
    ticket = event.ticket
    lead = ticket.lead_department_id
    if department is None or lead is None or department.id == lead:
        return
    actor = db.session.get(User, event.actor_id) if event.actor_id else None
    if actor is not None and lead in (actor.department_ids or set()):
        return  # the lead's own doing: its people know
    _staff_notice(
        event, services.department_staff(lead), "co_handlers_changed", department, key=f":{variant}", variant=variant
    )


def _waived(event: TicketEvent) -> None:
    _left(event, event.department, "waived", reason=(event.payload or {}).get("reason") or "")
    _tell_lead(event, event.department, "left")


def _removed(event: TicketEvent) -> None:
    _left(event, event.department, "removed", reason=(event.payload or {}).get("reason") or "")
    _tell_lead(event, event.department, "left")


def _invited(event: TicketEvent) -> None:
    _new_department(event)
    _tell_lead(event, event.department, "joined")


def _lead_swapped(event: TicketEvent) -> None:
    _new_department(event)
    previous = (event.payload or {}).get("previous")
    if previous:
        from participation.catalog.models import Department

        department = db.session.query(Department).filter_by(code=previous).one_or_none()
        _left(
            event,
            department,
            "lead_swapped",
            new=_names(event.department),
            reason=(event.payload or {}).get("reason") or "",
        )


def _citizen_information(event: TicketEvent) -> None:
    ticket = event.ticket
    _staff_notice(
        event, services.department_staff(ticket.lead_department_id), "citizen_information", ticket.lead_department
    )


def _pause_over(event: TicketEvent) -> None:
    """The clocks run again: what a waiting pause asked of the sender is no longer asked, whoever ended
    it (the sender's answer, a department, the cap, the ticket leaving the open states). The notice that
    asked is settled, and an e-mail of it still held back by quiet hours is not sent."""
    paused = db.session.scalar(
        select(func.max(TicketEvent.id)).where(
            TicketEvent.ticket_id == event.ticket_id, TicketEvent.type == "clock.paused", TicketEvent.id < event.id
        )
    )
    if paused is not None:
        services.withdraw(f"ev{paused}:ticket_update")
        services.withdraw(f"ev{paused}:master_update")  # the senders of requests merged into it were told too


def _merged(event: TicketEvent) -> None:
    tell_submitter(event.ticket, "ticket_merged", f"ev{event.id}:ticket_merged")


HANDLERS = {
    "dispatched": _dispatched,
    "part.invited": _invited,
    "lead.swapped": _lead_swapped,
    "part.waived": _waived,
    "part.removed": _removed,
    "status.reopened": _reopened,
    "callback.escalated": _callback_escalated,
    "citizen.information": _citizen_information,
    "clock.resumed": _pause_over,
    "part.return_requested": _dispute_opened,
    "dispute.opened": _dispute_opened,
    "dispute.upheld": _dispute_ruled,
    "dispute.overruled": _dispute_ruled,
    "deadline.checkpoint": _checkpoint,
    "merged": _merged,
}


@subscribe(order=20)
def on_ticket_events(events: list[TicketEvent]) -> None:
    """Turn the transaction's new ticket events into notifications."""
    with services.remembered_recipients():
        _notify_for(events)


def _notify_for(events: list[TicketEvent]) -> None:
    for event in events:
        handler = HANDLERS.get(event.type)
        if handler is not None:
            handler(event)
        if not event.public:
            continue
        variant = SUBMITTER_EVENTS.get(event.type)
        if variant is not None:
            extra = {"reason": (event.payload or {}).get("reason") or ""} if variant == "waiting" else {}
            tell_submitter(event.ticket, "ticket_update", f"ev{event.id}:ticket_update", variant=variant, **extra)
        if event.type not in NOT_FOR_FOLLOWERS:
            for follower in event.ticket.followers:
                tell_submitter(follower, "master_update", f"ev{event.id}:master_update:{follower.id}", event=event.type)
