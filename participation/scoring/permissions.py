"""Permission rules for scorecards: coordinators see and weigh everything, department admins see the ranking."""

from participation.accounts.models import Role
from participation.core.permissions import rule
from participation.routing.permissions import is_coordinator


@rule("scoring.view")
def _view(actor, _obj):
    return is_coordinator(actor) or (actor is not None and actor.has_role(Role.DEPARTMENT_ADMIN))


@rule("scoring.weights.edit")
def _weights(actor, _obj):
    return is_coordinator(actor)
