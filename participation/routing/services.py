"""Ticket operations: routing, dispatch, and every transition of tickets and their parts.

Each public function is one operation: load, authorise, validate, change (the models refuse
illegal transitions), record TicketEvents, and queue live events to run after commit.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm.attributes import set_committed_value

from participation.catalog.models import Category, Department, District
from participation.core.audit import audit
from participation.core.errors import Conflict, DomainError, NotAuthenticated, NotFound, ValidationFailed
from participation.core.labels import PAUSE_ENDED_WITH_TICKET, name_list, status_label
from participation.core.models import utcnow
from participation.core.permissions import SYSTEM, authorize, can, is_authenticated
from participation.core.validation import record_id, small_int, visible
from participation.extensions import db
from participation.routing.models import (
    OPEN_STATUSES,
    Dispute,
    DisputeKind,
    DisputeStatus,
    PartRole,
    PartStatus,
    Ticket,
    TicketCategory,
    TicketEvent,
    TicketPart,
    TicketStatus,
    TrainingExample,
)

NAMESPACE = "/routing"
NOTE_MAX = 5000


# -- history and live events ---------------------------------------------------------------


def _actor_id(actor: Any) -> int | None:
    return getattr(actor, "id", None) if is_authenticated(actor) else None


def record(
    ticket: Ticket,
    type_: str,
    actor: Any = None,
    *,
    old: str | None = None,
    new: str | None = None,
    public: bool = False,
    department: Department | None = None,
    **payload: Any,
) -> TicketEvent:
    """Append one event to the ticket's history (and the audit log)."""
    event = TicketEvent(
        ticket=ticket,
        type=type_,
        actor_id=_actor_id(actor),
        department_id=department.id if department is not None else None,
        from_status=old,
        to_status=new,
        payload=payload,
        public=public,
    )
    db.session.add(event)
    audit(
        actor,
        f"ticket.{type_}",
        ticket,
        **{k: v for k, v in payload.items() if isinstance(v, str | int | float | list) and k not in SENDERS_WORDS},
    )
    return event


# The sender's own words (a callback's comment, information given while the departments wait) stay in the
# ticket's history, where the rules on who reads it apply; the audit log records that it happened.
SENDERS_WORDS = frozenset({"comment", "information"})


def _announce(ticket: Ticket, event: str, public: bool = False) -> None:
    """Tell everyone watching this ticket, its departments' inboxes and the coordinators; the citizen if public."""
    from participation.core.sockets import publish
    from participation.routing.rooms import department_room, queue_room, ticket_room

    departments = {p.department_id for p in ticket.parts}
    data = {"ticket_id": ticket.id, "status": ticket.status.value, "event": event}
    rooms = [ticket_room(ticket.id), queue_room()] + [department_room(d) for d in sorted(departments)]
    publish("ticket.updated", data, rooms, NAMESPACE)
    if public:
        from participation.intake.services import announce_status

        announce_status(ticket.submission, ticket.status.value)
        for follower in ticket.followers:  # merged items follow their master's progress
            announce_status(follower.submission, follower.status.value, master_status=ticket.status.value)


def open_ticket(submission: Any, actor: Any = None) -> Ticket:
    """Every submission becomes a ticket, first in status `submitted`."""
    if "ticket" not in submission.__dict__:
        # Called once per submission, as it is stored: it has no ticket yet, and need not be asked.
        set_committed_value(submission, "ticket", None)
    ticket = Ticket(submission=submission, status=TicketStatus.SUBMITTED, district=submission.district)
    ticket.parts, ticket.category_links = [], []  # known to be empty: not read back after the first write
    db.session.add(ticket)
    record(ticket, "submitted", actor, new=TicketStatus.SUBMITTED.value, public=True)
    return ticket


def change_status(
    ticket: Ticket, status: str, actor: Any = None, *, public: bool = True, **payload: Any
) -> TicketEvent:
    """Move the ticket (the model refuses illegal moves) and record it. A pause running when the ticket
    leaves the open states ends with it: a reopened ticket starts with its clocks running, and waits for
    nobody."""
    new = TicketStatus(status)
    old = ticket.move_to(new)
    if new not in OPEN_STATUSES:
        _end_pause(ticket)
    return record(ticket, f"status.{new.value}", actor, old=old.value, new=new.value, public=public, **payload)


def _end_pause(ticket: Ticket) -> None:
    """A pause running when the ticket leaves the open states (closed, withdrawn, merged) ends with it."""
    if ticket.paused_since is not None:
        ticket.paused_since = None
        record(ticket, "clock.resumed", None, reason=PAUSE_ENDED_WITH_TICKET, automatic=True)


# -- loading ---------------------------------------------------------------------------------


def get_ticket(ticket_id: int, actor: Any) -> Ticket:
    """The ticket; asked for by a signed-in actor who may not know it exists, the same "no such ticket"
    as for a number never given out (the rule "routing.ticket.find"). The actor is required: only the
    platform's own callers (tasks, the command line) pass None, and say so."""
    _signed_in(actor)
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None or _hidden_from(actor, ticket):
        raise NotFound(_("No such ticket."))
    return ticket


def get_part(part_id: int, actor: Any) -> TicketPart:
    _signed_in(actor)
    part = db.session.get(TicketPart, part_id)
    if part is None or _hidden_from(actor, part.ticket):
        raise NotFound(_("No such part."))
    return part


def _signed_in(actor: Any) -> None:
    """Someone not signed in is asked to sign in before any number is looked up: the same answer whether
    or not the ticket exists. (No actor at all is the platform's own call: a task, the command line.)"""
    if actor is not None and not is_authenticated(actor):
        raise NotAuthenticated()


def _hidden_from(actor: Any, ticket: Ticket) -> bool:
    return is_authenticated(actor) and not can(actor, "routing.ticket.find", ticket)


def _department(code: str | None, field: str) -> Department:
    department = db.session.scalar(select(Department).where(Department.code == (code or ""), Department.active))
    if department is None:
        if not (code or "").strip():
            raise ValidationFailed(fields={field: [_("Choose a department.")]})
        raise ValidationFailed(fields={field: [_("Unknown department %(code)s.", code=code)]})
    return department


