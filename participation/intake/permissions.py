"""Permission rules for intake."""

from participation.accounts.models import Role
from participation.core.permissions import can, rule
from participation.intake.models import Channel
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


# Who may answer, signed in, for a request sent without an account: the public's own accounts (whoever
# holds the code is its sender), and the coordinators, who take answers down on the phone.
PUBLIC_ROLES = frozenset({Role.CITIZEN, Role.ENTERPRISE})


def speaks_for_sender(actor, submission) -> bool:
    """Who answers for a request's sender (what the departments ask, the callback): the sending account (or
    a member of its enterprise), signed in; for a request sent without an account, whoever holds its code,
    signed out or with a citizen's or enterprise's account, and the coordinators; never the departments on
    the ticket (a coordinator among their staff included), moderators, researchers or administrators. A
    forum proposal sent for an author who has left has its code on a public page: the coordinators only."""
    if owns(actor, submission):
        return True
    if submission.user_id is not None or submission.organisation_id is not None:
        return False
    if getattr(submission, "channel", None) == Channel.FORUM:
        # A proposal sent on behalf of an author who has left: its code is on the public proposal page, so
        # holding it proves nothing. Only the coordinators answer for such a sender.
        return _coordinator_not_judged(actor, submission)
    if actor is None or not getattr(actor, "is_authenticated", False):
        return True
    if judged_on(actor, getattr(submission, "ticket", None)):
        return False
    return actor.has_role(Role.COORDINATOR) or actor.roles <= PUBLIC_ROLES


def _coordinator_not_judged(actor, submission) -> bool:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return False
    return actor.has_role(Role.COORDINATOR) and not judged_on(actor, getattr(submission, "ticket", None))


@rule("intake.submission.add_information")
def _add_information(actor, submission):
    """What the departments ask of a sender is given by that sender (see `speaks_for_sender`)."""
    return speaks_for_sender(actor, submission)
