"""Joint-meeting agenda pages (/scorecards/agenda) and its API (/api/v1/scorecards/agenda)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from participation.catalog import services as catalog
from participation.core.api import bp as api_bp
from participation.core.errors import DomainError, NotFound
from participation.core.permissions import authorize, can
from participation.core.uow import transaction
from participation.core.validation import json_body
from participation.scoring import agenda
from participation.scoring.models import AGENDA_STATUS_LABELS
from participation.scoring.services import now, period_of

bp = Blueprint("scoring_agenda", __name__)

COUNT_LABELS = {
    "joint_tickets": _l("Joint tickets"),
    "disputes": _l("Returns and transfers"),
    "late": _l("Late joint tickets"),
    "low_satisfaction": _l("Low-satisfaction callbacks"),
}
HISTORY_LABELS = {
    "scoring.agenda.discussed": _l("Marked as discussed"),
    "scoring.agenda.decided": _l("Decision recorded"),
    "scoring.agenda.dismissed": _l("Dismissed"),
    "scoring.agenda.catalog_changed": _l("Catalog changed"),
}
DISPUTE_KINDS = {"return": _l("Return"), "transfer": _l("Transfer")}
DISPUTE_STATES = {"open": _l("Waiting for a ruling"), "upheld": _l("Upheld"), "overruled": _l("Overruled")}
LATE_KINDS = {"missed": _l("Resolved late"), "running": _l("Still open past its due time")}
SATISFACTION = {1: _l("Satisfied"), 2: _l("Basically satisfied"), 3: _l("Dissatisfied")}
ACTIONS = ("discussed", "decision", "catalog-change", "dismiss")


def _default_period() -> str:
    return period_of(now())


def _act(action: str, item_id: int, data: dict):
    """One coordinator action on an item, by name, with its input (a form or a JSON body)."""
    if action == "discussed":
        return agenda.mark_discussed(current_user, item_id)
    if action == "decision":
        return agenda.record_decision(current_user, item_id, data.get("decision"))
    if action == "catalog-change":
        return agenda.apply_catalog_change(current_user, item_id, data.get("lead"), data.get("co"))
    if action == "dismiss":
        return agenda.dismiss(current_user, item_id, data.get("reason", ""))
    raise NotFound()


def _errors(error: DomainError) -> dict:
    return error.fields or {"_": [error.message]}


# -- pages ---------------------------------------------------------------------------------------


def _list_page(period: str, errors: dict, status: int = 200):
    items = agenda.items(current_user, period) if "period" not in errors else []
    return render_template(
        "scoring/agenda.html",
        period=period,
        items=items,
        evidence={i.id: agenda.readable_evidence(current_user, i).get("evidence", {}) for i in items},
        errors=errors,
        labels=COUNT_LABELS,
        status_labels=AGENDA_STATUS_LABELS,
        can_manage=can(current_user, "scoring.agenda.manage"),
        weights={k: f"{float(v):g}" for k, v in current_app.config["AGENDA_WEIGHTS"].items()},
        thresholds={
            "tickets": current_app.config["AGENDA_MIN_TICKETS"],
            "issues": current_app.config["AGENDA_MIN_ISSUES"],
        },
    ), status


@bp.get("/scorecards/agenda")
@login_required
def index():
    """The agenda of a period, most severe first (`?period=YYYY-MM|R30`, default this month)."""
    authorize(current_user, "scoring.agenda.view")
    period = request.args.get("period") or _default_period()
    try:
        period = agenda.check_period(period)
    except DomainError as error:
        return _list_page(period, _errors(error), error.status)
    return _list_page(period, {})


@bp.post("/scorecards/agenda")
@login_required
def build():
    """Build or refresh the agenda of the posted period."""
    period = request.form.get("period") or _default_period()
    try:
        with transaction():
            result = agenda.build(current_user, period)
    except DomainError as error:
        if error.status in (401, 403, 404):
            raise
        return _list_page(period, _errors(error), error.status)
    flash(
        _(
            "Agenda built: %(new)s new items, %(open)s open items refreshed.",
            new=len(result["created"]),
            open=len(result["refreshed"]),
        ),
        "success",
    )
    return redirect(url_for("scoring_agenda.index", period=result["period"]))


def _item_page(item_id: int, errors: dict | None = None, status: int = 200, form=None):
    item = agenda.get_item(current_user, item_id)
    category = item.category
    return render_template(
        "scoring/agenda_item.html",
        item=item,
        evidence=agenda.readable_evidence(current_user, item).get("evidence", {}),
        counts={name: item.evidence.get(name, 0) for name in COUNT_LABELS},
        labels=COUNT_LABELS,
        status_labels=AGENDA_STATUS_LABELS,
        history=agenda.history(item),
        history_labels=HISTORY_LABELS,
        dispute_kinds=DISPUTE_KINDS,
        dispute_states=DISPUTE_STATES,
        late_kinds=LATE_KINDS,
        satisfaction=SATISFACTION,
        departments=catalog.departments(),
        current_lead=category.lead.code,
        current_co=[d.code for d in category.co],
        can_manage=can(current_user, "scoring.agenda.manage", item),
        errors=errors or {},
        form=form,
    ), status


@bp.get("/scorecards/agenda/<int:item_id>")
@login_required
def item(item_id: int):
    """One item: its evidence with links to the tickets, the meeting's forms, its history."""
    return _item_page(item_id)


