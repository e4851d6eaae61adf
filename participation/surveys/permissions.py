"""Permission rules for surveys: who builds, publishes, distributes and analyses them."""

from participation.accounts.models import Role
from participation.core.permissions import rule
from participation.intake.permissions import speaks_for_sender
from participation.routing.permissions import is_coordinator


def _department_admin_of(actor, survey) -> bool:
    return (
        actor is not None
        and survey is not None
        and getattr(survey, "department_id", None) is not None
        and actor.has_role(Role.DEPARTMENT_ADMIN)
        and survey.department_id in actor.department_ids
    )


@rule("surveys.create")
def _create(actor, _obj):
    """Coordinators build city surveys; department admins build their department's."""
    return is_coordinator(actor) or (actor is not None and actor.has_role(Role.DEPARTMENT_ADMIN))


@rule("surveys.manage")
def _manage(actor, survey):
    """Edit, publish, close, invite: the coordinators, or the admins of the survey's department."""
    return is_coordinator(actor) or _department_admin_of(actor, survey)


@rule("surveys.analyse")
def _analyse(actor, survey):
    return (
        is_coordinator(actor)
        or _department_admin_of(actor, survey)
        or (actor is not None and actor.has_role(Role.RESEARCHER))
    )


@rule("surveys.respond")
def _respond(actor, _survey):
    return True  # anyone may answer an open survey (the service checks distribution and tokens)


@rule("surveys.callback.answer")
def _answer_callback(actor, submission):
    """A request's callback is its sender's to answer (see `intake.permissions.speaks_for_sender`): a
    tracking code passed on lets others follow the request, not judge it, and the departments being judged
    do not answer for the citizen."""
    return speaks_for_sender(actor, submission)
