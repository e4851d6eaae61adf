"""JSON API for the business calendar and the SLA policies: the same services and rules as the admin pages."""

from __future__ import annotations

from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from participation.core.api import bp
from participation.core.errors import NotFound, ValidationFailed
from participation.core.permissions import authorize
from participation.core.uow import transaction
from participation.core.validation import json_body, small_int
from participation.deadlines import setup
from participation.deadlines.models import CalendarVersion, SlaPolicy


def calendar_json(version: CalendarVersion, warnings: list[str] | None = None) -> dict:
    return {
        "number": version.number,
        "timezone": version.timezone,
        "weekdays": list(version.weekdays),
        "hours": [list(pair) for pair in version.hours],
        "minutes_per_day": setup.minutes_per_day(version),
        "note": version.note,
        "created_at": version.created_at.isoformat(),
        "exceptions": [
            {
                "day": d.day.isoformat(),
                "kind": d.kind.value,
                "name": {"zh": d.name_zh, "en": d.name_en},
                "provisional": d.provisional,
            }
            for d in version.days
        ],
        "warnings": warnings if warnings is not None else [],
    }


def policy_json(policy: SlaPolicy) -> dict:
    minutes = setup.policy_minutes(policy)
    return {
        "id": policy.id,
        "category": policy.category.code if policy.category else None,
        "priority": policy.priority,
        "targets_minutes": minutes,
        "targets_hours": {name: round(value / 60, 4) for name, value in minutes.items()},
    }


def _version_arg() -> int | None:
    raw = request.args.get("version")
    if raw is None:
        return None
    number = small_int(raw)
    if number is None:
        raise ValidationFailed(fields={"version": [_("Give a version number.")]})
    return number


def _base(body: dict) -> int | None:
    base = body.get("base")
    if base is not None and (not isinstance(base, int) or isinstance(base, bool)):
        raise ValidationFailed(fields={"base": [_("Wrong type of value.")]})
    return base


@bp.get("/calendar")
def calendar():
    """The current business calendar (or `?version=N`), with its exceptions and warnings."""
    authorize(current_user, "deadlines.calendar.view")
    number = _version_arg()
    version = setup.calendar_version(number) if number is not None else setup.current_calendar_version()
    if version is None:
        raise NotFound(_("There is no business calendar yet."))
    latest = number is None or version.number == setup.current_calendar_version().number
    return jsonify(calendar_json(version, setup.calendar_warnings(version) if latest else []))


@bp.put("/calendar")
def save_calendar():
    """Save working weekdays and hours (optionally the time zone) as a new version."""
    body = json_body(request)
    with transaction():
        version = setup.save_calendar(
            current_user,
            weekdays=body.get("weekdays"),
            hours=body.get("hours"),
            note=body.get("note", ""),
            timezone=body.get("timezone"),
            base=_base(body),
        )
    return jsonify(calendar_json(version, setup.calendar_warnings(version)))


@bp.post("/calendar/exceptions")
def add_exception():
    """Add or replace a public holiday or make-up working day: {day, kind, name: {zh, en}}."""
    body = json_body(request)
    name = body.get("name") or {}
    if not isinstance(name, dict):
        raise ValidationFailed(fields={"name": [_('Give the name as {"zh": ..., "en": ...}.')]})
    with transaction():
        version = setup.add_exception(
            current_user,
            body.get("day"),
            body.get("kind"),
            name.get("zh", ""),
            name.get("en", ""),
            note=body.get("note", ""),
            base=_base(body),
        )
    return jsonify(calendar_json(version, setup.calendar_warnings(version))), 201


@bp.delete("/calendar/exceptions/<day>")
def remove_exception(day: str):
    """Remove the exception on a day (YYYY-MM-DD)."""
    with transaction():
        version = setup.remove_exception(current_user, day)
    return jsonify(calendar_json(version, setup.calendar_warnings(version)))


@bp.post("/calendar/official-years")
def load_official_year():
    """Replace a year's exceptions with China's schedule: {year}."""
    body = json_body(request)
    with transaction():
        version = setup.load_official_year(current_user, body.get("year"), base=_base(body))
    return jsonify(calendar_json(version, setup.calendar_warnings(version))), 201


@bp.get("/sla-policies")
def list_policies():
    """Every policy row, and the built-in defaults (minutes; resolve None = by the category)."""
    authorize(current_user, "deadlines.policy.view")
    return jsonify(
        {"policies": [policy_json(p) for p in setup.list_policies()], "defaults_minutes": setup.policy_defaults()}
    )


@bp.put("/sla-policies")
def save_policy():
    """Create or update one policy: {category: code or null, priority, targets: {sign_for, ...} in hours}."""
    body = json_body(request)
    with transaction():
        policy = setup.save_policy(current_user, body.get("category"), body.get("priority"), body.get("targets"))
    return jsonify({"policy": policy_json(policy)})


@bp.delete("/sla-policies/<int:policy_id>")
def delete_policy(policy_id: int):
    """Delete a policy row."""
    with transaction():
        setup.delete_policy(current_user, policy_id)
    return "", 204
