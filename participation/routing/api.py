"""JSON API for routing and tickets: the same operations and permissions as the pages."""

from __future__ import annotations

from flask import current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from participation.core.api import bp
from participation.core.errors import NotAuthenticated, ValidationFailed
from participation.core.permissions import is_authenticated
from participation.core.uow import transaction
from participation.core.validation import json_body, query_limit
from participation.extensions import limiter
from participation.routing import services
from participation.routing.serialise import dispute_json, part_json, ticket_json


def _suggest_limit() -> str:
    return current_app.config["SUGGEST_RATE_LIMIT"]


def _field(body: dict, name: str, kind: type = str, required: bool = True):
    value = body.get(name)
    if value is None:
        if required:
            raise ValidationFailed(fields={name: [_("This field is required.")]})
        return None
    if kind is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValidationFailed(fields={name: [_("Give a list of codes.")]})
        return value
    if kind is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationFailed(fields={name: [_("Wrong type of value.")]})
        return value
    if not isinstance(value, str):
        raise ValidationFailed(fields={name: [_("Wrong type of value.")]})
    return value


@bp.post("/routing/suggest")
@limiter.limit(_suggest_limit)
def suggest():
    """The router's decision for a text: categories with confidences, lead, co-handlers, triage or not."""
    body = json_body(request)
    result = services.suggest(
        current_user,
        _field(body, "text"),
        district=_field(body, "district", required=False),
        category=_field(body, "category", required=False),
    )
    return jsonify(result)


@bp.get("/routing/departments")
def departments_for():
    """The lead and co-handlers the catalog gives categories (`categories=A,B`, the primary first) at a
    district (`district=`), as dispatch proposes them (coordinators)."""
    categories = [c for c in (request.args.get("categories") or "").split(",") if c]
    return jsonify(services.departments_for(current_user, categories, request.args.get("district")))


@bp.get("/tickets")
def list_tickets():
    """A department's inbox (`department=CODE`, filters as on the page), a coordinator's queue (`queue=triage`),
    or a search (`q=` a tracking code, #number or words; `state=open|settled`), as on the "find a ticket" page."""
    from participation.catalog.models import Department
    from participation.catalog.services import by_code

    if not is_authenticated(current_user):
        raise NotAuthenticated()  # asked first: a signed-out caller has no inbox to name
    if "q" in request.args:
        found = services.find_tickets(current_user, request.args.get("q"), request.args.get("state"))
        return jsonify({"tickets": [ticket_json(t, current_user) for t in found]})
    queue = request.args.get("queue")
    if queue not in (None, "", "triage", "disputes"):
        raise ValidationFailed(fields={"queue": [_("Give triage or disputes, or leave it out for an inbox.")]})
    if queue == "triage":
        errors: dict[str, list[str]] = {}
        limit = query_limit(request.args.get("limit"), errors)  # the oldest `limit`; without it, every one
        if errors:
            raise ValidationFailed(fields=errors)
        tickets = services.triage_queue(current_user, limit=limit)
        waiting = services.triage_waiting(current_user)
        return jsonify({"tickets": [ticket_json(t, current_user) for t in tickets], "waiting": waiting})
    if queue == "disputes":
        return jsonify({"disputes": [dispute_json(d) for d in services.open_disputes(current_user)]})
    code = request.args.get("department")
    department = by_code(Department, code) if code else None
    if department is None:
        ids = sorted(getattr(current_user, "department_ids", set()) or [])
        if code or not ids:
            raise ValidationFailed(fields={"department": [_("Name one of your departments.")]})
        department_id = ids[0]
    else:
        department_id = department.id
    chosen = {
        "status": request.args.get("status") or None,
        "role": request.args.get("role") or None,
        "category": request.args.get("category") or None,
        "district": request.args.get("district") or None,
        "older_than_days": services.age_days(request.args.get("age")),
        "waiting_for_sender": request.args.get("waiting") in ("1", "true"),
        "due": request.args.get("due") or None,
    }
    limit = current_app.config["INBOX_PAGE_SIZE"]
    parts = services.inbox(current_user, department_id, limit=limit, sort=request.args.get("sort") or None, **chosen)
    total = services.inbox_size(current_user, department_id, **chosen) if len(parts) >= limit else len(parts)
    # `total` counts every part the filters select; `parts` holds the first `INBOX_PAGE_SIZE` of them in order.
    return jsonify({"parts": [part_json(p, with_ticket=True) for p in parts], "total": total})


