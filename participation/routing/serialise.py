"""JSON shapes of tickets, parts and disputes for staff (citizens get intake's public view)."""

from __future__ import annotations

from typing import Any

from participation.core.permissions import can
from participation.routing.permissions import shown_code


def part_json(part, with_ticket: bool = False) -> dict:
    out = {
        "id": part.id,
        "ticket_id": part.ticket_id,
        "department": part.department.code,
        "role": part.role.value,
        "status": part.status.value,
        "departed": bool(part.departed),  # left the ticket: with role "lead", the former lead
        "created_at": part.created_at.isoformat(),
        "accepted_at": part.accepted_at.isoformat() if part.accepted_at else None,
        "done_at": part.done_at.isoformat() if part.done_at else None,
        "contribution": part.contribution,
        "rating": part.rating,
    }
    if with_ticket:
        ticket = part.ticket
        out["ticket"] = {
            "id": ticket.id,
            "status": ticket.status.value,
            "title": ticket.submission.title or ticket.submission.text[:80],
            "categories": [c.code for c in ticket.categories],
            "district": ticket.district.code if ticket.district else None,
        }
    return out


def dispute_json(dispute) -> dict:
    return {
        "id": dispute.id,
        "ticket_id": dispute.ticket_id,
        "part_id": dispute.part_id,
        "department": dispute.department.code,
        "kind": dispute.kind.value,
        "reason": dispute.reason,
        "suggested": dispute.suggested_department.code if dispute.suggested_department else None,
        "status": dispute.status.value,
        "ruling_note": dispute.ruling_note,
    }


def _payload(event, actor: Any, coordinator: bool) -> dict:
    """An event's details as this reader may read them: suggested masters are the coordinators' to weigh
    (other departments' tickets among them), and the tracking code of the master a ticket was merged into
    is shortened as every code is for the departments (its holder answers the master's callback)."""
    if event.type == "duplicate.suggested" and not coordinator:
        return {}
    payload = event.payload or {}
    if isinstance(payload.get("master_code"), str):
        payload = {**payload, "master_code": shown_code(actor, event.ticket, payload["master_code"])}
    return payload


def ticket_json(ticket, actor: Any, full: bool = False) -> dict:
    submission = ticket.submission
    coordinator = can(actor, "routing.coordinate", ticket)
    out: dict = {
        "id": ticket.id,
        "code": shown_code(actor, ticket),
        "status": ticket.status.value,
        "kind": submission.kind.value,
        "title": submission.title,
        "text": submission.text,
        "district": ticket.district.code if ticket.district else None,
        "categories": [c.code for c in ticket.categories],
        "lead": ticket.lead_department.code if ticket.lead_department else None,
        "routing_confidence": ticket.routing_confidence,
        "suggestions": ticket.suggestions,
        "public_reply": ticket.public_reply,
        "reopen_count": ticket.reopen_count,
        "created_at": ticket.created_at.isoformat(),
        "master_id": ticket.master_id,
        "merged_at": ticket.merged_at.isoformat() if ticket.merged_at else None,
        # Suggested masters are the coordinators' to weigh (other departments' tickets among them).
        "duplicate_candidates": (ticket.duplicate_candidates or []) if coordinator else [],
    }
    if full:
        out["parts"] = [part_json(p) for p in ticket.parts]
        out["followers"] = [{"id": f.id, "code": shown_code(actor, f)} for f in ticket.followers]
        out["timeline"] = [
            {
                "at": e.at.isoformat(),
                "type": e.type,
                "public": e.public,
                "department": e.department.code if e.department else None,
                "actor": e.actor.display_name if e.actor else None,
                "payload": _payload(e, actor, coordinator),
            }
            for e in ticket.events
        ]
        if not submission.anonymous and can(actor, "routing.ticket.view", ticket):
            out["contact"] = {
                "name": submission.contact_name,
                "phone": submission.contact_phone,
                "email": submission.contact_email,
            }
    return out
