"""Permission rules for intake."""

from participation.accounts.models import Role
from participation.core.permissions import can, rule
from participation.routing.permissions import judged_on


@rule("intake.submission.create")
def _create(actor, _obj):
    return True  # anyone, logged in or not; rate limits guard the door


@rule("intake.submission.list_own")
def _list_own(actor, _obj):
    return actor is not None


def owns(actor, submission) -> bool:
    """The account that sent it, or a member of the enterprise it was sent for."""
    if actor is None:
        return False
    if submission.user_id is not None and submission.user_id == actor.id:
        return True
    return submission.organisation_id is not None and submission.organisation_id == actor.organisation_id


@rule("intake.submission.view_private")
def _view_private(actor, submission):
    return actor is not None and (owns(actor, submission) or actor.has_role(Role.COORDINATOR, Role.ADMIN))


@rule("intake.attachment.view")
def _view_attachment(actor, submission):
    """A request's photos: whoever sees its private details, and the staff who work its ticket (they asked
    for the photos, or need them to act)."""
    if can(actor, "intake.submission.view_private", submission):
        return True
    ticket = getattr(submission, "ticket", None)
    return ticket is not None and can(actor, "routing.ticket.view", ticket)


@rule("intake.submission.withdraw")
def _withdraw(actor, submission):
    return actor is not None and submission.user_id == actor.id


@rule("intake.submission.add_information")
def _add_information(actor, submission):
    """What the departments ask of a sender is given by that sender: the sending account (or its
    enterprise), signed in; for a request sent without an account, whoever holds its code, or the
    coordination centre taking it down on the phone. Other staff do not answer for the sender."""
    if owns(actor, submission):
        return True
    if submission.user_id is not None or submission.organisation_id is not None:
        return False
    if actor is None or not getattr(actor, "is_authenticated", False):
        return True
    if judged_on(actor, getattr(submission, "ticket", None)):
        return False  # staff of a department on the ticket do not answer for its sender, coordinators or not
    return actor.has_role(Role.COORDINATOR) or not actor.has_role(
        Role.DEPARTMENT_STAFF, Role.DEPARTMENT_ADMIN, Role.MODERATOR, Role.RESEARCHER, Role.ADMIN
    )
