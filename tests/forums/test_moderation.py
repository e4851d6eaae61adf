"""Moderation: flags and auto-hiding, the queue, hide/restore/edit with revisions, blocks, the author's view,
and the spam check holding suspects for review."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from participation.core.errors import Conflict, PermissionDenied, ValidationFailed
from participation.core.models import simulated_time
from participation.core.uow import transaction
from participation.forums import discussion, moderation, services
from participation.forums.models import (
    CommentRevision,
    Flag,
    ModerationAction,
    ModerationKind,
    ProposalRevision,
    ProposalState,
)
from tests.conftest import PASSWORD, live_client
from tests.forums.conftest import GOOD


@pytest.fixture
def moderator(make_user):
    return make_user("moderator")


@pytest.fixture
def comment(people, propose):
    proposal = propose()
    with transaction():
        return discussion.comment_on_proposal(people.alice, proposal.id, {"text": "说得不对", "stance": "against"})


def _flag(user, kind, item_id, reason="广告"):
    with transaction():
        return moderation.flag(user, kind, item_id, reason)


def _moderate(actor, kind, item_id, action, **payload):
    with transaction():
        return moderation.moderate(actor, kind, item_id, action, payload)


# -- flags ---------------------------------------------------------------------------------------


def test_flag_needs_a_reason_and_counts_once_per_account(client, people, comment, bearer):
    url = f"/api/v1/comments/{comment.id}/flag"
    r = client.post(url, json={"reason": "  "}, headers=bearer(people.bob))
    assert r.status_code == 422 and "reason" in r.json["error"]["fields"]
    assert client.post(url, json={"reason": "人身攻击"}, headers=bearer(people.bob)).status_code == 201
    assert client.post(url, json={"reason": "再说一次"}, headers=bearer(people.bob)).status_code == 409
    assert client.post(url, json={"reason": "x"}).status_code == 401
    with pytest.raises(ValidationFailed):
        _flag(people.carol, "comment", comment.id, "")
    assert len(list(client.application.extensions["sqlalchemy"].session.scalars(select(Flag)))) == 1


def test_comment_hidden_at_threshold_and_shown_as_placeholder(app, client, people, comment, monkeypatch):
    monkeypatch.setitem(app.config, "FORUM_FLAGS_TO_HIDE", 3)
    for user in (people.bob, people.carol):
        _flag(user, "comment", comment.id)
    assert not comment.hidden
    _flag(people.firm, "comment", comment.id)
    assert comment.hidden and comment.review_pending
    public = client.get(f"/api/v1/proposals/{comment.proposal_id}").json["comments"][0]
    assert public["hidden"] is True and public["text"] is None and public["author"] is None
    html = client.get(f"/proposals/{comment.proposal_id}").get_data(as_text=True)
    assert "说得不对" not in html and 'data-hidden="true"' in html
    with pytest.raises(Conflict):  # a hidden comment takes no replies' votes or edits
        with transaction():
            discussion.vote(people.bob, comment.id, 1)


def test_proposal_hidden_at_threshold(app, client, people, propose, monkeypatch):
    monkeypatch.setitem(app.config, "FORUM_FLAGS_TO_HIDE", 2)
    proposal = propose()
    _flag(people.alice, "proposal", proposal.id)
    _flag(people.bob, "proposal", proposal.id)
    assert proposal.state == ProposalState.HIDDEN and proposal.review_pending
    assert client.get(f"/api/v1/proposals/{proposal.id}").status_code == 404
    assert services.search().total == 0


# -- the queue -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [("citizen", 403), ("department_staff", 403), ("researcher", 403), ("moderator", 200), ("coordinator", 200)],
)
def test_queue_permission(client, login, make_user, role, status):
    login(make_user(role))
    assert client.get("/moderation").status_code == status
    assert client.get("/api/v1/moderation/queue").status_code == status


def test_queue_lists_flagged_and_held_items(client, login, people, comment, moderator):
    _flag(people.bob, "comment", comment.id, "骂人")
    login(moderator)
    items = client.get("/api/v1/moderation/queue").json["items"]
    assert [(i["kind"], i["id"], [f["reason"] for f in i["flags"]]) for i in items] == [
        ("comment", comment.id, ["骂人"])
    ]
    html = client.get("/moderation").get_data(as_text=True)
    assert f'id="queue-comment-{comment.id}"' in html and "骂人" in html


# -- actions -------------------------------------------------------------------------------------


def test_hide_needs_a_reason_then_restore(client, login, people, comment, moderator):
    with pytest.raises(ValidationFailed):
        _moderate(moderator, "comment", comment.id, "hide", reason=" ")
    with pytest.raises(PermissionDenied):
        _moderate(people.bob, "comment", comment.id, "hide", reason="不行")
    _flag(people.bob, "comment", comment.id)
    _moderate(moderator, "comment", comment.id, "hide", reason="人身攻击")
    assert comment.hidden and comment.hidden_reason == "人身攻击" and not comment.review_pending
    _moderate(moderator, "comment", comment.id, "restore", reason="申诉成立")
    assert not comment.hidden and moderation.queue(moderator) == []  # the flags are resolved
    # the HTML form: a missing reason shows the queue again with the message
    _flag(people.carol, "comment", comment.id)
    login(moderator)
    r = client.post(f"/moderation/comment/{comment.id}", data={"action": "hide", "reason": ""})
    assert r.status_code == 422
    r = client.post(f"/moderation/comment/{comment.id}", data={"action": "hide", "reason": "广告"})
    assert r.status_code == 302


def test_edit_keeps_the_original(people, propose, comment, moderator):
    _moderate(moderator, "comment", comment.id, "edit", text="（已删改）", reason="去掉了电话号码")
    assert comment.text == "（已删改）"
    assert [r.text for r in comment.revisions] == ["说得不对"]
    assert comment.revisions[0].editor_id == moderator.id
    proposal = comment.proposal
    _moderate(moderator, "proposal", proposal.id, "edit", title="新标题", text="新内容", reason="错别字")
    revisions = list(services.db.session.scalars(select(ProposalRevision)))
    assert (proposal.title, proposal.text) == ("新标题", "新内容")
    assert [(r.title, r.text) for r in revisions] == [(GOOD["title"], GOOD["text"])]
    assert services.db.session.scalar(select(CommentRevision.id)) is not None


def test_hidden_proposal_restores_its_state(people, propose, moderator):
    proposal = propose()
    _moderate(moderator, "proposal", proposal.id, "hide", reason="重复")
    assert proposal.state == ProposalState.HIDDEN
    _moderate(moderator, "proposal", proposal.id, "restore", reason="误判")
    assert proposal.state == ProposalState.PUBLISHED


def test_block_refuses_posting_with_the_end_and_expires(app, client, people, propose, comment, moderator, bearer):
    proposal = comment.proposal
    done = _moderate(moderator, "user", people.bob.id, "block", days=2, reason="刷屏")
    city = ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"])
    until = done.until.astimezone(city).strftime("%Y-%m-%d %H:%M")  # the city's time, as every forum time
    attempts = [
        lambda: services.create_proposal(people.bob, {"title": "t", "text": "x", "category": "NOISE"}),
        lambda: discussion.comment_on_proposal(people.bob, proposal.id, {"text": "又来"}),
        lambda: services.support(people.bob, proposal.id),
        lambda: discussion.vote(people.bob, comment.id, 1),
        lambda: moderation.flag(people.bob, "comment", comment.id, "x"),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied) as refused:
            with transaction():
                attempt()
        assert until in refused.value.message and "刷屏" in refused.value.message
    r = client.post(f"/api/v1/proposals/{proposal.id}/comments", json={"text": "hi"}, headers=bearer(people.bob))
    assert r.status_code == 403 and until in r.json["error"]["message"]
    with pytest.raises(ValidationFailed):
        _moderate(moderator, "user", people.bob.id, "block", days=0, reason="x")
    with simulated_time(done.until + timedelta(minutes=1)):
        with transaction():
            discussion.comment_on_proposal(people.bob, proposal.id, {"text": "我回来了"})


def test_author_sees_the_reason(client, login, people, propose, comment, moderator):
    _moderate(moderator, "comment", comment.id, "hide", reason="含有广告链接")
    proposal = propose(title="另一条")
    _moderate(moderator, "proposal", proposal.id, "hide", reason="与第一条重复")
    login(people.alice)
    mine = client.get("/api/v1/moderation/mine").json["items"]
    assert [(m["action"], m["target"]["type"], m["reason"]) for m in mine] == [("hide", "comment", "含有广告链接")]
    html = client.get(f"/proposals/{comment.proposal_id}").get_data(as_text=True)
    assert "含有广告链接" in html and "说得不对" in html  # the author still reads it, with the reason
    login(people.author)
    assert client.get(f"/proposals/{proposal.id}").status_code == 200
    assert "与第一条重复" in client.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    assert client.get(f"/api/v1/proposals/{proposal.id}").json["moderation"]["reason"] == "与第一条重复"
    assert client.get("/api/v1/moderation/mine").json["items"][0]["reason"] == "与第一条重复"
    login(people.bob)
    html = client.get(f"/proposals/{comment.proposal_id}").get_data(as_text=True)
    assert "含有广告链接" not in html and "说得不对" not in html


def test_every_action_is_audited(people, comment, moderator):
    from participation.core.audit import AuditLog

    _flag(people.bob, "comment", comment.id)
    _moderate(moderator, "comment", comment.id, "dismiss", reason="没有问题")
    _moderate(moderator, "user", people.bob.id, "block", days=1, reason="乱举报")
    actions = [a.action for a in services.db.session.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert actions[-3:] == ["comment.flagged", "comment.moderated", "user.blocked"]
    kinds = [a.kind for a in services.db.session.scalars(select(ModerationAction).order_by(ModerationAction.id))]
    assert kinds == [ModerationKind.DISMISS, ModerationKind.BLOCK]


def test_rooms_hear_hide_and_restore(app, people, comment, moderator):
    http = app.test_client()
    assert http.post("/login", data={"login": people.carol.email, "password": PASSWORD}).status_code == 302
    watcher = live_client(app, "/forums", http)
    watcher.emit("watch_proposal", {"proposal_id": comment.proposal_id}, namespace="/forums", callback=True)
    _moderate(moderator, "comment", comment.id, "hide", reason="x")
    _moderate(moderator, "comment", comment.id, "restore", reason="y")
    received = [(e["name"], e["args"][0]) for e in watcher.get_received("/forums")]
    assert [name for name, _ in received] == ["comment.hidden", "comment.restored"]
    assert "text" not in received[0][1] and received[1][1]["text"] == "说得不对"


# -- spam ----------------------------------------------------------------------------------------


def _held(item) -> bool:
    return bool(item.review_pending) and (
        item.hidden if hasattr(item, "hidden_at") else item.state == ProposalState.HIDDEN
    )


def test_spam_links_are_held_for_review(app, spam_check, people, propose, moderator):
    proposal = propose()
    text = "便宜 http://a.example http://b.example www.c.example"
    with transaction():
        held = discussion.comment_on_proposal(people.alice, proposal.id, {"text": text})
        fine = discussion.comment_on_proposal(people.bob, proposal.id, {"text": "看 http://a.example"})
    assert _held(held) and not _held(fine)
    (entry,) = [moderation.queue_out(e) for e in moderation.queue(moderator)]
    assert entry["id"] == held.id and entry["held_by"] == "hold" and "3" in entry["reason"]


def test_spam_repeated_text_is_held(spam_check, people, propose):
    proposal = propose()
    with transaction():
        first = discussion.comment_on_proposal(people.alice, proposal.id, {"text": "快来买我的产品，质量好价格低"})
        again = discussion.comment_on_proposal(people.alice, proposal.id, {"text": "快来买我的产品，质量好价格低！"})
    assert not _held(first) and _held(again)
    second = propose(title="夜间施工限时")  # the same proposal text by the same author
    assert _held(second)


def test_spam_rate_is_held(app, spam_check, people, propose, monkeypatch):
    monkeypatch.setitem(app.config, "FORUM_SPAM_RATE", 3)
    proposal = propose(author=people.carol)
    texts = ["第一条意见", "另一个看法", "再补充一点", "最后说一句"]
    with transaction():
        posted = [discussion.comment_on_proposal(people.alice, proposal.id, {"text": t}) for t in texts]
    assert [_held(c) for c in posted] == [False, False, False, True]


@pytest.mark.parametrize("kind", ["proposal", "comment"])
def test_a_refused_report_is_said_on_the_item_page(client, login, people, comment, english, kind):
    """Reporting twice, or with only spaces as the reason: the page of the item says why, not an error page."""
    url = f"/proposals/{comment.proposal_id}/flag" if kind == "proposal" else f"/comments/{comment.id}/flag"
    back = f"/proposals/{comment.proposal_id}"
    login(people.bob)
    blank = client.post(url, data={"reason": "   "})
    assert blank.status_code == 302 and blank.headers["Location"].startswith(back)
    page = client.get(back).get_data(as_text=True)
    assert "Give a reason" in page and "flash-error" in page
    assert client.post(url, data={"reason": "广告"}).status_code == 302
    twice = client.post(url, data={"reason": "再说一次"})
    assert twice.status_code == 302 and twice.headers["Location"].startswith(back)
    page = client.get(back).get_data(as_text=True)
    assert "already reported" in page and "flash-error" in page