def _text(value: str | None, field: str, required: bool = True, limit: int = NOTE_MAX) -> str:
    value = (value or "").strip()
    if required and not visible(value):
        raise ValidationFailed(fields={field: [_("This field cannot be empty.")]})
    if len(value) > limit:
        raise ValidationFailed(fields={field: [_("At most %(n)s characters.", n=limit)]})
    return value


# -- routing ---------------------------------------------------------------------------------


def suggest(actor: Any, text: str, district: str | None = None, category: str | None = None) -> dict:
    """The router's decision for a text, without creating anything."""
    from participation.accounts.models import Role
    from participation.routing.engine import current_router, decide

    authorize(actor, "routing.suggest")
    text = _text(text, "text", limit=current_app.config["SUBMISSION_MAX_CHARS"])
    router = current_router()
    if district and district not in _district_codes():
        raise ValidationFailed(fields={"district": [_("Unknown district.")]})
    if category and category not in router.catalog.categories:
        raise ValidationFailed(fields={"category": [_("Unknown category.")]})
    enterprise = is_authenticated(actor) and actor is not SYSTEM and actor.has_role(Role.ENTERPRISE)
    return decide(router, text, district, category, enterprise).as_dict()


def departments_for(actor: Any, categories: list[str], district: str | None = None) -> dict:
    """The lead and co-handlers the catalog gives these categories (the first is the primary) at this
    district, as dispatch would propose them: what the dispatch form fills in when the coordinator
    changes the categories."""
    from participation.routing.engine import departments_now

    authorize(actor, "routing.triage.view")
    errors: dict[str, list[str]] = {}
    known = set(db.session.scalars(select(Category.code).where(Category.active)))
    if not categories:
        errors["categories"] = [_("Choose a category.")]
    elif len(categories) > 10 or any(c not in known for c in categories):
        errors["categories"] = [_("Unknown category.")]
    if district and district not in _district_codes():
        errors["district"] = [_("Unknown district.")]
    if errors:
        raise ValidationFailed(fields=errors)
    lead, co = departments_now(categories, district or None)
    return {"lead": lead, "co": co}


def _district_codes() -> set[str]:
    return set(db.session.scalars(select(District.code)))


def route(ticket: Ticket) -> None:
    """Ask the router and look for duplicates; merge a near-certain duplicate, dispatch when confident, else triage."""
    from participation.routing.engine import current_router, decide

    submission = ticket.submission
    router = current_router()
    text = submission.full_text
    enterprise = submission.organisation_id is not None
    # The decision reads the catalog and other tickets only: the ticket's pending changes need not be
    # written first (each early write is a flush of its own, the costliest part of routing).
    with db.session.no_autoflush:
        decision = decide(
            router,
            text,
            submission.district.code if submission.district else None,
            submission.category.code if submission.category else None,
            enterprise,
        )
    ticket.routing_confidence = decision.confidence
    ticket.suggestions = decision.as_dict()["suggestions"]
    record(ticket, "routed", None, confidence=round(decision.confidence, 4), decision=decision.as_dict())
    if _suggest_masters(ticket):
        return
    if not decision.needs_triage and current_app.config["ROUTING_AUTO_DISPATCH"] and decision.lead:
        _dispatch(ticket, [c for c, _p in decision.categories], decision.lead, decision.co, SYSTEM, automatic=True)
    else:
        _announce(ticket, "triage")


def dispatch(actor: Any, ticket_id: int, categories: list[str], lead: str, co: list[str]) -> Ticket:
    """The coordinator's dispatch from triage; the decision becomes training data for the router."""
    ticket = get_ticket(ticket_id, actor)
    authorize(actor, "routing.dispatch", ticket)
    if ticket.status != TicketStatus.TRIAGE:
        raise Conflict(_("Only tickets waiting in triage can be dispatched."))
    _dispatch(ticket, categories, lead, co, actor, automatic=False)
    text = ticket.submission.full_text
    db.session.add(TrainingExample(text=text, categories=list(dict.fromkeys(categories)), ticket_id=ticket.id))
    from participation.routing.engine import note_confirmation

    note_confirmation()
    return ticket


def _categories(codes: list[str]) -> dict[str, Category]:
    """Active categories by code, in the order given (the first is primary); unknown codes are refused."""
    codes = list(dict.fromkeys(codes))
    if not codes:
        raise ValidationFailed(fields={"categories": [_("Choose at least one category.")]})
    rows = {c.code: c for c in db.session.scalars(select(Category).where(Category.code.in_(codes), Category.active))}
    unknown = [c for c in codes if c not in rows]
    if unknown:
        raise ValidationFailed(fields={"categories": [_("Unknown category %(code)s.", code=name_list(unknown))]})
    return {code: rows[code] for code in codes}


def _set_categories(ticket: Ticket, categories: dict[str, Category]) -> None:
    if ticket.category_links:  # replacing: the old links go first
        for link in list(ticket.category_links):
            ticket.category_links.remove(link)
        db.session.flush()
    for index, category in enumerate(categories.values()):
        ticket.category_links.append(TicketCategory(category_id=category.id, primary=index == 0))


def recategorise(actor: Any, ticket_id: int, categories: list[str]) -> Ticket:
    """The coordinator corrects a dispatched ticket's categories; the correction trains the router.

    Departments stay as they are (swap the lead or add co-handlers for that)."""
    ticket = get_ticket(ticket_id, actor)
    authorize(actor, "routing.coordinate", ticket)
    _open_for_work(ticket)
    found = _categories(categories)
    before = [c.code for c in ticket.categories]
    _set_categories(ticket, found)
    codes = list(found)
    record(ticket, "recategorised", actor, before=before, after=codes)
    text = ticket.submission.full_text
    db.session.add(TrainingExample(text=text, categories=codes, ticket_id=ticket.id, source="correction"))
    from participation.routing.engine import note_confirmation

    note_confirmation()
    _announce(ticket, "recategorised")
    return ticket


