"""The permission matrix: every role against every rule registered so far."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from participation.accounts.models import ApiToken, Role, User
from participation.core.permissions import can, rules
from participation.forums.models import ProposalState
from participation.intake.models import Submission
from participation.routing.models import PartStatus

ROLES = [None] + [r.value for r in Role]

# rule -> the roles allowed, acting on *someone else's* object (own objects are covered below)
MATRIX: dict[str, set[str | None]] = {
    "accounts.profile.edit": set(),
    "accounts.token.create": set(),
    "accounts.token.revoke": {"admin"},
    "accounts.users.manage": {"admin"},
    "catalog.manage": {"admin"},
    "catalog.category.departments": {"admin", "coordinator"},
    "intake.submission.create": set(ROLES),
    "intake.submission.list_own": {r.value for r in Role},
    "intake.submission.add_information": set(),
    "intake.submission.view_private": {"coordinator", "admin"},
    "intake.attachment.view": {"coordinator", "admin"},  # and the staff of the ticket (tests/intake)
    "intake.submission.withdraw": set(),
    "routing.suggest": set(ROLES),
    "routing.triage.view": {"coordinator"},
    "routing.dispatch": {"coordinator"},
    "routing.coordinate": {"coordinator"},
    "routing.dispute.rule": {"coordinator"},
    "routing.ticket.reopen": {"coordinator"},
    "routing.ticket.view": {"coordinator"},
    "routing.ticket.find": {"coordinator"},
    "routing.staff": {"coordinator"},  # and staff of a department (tests/routing/test_find.py)
    "routing.ticket.code": {"coordinator"},
    "routing.ticket.note": {"coordinator"},
    "routing.ticket.invite": {"coordinator"},
    "routing.ticket.lead": set(),
    "routing.part.work": set(),
    "routing.part.sign": {"department_staff", "department_admin"},
    "routing.inbox": set(),
    "notifications.list_own": {r.value for r in Role},
    "notifications.read": set(),
    "notifications.preferences.edit": set(),
    "notifications.outbox.view": {"admin"},
    "deadlines.calendar.view": {"coordinator", "admin"},
    "deadlines.calendar.edit": {"admin"},
    "deadlines.policy.view": {"coordinator", "admin"},
    "deadlines.policy.edit": {"admin"},
    "deadlines.pause.waiting": {"coordinator"},
    "deadlines.pause.suspend": {"coordinator"},
    "deadlines.interim": {"coordinator"},
    "deadlines.escalations.view": {"coordinator"},
    "surveys.create": {"coordinator", "department_admin"},
    "surveys.manage": {"coordinator"},
    "surveys.analyse": {"coordinator", "researcher"},
    "surveys.respond": set(ROLES),
    "surveys.callback.answer": set(),
    "scoring.view": {"coordinator", "department_admin"},
    "scoring.weights.edit": {"coordinator"},
    "scoring.view_full": {"coordinator"},
    "scoring.network.pair": {"coordinator"},
    "scoring.agenda.view": {"coordinator"},
    "scoring.agenda.manage": {"coordinator"},
    "forums.proposal.create": {"citizen", "enterprise"},
    "forums.proposal.view": set(ROLES),
    "forums.proposal.edit": set(),
    "forums.proposal.support": {"citizen", "enterprise"},
    "forums.proposal.answer": set(),
    "forums.thread.view": set(ROLES),
    "forums.thread.create": {"coordinator"},
    "forums.thread.lock": {"coordinator"},
    "forums.comment.create": {"citizen", "enterprise", "coordinator"},
    "forums.comment.edit": set(),
    "forums.comment.vote": {"citizen", "enterprise"},
    "forums.flag": {r.value for r in Role},
    "forums.moderate": {"coordinator", "moderator"},
    "exports.request": {"researcher"},
    "exports.project.use": set(),
    "exports.view": {"coordinator", "admin"},
    "exports.download": set(),
    "exports.audit": {"coordinator", "admin"},
}
# Department staff act only for their own departments: see tests/routing/test_permissions.py
# (and tests/forums/test_discussion.py: staff with a department comment, officially).


def test_matrix_covers_every_rule(app):
    assert set(MATRIX) == set(rules()), "add new permission rules to the matrix"


def person(role: str | None, user_id: int = 1):
    """An in-memory user: the rules read roles and memberships only, so no database is needed."""
    if role is None:
        return None
    user = User(id=user_id, email=f"{role}@example.org", display_name=role, active=True)
    user.set_roles({Role(role)})
    return user


@pytest.fixture
def others():
    owner = person("citizen", user_id=99)
    return {
        "accounts.profile.edit": owner,
        "accounts.token.create": owner,
        "accounts.token.revoke": ApiToken(user_id=owner.id, name="t", prefix="pt_", token_hash="x"),
        "intake.submission.add_information": Submission(user_id=owner.id, organisation_id=None),
        "intake.submission.view_private": Submission(user_id=owner.id, organisation_id=None),
        "intake.attachment.view": Submission(user_id=owner.id, organisation_id=None),
        "intake.submission.withdraw": Submission(user_id=owner.id, organisation_id=None),
        "surveys.callback.answer": Submission(user_id=owner.id, organisation_id=None),
        **{name: TICKET for name in MATRIX if name.startswith("routing.ticket") or name in ROUTING_ON_TICKET},
        "routing.part.work": SimpleNamespace(department_id=999, ticket=TICKET),
        "routing.inbox": SimpleNamespace(id=999),
        "notifications.read": SimpleNamespace(user_id=owner.id),
        "notifications.preferences.edit": owner,
        "scoring.view_full": SimpleNamespace(department_id=999),
        "scoring.network.pair": SimpleNamespace(department_ids={998, 999}),
        "scoring.agenda.view": SimpleNamespace(department_ids={998, 999}),
        "forums.proposal.view": SimpleNamespace(state=ProposalState.PUBLISHED, author_id=owner.id),
        "forums.proposal.edit": SimpleNamespace(state=ProposalState.PUBLISHED, author_id=owner.id),
        "forums.proposal.answer": SimpleNamespace(ticket=TICKET, author_id=owner.id),
        "forums.comment.edit": SimpleNamespace(author_id=owner.id),
        "forums.comment.vote": SimpleNamespace(author_id=owner.id),
        "exports.project.use": SimpleNamespace(owner_id=owner.id),
        "exports.view": SimpleNamespace(user_id=owner.id),
        "exports.download": SimpleNamespace(user_id=owner.id),
    }


ROUTING_ON_TICKET = {
    "routing.dispatch",
    "routing.coordinate",
    "routing.dispute.rule",
    "deadlines.pause.waiting",
    "deadlines.pause.suspend",
    "deadlines.interim",
}
TICKET = SimpleNamespace(
    lead_department_id=999,
    parts=[SimpleNamespace(department_id=999, status=PartStatus.PENDING, departed=False)],
    submission=SimpleNamespace(user_id=99),
)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_role_against_rule(others, role, name):
    actor = person(role)
    assert can(actor, name, others.get(name)) is (role in MATRIX[name])


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_own_things(role):
    actor = person(role)
    assert can(actor, "accounts.profile.edit", actor)
    assert can(actor, "accounts.token.create", actor)
    assert can(actor, "accounts.token.revoke", ApiToken(user_id=actor.id))
    own = Submission(user_id=actor.id, organisation_id=None)
    assert can(actor, "intake.submission.add_information", own)
    assert can(actor, "intake.submission.view_private", own)
    assert can(actor, "intake.attachment.view", own)
    assert can(actor, "intake.submission.withdraw", own)
    assert can(actor, "surveys.callback.answer", own)
    assert can(actor, "notifications.read", SimpleNamespace(user_id=actor.id))
    assert can(actor, "notifications.preferences.edit", actor)
    assert can(actor, "forums.comment.edit", SimpleNamespace(author_id=actor.id))
    assert can(actor, "routing.ticket.find", SimpleNamespace(parts=[], submission=SimpleNamespace(user_id=actor.id)))


def test_inactive_accounts_count_as_anonymous(others):
    admin = person("admin")
    admin.active = False
    assert {name for name in MATRIX if can(admin, name, others.get(name, admin))} == {
        n for n, allowed in MATRIX.items() if None in allowed
    }


@pytest.mark.parametrize("role", (None, *ROLES))
def test_what_is_asked_of_a_request_sent_without_an_account_is_given_by_its_code_holder(role):
    """Or by the coordination centre taking it down on the phone; never by departments, moderators,
    researchers or administrators."""
    allowed = role in (None, "citizen", "enterprise", "coordinator")
    actor = person(role) if role else None
    assert can(actor, "intake.submission.add_information", Submission(user_id=None, organisation_id=None)) is allowed


def test_unknown_rule_is_an_error(db):
    with pytest.raises(LookupError):
        can(None, "no.such.rule")


@pytest.mark.parametrize("role", ROLES)
def test_the_callback_of_a_request_sent_without_an_account_is_answered_by_the_public_and_the_coordinators(role):
    """Whoever holds the code, signed out or as a citizen or enterprise (the code is all its sender has), and
    the coordinators, who record hotline callbacks; not the departments being judged, moderators,
    researchers or administrators, even with the code."""
    allowed = role in (None, "citizen", "enterprise", "coordinator")
    assert can(person(role), "surveys.callback.answer", Submission(user_id=None, organisation_id=None)) is allowed


@pytest.mark.parametrize(
    ("roles", "allowed"),
    [
        ({"citizen", "moderator"}, False),
        ({"enterprise", "researcher"}, False),
        ({"citizen", "admin"}, False),
        ({"citizen", "enterprise"}, True),
        ({"coordinator", "department_staff"}, True),
    ],
)
def test_a_staff_role_beside_a_public_one_does_not_answer_for_the_citizen(roles, allowed):
    actor = User(id=1, email="both@example.org", display_name="both", active=True)
    actor.set_roles({Role(r) for r in roles})
    assert can(actor, "surveys.callback.answer", Submission(user_id=None, organisation_id=None)) is allowed


@pytest.mark.parametrize("name", ["surveys.callback.answer", "intake.submission.add_information"])
def test_a_coordinator_working_for_a_department_on_the_ticket_does_not_answer_for_its_sender(app, name, monkeypatch):
    actor = User(id=1, email="both@example.org", display_name="both", active=True)
    actor.set_roles({Role.COORDINATOR, Role.DEPARTMENT_STAFF})
    monkeypatch.setattr(User, "department_ids", property(lambda self: {7}))
    sent = Submission(user_id=None, organisation_id=None)
    theirs = SimpleNamespace(
        user_id=None, organisation_id=None, ticket=SimpleNamespace(parts=[SimpleNamespace(department_id=7)])
    )
    others = SimpleNamespace(
        user_id=None, organisation_id=None, ticket=SimpleNamespace(parts=[SimpleNamespace(department_id=8)])
    )
    assert can(actor, name, sent) and can(actor, name, others)
    assert not can(actor, name, theirs)
