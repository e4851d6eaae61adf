"""Live events per room, the discussion API, and the pages (forms, badges, escaping, rate limit)."""

from __future__ import annotations

import pytest

from participation.core.errors import ValidationFailed
from participation.core.uow import transaction
from participation.forums import discussion, services
from tests.conftest import PASSWORD, live_client


def _socket(app, user=None):
    http = app.test_client()
    if user is not None:
        assert http.post("/login", data={"login": user.email, "password": PASSWORD}).status_code == 302
    return live_client(app, "/forums", http)


def events(sock, name):
    return [e["args"][0] for e in sock.get_received("/forums") if e["name"] == name]


def test_live_comments_votes_and_support_reach_only_the_room(app, people, propose):
    here, there = propose(), propose(title="别的建议")
    watcher = _socket(app)  # anonymous readers may watch public proposals
    assert watcher.emit("watch_proposal", {"proposal_id": here.id}, namespace="/forums", callback=True) == {"ok": True}
    other = _socket(app, people.carol)
    assert other.emit("watch_proposal", {"proposal_id": there.id}, namespace="/forums", callback=True) == {"ok": True}
    assert watcher.emit("watch_proposal", {"proposal_id": 9999}, namespace="/forums", callback=True) == {"ok": False}
    assert [e["name"] for e in watcher.get_received("/forums")] == ["error"]

    with transaction():
        comment = discussion.comment_on_proposal(people.alice, here.id, {"text": "<b>好</b>", "stance": "for"})
    [created] = events(watcher, "comment.created")
    assert created["id"] == comment.id and created["text"] == "<b>好</b>" and created["stance"] == "for"
    assert "email" not in created

    with transaction():
        discussion.vote(people.bob, comment.id, 1)
    assert events(watcher, "comment.votes") == [
        {"comment_id": comment.id, "proposal_id": here.id, "thread_id": None, "up": 1, "down": 0, "score": 1}
    ]
    with transaction():
        services.support(people.bob, here.id)
    [support] = events(watcher, "proposal.support")
    assert support["proposal_id"] == here.id and support["support_count"] == 1

    assert other.get_received("/forums") == []  # nothing from another proposal's room


def test_a_refused_change_announces_nothing(app, people, propose):
    proposal = propose()
    watcher = _socket(app)
    watcher.emit("watch_proposal", {"proposal_id": proposal.id}, namespace="/forums", callback=True)
    with pytest.raises(ValidationFailed), transaction():
        discussion.comment_on_proposal(people.alice, proposal.id, {"text": ""})
    assert watcher.get_received("/forums") == []


def test_live_thread_room(app, people):
    with transaction():
        thread = discussion.create_thread(people.coordinator, {"title": "议题", "text": "讨论"})
    watcher = _socket(app, people.alice)
    assert watcher.emit("watch_thread", {"thread_id": thread.id}, namespace="/forums", callback=True) == {"ok": True}
    with transaction():
        discussion.comment_on_thread(people.bob, thread.id, {"text": "我来说两句"})
    assert [e["text"] for e in events(watcher, "comment.created")] == ["我来说两句"]


def test_drafts_cannot_be_watched_by_others(app, people):
    with transaction():
        draft = services.create_proposal(
            people.author, {"title": "草稿", "text": "内容", "category": "NOISE"}, publish=False
        )
    stranger = _socket(app, people.alice)
    assert stranger.emit("watch_proposal", {"proposal_id": draft.id}, namespace="/forums", callback=True) == {
        "ok": False
    }


# -- API -------------------------------------------------------------------------------------------


