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


@rule("scoring.view_full")
def _view_full(actor, card):
    """A scorecard in full (components, penalties, drill-down): coordinators any, department admins their own."""
    department_id = getattr(card, "department_id", getattr(card, "id", None))
    return is_coordinator(actor) or (
        actor is not None and actor.has_role(Role.DEPARTMENT_ADMIN) and department_id in actor.department_ids
    )


@rule("scoring.network.pair")
def _network_pair(actor, pair):
    """A pair of the network diagnostics (`pair.department_ids`; None for every pair): coordinators see any,
    department admins those involving one of their departments."""
    if is_coordinator(actor):
        return True
    if actor is None or pair is None or not actor.has_role(Role.DEPARTMENT_ADMIN):
        return False
    return bool(set(pair.department_ids) & actor.department_ids)


@rule("scoring.agenda.view")
def _agenda_view(actor, item):
    """The joint-meeting agenda: coordinators all of it, department admins the items of their departments."""
    if is_coordinator(actor):
        return True
    if actor is None or not actor.has_role(Role.DEPARTMENT_ADMIN):
        return False
    return item is None or bool(getattr(item, "department_ids", set()) & actor.department_ids)


@rule("scoring.agenda.manage")
def _agenda_manage(actor, _item):
    """Build the agenda and record what the meeting did (discussed, decision, catalog change, dismissal)."""
    return is_coordinator(actor)
