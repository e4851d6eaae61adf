"""Forum pages: the list of proposals, the form for a new one, and a proposal with its answer."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from participation.accounts.models import Role
from participation.catalog import services as catalog
from participation.core.errors import DomainError
from participation.core.permissions import can
from participation.core.uow import transaction
from participation.core.validation import small_int
from participation.forums import services
from participation.forums.models import PUBLIC_STATES, ProposalState, Verdict

bp = Blueprint("forums", __name__)


def list_filters(args) -> dict:
    """The list's filters from the query string, shared with the JSON API."""
    return {
        "q": args.get("q", ""),
        "category": args.get("category") or None,
        "district": args.get("district") or None,
        "state": args.get("state") or None,
        "sort": args.get("sort") or "newest",
        "page": small_int(args.get("page")) or 1,
    }


@bp.get("/proposals")
def index():
    filters = list_filters(request.args)
    errors: dict = {}
    try:
        page = services.search(**filters)
    except DomainError as error:
        errors = error.fields or {"_": [error.message]}
        page = services.search()
    return render_template(
        "forums/list.html",
        page=page,
        filters=filters,
        errors=errors,
        categories=catalog.categories(),
        districts=catalog.district_tree(),
        states=[s for s in ProposalState if s in PUBLIC_STATES],
    ), 200 if not errors else 422


def _render_form(errors: dict, form, status: int = 200):
    enterprise = current_user.is_authenticated and current_user.has_role(Role.ENTERPRISE)
    return render_template(
        "forums/new.html",
        errors=errors,
        form=form,
        categories=catalog.categories(enterprise=enterprise),
        districts=catalog.district_tree(),
    ), status


@bp.route("/proposals/new", methods=["GET", "POST"])
@login_required
def new():
    if request.method == "GET":
        if not can(current_user, "forums.proposal.create"):
            flash(_("Only citizen and enterprise accounts can make proposals."), "error")
            return redirect(url_for("forums.index"))
        return _render_form({}, {})
    payload = {name: request.form.get(name, "") for name in ("title", "text", "category", "district")}
    try:
        with transaction():
            proposal = services.create_proposal(current_user, payload, publish=request.form.get("draft") != "on")
    except DomainError as error:
        return _render_form(error.fields or {"_": [error.message]}, request.form, error.status)
    flash(_("Your proposal is published."), "info")
    return redirect(url_for("forums.detail", proposal_id=proposal.id))


def _render_detail(proposal_id: int, errors: dict | None = None, form=None, status: int = 200):
    proposal = services.get_proposal(current_user, proposal_id)
    return render_template(
        "forums/detail.html",
        proposal=proposal,
        supported=services.supports(current_user, proposal),
        threshold=services.threshold_for(proposal.category),
        verdicts=list(Verdict),
        errors=errors or {},
        form=form or {},
    ), status


@bp.get("/proposals/<int:proposal_id>")
def detail(proposal_id: int):
    return _render_detail(proposal_id)


def _act(proposal_id: int, operation, done: str):
    try:
        with transaction():
            operation(current_user, proposal_id)
        flash(done, "info")
    except DomainError as error:
        if error.status == 404:
            raise
        flash(error.message, "error")
    return redirect(url_for("forums.detail", proposal_id=proposal_id))


@bp.post("/proposals/<int:proposal_id>/support")
@login_required
def support(proposal_id: int):
    return _act(proposal_id, services.support, _("Thank you for your support."))


@bp.post("/proposals/<int:proposal_id>/unsupport")
@login_required
def unsupport(proposal_id: int):
    return _act(proposal_id, services.withdraw_support, _("Your support is withdrawn."))


@bp.post("/proposals/<int:proposal_id>/publish")
@login_required
def publish(proposal_id: int):
    return _act(proposal_id, services.publish, _("Your proposal is published."))


@bp.post("/proposals/<int:proposal_id>/withdraw")
@login_required
def withdraw(proposal_id: int):
    return _act(proposal_id, services.withdraw, _("Your proposal is withdrawn."))


@bp.post("/proposals/<int:proposal_id>/answer")
@login_required
def answer(proposal_id: int):
    try:
        with transaction():
            services.answer(current_user, proposal_id, request.form.get("verdict", ""), request.form.get("reasons", ""))
    except DomainError as error:
        if error.status in (401, 403, 404):
            raise
        return _render_detail(proposal_id, error.fields or {"_": [error.message]}, request.form, error.status)
    flash(_("The official answer is published."), "info")
    return redirect(url_for("forums.detail", proposal_id=proposal_id))
