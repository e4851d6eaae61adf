"""JSON API for deadlines: a ticket's clocks, pauses, recorded contact, interim deadlines, the escalation queue."""

from __future__ import annotations

from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from participation.core.api import bp
from participation.core.errors import NotFound, ValidationFailed
from participation.core.permissions import authorize
from participation.core.uow import transaction
from participation.core.validation import json_body, query_limit, record_id
from participation.deadlines import services
from participation.deadlines.models import SlaClock


def clock_json(clock: SlaClock) -> dict:
    return {
        "id": clock.id,
        "kind": clock.kind.value,
        "cycle": clock.cycle,
        "part_id": clock.part_id,
        "department": clock.department.code if clock.department else None,
        "state": clock.state.value,
        "around_the_clock": clock.around_the_clock,
        "started_at": clock.started_at.isoformat(),
        "target_minutes": clock.target_minutes,
        "paused_minutes": clock.paused_minutes,
        "due_at": clock.effective_due.isoformat(),
        "interim": clock.interim_due_at is not None,
        "amber_at": clock.amber_at.isoformat() if clock.amber_at else None,
        "stopped_at": clock.stopped_at.isoformat() if clock.stopped_at else None,
        "level": clock.level,
        "next_level": clock.next_level,
        "next_check_at": clock.next_check_at.isoformat() if clock.next_check_at else None,
    }


def _text(body: dict, name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise ValidationFailed(fields={name: [_("Wrong type of value.")]})
    return value


def _deadlines_of(ticket) -> dict:
    return {
        "ticket_id": ticket.id,
        "priority": ticket.priority,
        "paused_since": ticket.paused_since.isoformat() if ticket.paused_since else None,
        "escalation_level": ticket.escalation_level,
        "clocks": [clock_json(c) for c in services.clocks_of(ticket)],
    }


@bp.get("/tickets/<int:ticket_id>/deadlines")
def ticket_deadlines(ticket_id: int):
    """The ticket's clocks, for whoever may see the ticket."""
    from participation.routing.services import get_ticket

    ticket = get_ticket(ticket_id, current_user)
    authorize(current_user, "routing.ticket.view", ticket)
    return jsonify(_deadlines_of(ticket))


@bp.post("/tickets/<int:ticket_id>/deadlines/<action>")
def ticket_deadline_action(ticket_id: int, action: str):
    """pause {"kind","reason"} · resume {"reason"?} · contact {"note"} · interim {"clock_id","due","reason"}."""
    body = json_body(request)
    with transaction():
        if action == "pause":
            ticket = services.pause(current_user, ticket_id, _text(body, "kind"), _text(body, "reason"))
        elif action == "resume":
            ticket = services.resume(current_user, ticket_id, _text(body, "reason"))
        elif action == "contact":
            ticket = services.record_contact(current_user, ticket_id, _text(body, "note"))
        elif action == "interim":
            clock_id = body.get("clock_id")
            if record_id(clock_id) is None:
                raise ValidationFailed(fields={"clock_id": [_("Wrong type of value.")]})
            clock = services.set_interim_deadline(
                current_user, ticket_id, clock_id, _text(body, "due"), _text(body, "reason")
            )
            ticket = clock.ticket
        else:
            raise NotFound()
    return jsonify(_deadlines_of(ticket))


@bp.get("/escalations")
def escalations():
    """Open tickets past a deadline or escalated (coordinators): `sort=late|level|oldest`; `limit` (1 to
    1000) gives the first so many of that order, `total` how many there are."""
    errors: dict[str, list[str]] = {}
    sort = request.args.get("sort") or "late"
    if sort not in services.ESCALATION_SORTS:
        errors["sort"] = [_("Sort by late, level or oldest.")]
    limit = query_limit(request.args.get("limit"), errors)  # without it, every ticket
    if errors:
        authorize(current_user, "deadlines.escalations.view")  # a stranger learns nothing of the parameters
        raise ValidationFailed(fields=errors)
    rows, total = services.escalation_page(current_user, sort, limit)
    return jsonify(
        {
            "total": total,
            "tickets": [
                {
                    "ticket_id": row["ticket"].id,
                    "escalation_level": row["ticket"].escalation_level,
                    "late_minutes": round(row["late_minutes"]),
                    "late_clocks": [clock_json(clock) for clock, _minutes in row["clocks"]],
                }
                for row in rows
            ],
        }
    )
