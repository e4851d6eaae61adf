"""Pages for department staff and coordinators: inbox, ticket workspace, triage and dispute queues."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from participation.accounts.models import User
from participation.catalog import services as catalog
from participation.catalog.models import Department
from participation.core.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from participation.core.permissions import authorize, can
from participation.core.uow import transaction
from participation.core.validation import form_int, small_int
from participation.core.views import safe_next
from participation.deadlines import services as deadlines
from participation.extensions import db
from participation.routing import services
from participation.routing.duplicates import suggested_masters
from participation.routing.engine import departments_now
from participation.routing.models import PartRole, PartStatus, TicketStatus
from participation.routing.permissions import left_from

bp = Blueprint("routing", __name__)


def _partial() -> bool:
    return request.args.get("partial") == "1"


def _errors(error: DomainError) -> dict:
    return error.fields or {"_": [error.message]}


@bp.get("/inbox")
@login_required
def inbox():
    ids = sorted(current_user.department_ids)
    department_id = small_int(request.args.get("department")) or (ids[0] if ids else None)
    if department_id is None:
        raise NotFound(_("You do not belong to a department."))
    department = db.session.get(Department, department_id)
    if department is None:
        raise NotFound()
    filters = {
        k: request.args.get(k, "") for k in ("status", "role", "category", "district", "age", "sort", "waiting", "due")
    }
    errors: dict = {}
    limit = current_app.config["INBOX_PAGE_SIZE"]
    try:
        chosen = {
            "status": filters["status"] or None,
            "role": filters["role"] or None,
            "category": filters["category"] or None,
            "district": filters["district"] or None,
            "older_than_days": services.age_days(filters["age"]),
            "waiting_for_sender": filters["waiting"] == "1",
            "due": filters["due"] or None,
        }
        parts = services.inbox(current_user, department_id, limit=limit, sort=filters["sort"] or None, **chosen)
        # A busy department may have more than a page: say so, rather than silently hide the rest.
        total = services.inbox_size(current_user, department_id, **chosen) if len(parts) >= limit else len(parts)
    except ValidationFailed as error:
        parts, total, errors = [], 0, _errors(error)
    context = {
        "department": department,
        "departments": [db.session.get(Department, i) for i in ids],
        "parts": parts,
        "total": total,
        "filters": filters,
        "errors": errors,
        "statuses": [s.value for s in PartStatus if s != PartStatus.ENDED],
        "due_soon_hours": services.DUE_SOON_HOURS,
        "roles": [r.value for r in PartRole],
        "categories": catalog.categories(),
        "districts": catalog.district_tree(),
    }
    if _partial():
        return render_template("routing/_inbox_rows.html", **context)
    return render_template("routing/inbox.html", **context)


@bp.get("/work")
@login_required
def work():
    """The work overview: for each of the person's departments what waits (to sign for, in hand, returns
    awaiting a ruling, late, due soon, waiting for the sender), and for coordinators the queues; each
    card updates live and links to the inbox or queue it counts."""
    authorize(current_user, "routing.staff")  # staff of a department, or coordinators
    coordinator = can(current_user, "routing.triage.view")
    partial = request.args.get("partial")
    if partial == "queue":  # the coordination centre's card (refused to others, as its live room is)
        return render_template("routing/_work_queues.html", queues=services.coordination_workload(current_user))
    if partial == "department":
        department = db.session.get(Department, small_int(request.args.get("department")) or 0)
        if department is None:
            raise NotFound()
        counts = services.department_workload(current_user, department.id)
        return render_template(
            "routing/_work_department.html",
            department=department,
            counts=counts,
            due_soon_hours=services.DUE_SOON_HOURS,
        )
    departments = [
        d for d in (db.session.get(Department, i) for i in sorted(current_user.department_ids)) if d is not None
    ]
    cards = [
        (d, services.department_workload(current_user, d.id))
        for d in departments
        if can(current_user, "routing.inbox", d)
    ]
    queues = services.coordination_workload(current_user) if coordinator else None
    return render_template("routing/work.html", cards=cards, queues=queues, due_soon_hours=services.DUE_SOON_HOURS)


@bp.get("/tickets")
@login_required
def find():
    """Find a ticket by tracking code, number or words: coordinators every ticket, staff their departments'
    (settled ones too, which the inbox no longer lists)."""
    query, state = request.args.get("q", ""), request.args.get("state", "")
    tickets, errors, status = [], {}, 200
    if query or state or "q" in request.args:
        try:
            tickets = services.find_tickets(current_user, query, state)
        except ValidationFailed as error:
            errors, status = _errors(error), 422
    else:
        authorize(current_user, "routing.staff")
    return render_template("routing/find.html", tickets=tickets, query=query, state=state, errors=errors), status


@bp.post("/inbox/accept")
@login_required
def bulk_accept():
    ids = [i for i in (small_int(v) for v in request.form.getlist("part_ids")) if i is not None]
    try:
        with transaction():
            accepted = services.bulk_accept(current_user, ids)
        if accepted:
            flash(ngettext("Signed for %(num)s ticket.", "Signed for %(num)s tickets.", len(accepted)), "success")
        else:
            flash(_("Nothing was left to sign for: colleagues had signed for them already."), "info")
    except DomainError as error:
        flash(error.message + " " + " ".join(m for ms in (error.fields or {}).values() for m in ms), "error")
    return redirect(safe_next(request.form.get("back"), url_for("routing.inbox")))


def _workspace_context(ticket, errors: dict | None = None, posted: dict | None = None) -> dict:
    """What the workspace shows; after a refused action, `posted` is what the person had typed (kept in the
    form it came from, not lost)."""
    events = services.timeline(current_user, ticket)
    duplicates = suggested_masters([ticket]) if can(current_user, "routing.coordinate", ticket) else {}
    categories = catalog.categories()
    category_names = {c.code: c.name for c in categories}
    departments = catalog.departments()
    start, started_by = None, None
    if ticket.status == TicketStatus.TRIAGE:
        start, started_by = _dispatch_start(ticket, category_names)
    proposed_lead, proposed_co = None, []
    if start:
        # The lead and co-handlers the catalog gives that category (with the district office where it asks).
        district = ticket.district.code if ticket.district else None
        proposed_lead, proposed_co = departments_now([start], district)
    return {
        "ticket": ticket,
        "duplicates": duplicates.get(ticket.id, []),
        "submission": ticket.submission,
        "events": events,
        "errors": errors or {},
        "posted": posted or {},
        "departments": departments,
        "department_names": {d.code: d.name for d in departments},
        "categories": categories,
        "category_names": category_names,
        "dispatch_start": start or "",
        "dispatch_started_by": started_by,
        "proposed_lead": proposed_lead,
        "proposed_co": proposed_co,
        **_dispute_kinds(events),
    }


def _dispatch_start(ticket, category_names: dict) -> tuple[str | None, str | None]:
    """The category the dispatch form starts from, and why: the one the citizen chose (they know their
    problem), else the router's first suggestion when it is at least as sure as it must be to dispatch on
    its own (ROUTING_CONFIDENCE_THRESHOLD), else none: a weak guess preselected is too easily sent as it
    is, so the coordinator chooses."""
    chosen = ticket.submission.category
    if chosen is not None and chosen.code in category_names:
        return chosen.code, "citizen"
    top = (ticket.suggestions or [None])[0]
    floor = current_app.config["ROUTING_CONFIDENCE_THRESHOLD"]
    if top and top["code"] in category_names and top["confidence"] >= floor:
        return top["code"], "router"
    return None, None


def _dispute_kinds(events) -> dict:
    """Whether each return request was a return or a transfer, by the event that asked it: per dispute
    (for its ruling in the timeline) and per part still waiting for a ruling (for its state)."""
    by_dispute, by_part = {}, {}
    for e in events:
        if e.type == "part.return_requested" and e.payload.get("kind"):
            by_dispute[e.payload.get("dispute_id")] = e.payload["kind"]
            by_part[e.payload.get("part_id")] = e.payload["kind"]
    return {"dispute_kinds": by_dispute, "return_kinds": by_part}


def _chosen_categories() -> list[str]:
    """The primary category (a field of its own) first, then the further ones. A form that sends them all
    in `categories` (the API's order) keeps its first as the primary."""
    primary = request.form.get("primary", "").strip()
    further = [c for c in request.form.getlist("categories") if c and c != primary]
    return ([primary] if primary else []) + further


@bp.get("/tickets/<int:ticket_id>")
@login_required
def ticket(ticket_id: int):
    item = services.get_ticket(ticket_id, current_user)
    try:
        context = _workspace_context(item)
    except PermissionDenied as refusal:
        if _partial():
            raise
        return _left(item, refusal)
    template = "routing/_ticket_panel.html" if _partial() else "routing/ticket.html"
    return render_template(template, **context)


def _left(item, refusal: DomainError):
    """A refusal: for staff whose department has left the ticket (an old notice, a bookmark, a page
    left open), their department's inbox with a word of why; for anyone else, the refusal itself."""
    department_id = left_from(current_user, item)
    if department_id is None:
        raise refusal
    flash(
        _("Your department no longer has a part in ticket #%(id)s, so it is no longer shown to you.", id=item.id),
        "info",
    )
    return redirect(url_for("routing.inbox", department=department_id))


ACTIONS = {
    "accept": lambda t: services.accept(current_user, form_int("part_id")),
    "contribute": lambda t: services.contribute(current_user, form_int("part_id"), request.form.get("note", "")),
    "return": lambda t: services.request_return(
        current_user,
        form_int("part_id"),
        request.form.get("kind", "return"),
        request.form.get("reason", ""),
        request.form.get("suggested") or None,
    ),
    "rate": lambda t: services.rate(
        current_user, form_int("part_id"), form_int("rating"), request.form.get("note", "")
    ),
    "reply": lambda t: services.reply_public(current_user, t, request.form.get("text", "")),
    "note": lambda t: services.add_note(current_user, t, request.form.get("text", "")),
    "invite": lambda t: services.invite(
        current_user, t, request.form.get("department", ""), request.form.get("note", "")
    ),
    "resolve": lambda t: services.resolve(current_user, t, request.form.get("reply", "")),
    "waive": lambda t: services.waive(current_user, form_int("part_id"), request.form.get("reason", "")),
    "remove": lambda t: services.remove_part(current_user, form_int("part_id"), request.form.get("reason", "")),
    "lead": lambda t: services.swap_lead(
        current_user, t, request.form.get("department", ""), request.form.get("reason", "")
    ),
    "reject": lambda t: services.reject(current_user, t, request.form.get("reason", "")),
    "reopen": lambda t: services.reopen(current_user, t, request.form.get("reason", "")),
    "merge": lambda t: services.merge(current_user, t, form_int("master_id"), request.form.get("reason", "")),
    "categories": lambda t: services.recategorise(current_user, t, _chosen_categories()),
    "dispatch": lambda t: services.dispatch(
        current_user,
        t,
        _chosen_categories(),
        request.form.get("lead", ""),
        [c for c in request.form.getlist("co") if c],
    ),
}


@bp.get("/tickets/<int:ticket_id>/act")
def act_page(ticket_id: int):
    """The address a refused action leaves in the browser: reloading it, or switching the language there,
    goes back to the ticket."""
    return redirect(url_for("routing.ticket", ticket_id=ticket_id))


@bp.post("/tickets/<int:ticket_id>/act")
@login_required
def act(ticket_id: int):
    """Every workspace form posts here with its `action`; the service decides."""
    return _perform(ticket_id, ACTIONS, _done(ticket_id))


def _done(ticket_id: int) -> dict:
    """A word of what was done, for the actions that may lead back to a queue where the row is simply gone
    (triage, escalations) or that change who works on the ticket."""
    return {
        "dispatch": lambda: _("Ticket #%(id)s was dispatched.", id=ticket_id),
        "lead": lambda: _("Ticket #%(id)s has a new lead department.", id=ticket_id),
        "invite": lambda: _("A co-handling department is added to ticket #%(id)s.", id=ticket_id),
        "remove": lambda: _("A co-handling department left ticket #%(id)s.", id=ticket_id),
        "waive": lambda: _("The co-handling part is waived."),
        "categories": lambda: _("The categories of ticket #%(id)s are saved.", id=ticket_id),
        "merge": lambda: _(  # the master it went to: the one named, or the one that one was merged into
            "Ticket #%(id)s was merged into ticket #%(master)s.",
            id=ticket_id,
            master=services.get_ticket(ticket_id, current_user).master_id,
        ),
        "reject": lambda: _("Ticket #%(id)s was rejected.", id=ticket_id),
        "reopen": lambda: _("Ticket #%(id)s was reopened.", id=ticket_id),
    }


def _perform(ticket_id: int, actions: dict, done: dict):
    """Run the form's action in one transaction: done, on to `back` (or the ticket) with a word of what was
    done; refused, the ticket again with what was sent (see `refused`)."""
    name = request.form.get("action", "")
    action = actions.get(name)
    if action is None:
        raise NotFound()
    try:
        with transaction():
            action(ticket_id)
    except DomainError as error:
        if name == "accept" and error.status == 409:
            signed = _signed_already(form_int("part_id"))
            if signed:  # a colleague was quicker (or a second click): what was asked is done
                flash(signed, "info")
                return redirect(url_for("routing.ticket", ticket_id=ticket_id))
        return refused(ticket_id, error)
    if name in done:
        flash(done[name](), "success")
    return redirect(safe_next(request.form.get("back"), url_for("routing.ticket", ticket_id=ticket_id)))


def refused(ticket_id: int, error: DomainError):
    """A refused workspace action (of this page or of its deadlines): the ticket again, each problem at its
    field, and what was sent kept in the form it came from."""
    if error.status == 403:  # perhaps a page left open while the department left
        return _left(services.get_ticket(ticket_id, current_user), error)
    if error.status in (401, 404):
        raise error
    item = services.get_ticket(ticket_id, current_user)
    context = _workspace_context(item, _errors(error), request.form.to_dict(flat=False))
    return render_template("routing/ticket.html", **context), error.status


def _signed_already(part_id: int) -> str | None:
    """Who of the person's department signed for the part, when it is signed for and theirs to work on."""
    part = services.get_part(part_id, current_user)
    if part.status != PartStatus.ACCEPTED or not can(current_user, "routing.part.work", part):
        return None
    if part.accepted_by_id == current_user.id:
        return _("You had already signed for this part.")
    signer = db.session.get(User, part.accepted_by_id) if part.accepted_by_id else None
    if signer is not None:
        return _("Already signed for by %(name)s of your department.", name=signer.display_name)
    return _("Already signed for by your department.")


DEADLINE_ACTIONS = {
    "pause": lambda t: deadlines.pause(current_user, t, request.form.get("kind", ""), request.form.get("reason", "")),
    "resume": lambda t: deadlines.resume(current_user, t, request.form.get("reason", "")),
    "contact": lambda t: deadlines.record_contact(current_user, t, request.form.get("note", "")),
    "interim": lambda t: deadlines.set_interim_deadline(
        current_user, t, form_int("clock_id"), request.form.get("due", ""), request.form.get("reason", "")
    ),
}

DEADLINE_DONE = {
    "pause": lambda: _("The clocks are paused."),
    "resume": lambda: _("The clocks run again."),
    "contact": lambda: _("The contact is recorded."),
    "interim": lambda: _("The new deadline is set."),
}


@bp.get("/tickets/<int:ticket_id>/deadlines")
def deadline_act_page(ticket_id: int):
    """The address a refused deadline action leaves in the browser: reloading it goes back to the ticket."""
    return redirect(url_for("routing.ticket", ticket_id=ticket_id))


@bp.post("/tickets/<int:ticket_id>/deadlines")
@login_required
def deadline_act(ticket_id: int):
    """The workspace's deadline forms: pause, resume, record contact, set an interim deadline (also from the
    escalation queue, which `back` returns to). A refusal shows the ticket again, as the
    workspace's own actions do: each problem at its field, what was sent kept in its form."""
    return _perform(ticket_id, DEADLINE_ACTIONS, DEADLINE_DONE)


@bp.get("/coordination/triage")
@login_required
def triage():
    # A busy day's queue can hold thousands: the oldest page is shown (and refreshed live), with the total.
    tickets = services.triage_queue(current_user, limit=current_app.config["TRIAGE_PAGE_SIZE"])
    template = "routing/_triage_rows.html" if _partial() else "routing/triage.html"
    categories = catalog.categories()
    return render_template(
        template,
        tickets=tickets,
        waiting=services.triage_waiting(current_user),
        duplicates=suggested_masters(tickets),
        departments=catalog.departments(),
        categories=categories,
        category_names={c.code: c.name for c in categories},
        errors={},
    )


@bp.get("/coordination/disputes")
@login_required
def disputes():
    return _disputes_page()


def _disputes_page(errors: dict | None = None, posted: dict | None = None, status: int = 200):
    """The open disputes; after a refused ruling, `posted` is what was sent (kept in that dispute's form)."""
    items = services.open_disputes(current_user)
    template = "routing/_dispute_rows.html" if _partial() else "routing/disputes.html"
    context = {"disputes": items, "departments": catalog.departments(), "errors": errors or {}, "posted": posted or {}}
    return render_template(template, **context), status


@bp.get("/coordination/disputes/<int:dispute_id>/rule")
def rule_page(dispute_id: int):
    """The address a refused ruling leaves in the browser: reloading it goes back to the queue."""
    return redirect(url_for("routing.disputes"))


@bp.post("/coordination/disputes/<int:dispute_id>/rule")
@login_required
def rule(dispute_id: int):
    try:
        with transaction():
            services.rule(
                current_user,
                dispute_id,
                request.form.get("decision", ""),
                request.form.get("note", ""),
                request.form.get("department") or None,
            )
    except DomainError as error:
        if error.status in (401, 403, 404):
            raise
        posted = {**request.form.to_dict(flat=False), "dispute_id": [str(dispute_id)]}
        return _disputes_page(_errors(error), posted, error.status)
    flash(_("The ruling is recorded."), "success")
    return redirect(url_for("routing.disputes"))