def _dispatch(ticket: Ticket, categories: list[str], lead: str, co: list[str], actor: Any, automatic: bool) -> None:
    # Every problem of the dispatch form at once (no category and no lead chosen: both are said).
    errors: dict[str, list[str]] = {}

    def checked(read, otherwise):
        try:
            return read()
        except ValidationFailed as error:
            errors.update(error.fields or {})
            return otherwise

    found = checked(lambda: _categories(categories), {})
    wanted = {lead, *co}
    known = {
        d.code: d for d in db.session.scalars(select(Department).where(Department.code.in_(wanted), Department.active))
    }
    lead_department = checked(lambda: known.get(lead) or _department(lead, "lead"), None)
    co_departments = checked(
        lambda: [known.get(code) or _department(code, "co") for code in dict.fromkeys(co) if code != lead], []
    )
    if errors:
        raise ValidationFailed(fields=errors)
    _set_categories(ticket, found)
    old = ticket.move_to(TicketStatus.DISPATCHED)
    ticket.lead_department = lead_department
    ticket.dispatched_at = utcnow()
    _add_part(ticket, lead_department, PartRole.LEAD)
    for department in co_departments:
        _add_part(ticket, department, PartRole.CO)
    names = [lead_department.name_zh] + [d.name_zh for d in co_departments]
    names_en = [lead_department.name_en] + [d.name_en for d in co_departments]
    record(
        ticket,
        "dispatched",
        actor,
        old=old.value,
        new=TicketStatus.DISPATCHED.value,
        public=True,
        automatic=automatic,
        categories=list(dict.fromkeys(categories)),
        lead=lead_department.code,
        co=[d.code for d in co_departments],
        departments_zh=names,
        departments_en=names_en,
    )
    _announce(ticket, "dispatched", public=True)


def _take_lead(ticket: Ticket, department: Department) -> TicketPart:
    """The department leads: a co-handling part it already has becomes the lead part (open again if it
    was done or waived), else it gets a new one."""
    existing = ticket.part_for(department.id)
    if existing is None:
        return _add_part(ticket, department, PartRole.LEAD)
    existing.role = PartRole.LEAD
    if existing.status in (PartStatus.DONE, PartStatus.WAIVED):
        existing.status = PartStatus.ACCEPTED
    return existing


def _add_part(ticket: Ticket, department: Department, role: PartRole) -> TicketPart:
    existing = next((p for p in ticket.parts if p.department_id == department.id), None)
    if existing is not None:
        if existing.status != PartStatus.ENDED:
            raise Conflict(_("%(name)s already has a part in this ticket.", name=department.name))
        existing.role, existing.status, existing.accepted_at, existing.done_at = role, PartStatus.PENDING, None, None
        existing.departed = False
        existing.assigned_at = utcnow()
        return existing
    part = TicketPart(
        ticket=ticket,
        department=department,
        department_id=department.id,
        role=role,
        status=PartStatus.PENDING,  # set now, not at the flush: the caller may look at it before (swap_lead)
        assigned_at=utcnow(),
    )
    db.session.add(part)
    return part


# -- department work -------------------------------------------------------------------------


def accept(actor: Any, part_id: int) -> TicketPart:
    """Sign for a part; the lead's signature puts the ticket in progress."""
    part = get_part(part_id, actor)
    authorize(actor, "routing.part.work", part)
    part.accept(actor.id, utcnow())
    ticket = part.ticket
    record(ticket, "part.accepted", actor, department=part.department, part_id=part.id, role=part.role.value)
    if part.role == PartRole.LEAD and ticket.status in (TicketStatus.DISPATCHED, TicketStatus.REOPENED):
        change_status(ticket, TicketStatus.IN_PROGRESS.value, actor, public=True)
        _announce(ticket, "part.accepted", public=True)
    else:
        _announce(ticket, "part.accepted")
    return part


def bulk_accept(actor: Any, part_ids: list[int]) -> list[TicketPart]:
    """Sign for several parts at once: all of them, or none if one cannot be signed for (the message names
    its ticket). A part a colleague has signed for meanwhile is left as it is: what was asked is done.
    Returns the parts signed for now."""
    authorize(actor, "routing.part.sign")
    if not part_ids:
        raise ValidationFailed(fields={"part_ids": [_("Choose at least one ticket.")]})
    if any(record_id(i) is None for i in part_ids):
        raise ValidationFailed(fields={"part_ids": [_("No such ticket.")]})
    accepted = []
    for part_id in dict.fromkeys(part_ids):
        part = db.session.get(TicketPart, part_id)
        if part is not None and part.status == PartStatus.ACCEPTED and can(actor, "routing.part.work", part):
            continue
        try:
            accepted.append(accept(actor, part_id))
        except DomainError as error:  # say which ticket stopped the batch
            if part is not None and can(actor, "routing.ticket.find", part.ticket):
                error.message = _("Ticket #%(id)s: %(why)s", id=part.ticket_id, why=error.message)
                error.args = (error.message,)
            raise
    return accepted


def reply_public(actor: Any, ticket_id: int, text: str) -> Ticket:
    """The lead department's reply, shown to the citizen (without staff names)."""
    ticket = get_ticket(ticket_id, actor)
    authorize(actor, "routing.ticket.lead", ticket)
    _open_for_work(ticket)
    text = _text(text, "text")
    ticket.public_reply, ticket.public_reply_at = text, utcnow()
    record(ticket, "reply", actor, public=True, department=ticket.lead_department, message=text)
    _announce(ticket, "reply", public=True)
    return ticket


def add_note(actor: Any, ticket_id: int, text: str) -> TicketEvent:
    """An internal note for the departments and the coordinator; never shown to the citizen."""
    ticket = get_ticket(ticket_id, actor)
    authorize(actor, "routing.ticket.note", ticket)
    text = _text(text, "text")
    department = _acting_department(actor, ticket)
    event = record(ticket, "note", actor, department=department, message=text)
    _announce(ticket, "note")
    return event


def _acting_department(actor: Any, ticket: Ticket) -> Department | None:
    """The actor's department on the ticket: one still on it before one that left (a person may work
    for several)."""
    ids = getattr(actor, "department_ids", set())
    mine = sorted((p for p in ticket.parts if p.department_id in ids), key=lambda p: p.departed)
    return mine[0].department if mine else None


