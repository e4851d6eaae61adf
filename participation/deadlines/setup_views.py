"""Admin pages for the business calendar (versioned) and the SLA policies; coordinators may look."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from itertools import groupby

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user, login_required

from participation.catalog import services as catalog
from participation.core.errors import DomainError
from participation.core.permissions import authorize
from participation.core.uow import transaction
from participation.core.validation import small_int
from participation.deadlines import setup
from participation.deadlines.models import CalendarDay, CalendarVersion, SlaPolicy
from participation.extensions import db

bp = Blueprint("deadline_setup", __name__, url_prefix="/admin")

HOUR_ROWS = 4  # interval rows on the form (the service allows up to setup.MAX_INTERVALS)


def weekday_names() -> list[str]:
    """Monday to Sunday in the current language."""
    monday = date(2024, 1, 1)
    return [format_date(monday + timedelta(days=i), "EEEE") for i in range(7)]


def by_year_and_month(days: list[CalendarDay]) -> list[tuple[int, list[tuple[str, list[CalendarDay]]]]]:
    """Exceptions grouped by year, then by month (with the month's name)."""
    out = []
    for year, in_year in groupby(days, key=lambda d: d.day.year):
        months = [
            (format_date(date(year, month, 1), "LLLL"), list(in_month))
            for month, in_month in groupby(in_year, key=lambda d: d.day.month)
        ]
        out.append((year, months))
    return out


def hours_text(minutes: int | None) -> str:
    """Minutes as hours for a form or a table: 30 -> "0.5", 240 -> "4"."""
    return "" if minutes is None else f"{round(minutes / 60, 4):g}"


def _calendar_page(
    version: CalendarVersion | None = None,
    *,
    form_name: str | None = None,
    errors: dict | None = None,
    status: int = 200,
):
    latest = setup.current_calendar_version()
    shown = version or latest
    today = setup.local_today(latest)
    history = setup.calendar_history()
    changes = {}
    for (newer, _name), (older, _older_name) in zip(history, history[1:] + [(None, None)], strict=True):
        changes[newer.number] = setup.describe_change(older, newer) if older or newer.number == 1 else []
    form = request.form if form_name else None
    return render_template(
        "deadlines/setup_calendar.html",
        version=shown,
        latest=latest,
        read_only=shown is not None and latest is not None and shown.number != latest.number,
        warnings=setup.calendar_warnings(shown, today) if shown is latest else [],
        grouped=by_year_and_month(list(shown.days)) if shown else [],
        history=history,
        changes=changes,
        weekday_names=weekday_names(),
        hour_rows=HOUR_ROWS,
        years=[today.year, today.year + 1, today.year + 2],
        official_years=setup.official_years(),
        form_name=form_name,
        form=form,
        errors=errors or {},
    ), status


@bp.get("/calendar")
@login_required
def calendar():
    authorize(current_user, "deadlines.calendar.view")
    return _calendar_page()


@bp.get("/calendar/versions/<int:number>")
@login_required
def calendar_version(number: int):
    authorize(current_user, "deadlines.calendar.view")
    return _calendar_page(setup.calendar_version(number))


def _edit(form_name: str, action: Callable[[], CalendarVersion]):
    """Run one calendar edit in its own transaction; show the form again with its errors."""
    authorize(current_user, "deadlines.calendar.edit")
    try:
        with transaction():
            version = action()
    except DomainError as error:
        return _calendar_page(form_name=form_name, errors=error.fields or {"_": [error.message]}, status=error.status)
    flash(_("Saved as version %(number)s.", number=version.number), "success")
    return redirect(url_for(".calendar"))


def _base() -> int | None:
    return small_int(request.form.get("base"))


@bp.post("/calendar/default")
@login_required
def calendar_default():
    return _edit("default", lambda: setup.ensure_default_calendar(current_user))


@bp.post("/calendar/hours")
@login_required
def calendar_hours():
    form = request.form
    weekdays = [small_int(w) if small_int(w) is not None else w for w in form.getlist("weekdays")]
    rows = [
        (i, [form.get(f"start_{i}", "").strip(), form.get(f"end_{i}", "").strip()])
        for i in range(setup.MAX_INTERVALS)
        if form.get(f"start_{i}", "").strip() or form.get(f"end_{i}", "").strip()
    ]

    def save() -> CalendarVersion:
        try:
            return setup.save_calendar(
                current_user,
                weekdays=weekdays,
                hours=[pair for _i, pair in rows],
                note=form.get("note", ""),
                timezone=form.get("timezone", "").strip() or None,
                base=_base(),
            )
        except DomainError as error:  # "hours[1]" is the second filled row; name the row on the form
            error.fields = {
                (f"hours[{rows[int(k[6:-1])][0]}]" if k.startswith("hours[") else k): v for k, v in error.fields.items()
            }
            raise

    return _edit("hours", save)


@bp.post("/calendar/exceptions")
@login_required
def calendar_add_exception():
    form = request.form
    return _edit(
        "add",
        lambda: setup.add_exception(
            current_user,
            form.get("day", "").strip(),
            form.get("kind", ""),
            form.get("name_zh", ""),
            form.get("name_en", ""),
            note=form.get("note", ""),
            base=_base(),
        ),
    )


@bp.post("/calendar/exceptions/remove")
@login_required
def calendar_remove_exception():
    return _edit(
        "remove", lambda: setup.remove_exception(current_user, request.form.get("day", "").strip(), base=_base())
    )


@bp.post("/calendar/official")
@login_required
def calendar_load_year():
    return _edit(
        "official", lambda: setup.load_official_year(current_user, request.form.get("year", "").strip(), base=_base())
    )


@bp.route("/sla", methods=["GET", "POST"])
@login_required
def sla():
    authorize(current_user, "deadlines.policy.view")
    errors: dict = {}
    status = 200
    editing = None
    if request.method == "POST":
        authorize(current_user, "deadlines.policy.edit")
        form = request.form
        try:
            with transaction():
                setup.save_policy(
                    current_user,
                    form.get("category") or None,
                    form.get("priority", ""),
                    {name: form.get(name, "") for name in setup.TARGETS},
                )
        except DomainError as error:
            errors, status = error.fields or {"_": [error.message]}, error.status
        else:
            flash(_("Policy saved."), "success")
            return redirect(url_for(".sla"))
    elif request.args.get("edit"):
        policy_id = small_int(request.args.get("edit"))
        editing = db.session.get(SlaPolicy, policy_id) if policy_id is not None else None
    defaults = setup.policy_defaults()
    return render_template(
        "deadlines/setup_sla.html",
        policies=setup.list_policies(),
        categories=catalog.categories(),
        defaults=defaults,
        targets=setup.TARGETS,
        priorities=setup.PRIORITIES,
        editing=editing,
        form=request.form if request.method == "POST" else None,
        errors=errors,
        hours_text=hours_text,
    ), status


@bp.post("/sla/<int:policy_id>/delete")
@login_required
def sla_delete(policy_id: int):
    authorize(current_user, "deadlines.policy.edit")
    with transaction():
        setup.delete_policy(current_user, policy_id)
    flash(_("Policy deleted."), "success")
    return redirect(url_for(".sla"))
