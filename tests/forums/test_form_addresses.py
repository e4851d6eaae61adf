"""A refused form is shown again at the address it was sent to: reloading that address, or switching the
language there (a GET of the same address), leads back to the page the form is on, never to a 405."""

from __future__ import annotations

import pytest

from participation.core.uow import transaction
from participation.forums import discussion
from tests.conftest import PASSWORD


@pytest.fixture
def places(people, propose):
    proposal = propose()
    with transaction():
        thread = discussion.create_thread(people.coordinator, {"title": "夜间施工", "text": "大家怎么看？"})
    with transaction():
        on_proposal = discussion.comment_on_proposal(people.alice, proposal.id, {"text": "支持"})
    with transaction():
        on_thread = discussion.comment_on_thread(people.alice, thread.id, {"text": "同意"})
    return {
        "proposal": proposal.id,
        "thread": thread.id,
        "on_proposal": on_proposal.id,
        "on_thread": on_thread.id,
    }


ADDRESSES = [
    *[(f"/proposals/{{proposal}}/{form}", "/proposals/{proposal}") for form in
      ("support", "unsupport", "publish", "withdraw", "answer", "comments", "flag")],
    *[(f"/threads/{{thread}}/{form}", "/threads/{thread}") for form in ("comments", "lock", "unlock")],
    ("/comments/{on_proposal}/vote", "/proposals/{proposal}#comment-{on_proposal}"),
    ("/comments/{on_proposal}/flag", "/proposals/{proposal}#comment-{on_proposal}"),
    ("/comments/{on_thread}/vote", "/threads/{thread}#comment-{on_thread}"),
    ("/comments/{on_thread}/flag", "/threads/{thread}#comment-{on_thread}"),
    ("/moderation/comment/{on_proposal}", "/moderation"),
    ("/moderation/proposal/{proposal}", "/moderation"),
    ("/moderation/user/{on_thread}", "/moderation"),
]  # fmt: skip


@pytest.mark.parametrize(("address", "page"), ADDRESSES)
def test_every_form_address_leads_to_its_page(client, places, address, page):
    answer = client.get(address.format(**places))
    assert answer.status_code == 302 and answer.headers["Location"].endswith(page.format(**places))


def test_a_comment_to_a_hidden_discussion_leads_nowhere(client, people, places):
    from participation.forums import moderation

    with transaction():
        moderation.moderate(people.coordinator, "proposal", places["proposal"], "hide", {"reason": "广告"})
    assert client.get(f"/comments/{places['on_proposal']}/vote").status_code == 404


def visit(client, address: str) -> tuple[int, str, str]:
    """GET the address and follow the redirects, as a browser does: (status, final path, page)."""
    for _hop in range(5):
        answer = client.get(address)
        if answer.status_code != 302:
            return answer.status_code, address.split("?")[0].split("#")[0], answer.get_data(as_text=True)
        address = answer.headers["Location"]
    raise AssertionError("too many redirects")


def switch_language_at(client, address: str) -> tuple[int, str, str]:
    """What the language link of a page shown at `address` does."""
    return visit(client, f"/lang/en?next={address}")


def test_a_refused_comment_can_be_reloaded_and_read_in_another_language(client, people, places, login):
    login(people.bob)
    proposal, thread = places["proposal"], places["thread"]
    refused = client.post(f"/proposals/{proposal}/comments", data={"text": "  "})
    assert refused.status_code == 422
    status, path, page = switch_language_at(client, f"/proposals/{proposal}/comments")
    assert (status, path) == (200, f"/proposals/{proposal}") and "Discussion" in page
    refused = client.post(f"/threads/{thread}/comments", data={"text": ""})
    assert refused.status_code == 422
    assert visit(client, f"/threads/{thread}/comments")[:2] == (200, f"/threads/{thread}")  # reloaded


def test_a_refused_moderation_can_be_reloaded(client, people, places, login):
    login(people.coordinator)
    address = f"/moderation/comment/{places['on_proposal']}"
    refused = client.post(address, data={"action": "hide", "reason": ""})
    assert refused.status_code == 422
    assert switch_language_at(client, address)[:2] == (200, "/moderation")


def test_signing_in_from_a_form_leads_to_its_page(client, people, places):
    """A visitor who sends a form is asked to sign in, and then led back to the form's address."""
    proposal = places["proposal"]
    signed_in = client.post(
        f"/login?next=/proposals/{proposal}/support", data={"login": people.bob.email, "password": PASSWORD}
    )
    assert visit(client, signed_in.headers["Location"])[:2] == (200, f"/proposals/{proposal}")
