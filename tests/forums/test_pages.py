"""Forum pages: list with search and filters, the form and its errors, the detail with support and answer."""

from __future__ import annotations

import re

from sqlalchemy import select

from participation.core.uow import transaction
from participation.forums import services
from participation.forums.models import Proposal, ProposalState


def test_list_search_and_filters(client, db, people, propose):
    propose(title="Night works curfew", text="Stop drilling after 10pm")
    propose(title="道路坑洼修补", text="山前路有很多坑", category="POTHOLE", district="EAST")
    page = client.get("/proposals").get_data(as_text=True)
    assert "Night works curfew" in page and "道路坑洼修补" in page and 'id="nav-proposals"' in page
    page = client.get("/proposals?q=坑洼").get_data(as_text=True)
    assert "道路坑洼修补" in page and "Night works curfew" not in page
    page = client.get("/proposals?category=NOISE&sort=supported").get_data(as_text=True)
    assert "Night works curfew" in page and "道路坑洼修补" not in page
    page = client.get("/proposals?district=EAST&state=published").get_data(as_text=True)
    assert "道路坑洼修补" in page and "Night works curfew" not in page
    assert client.get("/proposals?q=nothing-like-this").status_code == 200
    assert client.get("/proposals?page=abc").status_code == 200


def test_bad_filters_are_shown_not_500(client, db, people, propose):
    response = client.get("/proposals?state=hidden&sort=random")
    assert response.status_code == 422 and 'data-field="state"' in response.get_data(as_text=True)


def test_user_text_is_escaped(client, db, people, propose):
    proposal = propose(title="<script>alert(1)</script>", text="<img src=x onerror=alert(2)>")
    for path in ("/proposals", f"/proposals/{proposal.id}"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in client.get(f"/proposals/{proposal.id}").get_data(as_text=True)


def test_new_proposal_form(client, db, people, login):
    assert client.get("/proposals/new").status_code == 302  # log in first
    login(people.author)
    assert client.get("/proposals/new").status_code == 200
    response = client.post("/proposals/new", data={"title": "", "text": "x" * 5001, "category": "NOPE"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-field="title"' in page and 'data-field="text"' in page and 'data-field="category"' in page
    response = client.post(
        "/proposals/new", data={"title": "更多长椅", "text": "公园里需要更多长椅", "category": "NOISE"}
    )
    assert response.status_code == 302
    proposal = db.session.scalar(select(Proposal))
    assert response.headers["Location"].endswith(f"/proposals/{proposal.id}")
    assert proposal.state == ProposalState.PUBLISHED


def test_staff_cannot_open_the_form(client, db, people, login):
    login(people.env)
    assert client.get("/proposals/new").status_code == 302
    assert client.post("/proposals/new", data={"title": "t", "text": "t", "category": "NOISE"}).status_code == 403


def test_detail_support_and_withdraw(client, db, people, propose, login):
    proposal = propose()
    page = client.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    assert proposal.title in page and 'id="support"' not in page  # anonymous: log in to support
    login(people.alice)
    assert 'id="support"' in client.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    assert client.post(f"/proposals/{proposal.id}/support").status_code == 302
    page = client.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    assert 'id="unsupport"' in page and 'data-count="1"' in page
    client.post(f"/proposals/{proposal.id}/support")  # twice: a message, not an error page
    assert db.session.get(Proposal, proposal.id).support_count == 1
    assert client.post(f"/proposals/{proposal.id}/unsupport").status_code == 302
    assert db.session.get(Proposal, proposal.id).support_count == 0


def test_author_sees_no_support_button(client, db, people, propose, login):
    proposal = propose()
    login(people.author)
    page = client.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    assert 'id="support"' not in page and 'id="withdraw"' in page
    client.post(f"/proposals/{proposal.id}/support")
    assert db.session.get(Proposal, proposal.id).support_count == 0


def test_missing_and_draft_are_404(client, db, people):
    assert client.get("/proposals/999").status_code == 404
    with transaction():
        draft = services.create_proposal(people.author, {"title": "t", "text": "t", "category": "NOISE"}, publish=False)
    assert client.get(f"/proposals/{draft.id}").status_code == 404


def test_answer_form_for_lead_staff(app, client, db, people, propose, threshold, login, monkeypatch):
    monkeypatch.setitem(app.config, "ROUTING_AUTO_DISPATCH", True)
    proposal = propose()
    for person in (people.alice, people.bob):
        with transaction():
            services.support(person, proposal.id)
    login(people.transport)
    assert 'id="answer-form"' not in client.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    assert (
        client.post(f"/proposals/{proposal.id}/answer", data={"verdict": "accepted", "reasons": "x"}).status_code == 403
    )
    client.post("/logout")
    login(people.env)
    assert 'id="answer-form"' in client.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    response = client.post(f"/proposals/{proposal.id}/answer", data={"verdict": "", "reasons": ""})
    assert response.status_code == 422 and 'data-field="reasons"' in response.get_data(as_text=True)
    response = client.post(f"/proposals/{proposal.id}/answer", data={"verdict": "accepted", "reasons": "<b>Yes</b>"})
    assert response.status_code == 302
    page = client.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    assert 'data-verdict="accepted"' in page and "&lt;b&gt;Yes&lt;/b&gt;" in page


def test_replying_to_a_comment_is_huifu_not_the_departments_dafu(client, db, people, propose, login):
    """In Chinese a reply in a discussion is 回复; 答复 is the departments' official reply to a request."""
    from participation.forums import discussion

    proposal = propose()
    with transaction():
        discussion.comment_on_proposal(people.alice, proposal.id, {"text": "同意，附近孩子很多"})
    login(people.bob)
    client.get("/lang/zh")
    page = client.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    links = re.findall(r'<a class="reply-link"[^>]*>([^<]*)</a>', page)
    assert links and set(links) == {"回复"}
