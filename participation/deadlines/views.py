"""Deadline pages: the coordinator's escalation queue, and the deadlines shown in the workspace and inbox.

The deadline actions of the ticket workspace (pause, resume, contact, interim deadline) are the workspace's
own forms: `routing.views.deadline_act`."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user, login_required

from participation.catalog import services as catalog
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


@bp.get("/coordination/escalations")
@login_required
def escalations():
    sort = request.args.get("sort", "late")
    if sort not in services.ESCALATION_SORTS:
        sort = "late"
    rows, total = services.escalation_page(current_user, sort, current_app.config["ESCALATION_PAGE_SIZE"])
    template = "deadlines/_escalation_rows.html" if request.args.get("partial") == "1" else "deadlines/escalations.html"
    return render_template(template, rows=rows, total=total, sort=sort, departments=catalog.departments())
