"""Insight into a small known discussion (stances, sentiment sign in zh and en, keywords) and flood limits."""

from __future__ import annotations

from participation.core.uow import transaction
from participation.forums import discussion, insight


def _discuss(subject_id, comments, on_thread=False):
    post = discussion.comment_on_thread if on_thread else discussion.comment_on_proposal
    with transaction():
        return [post(author, subject_id, payload) for author, payload in comments]


def test_proposal_insight(client, people, propose):
    proposal = propose()
    _discuss(
        proposal.id,
        [
            (people.alice, {"text": "这个建议非常好，我很满意，完全支持！", "stance": "for"}),
            (people.bob, {"text": "太差了，噪音让人愤怒，非常糟糕", "stance": "against"}),
            (people.carol, {"text": "I love this proposal, it is wonderful and excellent.", "stance": "for"}),
            (people.firm, {"text": "This is a terrible, awful and horrible idea."}),
        ],
    )
    data = client.get(f"/api/v1/proposals/{proposal.id}/insight").json
    assert data["comments"] == 4
    assert data["stances"] == {"for": 2, "against": 1, "neutral": 0, "none": 1}
    assert len(data["sentiment"]) == 1 and data["sentiment"][0]["comments"] == 4
    assert "噪音" in data["keywords"]
    assert data["languages"] == {"zh": 2, "en": 2}


def test_sentiment_sign_per_language(people, propose):
    cases = [
        ("这个建议非常好，我很满意，完全支持！", 1),
        ("太差了，噪音让人愤怒，非常糟糕", -1),
        ("I love this proposal, it is wonderful and excellent.", 1),
        ("This is a terrible, awful and horrible idea.", -1),
    ]
    for text, sign in cases:
        proposal = propose(title=text[:10])
        _discuss(proposal.id, [(people.alice, {"text": text})])
        (day,) = insight.insight(proposal)["sentiment"]
        assert day["mean"] * sign > 0, text


def test_thread_insight_and_hidden_comments_do_not_count(client, people, make_user):
    with transaction():
        thread = discussion.create_thread(people.coordinator, {"title": "Bus routes", "text": "Which bus routes?"})
    first, second = _discuss(
        thread.id,
        [
            (people.alice, {"text": "The bus timetable is great", "stance": "for"}),
            (people.bob, {"text": "Buses are always late", "stance": "against"}),
        ],
        on_thread=True,
    )
    from participation.forums import moderation

    with transaction():
        moderation.moderate(make_user("moderator"), "comment", second.id, "hide", {"reason": "off topic"})
    data = client.get(f"/api/v1/threads/{thread.id}/insight").json
    assert data["stances"]["against"] == 0 and data["stances"]["for"] == 1
    assert "bus" in data["keywords"] or "timetable" in data["keywords"]
    html = client.get(f"/threads/{thread.id}").get_data(as_text=True)
    assert 'id="insight"' in html and 'data-chart-kind="sentiment"' in html and "forum-insight.js" in html


def test_proposal_page_shows_insight(client, people, propose):
    proposal = propose()
    _discuss(proposal.id, [(people.alice, {"text": "支持", "stance": "for"})])
    html = client.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    assert 'id="insight-stances"' in html and "vendor/chart.min.js" in html
    assert "<script>" not in html.split('id="insight"')[1].split("</section>")[0]  # no inline script


def test_the_insight_section_alone_for_the_live_page(client, people, propose, make_user):
    """The page reads "what the discussion says" again (?partial=insight) when comments change; whoever
    may not see the proposal or thread gets 404 for it as for the page."""
    proposal = propose()
    _discuss(proposal.id, [(people.alice, {"text": "支持", "stance": "for"})])
    html = client.get(f"/proposals/{proposal.id}?partial=insight").get_data(as_text=True)
    assert html.lstrip().startswith("<section") and 'id="insight"' in html and "<html" not in html
    assert '<li data-stance="for">' in html and "<strong>1</strong>" in html
    with transaction():
        thread = discussion.create_thread(people.coordinator, {"title": "Bus routes", "text": "Which bus routes?"})
    _discuss(thread.id, [(people.bob, {"text": "Buses are late", "stance": "against"})], on_thread=True)
    html = client.get(f"/threads/{thread.id}?partial=insight").get_data(as_text=True)
    assert '<li data-stance="against">' in html and "<html" not in html
    from participation.forums import moderation

    with transaction():
        moderation.moderate(make_user("moderator"), "proposal", proposal.id, "hide", {"reason": "spam"})
    assert client.get(f"/proposals/{proposal.id}?partial=insight").status_code == 404


# -- flood limits --------------------------------------------------------------------------------


def test_proposal_flood_limit(app, client, people, bearer, monkeypatch):
    monkeypatch.setitem(app.config, "FORUM_PROPOSAL_RATE_LIMIT", "2 per hour")
    alice = bearer(people.alice)
    body = {"title": "夜间施工", "text": "噪音", "category": "NOISE"}
    assert client.post("/api/v1/proposals", json={**body, "title": ""}, headers=alice).status_code == 422
    statuses = [
        client.post("/api/v1/proposals", json={**body, "text": f"第{i}条"}, headers=alice).status_code for i in range(3)
    ]
    assert statuses == [201, 201, 429]
    assert client.post("/api/v1/proposals", json=body, headers=bearer(people.bob)).status_code == 201


def test_support_flood_limit(app, client, people, propose, bearer, monkeypatch):
    monkeypatch.setitem(app.config, "FORUM_SUPPORT_RATE_LIMIT", "2 per minute")
    first, second = propose(), propose(title="另一条")
    alice = bearer(people.alice)
    assert client.post(f"/api/v1/proposals/{first.id}/support", headers=alice).status_code == 200
    assert client.delete(f"/api/v1/proposals/{first.id}/support", headers=alice).status_code == 200
    r = client.post(f"/api/v1/proposals/{second.id}/support", headers=alice)
    assert r.status_code == 429 and r.json["error"]["code"] == "rate_limited"
