"""Permission rules for the forums: who may propose, support, withdraw and answer."""

from participation.accounts.models import Role
from participation.core.permissions import rule
from participation.routing.permissions import is_staff_of


def is_participant(actor) -> bool:
    """Citizens and enterprise accounts take part in the forums."""
    return actor is not None and actor.has_role(Role.CITIZEN, Role.ENTERPRISE)


def is_moderator(actor) -> bool:
    """Moderators, and the coordination centre, which moderates where no moderator is appointed."""
    return actor is not None and actor.has_role(Role.MODERATOR, Role.COORDINATOR)


@rule("forums.proposal.create")
def _create(actor, _obj):
    return is_participant(actor)


@rule("forums.proposal.view")
def _view(actor, proposal):
    """Published proposals are public; drafts are the author's; hidden ones the author's and moderators'."""
    from participation.forums.models import PUBLIC_STATES, ProposalState

    if proposal.state in PUBLIC_STATES:
        return True
    if actor is None:
        return False
    if proposal.author_id is not None and proposal.author_id == actor.id:
        return True
    return proposal.state == ProposalState.HIDDEN and is_moderator(actor)


@rule("forums.proposal.edit")
def _edit(actor, proposal):
    """Publishing a draft and withdrawing: the author only."""
    return actor is not None and proposal.author_id is not None and proposal.author_id == actor.id


@rule("forums.proposal.support")
def _support(actor, _proposal):
    return is_participant(actor)


@rule("forums.proposal.answer")
def _answer(actor, proposal):
    """The official answer comes from the staff of the lead department of the proposal's ticket."""
    ticket = getattr(proposal, "ticket", None)
    return ticket is not None and is_staff_of(actor, ticket.lead_department_id)


def is_department_staff(actor) -> bool:
    staff = actor is not None and actor.has_role(Role.DEPARTMENT_STAFF, Role.DEPARTMENT_ADMIN)
    return staff and bool(actor.department_ids)


@rule("forums.thread.view")
def _thread_view(actor, _thread):
    return True  # threads are public discussions


@rule("forums.thread.create")
def _thread_create(actor, _obj):
    """The city coordination centre opens topic threads."""
    return actor is not None and actor.has_role(Role.COORDINATOR)


@rule("forums.thread.lock")
def _thread_lock(actor, _thread):
    return actor is not None and actor.has_role(Role.COORDINATOR)


@rule("forums.comment.create")
def _comment(actor, _subject):
    """Participants discuss; department staff answer (officially) and the coordination centre takes part."""
    coordinator = actor is not None and actor.has_role(Role.COORDINATOR)
    return is_participant(actor) or is_department_staff(actor) or coordinator


@rule("forums.comment.edit")
def _comment_edit(actor, comment):
    """Only the comment's author edits it."""
    return actor is not None and comment.author_id is not None and comment.author_id == actor.id


@rule("forums.comment.vote")
def _comment_vote(actor, _comment):
    """Votes measure public opinion: citizens and enterprise accounts."""
    return is_participant(actor)


@rule("forums.flag")
def _flag(actor, _item):
    """Anyone logged in may report a proposal or a comment."""
    return actor is not None


@rule("forums.moderate")
def _moderate(actor, _item):
    """The moderators' queue and its actions: hide, restore, edit, dismiss flags, block an account."""
    return is_moderator(actor)