def _open_for_work(ticket: Ticket) -> None:
    if ticket.status not in (TicketStatus.DISPATCHED, TicketStatus.IN_PROGRESS, TicketStatus.REOPENED):
        raise Conflict(
            _("This ticket is %(status)s; no more work can be done on it.", status=status_label(ticket.status.value))
        )


def invite(actor: Any, ticket_id: int, department_code: str, note: str = "") -> TicketPart:
    """The lead (or the coordinator) brings in a co-handling department."""
    ticket = get_ticket(ticket_id, actor)
    authorize(actor, "routing.ticket.invite", ticket)
    _open_for_work(ticket)
    department = _department(department_code, "department")
    note = _text(note, "note", required=False)
    part = _add_part(ticket, department, PartRole.CO)
    db.session.flush()
    record(ticket, "part.invited", actor, department=department, part_id=part.id, note=note)
    _announce(ticket, "part.invited", public=True)  # the departments the citizen sees changed
    return part


def contribute(actor: Any, part_id: int, note: str) -> TicketPart:
    """A co-handler records its contribution and finishes its part."""
    part = get_part(part_id, actor)
    authorize(actor, "routing.part.work", part)
    _open_for_work(part.ticket)
    part.contribute(_text(note, "note"), utcnow())
    record(part.ticket, "part.contributed", actor, department=part.department, part_id=part.id)
    _announce(part.ticket, "part.contributed")
    return part


def rate(actor: Any, part_id: int, rating: int, note: str = "") -> TicketPart:
    """The lead rates a co-handler's contribution, 1 to 5."""
    part = get_part(part_id, actor)
    authorize(actor, "routing.ticket.lead", part.ticket)
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise ValidationFailed(fields={"rating": [_("Give a whole number from 1 to 5.")]})
    part.rate(rating, _text(note, "note", required=False))
    record(part.ticket, "part.rated", actor, department=part.department, part_id=part.id, rating=rating)
    _announce(part.ticket, "part.rated")
    return part


def request_return(actor: Any, part_id: int, kind: str, reason: str, suggested: str | None = None) -> Dispute:
    """Ask the coordinator to take a part back ("not our responsibility") or transfer it."""
    part = get_part(part_id, actor)
    authorize(actor, "routing.part.work", part)
    _open_for_work(part.ticket)
    try:
        dispute_kind = DisputeKind(kind)
    except ValueError:
        raise ValidationFailed(fields={"kind": [_("Choose return or transfer.")]}) from None
    reason = _text(reason, "reason")
    suggested_department = _department(suggested, "suggested") if suggested else None
    if dispute_kind == DisputeKind.TRANSFER and suggested_department is None:
        raise ValidationFailed(fields={"suggested": [_("Name the department to transfer to.")]})
    if suggested_department is not None and suggested_department.id == part.department_id:
        raise ValidationFailed(fields={"suggested": [_("Suggest another department.")]})
    part.request_return()
    dispute = Dispute(
        ticket=part.ticket,
        part=part,
        department_id=part.department_id,
        kind=dispute_kind,
        reason=reason,
        suggested_department=suggested_department,
        created_by_id=actor.id,
    )
    db.session.add(dispute)
    db.session.flush()
    record(
        part.ticket,
        "part.return_requested",
        actor,
        department=part.department,
        part_id=part.id,
        dispute_id=dispute.id,
        kind=dispute_kind.value,
        reason=reason,
        suggested=suggested_department.code if suggested_department else None,
    )
    _announce(part.ticket, "part.return_requested")
    return dispute


def resolve(actor: Any, ticket_id: int, reply: str) -> Ticket:
    """The lead closes the work: every co part done or waived, and a reply to the citizen."""
    ticket = get_ticket(ticket_id, actor)
    authorize(actor, "routing.ticket.lead", ticket)
    reply = _text(reply, "reply")
    if not ticket.is_open:  # resolved already (by a colleague, on another page), or closed
        raise Conflict(_("This ticket is %(status)s and cannot be resolved.", status=status_label(ticket.status.value)))
    lead = ticket.lead_part
    if lead is None or lead.status != PartStatus.ACCEPTED:
        raise Conflict(_("The lead department must have signed for the ticket before resolving it."))
    open_parts = [
        p.department.name
        for p in ticket.parts
        if p.role == PartRole.CO and p.status not in (PartStatus.DONE, PartStatus.WAIVED, PartStatus.ENDED)
    ]
    if open_parts:
        raise Conflict(_("These co-handling departments have not finished: %(names)s.", names=name_list(open_parts)))
    if ticket.status not in (TicketStatus.IN_PROGRESS, TicketStatus.REOPENED):
        raise Conflict(_("This ticket is %(status)s and cannot be resolved.", status=status_label(ticket.status.value)))
    now = utcnow()
    lead.finish_lead(now)
    ticket.public_reply, ticket.public_reply_at, ticket.resolved_at = reply, now, now
    change_status(ticket, TicketStatus.RESOLVED.value, actor, public=True, message=reply)
    _announce(ticket, "resolved", public=True)
    return ticket


# -- coordination ----------------------------------------------------------------------------