def test_api_comment_reply_vote_edit(client, people, propose, bearer):
    proposal = propose()
    alice, bob = bearer(people.alice), bearer(people.bob)
    r = client.post(f"/api/v1/proposals/{proposal.id}/comments", json={"text": "赞成", "stance": "for"}, headers=alice)
    assert r.status_code == 201, r.json
    top = r.json["id"]
    r = client.post(f"/api/v1/proposals/{proposal.id}/comments", json={"text": "反对", "parent": top}, headers=bob)
    assert r.status_code == 201 and r.json["depth"] == 2
    reply = r.json["id"]

    got = client.get(f"/api/v1/proposals/{proposal.id}", headers=bob).json
    assert got["comment_count"] == 2
    assert got["comments"][0]["id"] == top and got["comments"][0]["replies"][0]["id"] == reply

    r = client.post(f"/api/v1/comments/{top}/vote", json={"value": -1}, headers=bob)
    assert r.status_code == 200 and (r.json["down"], r.json["my_vote"]) == (1, -1)
    r = client.post(f"/api/v1/comments/{top}/vote", json={"value": 0}, headers=bob)
    assert (r.json["down"], r.json["my_vote"]) == (0, 0)
    r = client.post(f"/api/v1/comments/{top}/vote", json={"value": 1}, headers=alice)
    assert r.status_code == 403 and r.json["error"]["code"] == "forbidden"
    r = client.post(f"/api/v1/comments/{top}/vote", json={"value": 5}, headers=bob)
    assert r.status_code == 422 and "value" in r.json["error"]["fields"]

    r = client.patch(f"/api/v1/comments/{top}", json={"text": "改成中立", "stance": "neutral"}, headers=alice)
    assert r.status_code == 200 and r.json["edited_at"] and r.json["stance"] == "neutral"
    assert client.patch(f"/api/v1/comments/{top}", json={"text": "x"}, headers=bob).status_code == 403
    assert client.patch(f"/api/v1/comments/{top}", json={"text": ""}, headers=alice).status_code == 422


def test_api_errors(client, people, propose, bearer):
    proposal = propose()
    url = f"/api/v1/proposals/{proposal.id}/comments"
    assert client.post(url, json={"text": "匿名"}).status_code == 401
    r = client.post(url, json={"text": "", "stance": "maybe"}, headers=bearer(people.alice))
    assert r.status_code == 422 and set(r.json["error"]["fields"]) == {"text", "stance"}
    assert (
        client.post("/api/v1/proposals/999/comments", json={"text": "x"}, headers=bearer(people.alice)).status_code
        == 404
    )
    with transaction():
        services.withdraw(people.author, proposal.id)
    r = client.post(url, json={"text": "晚了"}, headers=bearer(people.alice))
    assert r.status_code == 409 and r.json["error"]["code"] == "conflict"


def test_api_threads(client, people, bearer):
    r = client.post("/api/v1/threads", json={"title": "议题", "text": "讨论"}, headers=bearer(people.alice))
    assert r.status_code == 403
    r = client.post("/api/v1/threads", json={"title": "议题", "text": "讨论"}, headers=bearer(people.coordinator))
    assert r.status_code == 201
    thread_id = r.json["id"]
    r = client.post(f"/api/v1/threads/{thread_id}/comments", json={"text": "支持"}, headers=bearer(people.firm))
    assert r.status_code == 201 and r.json["author_is_enterprise"] is True
    listing = client.get("/api/v1/threads").json
    assert listing["items"][0]["comment_count"] == 1
    assert client.get(f"/api/v1/threads/{thread_id}").json["comments"][0]["text"] == "支持"
    with transaction():
        discussion.set_thread_locked(people.coordinator, thread_id, True)
    r = client.post(f"/api/v1/threads/{thread_id}/comments", json={"text": "锁了"}, headers=bearer(people.firm))
    assert r.status_code == 409


def test_api_comment_rate_limit(app, client, people, propose, bearer, monkeypatch):
    monkeypatch.setitem(app.config, "FORUM_COMMENT_RATE_LIMIT", "2 per minute")
    proposal = propose()
    url = f"/api/v1/proposals/{proposal.id}/comments"
    alice = bearer(people.alice)
    assert client.post(url, json={"text": ""}, headers=alice).status_code == 422  # refused posts are not counted
    assert [client.post(url, json={"text": f"第{i}条"}, headers=alice).status_code for i in range(3)] == [201, 201, 429]
    assert client.post(url, json={"text": "别人"}, headers=bearer(people.bob)).status_code == 201  # per account


