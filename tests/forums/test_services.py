"""Forum services: proposing, supporting, the threshold that makes a ticket, and the official answer."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from participation.core.audit import AuditLog
from participation.core.errors import Conflict, NotAuthenticated, NotFound, PermissionDenied, ValidationFailed
from participation.core.uow import transaction
from participation.forums import services
from participation.forums.models import Proposal, ProposalState, ProposalSupport
from participation.intake.models import Submission
from participation.routing.models import PartRole, Ticket
from tests.forums.conftest import GOOD


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_publish_a_proposal(db, people, propose):
    proposal = propose()
    assert proposal.state == ProposalState.PUBLISHED and proposal.published_at is not None
    assert proposal.author_id == people.author.id and not proposal.author_is_enterprise
    assert proposal.category.code == "NOISE" and proposal.district.code == "EAST-HILL"
    actions = set(db.session.scalars(select(AuditLog.action)))
    assert {"proposal.created", "proposal.published"} <= actions


def test_enterprise_flag_comes_from_the_account(db, people, propose):
    proposal = propose(people.firm, category="BIZ-ENV")
    assert proposal.author_is_enterprise


def test_a_draft_is_published_by_its_author(db, people):
    with transaction():
        draft = services.create_proposal(people.author, GOOD, publish=False)
    assert draft.state == ProposalState.DRAFT
    with pytest.raises(NotFound):  # another person's draft is not visible
        services.publish(people.alice, draft.id)
    with transaction():
        services.publish(people.author, draft.id)
    assert draft.state == ProposalState.PUBLISHED and draft.published_at is not None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"text": ""}, "text"),
        ({"title": "x" * 201}, "title"),
        ({"text": "x" * 5001}, "text"),
        ({"category": ""}, "category"),
        ({"category": "NOPE"}, "category"),
        ({"category": "BIZ-ENV"}, "category"),  # enterprise only
        ({"district": "NOWHERE"}, "district"),
        ({"title": 5}, "title"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_refused_with_field_details(db, people, changes, field):
    with pytest.raises(ValidationFailed) as caught:
        with transaction():
            services.create_proposal(people.author, {**GOOD, **changes})
    assert field in caught.value.fields
    assert count(db, Proposal) == 0


def test_inactive_category_is_refused(db, people):
    from participation.catalog.models import Category

    db.session.scalar(select(Category).where(Category.code == "NOISE")).active = False
    db.session.commit()
    with pytest.raises(ValidationFailed) as caught:
        services.create_proposal(people.author, GOOD)
    assert "category" in caught.value.fields


def test_only_participants_propose(db, people):
    with pytest.raises(NotAuthenticated):
        services.create_proposal(None, GOOD)
    with pytest.raises(PermissionDenied):
        services.create_proposal(people.env, GOOD)


def test_script_is_stored_as_typed(db, people, propose):
    proposal = propose(title="<script>alert(1)</script>", text="<b>bold</b> & more")
    assert db.session.get(Proposal, proposal.id).title == "<script>alert(1)</script>"


def test_support_and_withdraw_support(db, people, propose):
    proposal = propose()
    with transaction():
        services.support(people.alice, proposal.id)
    assert proposal.support_count == 1 and services.supports(people.alice, proposal)
    with pytest.raises(Conflict):
        services.support(people.alice, proposal.id)
    db.session.rollback()
    with transaction():
        services.withdraw_support(people.alice, proposal.id)
    assert proposal.support_count == 0 and not services.supports(people.alice, proposal)
    with pytest.raises(Conflict):
        services.withdraw_support(people.alice, proposal.id)
    db.session.rollback()
    with transaction():
        services.support(people.alice, proposal.id)  # supporting again revives the row
    assert proposal.support_count == 1 and count(db, ProposalSupport) == 1


def test_self_support_is_forbidden(app, db, people, propose, monkeypatch):
    proposal = propose()
    with pytest.raises(PermissionDenied) as caught:
        services.support(people.author, proposal.id)
    assert caught.value.message != PermissionDenied().message  # says why
    db.session.rollback()
    monkeypatch.setitem(app.config, "FORUM_ALLOW_SELF_SUPPORT", True)
    with transaction():
        services.support(people.author, proposal.id)
    assert proposal.support_count == 1


def test_no_support_on_withdrawn_or_draft(db, people, propose):
    proposal = propose()
    with transaction():
        services.withdraw(people.author, proposal.id)
    assert proposal.state == ProposalState.WITHDRAWN
    with pytest.raises(Conflict):
        services.support(people.alice, proposal.id)
    db.session.rollback()
    with transaction():
        draft = services.create_proposal(people.author, GOOD, publish=False)
    with pytest.raises(NotFound):  # someone else's draft is not even visible
        services.support(people.alice, draft.id)


def test_only_the_author_withdraws(db, people, propose):
    proposal = propose()
    with pytest.raises(PermissionDenied):
        services.withdraw(people.alice, proposal.id)


def test_staff_cannot_support(db, people, propose):
    proposal = propose()
    with pytest.raises(PermissionDenied):
        services.support(people.env, proposal.id)


def reach_threshold(people, proposal):
    for person in (people.alice, people.bob):
        with transaction():
            services.support(person, proposal.id)


def test_threshold_sends_the_proposal_to_the_router(app, db, people, propose, threshold, monkeypatch):
    monkeypatch.setitem(app.config, "ROUTING_AUTO_DISPATCH", True)
    proposal = propose()
    with transaction():
        services.support(people.alice, proposal.id)
    assert proposal.state == ProposalState.PUBLISHED and proposal.ticket_id is None
    with transaction():
        services.support(people.bob, proposal.id)
    db.session.expire_all()
    proposal = db.session.get(Proposal, proposal.id)
    assert proposal.state == ProposalState.THRESHOLD_REACHED and proposal.threshold_reached_at is not None
    ticket = db.session.get(Ticket, proposal.ticket_id)
    assert ticket.submission.kind.value == "proposal" and ticket.submission.channel.value == "forum"
    assert ticket.submission.user_id == people.author.id
    assert ticket.lead_department.code == "ENV"  # the router's lead for the category
    assert {(p.department.code, p.role) for p in ticket.parts} >= {("ENV", PartRole.LEAD), ("URBAN", PartRole.CO)}
    # more support after that adds supporters, never a second ticket
    with transaction():
        services.support(people.carol, proposal.id)
    assert count(db, Ticket) == count(db, Submission) == 1 and proposal.support_count == 3


def test_withdrawn_support_does_not_undo_the_ticket(db, people, propose, threshold):
    proposal = propose()
    reach_threshold(people, proposal)
    with transaction():
        services.withdraw_support(people.alice, proposal.id)
    assert proposal.state == ProposalState.THRESHOLD_REACHED and proposal.support_count == 1
    with pytest.raises(Conflict):
        services.withdraw(people.author, proposal.id)


def test_answer_by_lead_staff(app, db, people, propose, threshold, monkeypatch):
    monkeypatch.setitem(app.config, "ROUTING_AUTO_DISPATCH", True)
    proposal = propose()
    reach_threshold(people, proposal)
    with pytest.raises(PermissionDenied):
        services.answer(people.transport, proposal.id, "accepted", "We will do it.")
    db.session.rollback()
    with pytest.raises(ValidationFailed) as caught:
        services.answer(people.env, proposal.id, "maybe", "")
    assert set(caught.value.fields) == {"verdict", "reasons"}
    db.session.rollback()
    with transaction():
        services.answer(people.env, proposal.id, "under_study", "我们将在下季度研究夜间施工时限。")
    db.session.expire_all()
    proposal = db.session.get(Proposal, proposal.id)
    assert proposal.state == ProposalState.ANSWERED and proposal.verdict.value == "under_study"
    assert proposal.answered_by_department.code == "ENV" and proposal.answered_at is not None
    with pytest.raises(Conflict):
        services.answer(people.env, proposal.id, "accepted", "Again.")


def test_no_answer_without_a_ticket(db, people, propose):
    proposal = propose()
    with pytest.raises(PermissionDenied):
        services.answer(people.env, proposal.id, "accepted", "Yes.")


def test_search_filters_and_sorting(db, people, propose):
    a = propose(title="Night works curfew", text="Stop drilling after 10pm")
    b = propose(title="道路坑洼修补", text="山前路有很多坑", category="POTHOLE", district="EAST")
    c = propose(title="Quieter bins", text="Collect rubbish later", district=None)
    with transaction():
        services.support(people.alice, b.id)
    assert [p.id for p in services.search(q="坑洼").items] == [b.id]
    assert [p.id for p in services.search(q="DRILLING").items] == [a.id]
    assert [p.id for p in services.search(q="100%").items] == []
    assert {p.id for p in services.search(category="NOISE").items} == {a.id, c.id}
    assert [p.id for p in services.search(district="EAST").items] == [b.id]
    assert services.search(sort="supported").items[0].id == b.id
    assert [p.id for p in services.search().items] == [c.id, b.id, a.id]
    page = services.search(per_page=2, page=2)
    assert page.total == 3 and page.pages == 2 and [p.id for p in page.items] == [a.id]
    with pytest.raises(ValidationFailed):
        services.search(state="draft")
    with pytest.raises(ValidationFailed):
        services.search(sort="random")


def test_a_proposal_whose_author_has_left_is_not_answered_for_by_whoever_reads_its_code(
    app, db, client, people, propose, threshold, english
):
    """Sent on behalf of an author who has left, the proposal's request has no account; its tracking code
    is on the public proposal page, so holding it lets a visitor follow the request, not answer its
    callback or what the departments ask. The coordinators answer for such a sender."""
    from flask_login import AnonymousUserMixin

    from participation.core.permissions import can

    proposal = propose()
    with transaction():
        people.author.active = False
    reach_threshold(people, proposal)
    submission = db.session.get(Proposal, proposal.id).ticket.submission
    assert submission.user_id is None and submission.channel.value == "forum"
    assert submission.tracking_code in client.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    for rule in ("surveys.callback.answer", "intake.submission.add_information"):
        assert not can(AnonymousUserMixin(), rule, submission), rule
        assert not can(people.alice, rule, submission), rule
        assert can(people.coordinator, rule, submission), rule
    from participation.surveys.callbacks import why_not_answer

    assert "coordination centre" in why_not_answer(submission)
