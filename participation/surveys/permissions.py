"""Permission rules for surveys: who builds, publishes, distributes and analyses them."""

from participation.accounts.models import Role
from participation.core.permissions import rule
from participation.intake.permissions import owns
from participation.routing.permissions import is_coordinator, judged_on


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


# Who may answer, signed in, for a request sent without an account: the public's own accounts (whoever
# holds the code is its sender), and the coordinators, who record the callbacks made by phone.
PUBLIC_ROLES = frozenset({Role.CITIZEN, Role.ENTERPRISE})


@rule("surveys.callback.answer")
def _answer_callback(actor, submission):
    """A request's callback is its sender's to answer. One sent from an account is answered by that account
    (or a member of the enterprise it was sent for), signed in: a tracking code passed on lets others
    follow the request, not judge it. One sent without an account is answered by whoever holds its
    tracking code (the code is all its sender has), signed out or with a citizen's or enterprise's account,
    and by the coordinators for a sender who answers by phone; not from the accounts of the departments
    being judged, of moderators, researchers or administrators, who do not answer for the citizen."""
    if owns(actor, submission):
        return True
    if submission.user_id is not None or submission.organisation_id is not None:
        return False
    if actor is not None and judged_on(actor, getattr(submission, "ticket", None)):
        return False  # a coordinator who also works for a department on the ticket does not judge it
    return actor is None or is_coordinator(actor) or actor.roles <= PUBLIC_ROLES
