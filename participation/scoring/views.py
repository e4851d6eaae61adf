"""Scorecard pages: the ranking with charts and trends, the drill-down to the tickets, the weights.

Coordinators see every department in full. A department admin sees its own department(s) in full and
the others in summary (score and rank only); the summary is enforced here, not only in the templates.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from participation.core.errors import DomainError, NotFound, ValidationFailed
from participation.core.permissions import authorize, can
from participation.core.uow import transaction
from participation.extensions import db
from participation.routing.models import Ticket
from participation.scoring import compute, services
from participation.scoring.models import Scorecard, WeightsVersion

bp = Blueprint("scoring", __name__)

ROLES = ("lead", "co")
TREND_MONTHS = 6
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")

COMPONENT_LABELS = {
    "response": _l("Response"),
    "resolution": _l("Resolution"),
    "satisfaction": _l("Satisfaction"),
    "collaboration": _l("Collaboration"),
}
PENALTY_LABELS = {
    "reopen": _l("Reopened tickets"),
    "wrongful_dispute": _l("Returns and transfers overruled"),
    "contradicted_closure": _l("Closures the callback contradicts"),
    "pause_without_contact": _l("Pauses without contact"),
}
ROLE_LABELS = {"lead": _l("Lead"), "co": _l("Co-handling")}


# -- arguments -----------------------------------------------------------------------------------


def _period(value: str | None) -> str:
    """ "R30" or a month "YYYY-MM" from 2000 to 2100; anything else is a 422."""
    period = (value or services.ROLLING).strip()
    if period == services.ROLLING:
        return period
    match = _MONTH.match(period)
    if not match or not (2000 <= int(match.group(1)) <= 2100 and 1 <= int(match.group(2)) <= 12):
        raise ValidationFailed(fields={"period": [_("Give a month as YYYY-MM, or R30 for the last 30 days.")]})
    return period


def _role(value: str | None) -> str:
    role = (value or "lead").strip()
    if role not in ROLES:
        raise ValidationFailed(fields={"role": [_("The role is lead or co.")]})
    return role


def _months_back(period: str, count: int) -> list[str]:
    """The `count` months ending with `period` (a month), oldest first."""
    year, month = (int(x) for x in period.split("-"))
    out = []
    for _i in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return list(reversed(out))


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    number = round(float(value), digits)
    return f"{number:g}" if number == int(number) else f"{number:.{digits}f}".rstrip("0")


# -- pages ---------------------------------------------------------------------------------------


def stored_months() -> list[str]:
    rows = db.session.scalars(
        select(Scorecard.period)
        .where(Scorecard.period != services.ROLLING)
        .distinct()
        .order_by(Scorecard.period.desc())
    )
    return list(rows)


@bp.get("/scorecards")
@login_required
def ranking():
    """?period=YYYY-MM|R30 (default R30) &role=lead|co (default lead)."""
    authorize(current_user, "scoring.view")
    period = _period(request.args.get("period"))
    role = _role(request.args.get("role"))
    anchor = services.period_of(services.now()) if period == services.ROLLING else period
    trend_months = _months_back(anchor, TREND_MONTHS)
    with transaction():
        cards = [c for c in services.scorecards(current_user, period) if c.role == role]
        trend: dict[int, dict[str, float]] = {}
        for month in trend_months:
            for card in services.scorecards(current_user, month):
                if card.role == role:
                    trend.setdefault(card.department_id, {})[month] = card.score
    rows = []
    for rank, card in enumerate(cards, start=1):
        full = can(current_user, "scoring.view_full", card)
        rows.append({"rank": rank, "card": card, "full": full, "components": card.components if full else None})
    months = stored_months()
    bar_chart = {
        "labels": [r["card"].department.name for r in rows],
        "scores": [round(r["card"].score, 1) for r in rows],
        "series": _("Score"),
    }
    trend_chart = {
        "labels": trend_months,
        "series": [
            {
                "label": r["card"].department.name,
                "data": [
                    round(trend[r["card"].department_id][m], 1) if m in trend.get(r["card"].department_id, {}) else None
                    for m in trend_months
                ],
            }
            for r in rows
        ],
        "yLabel": _("Score"),
    }
    return render_template(
        "scoring/ranking.html",
        period=period,
        role=role,
        rows=rows,
        months=months,
        rolling=services.ROLLING,
        roles=ROLE_LABELS,
        components=compute.COMPONENTS,
        component_labels=COMPONENT_LABELS,
        penalty_labels=PENALTY_LABELS,
        bar_chart=bar_chart,
        trend_chart=trend_chart,
        fmt=_fmt,
        can_edit_weights=can(current_user, "scoring.weights.edit"),
    )


PER_PAGE = 100


def _card(department_id: int, period: str, role: str) -> Scorecard | None:
    return db.session.scalar(
        select(Scorecard).where(
            Scorecard.department_id == department_id, Scorecard.period == period, Scorecard.role == role
        )
    )


@bp.get("/scorecards/<dept_code>/<period>/<role>/<item>")
@login_required
def drill_down(dept_code: str, period: str, role: str, item: str):
    """The tickets behind one component or penalty term of one scorecard, with the arithmetic."""
    authorize(current_user, "scoring.view")
    period, role = _period(period), _role(role)
    if item not in compute.COMPONENTS and item not in compute.PENALTY_TERMS:
        raise NotFound(_("No such component or penalty term."))
    department = services.department_or_404(dept_code)
    authorize(current_user, "scoring.view_full", department)
    card = _card(department.id, period, role)
    if card is None:
        with transaction():
            services.scorecards(current_user, period)
        card = _card(department.id, period, role)
    if card is None:
        raise NotFound(_("No scorecard for this department, period and role."))
    k = card.weights_version.shrink_k
    if item in compute.COMPONENTS:
        entry = card.components.get(item) or {}
        label = COMPONENT_LABELS[item]
        kind = "component"
    else:
        entry = card.penalties.get(item) or {}
        label = PENALTY_LABELS[item]
        kind = "penalty"
    page = max(1, request.args.get("page", 1, type=int) or 1)
    ids, total = services.tickets_behind(card, item, page=page, per_page=PER_PAGE)
    found = {t.id: t for t in db.session.scalars(select(Ticket).where(Ticket.id.in_(ids)))} if ids else {}
    tickets = [{"id": t, "ticket": found.get(t)} for t in ids]
    per_incident = card.weights_version.penalties.get(item) if kind == "penalty" else None
    return render_template(
        "scoring/drill_down.html",
        card=card,
        department=department,
        period=period,
        role=role,
        roles=ROLE_LABELS,
        item=item,
        kind=kind,
        label=label,
        entry=entry,
        k=k,
        per_incident=per_incident,
        cap=card.weights_version.penalty_cap,
        tickets=tickets,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        fmt=_fmt,
    )


def _number(value: str | None) -> Any:
    """A form number as float; an empty field keeps the current value (None); other text goes to the check."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return text