def rule(actor: Any, dispute_id: int, decision: str, note: str = "", department: str | None = None) -> Dispute:
    """Uphold (the part ends; routing continues elsewhere) or overrule (back to work, counted as wrongful)."""
    # Only coordinators rule; anyone else is refused before the number is looked up, so that dispute
    # numbers cannot be probed.
    authorize(actor, "routing.dispute.rule", None)
    dispute = db.session.get(Dispute, dispute_id)
    if dispute is None:
        raise NotFound(_("No such dispute."))
    if dispute.status != DisputeStatus.OPEN:
        raise Conflict(_("This dispute has already been ruled on."))
    note = _text(note, "note", required=False)
    part, ticket = dispute.part, dispute.ticket
    now = utcnow()
    if decision == "overruled":
        part.overrule(now)
        dispute.status = DisputeStatus.OVERRULED
    elif decision == "upheld":
        target_code = department or (dispute.suggested_department.code if dispute.suggested_department else None)
        target = _department(target_code, "department") if target_code else None
        if target is not None and target.id == part.department_id:
            raise ValidationFailed(fields={"department": [_("Choose another department.")]})
        if target is not None and part.role != PartRole.LEAD and ticket.part_for(target.id) is not None:
            # A co-handler's part handed to a department already on the ticket would hand it nothing: the
            # department's own suggestion of one is taken as "it is already being handled there"; a
            # department the coordinator names is refused.
            if not department:
                target = None
        if target is not None and part.role != PartRole.LEAD and ticket.part_for(target.id) is not None:
            raise ValidationFailed(
                fields={
                    "department": [
                        _(
                            "%(name)s already has a part in this ticket: choose another department, or none.",
                            name=target.name,
                        )
                    ]
                }
            )
        part.leave()
        dispute.status = DisputeStatus.UPHELD
        if part.role == PartRole.LEAD:
            if target is None:
                raise ValidationFailed(fields={"department": [_("Name the department that takes the lead.")]})
            ticket.lead_department = target
            _take_lead(ticket, target)
            if ticket.status in (TicketStatus.IN_PROGRESS, TicketStatus.REOPENED):
                change_status(ticket, TicketStatus.DISPATCHED.value, actor, public=False)
            _tell_sender_of_new_lead(ticket, target, actor)
        elif target is not None:
            _add_part(ticket, target, PartRole.CO)
    else:
        raise ValidationFailed(fields={"decision": [_("Choose upheld or overruled.")]})
    dispute.ruled_by_id, dispute.ruled_at, dispute.ruling_note = actor.id, now, note
    record(
        ticket,
        f"dispute.{dispute.status.value}",
        actor,
        department=part.department,
        dispute_id=dispute.id,
        part_id=part.id,
        note=note,
        new_department=(target.code if target is not None else None) if decision == "upheld" else None,
    )
    _announce(ticket, f"dispute.{dispute.status.value}", public=dispute.status == DisputeStatus.UPHELD)
    return dispute


def waive(actor: Any, part_id: int, reason: str) -> TicketPart:
    part = get_part(part_id, actor)
    authorize(actor, "routing.coordinate", part.ticket)
    _open_for_work(part.ticket)
    reason = _text(reason, "reason")
    _close_open_disputes(part, actor, reason)
    part.waive()
    record(part.ticket, "part.waived", actor, department=part.department, part_id=part.id, reason=reason)
    _announce(part.ticket, "part.waived", public=True)
    return part


def remove_part(actor: Any, part_id: int, reason: str) -> TicketPart:
    part = get_part(part_id, actor)
    authorize(actor, "routing.coordinate", part.ticket)
    _open_for_work(part.ticket)
    if part.role == PartRole.LEAD:
        raise Conflict(_("Swap the lead instead of removing it."))
    reason = _text(reason, "reason")
    _close_open_disputes(part, actor, reason)
    part.leave()
    record(part.ticket, "part.removed", actor, department=part.department, part_id=part.id, reason=reason)
    _announce(part.ticket, "part.removed", public=True)
    return part


def _end_open_parts(ticket: Ticket, actor: Any, reason: str) -> None:
    """The ticket is over for every department still on it (rejected or withdrawn)."""
    for part in ticket.parts:
        if part.status in (PartStatus.PENDING, PartStatus.ACCEPTED, PartStatus.RETURN_REQUESTED):
            _close_open_disputes(part, actor, reason)
            part.end()


def _close_open_disputes(part: TicketPart, actor: Any, note: str) -> None:
    """A return or transfer request still open when its part ends another way (waived, removed, swapped out
    as lead, the ticket rejected or withdrawn) is settled with it: the department leaves, as it asked. Its
    own internal event says so, beside the step's."""
    for dispute in db.session.scalars(
        select(Dispute).where(Dispute.part_id == part.id, Dispute.status == DisputeStatus.OPEN)
    ):
        dispute.status, dispute.ruled_by_id, dispute.ruled_at, dispute.ruling_note = (
            DisputeStatus.UPHELD,
            actor.id,
            utcnow(),
            note,
        )
        record(
            part.ticket,
            "dispute.closed",
            actor,
            department=part.department,
            dispute_id=dispute.id,
            part_id=part.id,
            kind=dispute.kind.value,
            note=note,
        )


def swap_lead(actor: Any, ticket_id: int, department_code: str, reason: str) -> Ticket:
    """The coordinator gives the lead to another department; the old lead leaves the ticket."""
    ticket = get_ticket(ticket_id, actor)
    authorize(actor, "routing.coordinate", ticket)
    _open_for_work(ticket)
    reason = _text(reason, "reason")
    target = _department(department_code, "department")
    old = ticket.lead_part
    if old is not None and old.department_id == target.id:
        raise ValidationFailed(fields={"department": [_("This department is already the lead.")]})
    if old is not None:
        _close_open_disputes(old, actor, reason)
        old.leave()
    _take_lead(ticket, target)
    ticket.lead_department = target
    if (
        ticket.status in (TicketStatus.IN_PROGRESS, TicketStatus.REOPENED)
        and ticket.lead_part.status == PartStatus.PENDING
    ):
        change_status(ticket, TicketStatus.DISPATCHED.value, actor, public=False)
    record(
        ticket, "lead.swapped", actor, department=target, reason=reason, previous=old.department.code if old else None
    )
    _tell_sender_of_new_lead(ticket, target, actor)
    _announce(ticket, "lead.swapped", public=True)
    return ticket


def _tell_sender_of_new_lead(ticket: Ticket, lead: Department, actor: Any) -> None:
    """The sender's timeline says which department leads now (a lead swap, an upheld return or transfer of
    the lead's part): the status goes back to dispatched for the new lead to sign for, and without this
    the last public entry would still speak of the old lead's work. Why it changed stays internal."""
    record(
        ticket,
        "lead.changed",
        actor,
        public=True,
        department=lead,
        departments_zh=[lead.name_zh],
        departments_en=[lead.name_en],
    )


def reject(actor: Any, ticket_id: int, reason: str) -> Ticket:
    """Spam or invalid: the coordinator closes it with a reason the citizen sees."""
    ticket = get_ticket(ticket_id, actor)
    authorize(actor, "routing.coordinate", ticket)
    reason = _text(reason, "reason")
    change_status(ticket, TicketStatus.REJECTED.value, actor, public=True, message=reason)
    _end_open_parts(ticket, actor, reason)
    _announce(ticket, "rejected", public=True)
    return ticket


