"""Deadline pages: the coordinator's escalation queue, and the deadline actions of the ticket workspace."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from participation.catalog import services as catalog
from participation.core.errors import DomainError, NotFound
from participation.core.uow import transaction
from participation.core.validation import form_int
from participation.deadlines import services
from participation.deadlines.models import OPEN_CLOCK_STATES

bp = Blueprint("deadlines", __name__)


@bp.app_template_global()
def ticket_clocks(ticket) -> list:
    """The ticket's deadlines for the workspace, open ones first."""
    clocks = services.clocks_of(ticket)
    return sorted(clocks, key=lambda c: (c.state not in OPEN_CLOCK_STATES, c.effective_due))


@bp.app_template_global()
def part_deadlines(parts) -> dict:
    """The nearest open deadline of each part (for the inbox)."""
    return services.open_clocks_by_part([p.id for p in parts])


ACTIONS = {
    "pause": lambda t: services.pause(current_user, t, request.form.get("kind", ""), request.form.get("reason", "")),
    "resume": lambda t: services.resume(current_user, t, request.form.get("reason", "")),
    "contact": lambda t: services.record_contact(current_user, t, request.form.get("note", "")),
    "interim": lambda t: services.set_interim_deadline(
        current_user, t, form_int("clock_id"), request.form.get("due", ""), request.form.get("reason", "")
    ),
}

DONE = {
    "pause": lambda: _("The clocks are paused."),
    "resume": lambda: _("The clocks run again."),
    "contact": lambda: _("The contact is recorded."),
    "interim": lambda: _("The new deadline is set."),
}


def _back(default: str) -> str:
    back = request.form.get("back") or ""
    return back if back.startswith("/") and not back.startswith("//") else default


@bp.get("/tickets/<int:ticket_id>/deadlines")
def act_page(ticket_id: int):
    """The address a refused deadline action leaves in the browser: reloading it goes back to the ticket."""
    return redirect(url_for("routing.ticket", ticket_id=ticket_id))


@bp.post("/tickets/<int:ticket_id>/deadlines")
@login_required
def act(ticket_id: int):
    """Pause, resume, record contact, set an interim deadline. A refusal shows the ticket again, as the
    workspace's own actions do: each problem at its field, what was sent kept in its form."""
    name = request.form.get("action", "")
    action = ACTIONS.get(name)
    if action is None:
        raise NotFound()
    try:
        with transaction():
            action(ticket_id)
    except DomainError as error:
        from participation.routing.views import refused

        return refused(ticket_id, error)
    flash(DONE[name](), "success")
    return redirect(_back(url_for("routing.ticket", ticket_id=ticket_id)))


@bp.get("/coordination/escalations")
@login_required
def escalations():
    sort = request.args.get("sort", "late")
    if sort not in ("late", "level", "oldest"):
        sort = "late"
    rows = services.escalation_queue(current_user, sort=sort)
    template = "deadlines/_escalation_rows.html" if request.args.get("partial") == "1" else "deadlines/escalations.html"
    return render_template(template, rows=rows, sort=sort, departments=catalog.departments())