# -- pages -----------------------------------------------------------------------------------------


def test_proposal_page_discussion(client, login, people, propose):
    proposal = propose()
    with transaction():
        top = discussion.comment_on_proposal(
            people.alice, proposal.id, {"text": "<script>x()</script>", "stance": "for"}
        )
        discussion.comment_on_proposal(people.env, proposal.id, {"text": "我局回复"})
        discussion.comment_on_proposal(people.firm, proposal.id, {"text": "企业意见"})
    html = client.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    assert "&lt;script&gt;x()&lt;/script&gt;" in html and "<script>x()" not in html
    assert 'data-mark="official"' in html and "生态环境局" in html
    assert 'data-mark="enterprise"' in html
    assert 'data-stance="for"' in html
    assert 'data-forum-live="proposal"' in html and "js/forums.js" in html
    assert 'id="comment-form"' not in html  # anonymous readers are asked to log in

    login(people.bob)
    html = client.get(f"/proposals/{proposal.id}?reply={top.id}").get_data(as_text=True)
    assert f'name="parent" id="comment-parent" value="{top.id}"' in html
    r = client.post(
        f"/proposals/{proposal.id}/comments", data={"text": "回复你", "stance": "against", "parent": str(top.id)}
    )
    assert r.status_code == 302 and "#comment-" in r.headers["Location"]
    r = client.post(f"/proposals/{proposal.id}/comments", data={"text": "  "})
    assert r.status_code == 422 and 'data-field="text"' in r.get_data(as_text=True)
    r = client.post(f"/comments/{top.id}/vote", data={"value": "1"})
    assert r.status_code == 302
    assert top.up_count == 1


def test_edit_page(client, login, people, propose):
    proposal = propose()
    with transaction():
        comment = discussion.comment_on_proposal(people.alice, proposal.id, {"text": "原文"})
    login(people.bob)
    assert client.get(f"/comments/{comment.id}/edit").status_code == 403
    assert client.post(f"/comments/{comment.id}/edit", data={"text": "篡改"}).status_code == 403
    client.post("/logout")
    login(people.alice)
    r = client.post(f"/comments/{comment.id}/edit", data={"text": "新的", "stance": ""})
    assert r.status_code == 302 and comment.text == "新的" and comment.revisions[0].text == "原文"


def test_thread_pages(client, login, people):
    login(people.alice)
    assert client.get("/threads/new").status_code == 403
    client.post("/logout")
    login(people.coordinator)
    assert client.get("/threads/new").status_code == 200
    r = client.post("/threads/new", data={"title": "", "text": "讨论"})
    assert r.status_code == 422
    r = client.post("/threads/new", data={"title": "城市议题", "text": "讨论一下", "category": ""})
    assert r.status_code == 302
    thread_id = int(r.headers["Location"].rsplit("/", 1)[1])
    assert client.post(f"/threads/{thread_id}/lock").status_code == 302
    client.post("/logout")
    login(people.alice)
    r = client.post(f"/threads/{thread_id}/comments", data={"text": "锁了吗"})
    assert r.status_code == 409
    html = client.get(f"/threads/{thread_id}").get_data(as_text=True)
    assert 'id="discussion-closed"' in html
    listing = client.get("/threads?sort=discussed").get_data(as_text=True)
    assert "城市议题" in listing


def test_list_sorts_by_most_discussed(client, people, propose):
    quiet, busy = propose(title="安静"), propose(title="热闹")
    with transaction():
        discussion.comment_on_proposal(people.alice, busy.id, {"text": "一"})
    html = client.get("/proposals?sort=discussed").get_data(as_text=True)
    assert html.index("热闹") < html.index("安静")
    ids = [p["id"] for p in client.get("/api/v1/proposals?sort=discussed").json["items"]]
    assert ids == [busy.id, quiet.id]