@bp.post("/scorecards/agenda/<int:item_id>/<action>")
@login_required
def act(item_id: int, action: str):
    """discussed, decision, catalog-change, dismiss: the forms of the item page post here."""
    if action not in ACTIONS:
        raise NotFound()
    data = {
        "decision": request.form.get("decision", ""),
        "reason": request.form.get("reason", ""),
        "lead": request.form.get("lead") or None,
        "co": [c for c in request.form.getlist("co") if c],
    }
    try:
        with transaction():
            _act(action, item_id, data)
    except DomainError as error:
        if error.status in (401, 403, 404):
            raise
        return _item_page(item_id, {**_errors(error), "_action": [action]}, error.status, request.form)
    flash(_("Saved."), "success")
    return redirect(url_for("scoring_agenda.item", item_id=item_id))


# -- API -----------------------------------------------------------------------------------------


@api_bp.get("/scorecards/agenda")
def agenda_api():
    """`?period=YYYY-MM|R30` (default this month): the stored agenda items the caller may see."""
    period = request.args.get("period") or _default_period()
    items = agenda.items(current_user, period)
    return jsonify({"period": agenda.check_period(period), "items": [agenda.item_json(i, current_user) for i in items]})


@api_bp.post("/scorecards/agenda")
def agenda_build_api():
    """Build or refresh the agenda of `?period=` (coordinators): the ids created and refreshed, and the items."""
    period = request.args.get("period") or _default_period()
    with transaction():
        result = agenda.build(current_user, period)
    items = agenda.items(current_user, result["period"])
    return jsonify({**result, "items": [agenda.item_json(i, current_user) for i in items]})


@api_bp.get("/scorecards/agenda/<int:item_id>")
def agenda_item_api(item_id: int):
    item = agenda.get_item(current_user, item_id)
    history = [
        {"at": h["at"].isoformat(), "action": h["action"], "actor": h["actor"], "payload": h["payload"]}
        for h in agenda.history(item)
    ]
    return jsonify({**agenda.item_json(item, current_user), "history": history})


@api_bp.post("/scorecards/agenda/<int:item_id>/<action>")
def agenda_action_api(item_id: int, action: str):
    """discussed (no body), decision {"decision"}, catalog-change {"lead", "co"}, dismiss {"reason"}."""
    if action not in ACTIONS:
        raise NotFound()
    body = json_body(request) if request.content_length or request.is_json else {}
    with transaction():
        item = _act(action, item_id, body)
    return jsonify(agenda.item_json(item, current_user))
