"""Discussion services: threads, nested comments, stances, votes, official and enterprise marks, edits."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from participation.core.errors import Conflict, NotAuthenticated, NotFound, PermissionDenied, ValidationFailed
from participation.core.uow import transaction
from participation.forums import discussion, services
from participation.forums.models import (
    Comment,
    CommentRevision,
    CommentVote,
    ProposalState,
    Stance,
    ThreadState,
)


def count(model) -> int:
    from participation.extensions import db

    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def proposal(propose):
    return propose()


@pytest.fixture
def thread(people):
    with transaction():
        return discussion.create_thread(
            people.coordinator, {"title": "公交线路调整", "text": "请大家讨论", "category": "NOISE"}
        )


def say(actor, proposal, text="同意这个建议", **extra):
    with transaction():
        return discussion.comment_on_proposal(actor, proposal.id, {"text": text, **extra})


def test_comment_with_stance_and_nested_replies(people, proposal):
    top = say(people.alice, proposal, stance="for")
    assert (top.depth, top.stance, top.parent_id) == (1, Stance.FOR, None)
    second = say(people.bob, proposal, "不同意", stance="against", parent=top.id)
    third = say(people.carol, proposal, "中立", stance="neutral", parent=second.id)
    assert (second.depth, third.depth) == (2, 3)
    assert third.parent_id == second.id and third.reply_to_id is None


def test_a_reply_to_the_deepest_level_attaches_beside_it(people, proposal):
    top = say(people.alice, proposal)
    second = say(people.bob, proposal, parent=top.id)
    third = say(people.carol, proposal, parent=second.id)
    fourth = say(people.alice, proposal, "回复第三层", parent=third.id)
    assert fourth.depth == 3
    assert fourth.parent_id == second.id
    assert fourth.reply_to_id == third.id
    tree = discussion.proposal_comments_out(proposal)
    level3 = tree[0]["replies"][0]["replies"]
    assert [c["id"] for c in level3] == [third.id, fourth.id]
    assert level3[1]["reply_to_author"] == people.carol.display_name


def test_parent_must_belong_to_the_same_proposal(people, propose, proposal):
    other = propose(title="另一个建议")
    foreign = say(people.alice, other)
    with pytest.raises(ValidationFailed) as error:
        say(people.bob, proposal, parent=foreign.id)
    assert set(error.value.fields) == {"parent"}


def test_stance_is_optional_but_must_be_known(people, proposal):
    assert say(people.alice, proposal).stance is None
    with pytest.raises(ValidationFailed) as error:
        say(people.alice, proposal, stance="maybe")
    assert set(error.value.fields) == {"stance"}


@pytest.mark.parametrize("text", ["", "   ", None, 12])
def test_empty_or_wrong_text_is_refused(people, proposal, text):
    with pytest.raises(ValidationFailed) as error:
        with transaction():
            discussion.comment_on_proposal(people.alice, proposal.id, {"text": text})
    assert set(error.value.fields) == {"text"}
    assert count(Comment) == 0


def test_oversized_text_is_refused(app, people, proposal):
    with pytest.raises(ValidationFailed) as error:
        say(people.alice, proposal, "长" * (app.config["FORUM_COMMENT_MAX_CHARS"] + 1))
    assert set(error.value.fields) == {"text"}
    assert count(Comment) == 0
    say(people.alice, proposal, "长" * app.config["FORUM_COMMENT_MAX_CHARS"])


def test_unknown_fields_are_refused(people, proposal):
    with pytest.raises(ValidationFailed) as error:
        say(people.alice, proposal, author_id=1)
    assert "author_id" in error.value.fields


def test_withdrawn_proposal_takes_no_comments(people, proposal):
    say(people.alice, proposal)
    with transaction():
        services.withdraw(people.author, proposal.id)
    with pytest.raises(Conflict):
        say(people.alice, proposal)
    assert count(Comment) == 1


def test_hidden_proposal_takes_no_comments(db, people, proposal):
    proposal.move_to(ProposalState.HIDDEN)
    db.session.commit()
    with pytest.raises(NotFound):  # others do not even see it
        say(people.alice, proposal)
    with pytest.raises(Conflict):  # its author sees it, and is told the discussion is closed
        say(people.author, proposal)
    assert count(Comment) == 0


def test_drafts_take_no_comments(people, propose):
    with transaction():
        draft = services.create_proposal(
            people.author, {"title": "草稿", "text": "草稿内容", "category": "NOISE"}, publish=False
        )
    with pytest.raises(Conflict):
        say(people.author, draft)


def test_who_may_comment(people, proposal, make_user):
    with pytest.raises(NotAuthenticated):
        say(None, proposal)
    with pytest.raises(PermissionDenied):
        say(make_user("researcher"), proposal)
    with pytest.raises(PermissionDenied):
        say(make_user("department_staff"), proposal)  # staff without a department speak for nobody
    assert say(people.coordinator, proposal).official_department_id is None


def test_staff_comments_are_official_for_their_department(people, proposal, catalog):
    comment = say(people.env, proposal, "我局将研究")
    out = discussion.comment_out(comment)
    assert out["official"] is True
    assert out["department"]["code"] == "ENV"
    assert out["author"] == people.env.display_name
    assert "email" not in str(out)
    assert discussion.comment_out(say(people.alice, proposal))["official"] is False


def test_staff_speak_for_the_department_that_handles_the_proposal(
    app, people, proposal, make_user, threshold, monkeypatch
):
    monkeypatch.setitem(app.config, "ROUTING_AUTO_DISPATCH", True)
    with transaction():
        services.support(people.alice, proposal.id)
    with transaction():
        services.support(people.bob, proposal.id)
    lead = proposal.ticket.lead_department
    assert lead.code == "ENV"
    both = make_user("department_staff", departments=("TRANSPORT", "ENV"))
    assert say(both, proposal).official_department_id == lead.id


def test_enterprise_comments_are_marked(people, proposal):
    out = discussion.comment_out(say(people.firm, proposal))
    assert out["author_is_enterprise"] is True and out["official"] is False
    assert discussion.comment_out(say(people.alice, proposal))["author_is_enterprise"] is False


def test_votes_change_and_remove(people, proposal):
    comment = say(people.alice, proposal)
    with transaction():
        discussion.vote(people.bob, comment.id, 1)
    with transaction():
        discussion.vote(people.carol, comment.id, -1)
    assert (comment.up_count, comment.down_count, comment.score) == (1, 1, 0)
    with transaction():
        discussion.vote(people.bob, comment.id, -1)  # changed
    assert (comment.up_count, comment.down_count) == (0, 2)
    with transaction():
        discussion.vote(people.bob, comment.id, -1)  # the same again changes nothing
    assert count(CommentVote) == 2
    with transaction():
        discussion.vote(people.bob, comment.id, 0)  # removed
    assert (comment.up_count, comment.down_count) == (0, 1)
    assert count(CommentVote) == 1
    assert discussion.my_votes(people.carol, [comment.id]) == {comment.id: -1}
    assert discussion.my_votes(people.bob, [comment.id]) == {}


def test_voting_on_ones_own_comment_is_refused(people, proposal):
    comment = say(people.alice, proposal)
    with pytest.raises(PermissionDenied) as error:
        with transaction():
            discussion.vote(people.alice, comment.id, 1)
    assert "own" in error.value.message or error.value.message
    assert count(CommentVote) == 0
    assert comment.up_count == 0


@pytest.mark.parametrize("value", [2, "1", None, True, 0.5])
def test_vote_values_are_checked(people, proposal, value):
    comment = say(people.alice, proposal)
    with pytest.raises(ValidationFailed):
        discussion.vote(people.bob, comment.id, value)


def test_staff_do_not_vote(people, proposal):
    comment = say(people.alice, proposal)
    with pytest.raises(PermissionDenied):
        discussion.vote(people.env, comment.id, 1)


def test_editing_keeps_the_original(people, proposal):
    comment = say(people.alice, proposal, "原来的文字", stance="for")
    with transaction():
        discussion.edit_comment(people.alice, comment.id, {"text": "改过的文字", "stance": "neutral"})
    with transaction():
        discussion.edit_comment(people.alice, comment.id, {"text": "又改了"})
    assert comment.text == "又改了" and comment.stance == Stance.NEUTRAL and comment.edited_at is not None
    assert [(r.text, r.stance) for r in comment.revisions] == [
        ("原来的文字", Stance.FOR),
        ("改过的文字", Stance.NEUTRAL),
    ]


def test_editing_someone_elses_comment_is_forbidden(people, proposal):
    comment = say(people.alice, proposal, "原来的文字")
    with pytest.raises(PermissionDenied):
        with transaction():
            discussion.edit_comment(people.bob, comment.id, {"text": "篡改"})
    assert comment.text == "原来的文字"
    assert count(CommentRevision) == 0


def test_edit_is_validated(people, proposal):
    comment = say(people.alice, proposal)
    with pytest.raises(ValidationFailed):
        discussion.edit_comment(people.alice, comment.id, {"text": " "})


def test_threads_open_lock_and_comment(people, thread, make_user):
    assert thread.state == ThreadState.OPEN and thread.category.code == "NOISE"
    with pytest.raises(PermissionDenied):
        discussion.create_thread(people.alice, {"title": "x", "text": "y"})
    with pytest.raises(ValidationFailed) as error:
        discussion.create_thread(people.coordinator, {"title": "", "text": "y", "category": "NOPE"})
    assert set(error.value.fields) == {"title", "category"}
    with transaction():
        comment = discussion.comment_on_thread(people.alice, thread.id, {"text": "好主意", "stance": "for"})
    assert comment.thread_id == thread.id and comment.proposal_id is None
    with pytest.raises(PermissionDenied):
        discussion.set_thread_locked(people.alice, thread.id, True)
    with transaction():
        discussion.set_thread_locked(people.coordinator, thread.id, True)
    with pytest.raises(Conflict):
        with transaction():
            discussion.comment_on_thread(people.bob, thread.id, {"text": "晚了"})
    with pytest.raises(Conflict):
        discussion.vote(people.bob, comment.id, 1)
    with pytest.raises(Conflict):
        discussion.edit_comment(people.alice, comment.id, {"text": "改"})
    assert count(Comment) == 1
    with transaction():
        discussion.set_thread_locked(people.coordinator, thread.id, False)
    with transaction():
        discussion.comment_on_thread(people.bob, thread.id, {"text": "又开了"})


def test_thread_without_category(people):
    with transaction():
        thread = discussion.create_thread(people.coordinator, {"title": "城市绿道", "text": "说说看"})
    assert thread.category is None


def test_most_discussed_sort(people, propose):
    quiet = propose(title="安静的")
    busy = propose(title="热闹的")
    say(people.alice, busy)
    say(people.bob, busy)
    say(people.alice, quiet)
    newer = propose(title="最新的")
    ids = [p.id for p in services.search(sort="discussed").items]
    assert ids == [busy.id, quiet.id, newer.id]
    assert discussion.comment_counts(proposals=ids) == {busy.id: 2, quiet.id: 1}


def test_comments_are_kept_as_typed(people, proposal):
    comment = say(people.alice, proposal, "<script>alert(1)</script>")
    assert comment.text == "<script>alert(1)</script>"  # escaped where shown, never altered