@bp.get("/tickets/<int:ticket_id>")
def get_ticket(ticket_id: int):
    ticket = services.get_ticket(ticket_id, current_user)
    services.timeline(current_user, ticket)  # authorises
    return jsonify(ticket_json(ticket, current_user, full=True))


def _respond(ticket, status: int = 200):
    return jsonify(ticket_json(ticket, current_user, full=True)), status


@bp.post("/tickets/<int:ticket_id>/<action>")
def ticket_action(ticket_id: int, action: str):
    """dispatch, categories, reply, notes, invite, resolve, lead, reject, reopen, merge."""
    body = json_body(request)
    with transaction():
        if action == "dispatch":
            services.dispatch(
                current_user,
                ticket_id,
                _field(body, "categories", list),
                _field(body, "lead"),
                _field(body, "co", list, required=False) or [],
            )
        elif action == "categories":
            services.recategorise(current_user, ticket_id, _field(body, "categories", list))
        elif action == "reply":
            services.reply_public(current_user, ticket_id, _field(body, "text"))
        elif action == "notes":
            services.add_note(current_user, ticket_id, _field(body, "text"))
        elif action == "invite":
            services.invite(
                current_user, ticket_id, _field(body, "department"), _field(body, "note", required=False) or ""
            )
        elif action == "resolve":
            services.resolve(current_user, ticket_id, _field(body, "reply"))
        elif action == "lead":
            services.swap_lead(current_user, ticket_id, _field(body, "department"), _field(body, "reason"))
        elif action == "reject":
            services.reject(current_user, ticket_id, _field(body, "reason"))
        elif action == "reopen":
            services.reopen(current_user, ticket_id, _field(body, "reason"))
        elif action == "merge":
            services.merge(
                current_user, ticket_id, _field(body, "master_id", int), _field(body, "reason", required=False) or ""
            )
        else:
            from participation.core.errors import NotFound

            raise NotFound()
    return _respond(services.get_ticket(ticket_id, current_user))


@bp.post("/parts/accept")
def bulk_accept():
    body = json_body(request)
    ids = body.get("part_ids")
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ValidationFailed(fields={"part_ids": [_("Give a list of part ids.")]})
    with transaction():
        parts = services.bulk_accept(current_user, ids)
    return jsonify({"parts": [part_json(p) for p in parts]})


@bp.post("/parts/<int:part_id>/<action>")
def part_action(part_id: int, action: str):
    """accept, contribute, rate, return, waive, remove."""
    body = json_body(request) if request.content_length or request.is_json else {}
    with transaction():
        if action == "accept":
            part = services.accept(current_user, part_id)
        elif action == "contribute":
            part = services.contribute(current_user, part_id, _field(body, "note"))
        elif action == "rate":
            part = services.rate(
                current_user, part_id, _field(body, "rating", int), _field(body, "note", required=False) or ""
            )
        elif action == "return":
            dispute = services.request_return(
                current_user,
                part_id,
                _field(body, "kind", required=False) or "return",
                _field(body, "reason"),
                _field(body, "suggested", required=False),
            )
            return jsonify(dispute_json(dispute)), 201
        elif action == "waive":
            part = services.waive(current_user, part_id, _field(body, "reason"))
        elif action == "remove":
            part = services.remove_part(current_user, part_id, _field(body, "reason"))
        else:
            from participation.core.errors import NotFound

            raise NotFound()
    return jsonify(part_json(part))


@bp.post("/disputes/<int:dispute_id>/rule")
def rule_dispute(dispute_id: int):
    body = json_body(request)
    with transaction():
        dispute = services.rule(
            current_user,
            dispute_id,
            _field(body, "decision"),
            _field(body, "note", required=False) or "",
            _field(body, "department", required=False),
        )
    return jsonify(dispute_json(dispute))
