"""Forum times are the city's, as on the staff pages and the tracking page: pages, live comments, messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from participation.core.errors import PermissionDenied
from participation.core.models import simulated_time
from participation.core.uow import transaction
from participation.forums import discussion, insight, moderation
from tests.forums.test_live_and_api import _socket, events


@pytest.fixture
def late_evening(app):
    """17:30 UTC today: already the next day, 01:30, in the city (UTC+8)."""
    at = datetime.now(UTC).replace(hour=17, minute=30, second=0, microsecond=0)
    city = at.astimezone(ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"]))
    assert city.date() != at.date()
    return at, at.strftime("%Y-%m-%d %H:%M"), city.strftime("%Y-%m-%d %H:%M")


def test_proposal_thread_comment_and_queue_times_are_the_citys(client, people, propose, login, late_evening):
    at, utc_text, city_text = late_evening
    with simulated_time(at):
        proposal = propose()
        with transaction():
            discussion.comment_on_proposal(people.alice, proposal.id, {"text": "晚上十点以后就该停工"})
        with transaction():
            thread = discussion.create_thread(people.coordinator, {"title": "夜间施工", "text": "大家怎么看？"})
        with transaction():
            moderation.flag(people.bob, "proposal", proposal.id, "广告")
    page = client.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    assert page.count(city_text) == 2 and utc_text not in page  # the proposal and its comment
    page = client.get(f"/threads/{thread.id}").get_data(as_text=True)
    assert city_text in page and utc_text not in page
    login(people.coordinator)
    page = client.get("/moderation").get_data(as_text=True)
    assert f"广告 · {city_text}" in page and utc_text not in page


def test_live_comments_carry_the_citys_time(app, people, propose, late_evening):
    at, _utc_text, city_text = late_evening
    proposal = propose()
    watcher = _socket(app)
    watcher.emit("watch_proposal", {"proposal_id": proposal.id}, namespace="/forums", callback=True)
    with simulated_time(at), transaction():
        comment = discussion.comment_on_proposal(people.alice, proposal.id, {"text": "支持"})
    [created] = events(watcher, "comment.created")
    # The page shows the first 16 characters with the T as a space: the city's time.
    assert created["created_at"][:16].replace("T", " ") == city_text
    assert datetime.fromisoformat(created["created_at"]) == at  # the same moment
    with transaction():
        moderation.moderate(people.coordinator, "comment", comment.id, "hide", {"reason": "离题"})
    with transaction():
        moderation.moderate(people.coordinator, "comment", comment.id, "restore", {"reason": "误判"})
    [restored] = events(watcher, "comment.restored")
    assert restored["created_at"][:16].replace("T", " ") == city_text


def test_a_block_ends_at_a_city_time(app, people, propose, late_evening):
    at, _utc_text, _city_text = late_evening
    with simulated_time(at), transaction():
        moderation.moderate(people.coordinator, "user", people.alice.id, "block", {"days": "1", "reason": "刷屏"})
    proposal = propose()
    with pytest.raises(PermissionDenied) as refused:
        discussion.comment_on_proposal(people.alice, proposal.id, {"text": "再说一句"})
    end = (at + timedelta(days=1)).astimezone(ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"]))
    assert end.strftime("%Y-%m-%d %H:%M") in refused.value.message and "UTC" not in refused.value.message


def test_the_insight_counts_comments_by_the_citys_day(people, propose, late_evening):
    at, _utc_text, city_text = late_evening
    proposal = propose()
    with simulated_time(at), transaction():
        discussion.comment_on_proposal(people.alice, proposal.id, {"text": "很好的建议"})
    assert [point["day"] for point in insight.insight(proposal)["sentiment"]] == [city_text[:10]]
