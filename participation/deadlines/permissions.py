"""Permission rules for deadlines: calendar and policies, pauses, interim deadlines, the escalation queue."""

from participation.accounts.models import Role
from participation.core.permissions import rule


def _coordinator(actor) -> bool:
    return actor is not None and actor.has_role(Role.COORDINATOR)


def _admin(actor) -> bool:
    return actor is not None and actor.has_role(Role.ADMIN)


def _staff_of(actor, department_id) -> bool:
    return (
        actor is not None
        and department_id is not None
        and actor.has_role(Role.DEPARTMENT_STAFF, Role.DEPARTMENT_ADMIN)
        and department_id in actor.department_ids
    )


@rule("deadlines.calendar.view")
def _calendar_view(actor, _obj):
    return _admin(actor) or _coordinator(actor)


@rule("deadlines.calendar.edit")
def _calendar_edit(actor, _obj):
    return _admin(actor)


@rule("deadlines.policy.view")
def _policy_view(actor, _obj):
    return _admin(actor) or _coordinator(actor)


@rule("deadlines.policy.edit")
def _policy_edit(actor, _obj):
    return _admin(actor)


@rule("deadlines.pause.waiting")
def _pause_waiting(actor, ticket):
    """The lead department waits for the citizen (or the coordinator records it)."""
    return _coordinator(actor) or _staff_of(actor, ticket.lead_department_id)


@rule("deadlines.pause.suspend")
def _pause_suspend(actor, _ticket):
    """An approved suspension: only the coordination centre approves one."""
    return _coordinator(actor)


@rule("deadlines.interim")
def _interim(actor, _ticket):
    return _coordinator(actor)


@rule("deadlines.escalations.view")
def _escalations(actor, _obj):
    return _coordinator(actor)