def reopen(actor: Any, ticket_id: int, reason: str) -> Ticket:
    """Back to work after resolution: the lead's part reopens, the count goes up."""
    ticket = get_ticket(ticket_id, actor)
    authorize(actor, "routing.ticket.reopen", ticket)
    reason = _text(reason, "reason")
    change_status(ticket, TicketStatus.REOPENED.value, actor, public=True, message=reason)
    ticket.reopen_count += 1
    ticket.resolved_at = None
    # The reply that went with the resolution no longer answers the request (it stays in the timeline).
    ticket.public_reply, ticket.public_reply_at = "", None
    if ticket.lead_part is not None and ticket.lead_part.status == PartStatus.DONE:
        ticket.lead_part.reopen()
    _announce(ticket, "reopened", public=True)
    return ticket


def withdraw(ticket: Ticket, actor: Any, reason: str) -> Ticket:
    """The submitter takes the request back (authorised by intake); the departments stop work."""
    change_status(ticket, TicketStatus.WITHDRAWN.value, actor, public=True, reason=reason)
    _end_open_parts(ticket, actor, reason or "withdrawn")
    _announce(ticket, "withdrawn", public=True)
    return ticket


# -- reading ---------------------------------------------------------------------------------


def timeline(actor: Any, ticket: Ticket) -> list[TicketEvent]:
    """Every event for staff and coordinators (this function is never used for citizens)."""
    authorize(actor, "routing.ticket.view", ticket)
    return list(ticket.events)


def _district_and_below(code: str) -> list[int]:
    """A district's id with those of its sub-districts, at any depth (a district chosen in the inbox's
    filter holds the tickets of its sub-districts); none for an unknown code."""
    place = db.session.scalar(select(District).where(District.code == code))
    out: list[int] = []
    stack = [place] if place is not None else []
    while stack:
        node = stack.pop()
        out.append(node.id)
        stack.extend(node.children)
    return out


AGE_MAX_DAYS = 36500  # an inbox filter's "older than" beyond a century is a typing slip, not a question


def age_days(value: str | None) -> int | None:
    """The inbox's "older than N days" filter as given in a query string: None when empty."""
    if value is None or not value.strip():
        return None
    days = small_int(value)
    if days is None or days > AGE_MAX_DAYS:
        raise ValidationFailed(fields={"age": [_("Give a whole number of days from 0 to %(n)s.", n=AGE_MAX_DAYS)]})
    return days


def _inbox_statement(
    actor: Any,
    department_id: int,
    *,
    status: str | None = None,
    role: str | None = None,
    category: str | None = None,
    district: str | None = None,
    older_than_days: int | None = None,
    include_closed: bool = False,
    waiting_for_sender: bool = False,
    due: str | None = None,
):
    """The department's parts that the inbox's filters select (authorised and validated), unordered.
    `due`: "overdue" or "soon", the parts still to work on whose nearest running deadline has passed or
    falls within DUE_SOON_HOURS (as the work overview counts them)."""
    from datetime import timedelta

    department = db.session.get(Department, department_id)
    if department is None:
        raise NotFound()
    authorize(actor, "routing.inbox", department)
    stmt = (
        select(TicketPart)
        .join(Ticket, TicketPart.ticket_id == Ticket.id)
        .where(TicketPart.department_id == department_id, TicketPart.status != PartStatus.ENDED)
    )
    if not include_closed:
        stmt = stmt.where(Ticket.status.in_([s for s in TicketStatus if s not in _CLOSED]))
    if status:
        try:
            stmt = stmt.where(TicketPart.status == PartStatus(status))
        except ValueError:
            raise ValidationFailed(fields={"status": [_("Unknown status.")]}) from None
    if role:
        try:
            stmt = stmt.where(TicketPart.role == PartRole(role))
        except ValueError:
            raise ValidationFailed(fields={"role": [_("Unknown role.")]}) from None
    if category:
        stmt = (
            stmt.join(TicketCategory, TicketCategory.ticket_id == Ticket.id)
            .join(Category, Category.id == TicketCategory.category_id)
            .where(Category.code == category)
        )
    if district:
        stmt = stmt.where(Ticket.district_id.in_(_district_and_below(district)))
    if older_than_days is not None:
        if not 0 <= older_than_days <= AGE_MAX_DAYS:
            raise ValidationFailed(fields={"age": [_("Give a whole number of days from 0 to %(n)s.", n=AGE_MAX_DAYS)]})
        stmt = stmt.where(TicketPart.created_at <= utcnow() - timedelta(days=older_than_days))
    if waiting_for_sender:  # the tickets paused until their sender answers what was asked
        stmt = stmt.where(Ticket.paused_since.is_not(None), _paused_for_sender())
    if due:
        if due not in ("overdue", "soon"):
            raise ValidationFailed(fields={"due": [_("Choose past a deadline or due soon.")]})
        stmt = stmt.where(Ticket.status.in_(OPEN_STATUSES), _in_work(), _due(due, utcnow()))
    return stmt


def inbox(
    actor: Any, department_id: int, *, limit: int = 200, sort: str | None = None, **filters: Any
) -> list[TicketPart]:
    """The department's parts, filtered; newest first, or (`sort`) the nearest running deadline first
    ("deadline", the parts without one last) or the oldest first ("oldest"). The first `limit` of them:
    `inbox_size` says how many there are."""
    stmt = _inbox_statement(actor, department_id, **filters)
    if sort not in INBOX_SORTS:
        raise ValidationFailed(fields={"sort": [_("Sort by newest, oldest or nearest deadline.")]})
    if sort == "deadline":
        order = [_nearest_deadline().asc().nulls_last(), TicketPart.id]  # the deadline read once a part
    elif sort == "oldest":
        order = [TicketPart.id]
    else:
        order = [TicketPart.id.desc()]
    return list(db.session.scalars(stmt.order_by(*order).limit(limit)).unique())


INBOX_SORTS = (None, "", "newest", "oldest", "deadline")