@bp.route("/scorecards/weights", methods=["GET", "POST"])
@login_required
def weights():
    authorize(current_user, "scoring.weights.edit")
    errors: dict = {}
    status = 200
    if request.method == "POST":
        weights_in = {c: _number(request.form.get(f"weights.{c}")) for c in compute.COMPONENTS}
        penalties_in = {t: _number(request.form.get(f"penalties.{t}")) for t in compute.PENALTY_TERMS}
        try:
            with transaction():
                version = services.save_weights(
                    current_user,
                    {c: v for c, v in weights_in.items() if v is not None},
                    {t: v for t, v in penalties_in.items() if v is not None},
                    _number(request.form.get("shrink_k")),
                    request.form.get("note", ""),
                )
                number = version.number
            flash(_("Weights version %(n)s is saved; scorecards computed from now on use it.", n=number), "success")
            return redirect(url_for("scoring.weights"))
        except DomainError as error:
            if error.status in (401, 403, 404):
                raise
            errors, status = error.fields or {"_": [error.message]}, error.status
    with transaction():
        current = services.current_weights()
    versions = list(db.session.scalars(select(WeightsVersion).order_by(WeightsVersion.number.desc())))
    return render_template(
        "scoring/weights.html",
        current=current,
        versions=versions,
        errors=errors,
        form=request.form if request.method == "POST" else None,
        components=compute.COMPONENTS,
        component_labels=COMPONENT_LABELS,
        terms=compute.PENALTY_TERMS,
        penalty_labels=PENALTY_LABELS,
        fmt=_fmt,
    ), status
