"""Permission rules for deadlines: calendar and policies, pauses, interim deadlines, the escalation queue."""

from participation.accounts.models import Role
from participation.core.permissions import rule
from participation.routing.permissions import is_coordinator, is_staff_of


def _admin(actor) -> bool:
    return actor is not None and actor.has_role(Role.ADMIN)


@rule("deadlines.calendar.view")
def _calendar_view(actor, _obj):
    return _admin(actor) or is_coordinator(actor)


@rule("deadlines.calendar.edit")
def _calendar_edit(actor, _obj):
    return _admin(actor)


@rule("deadlines.policy.view")
def _policy_view(actor, _obj):
    return _admin(actor) or is_coordinator(actor)


@rule("deadlines.policy.edit")
def _policy_edit(actor, _obj):
    return _admin(actor)


@rule("deadlines.pause.waiting")
def _pause_waiting(actor, ticket):
    """The lead department waits for the citizen (or the coordinator records it)."""
    return is_coordinator(actor) or is_staff_of(actor, ticket.lead_department_id)


@rule("deadlines.pause.suspend")
def _pause_suspend(actor, _ticket):
    """An approved suspension: only the coordination centre approves one."""
    return is_coordinator(actor)


@rule("deadlines.interim")
def _interim(actor, _ticket):
    return is_coordinator(actor)


@rule("deadlines.escalations.view")
def _escalations(actor, _obj):
    return is_coordinator(actor)