DUE_SOON_HOURS = 24  # "due soon" on the work overview: a running deadline within this many hours


def department_workload(actor: Any, department_id: int, at: Any = None) -> dict[str, int]:
    """What waits for a department, as counts (the work overview): parts to sign for, parts in hand,
    return or transfer requests awaiting the coordinator's ruling, parts past or near their nearest
    running deadline, and the lead's tickets paused while waiting for their sender."""

    from sqlalchemy import case

    department = db.session.get(Department, department_id)
    if department is None:
        raise NotFound()
    authorize(actor, "routing.inbox", department)
    at = at or utcnow()
    status = TicketPart.status
    in_work = _in_work()

    def count(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    row = db.session.execute(
        select(
            count(status == PartStatus.PENDING),
            count(status == PartStatus.ACCEPTED),
            count(status == PartStatus.RETURN_REQUESTED),
            count(in_work & _due("overdue", at)),
            count(in_work & _due("soon", at)),
            count(
                (TicketPart.role == PartRole.LEAD) & in_work & Ticket.paused_since.is_not(None) & _paused_for_sender()
            ),
        )
        .select_from(TicketPart)
        .join(Ticket, Ticket.id == TicketPart.ticket_id)
        .where(
            TicketPart.department_id == department_id,
            TicketPart.status != PartStatus.ENDED,
            Ticket.status.in_(OPEN_STATUSES),
        )
    ).one()
    keys = ("to_sign", "in_hand", "returns", "overdue", "due_soon", "waiting_for_sender")
    return dict(zip(keys, (int(v or 0) for v in row), strict=True))


def coordination_workload(actor: Any, at: Any = None) -> dict[str, int]:
    """What waits for the coordination centre, as counts: tickets in triage, open disputes, and the
    tickets of the escalation queue (open ones past a deadline, or escalated)."""
    from participation.deadlines.services import escalation_count

    authorize(actor, "routing.triage.view")
    disputes = db.session.scalar(select(func.count()).select_from(Dispute).where(Dispute.status == DisputeStatus.OPEN))
    return {"triage": triage_waiting(actor), "disputes": disputes or 0, "escalations": escalation_count(actor, at)}


def _due(window: str, at: Any):
    """A part's nearest running deadline has passed ("overdue") or falls within DUE_SOON_HOURS ("soon")."""
    from datetime import timedelta

    nearest = _nearest_deadline()
    if window == "overdue":
        return nearest < at
    return (nearest >= at) & (nearest < at + timedelta(hours=DUE_SOON_HOURS))


def _in_work():
    """A part still to work on: pending, signed for or returned; a finished co part has nothing left to do,
    while a lead part stays in hand until its ticket is resolved."""
    status = TicketPart.status
    active = status.in_([PartStatus.PENDING, PartStatus.ACCEPTED, PartStatus.RETURN_REQUESTED])
    return active | ((TicketPart.role == PartRole.LEAD) & (status == PartStatus.DONE))


def _paused_for_sender():
    """The ticket's running pause waits for its sender: its latest pause is the public kind (as
    deadlines.waiting_for_citizen reads it)."""
    latest = (
        select(TicketEvent.public)
        .where(TicketEvent.ticket_id == Ticket.id, TicketEvent.type == "clock.paused")
        .order_by(TicketEvent.id.desc())
        .limit(1)
        .correlate(Ticket)
        .scalar_subquery()
    )
    return latest.is_(True)


def _nearest_deadline():
    """The part's nearest running deadline, as the inbox shows it (deadlines.open_clocks_by_part): its
    sign-for or contribution clock, and for the lead's part the ticket's first-contact and resolution
    clocks. A paused clock has no deadline to meet while it waits."""
    from sqlalchemy import and_, or_

    from participation.deadlines.models import ClockState, SlaClock

    return (
        select(func.min(SlaClock.effective_due))
        .where(
            SlaClock.state == ClockState.RUNNING,
            or_(
                SlaClock.part_id == TicketPart.id,
                and_(
                    SlaClock.part_id.is_(None),
                    SlaClock.ticket_id == TicketPart.ticket_id,
                    TicketPart.department_id == Ticket.lead_department_id,
                ),
            ),
        )
        .correlate(TicketPart, Ticket)
        .scalar_subquery()
    )


def inbox_size(actor: Any, department_id: int, **filters: Any) -> int:
    """How many parts the inbox's filters select in all, so that a page showing the newest can say so."""
    ids = _inbox_statement(actor, department_id, **filters).with_only_columns(TicketPart.id).distinct()
    return db.session.scalar(select(func.count()).select_from(ids.subquery()))


_CLOSED = {TicketStatus.CLOSED, TicketStatus.WITHDRAWN, TicketStatus.REJECTED, TicketStatus.DUPLICATE}

SEARCH_MAX = 200  # characters of a search
SEARCH_WORDS = 6  # words of a search that must all be found
SEARCH_STATES = ("", "open", "settled")


def find_tickets(actor: Any, query: str | None, state: str | None = None, limit: int = 50) -> list[Ticket]:
    """The tickets the actor may open that match what they typed, newest first: a tracking code (typed
    as a person would: see intake's normal_code), a ticket number (#123, or the digits alone, which also
    match as words), or words that must all be in the request's title or text. Coordinators search
    every ticket; department staff the tickets their departments are on, settled ones included, which
    the inbox no longer lists. `state`: "open", "settled" or all."""
    import re

    from participation.intake.models import Submission
    from participation.intake.services import CODE_ALPHABET, CODE_LENGTH, normal_code
    from participation.routing.permissions import viewable

    authorize(actor, "routing.staff")
    query = (query or "").strip()
    errors: dict[str, list[str]] = {}
    if not query:
        errors["q"] = [_("Type a tracking code, a ticket number or words from the request.")]
    elif len(query) > SEARCH_MAX:
        errors["q"] = [_("At most %(n)s characters.", n=SEARCH_MAX)]
    state = state or ""
    if state not in SEARCH_STATES:
        errors["state"] = [_("Choose open, settled or all.")]
    if errors:
        raise ValidationFailed(fields=errors)

    def run(condition) -> list[Ticket]:
        stmt = select(Ticket).join(Submission, Submission.id == Ticket.submission_id).where(condition)
        if state == "open":
            stmt = stmt.where(Ticket.status.in_(OPEN_STATUSES))
        elif state == "settled":
            stmt = stmt.where(Ticket.status.not_in(OPEN_STATUSES))
        scope = viewable(actor)  # the rule routing.ticket.view, as a condition
        if scope is not None:
            stmt = stmt.where(scope)
        return list(db.session.scalars(stmt.order_by(Ticket.id.desc()).limit(limit)))

    number = re.fullmatch(r"[#＃]\s*(\d{1,9})|(\d{1,9})", query)
    if number and number.group(1):
        return run(Ticket.id == int(number.group(1)))
    code = normal_code(query)
    if re.fullmatch(rf"HC-[{CODE_ALPHABET}]{{{CODE_LENGTH}}}", code):
        # What could be a tracking code is looked up as one first (its index answers at once); found
        # nothing, it is read as words: "playground" has ten letters that the codes' alphabet allows too.
        found = run(Submission.tracking_code == code)
        if found:
            return found
    words = query.split()[:SEARCH_WORDS]
    each = [
        Submission.title.icontains(w, autoescape=True) | Submission.text.icontains(w, autoescape=True) for w in words
    ]
    narrowed = _word_pairs(words)
    if narrowed is not None:
        each.insert(0, narrowed)
    matched = each[0]
    for condition in each[1:]:
        matched = matched & condition
    if number:  # digits alone: the ticket of that number, or requests that mention them
        matched = matched | (Ticket.id == int(number.group(2)))
    return run(matched)


def _word_pairs(words: list[str]):
    """On PostgreSQL, the condition that every character pair of the words (of two characters or more)
    is among the request's, which an index answers (see the migration a4c8e2f61b93): only the requests
    it lets through are then read for the words themselves. None elsewhere, or for one-character words."""
    from participation.intake.models import Submission

    paired = " ".join(w for w in words if len(w) > 1)
    if not paired or db.session.get_bind().dialect.name != "postgresql":
        return None
    return func.search_bigrams(Submission.title, Submission.text).op("@>")(func.search_bigrams(paired, ""))


def triage_queue(actor: Any, limit: int | None = None) -> list[Ticket]:
    """Tickets waiting in triage, oldest first (the first `limit` of them when given)."""
    authorize(actor, "routing.triage.view")
    stmt = select(Ticket).where(Ticket.status == TicketStatus.TRIAGE).order_by(Ticket.id)
    return list(db.session.scalars(stmt if limit is None else stmt.limit(limit)))


def triage_waiting(actor: Any) -> int:
    """How many tickets wait in triage."""
    authorize(actor, "routing.triage.view")
    return db.session.scalar(select(func.count()).select_from(Ticket).where(Ticket.status == TicketStatus.TRIAGE))


def open_disputes(actor: Any) -> list[Dispute]:
    authorize(actor, "routing.triage.view")
    stmt = select(Dispute).where(Dispute.status == DisputeStatus.OPEN).order_by(Dispute.id)
    return list(db.session.scalars(stmt))


# -- duplicates ------------------------------------------------------------------------------


def _suggest_masters(ticket: Ticket) -> bool:
    """Store the ticket's likely masters; merge into the best at once when it is near-certain (True)."""
    from participation.routing.duplicates import find_candidates

    with db.session.no_autoflush:  # earlier tickets only: this one's pending changes play no part
        found = find_candidates(ticket)
    ticket.duplicate_candidates = [{"ticket_id": t.id, "score": score} for t, score in found]
    if not found:
        return False
    record(ticket, "duplicate.suggested", None, candidates=ticket.duplicate_candidates)
    config = current_app.config
    master, score = found[0]
    if not config["DUPLICATE_AUTO_MERGE"] or score < config["DUPLICATE_AUTO_MERGE_SIMILARITY"]:
        return False
    _merge(ticket, master, SYSTEM, "", automatic=True, score=score)
    return True


def merge(actor: Any, ticket_id: int, master_id: int, reason: str = "") -> Ticket:
    """The coordinator merges a duplicate into its master; the duplicate keeps its tracking code.

    A master that is itself a duplicate is followed to its root master (merged items always
    point at an open, unmerged ticket). A ticket that already has followers hands them over to
    the new master. The ticket must still be in triage or dispatched (the life cycle refuses
    the rest), and the master must be open.
    """
    ticket = get_ticket(ticket_id, actor)
    authorize(actor, "routing.coordinate", ticket)
    reason = _text(reason, "reason", required=False)
    master = db.session.get(Ticket, master_id) if record_id(master_id) else None
    if master is None:
        raise ValidationFailed(fields={"master_id": [_("No such ticket.")]})
    from participation.routing.duplicates import root_master

    _merge(ticket, root_master(master), actor, reason)
    return ticket


def _merge(ticket: Ticket, master: Ticket, actor: Any, reason: str, **extra: Any) -> None:
    now = utcnow()
    old = ticket.merge_into(master, now)  # refuses itself, a closed master, a ticket past dispatch
    _end_pause(ticket)
    master.updated_at = now  # a concurrent merge the other way round fails on the master's version
    _end_open_parts(ticket, actor, reason or "merged")
    code = master.submission.tracking_code
    details = {"reason": reason} if reason else {}
    record(
        ticket,
        "merged",
        actor,
        old=old.value,
        new=TicketStatus.DUPLICATE.value,
        public=True,
        master_id=master.id,
        master_code=code,
        **details,
        **extra,
    )
    record(master, "follower.added", actor, ticket_id=ticket.id)
    moved = [f for f in ticket.followers if f.id != master.id]
    for follower in moved:
        follower.master = master
        record(follower, "master.changed", actor, master_id=master.id, master_code=code, previous=ticket.id)
        record(master, "follower.added", actor, ticket_id=follower.id)
    from participation.intake.services import announce_status

    _announce(ticket, "merged")
    _announce(master, "follower.added")
    for item in [ticket, *moved]:
        announce_status(item.submission, TicketStatus.DUPLICATE.value, master_status=master.status.value)
