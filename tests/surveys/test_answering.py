"""Answering surveys: the API, the public and invitation pages, and the callback on the tracking page."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from participation.core.permissions import SYSTEM
from participation.core.uow import transaction
from participation.extensions import db
from participation.routing.models import TicketStatus
from participation.surveys import callbacks, services
from participation.surveys.models import Answer, CallbackResult, Invitation, Response, ResponseStatus
from tests.routing.conftest import resolve_joint
from tests.surveys.test_files_api import definition, generous_limit  # noqa: F401

GOOD = {"visited": 1, "used": [1, 3], "clean": 4, "safe": 5, "rating": 4, "nps": 9, "comment": "很好"}


def make_survey(code="PARKS", *, distribution="public", anonymous=True, publish=True, text=None):
    data = definition(code)
    if text:
        data["questions"][-1]["label"]["en"] = text
    with transaction():
        services.save_definition(SYSTEM, data, distribution=distribution, anonymous=anonymous, publish=publish)


def invite(code="PARKS", emails=("ann@example.org",)) -> list[str]:
    with transaction():
        return [token for _invitation, token in services.invite(SYSTEM, code, list(emails))]


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def responses() -> list[Response]:
    return db.session.scalars(select(Response).order_by(Response.id)).all()


def post_answers(client, answers, code="PARKS", **extra):
    return client.post(f"/api/v1/surveys/{code}/responses", json={"answers": answers, **extra})


# -- the API --------------------------------------------------------------------------------------


BAD_ANSWERS = [
    pytest.param({"clean": 6}, "clean", "from 1 to 5", id="likert5-out-of-range"),
    pytest.param({"nps": 11}, "nps", "from 0 to 10", id="nps-out-of-range"),
    pytest.param({"visited": "1"}, "visited", "one answer code", id="string-for-single"),
    pytest.param({"used": 1}, "used", "list of answer codes", id="int-for-multiple"),
    pytest.param({"visited": 3}, "visited", "listed answers", id="unknown-choice"),
    pytest.param({"used": [1, 7]}, "used", "listed answers", id="unknown-choice-in-list"),
    pytest.param({"nps": None}, "nps", "needs an answer", id="required-unanswered"),
    pytest.param({"why_not": "too far"}, "why_not", "not shown", id="hidden-answered"),
    pytest.param({"comment": "x" * 2001}, "comment", "At most 2000", id="oversized-text"),
    pytest.param({"colour": 1}, "colour", "no such question", id="unknown-question"),
]


@pytest.mark.parametrize(("change", "name", "words"), BAD_ANSWERS)
def test_a_bad_answer_is_refused_and_nothing_stored(client, english, change, name, words):
    make_survey()
    answers = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    response = post_answers(client, answers)
    assert response.status_code == 422, response.json
    messages = response.json["error"]["fields"][f"answers.{name}"]
    assert any(words in m for m in messages), messages
    assert count(Response) == 0 and count(Answer) == 0


def test_good_answers_are_stored_against_the_version(client):
    make_survey()
    response = post_answers(client, GOOD)
    assert response.status_code == 201, response.json
    assert response.json == {**response.json, "survey": "PARKS", "version": 1, "status": "complete"}
    (stored,) = responses()
    values = sorted((a.question, a.value_int, a.value_text) for a in stored.answers)
    assert ("used", 1, None) in values and ("used", 3, None) in values and ("comment", None, "很好") in values
    assert stored.channel.value == "public" and stored.session_hash is not None


def test_one_response_per_session(app, client, make_user, bearer):
    make_survey()
    assert post_answers(client, GOOD).status_code == 201
    again = post_answers(client, GOOD)
    assert again.status_code == 409
    assert post_answers(app.test_client(), GOOD).status_code == 201  # another browser
    user = bearer(make_user("citizen"))
    assert client.post("/api/v1/surveys/PARKS/responses", json={"answers": GOOD}, headers=user).status_code == 201
    assert client.post("/api/v1/surveys/PARKS/responses", json={"answers": GOOD}, headers=user).status_code == 409
    assert services.response_counts(responses()[0].survey) == {"incomplete": 0, "complete": 3}


def test_incomplete_is_kept_and_not_counted(client):
    make_survey()
    saved = post_answers(client, {"visited": 1}, complete=False)  # the required NPS may wait
    assert saved.status_code == 201 and saved.json["status"] == "incomplete"
    survey = responses()[0].survey
    assert services.response_counts(survey) == {"incomplete": 1, "complete": 0}
    assert post_answers(client, GOOD).status_code == 201  # the same session finishes it
    assert services.response_counts(survey) == {"incomplete": 0, "complete": 1}
    assert count(Response) == 1
    assert post_answers(client, {"visited": 1}, complete="no").status_code == 422


def test_closed_and_unpublished_surveys_take_no_answers(client, english):
    make_survey("DRAFT", publish=False)
    response = post_answers(client, GOOD, code="DRAFT")
    assert response.status_code == 409 and "not been published" in response.json["error"]["message"]
    make_survey()
    with transaction():
        services.close_survey(SYSTEM, "PARKS")
    response = post_answers(client, GOOD)
    assert response.status_code == 409 and "closed" in response.json["error"]["message"]
    assert post_answers(client, GOOD, code="NOPE").status_code == 404
    assert count(Response) == 0


def test_invitation_tokens(client, english):
    make_survey(distribution="invitation")
    (token,) = invite()
    assert post_answers(client, GOOD).status_code == 422  # no token
    assert post_answers(client, GOOD, token="not-a-token").status_code == 404
    assert post_answers(client, GOOD, token=token).status_code == 201
    used = post_answers(client, GOOD, token=token)
    assert used.status_code == 409 and "already been used" in used.json["error"]["message"]
    assert count(Response) == 1


def test_anonymous_invitation_keeps_no_link(client):
    make_survey(distribution="invitation", anonymous=True)
    (token,) = invite()
    assert post_answers(client, GOOD, token=token).status_code == 201
    invitation = db.session.scalar(select(Invitation))
    (response,) = responses()
    assert invitation.used_at is not None
    assert invitation.response_id is None and response.session_hash is None


def test_named_invitation_links_and_continues(client):
    make_survey(distribution="invitation", anonymous=False)
    (token,) = invite()
    assert post_answers(client, {"visited": 2}, token=token, complete=False).status_code == 201
    assert post_answers(client, {**GOOD, "visited": 2}, token=token).status_code == 422  # "used" is hidden
    assert post_answers(client, {"visited": 2, "why_not": "太远", "nps": 3}, token=token).status_code == 201
    invitation = db.session.scalar(select(Invitation))
    (response,) = responses()
    assert invitation.response_id == response.id and response.status == ResponseStatus.COMPLETE


def test_old_responses_keep_their_version(app, client):
    make_survey()
    assert post_answers(client, GOOD).status_code == 201
    make_survey(text="Anything else you want to say?")  # edit the draft and publish: version 2
    assert post_answers(app.test_client(), GOOD).status_code == 201
    assert [r.version.number for r in responses()] == [1, 2]
    assert responses()[0].survey.current_version.number == 2


def test_answers_are_rate_limited(client, app, monkeypatch):
    make_survey()
    monkeypatch.setitem(app.config, "SURVEY_RESPONSE_RATE_LIMIT", "2 per minute")
    statuses = [post_answers(app.test_client(), GOOD).status_code for _ in range(3)]
    assert statuses == [201, 201, 429]


# -- the pages ------------------------------------------------------------------------------------


def form(**values) -> dict:
    data = {"action": values.pop("action", "finish")}
    data.update({f"q_{k}": v for k, v in values.items()})
    return data


def test_public_page_renders_every_type_in_the_current_language(client, english):
    make_survey()
    page = client.get("/s/PARKS")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Have you visited a park?" in html and "公园" not in html
    assert 'class="matrix"' in html and "The park is safe" in html  # the Likert block as one table
    assert html.count('name="q_nps"') == 11 and html.count('name="q_used" ') == 3
    assert 'type="checkbox" name="q_used"' in html and '<textarea name="q_comment"' in html
    assert 'data-show-if="visited" data-show-if-in="2" hidden' in html  # shown by surveys.js when "No"
    assert "js/surveys.js" in html and "<script>" not in html  # no inline scripts (CSP)
    assert "Save and finish later" in html


def test_public_page_in_chinese(client):
    make_survey()
    html = client.get("/s/PARKS").get_data(as_text=True)
    assert "您去过公园吗？" in html and "Have you visited a park?" not in html


def test_page_errors_next_to_each_question_and_answers_kept(client, english):
    make_survey()
    response = client.post("/s/PARKS", data=form(visited="1", used=["1", "3"], clean="9", comment="lovely"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-field="nps"' in html and "This question needs an answer." in html
    assert 'data-field="clean"' in html and "from 1 to 5" in html
    assert 'name="q_visited" value="1" checked' in html and 'name="q_used" value="3" checked' in html
    assert ">lovely</textarea>" in html
    assert count(Response) == 0


def test_page_refuses_a_hidden_question_answered(client, english):
    make_survey()
    response = client.post("/s/PARKS", data=form(visited="1", why_not="too far", nps="7"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Why not?: This question is not shown for your earlier answers." in html
    assert count(Response) == 0


def test_save_and_finish_later_then_once_per_browser(app, client, english):
    make_survey()
    saved = client.post("/s/PARKS", data=form(visited="1", used="2", action="save"))
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/s/PARKS")
    assert [r.status for r in responses()] == [ResponseStatus.INCOMPLETE]
    html = client.get("/s/PARKS").get_data(as_text=True)
    assert 'id="survey-resumed"' in html and 'name="q_used" value="2" checked' in html
    done = client.post("/s/PARKS", data=form(visited="1", used="2", nps="10"))
    assert done.status_code == 302 and done.headers["Location"].endswith("/s/PARKS/done")
    assert "Thank you" in client.get("/s/PARKS/done").get_data(as_text=True)
    assert "already answered" in client.get("/s/PARKS").get_data(as_text=True)
    assert client.post("/s/PARKS", data=form(visited="1", nps="10")).status_code == 409
    assert [r.status for r in responses()] == [ResponseStatus.COMPLETE]
    assert app.test_client().post("/s/PARKS", data=form(visited="2", nps="0")).status_code == 302
    assert services.response_counts(responses()[0].survey) == {"incomplete": 0, "complete": 2}


def test_pages_for_surveys_not_open_or_not_public(client, english):
    make_survey("DRAFT", publish=False)
    assert client.get("/s/DRAFT").status_code == 409
    make_survey("INV", distribution="invitation")
    assert client.get("/s/INV").status_code == 404
    assert client.get("/s/NOPE").status_code == 404
    make_survey()
    with transaction():
        services.close_survey(SYSTEM, "PARKS")
    page = client.get("/s/PARKS")
    assert page.status_code == 409 and "closed" in page.get_data(as_text=True)


def test_invitation_page(client, english):
    make_survey(distribution="invitation", anonymous=True)
    (token,) = invite()
    page = client.get(f"/s/i/{token}")
    assert page.status_code == 200 and "Save and finish later" not in page.get_data(as_text=True)  # anonymous
    assert client.post(f"/s/i/{token}", data=form(visited="2", nps="3")).status_code == 302
    assert client.get(f"/s/i/{token}").status_code == 409  # used
    assert client.post(f"/s/i/{token}", data=form(visited="2", nps="3")).status_code == 409
    assert client.get("/s/i/unknown-token").status_code == 404
    (response,) = responses()
    assert response.session_hash is None and db.session.scalar(select(Invitation.response_id)) is None


def test_named_invitation_page_saves_for_later(client, english):
    make_survey(distribution="invitation", anonymous=False)
    (token,) = invite()
    assert client.post(f"/s/i/{token}", data=form(visited="2", why_not="busy", action="save")).status_code == 302
    html = client.get(f"/s/i/{token}").get_data(as_text=True)
    assert ">busy</textarea>" in html and "Save and finish later" in html
    assert client.post(f"/s/i/{token}", data=form(visited="2", why_not="busy", nps="4")).status_code == 302
    assert [r.status for r in responses()] == [ResponseStatus.COMPLETE]


# -- the callback on the tracking page -------------------------------------------------------------


def results(ticket) -> list[tuple[int, str]]:
    return [(r.round, r.outcome) for r in callbacks.results_of(ticket)]


def test_tracking_page_callback_reopens_then_escalates(client, joint_ticket, people, english, login):
    login(people.citizen)
    code = joint_ticket.submission.tracking_code
    assert 'id="callback-form"' not in client.get(f"/track/{code}").get_data(as_text=True)
    resolve_joint(joint_ticket, people)
    html = client.get(f"/track/{code}").get_data(as_text=True)
    assert 'id="callback-form"' in html and "Are you satisfied with the outcome?" in html
    assert 'id="callback-form"' in client.get(f"/track/{code}?partial=1").get_data(as_text=True)  # live refresh

    sent = client.post(f"/track/{code}/callback", data={"q_solved": "1", "q_satisfaction": "3"})
    assert sent.status_code == 302 and sent.headers["Location"].endswith(f"/track/{code}")
    html = client.get(f"/track/{code}").get_data(as_text=True)
    assert "Thank you for telling us" in html and 'id="callback-form"' not in html
    db.session.refresh(joint_ticket)
    assert joint_ticket.status == TicketStatus.REOPENED and joint_ticket.escalation_level == 0
    assert results(joint_ticket) == [(1, "reopened")]

    resolve_joint(joint_ticket, people, "Second visit: the work now stops at 22:00.")
    sent = client.post(f"/track/{code}/callback", data={"q_solved": "1", "q_satisfaction": "3", "q_rating": "2"})
    assert sent.status_code == 302
    db.session.refresh(joint_ticket)
    assert joint_ticket.status == TicketStatus.REOPENED and joint_ticket.escalation_level == 2
    assert results(joint_ticket) == [(1, "reopened"), (2, "escalated")]


def test_tracking_page_callback_satisfied_closes(client, joint_ticket, people, login):
    login(people.citizen)
    resolve_joint(joint_ticket, people)
    code = joint_ticket.submission.tracking_code
    sent = client.post(f"/track/{code}/callback", data={"q_solved": "1", "q_satisfaction": "1", "q_comment": "谢谢"})
    assert sent.status_code == 302
    db.session.refresh(joint_ticket)
    assert joint_ticket.status == TicketStatus.CLOSED and results(joint_ticket) == [(1, "closed")]


def test_tracking_page_callback_errors_keep_the_answers(client, joint_ticket, people, english, login):
    login(people.citizen)
    resolve_joint(joint_ticket, people)
    code = joint_ticket.submission.tracking_code
    response = client.post(f"/track/{code}/callback", data={"q_solved": "2", "q_rating": "7"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-field="satisfaction"' in html and 'data-field="rating"' in html
    assert 'name="q_solved" value="2" checked' in html
    assert count(CallbackResult) == 0 and callbacks.pending_invitation(joint_ticket) is not None
    db.session.refresh(joint_ticket)
    assert joint_ticket.status == TicketStatus.RESOLVED


def test_a_refused_callback_answer_leaves_a_reloadable_address(client, joint_ticket, people, login):
    """Reloading the page a refused answer was shown on, or switching the language there, leads back to
    the tracking page (not to a 405); the form is still there to answer."""
    login(people.citizen)
    resolve_joint(joint_ticket, people)
    code = joint_ticket.submission.tracking_code
    assert client.post(f"/track/{code}/callback", data={"q_solved": "2"}).status_code == 422
    again = client.get(f"/track/{code}/callback")
    assert again.status_code == 302 and again.headers["Location"].endswith(f"/track/{code}")
    switched = client.get(f"/lang/en?next=/track/{code}/callback")
    assert client.get(switched.headers["Location"]).headers["Location"].endswith(f"/track/{code}")
    assert 'id="callback-form"' in client.get(f"/track/{code}").get_data(as_text=True)


def test_an_answer_from_a_page_left_open_after_a_reopening_is_refused(client, joint_ticket, people, english, login):
    """The form was loaded while the request was resolved; meanwhile it was reopened (here by the
    coordinator): the answer is refused with the reason, on the page and in the API, and changes nothing."""
    from participation.routing import services as routing

    login(people.citizen)
    resolve_joint(joint_ticket, people)
    code = joint_ticket.submission.tracking_code
    assert 'id="callback-form"' in client.get(f"/track/{code}").get_data(as_text=True)
    with transaction():
        routing.reopen(people.coordinator, joint_ticket.id, "The citizen called the hotline: still noisy.")
    refused = client.post(f"/track/{code}/callback", data={"q_solved": "1", "q_satisfaction": "1"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 409 and 'id="callback-form"' not in page
    assert "This request has been reopened and is being handled again" in page and page.count('role="alert"') == 1
    api = client.post(f"/api/v1/submissions/{code}/callback", json={"answers": {"solved": 1, "satisfaction": 1}})
    assert api.status_code == 409 and api.json["error"]["code"] == "conflict"
    assert "reopened and is being handled again" in api.json["error"]["message"]
    db.session.refresh(joint_ticket)
    assert joint_ticket.status == TicketStatus.REOPENED and joint_ticket.reopen_count == 1
    assert count(CallbackResult) == 0 and count(Response) == 0
    assert 'id="callback"' not in client.get(f"/track/{code}").get_data(as_text=True)


def test_an_answer_sent_twice_is_refused_the_second_time(client, joint_ticket, people, english, login):
    login(people.citizen)
    resolve_joint(joint_ticket, people)
    code = joint_ticket.submission.tracking_code
    answer = {"q_solved": "1", "q_satisfaction": "3"}
    assert client.post(f"/track/{code}/callback", data=answer).status_code == 302
    again = client.post(f"/track/{code}/callback", data=answer)
    assert again.status_code == 409 and "already been answered" in again.get_data(as_text=True)
    assert results(joint_ticket) == [(1, "reopened")]


def follower_of_resolved(joint_ticket, people, submit, login) -> str:
    """A request merged into the joint ticket, which is then resolved; its sender signed in. Its code."""
    from participation.routing import services as routing

    follower = submit("工地半夜还在施工，噪音吵得睡不着")
    with transaction():
        routing.merge(people.coordinator, follower.id, joint_ticket.id)
    resolve_joint(joint_ticket, people)
    login(people.citizen)
    return follower.submission.tracking_code


def test_a_followers_form_promises_only_what_its_answer_does(client, joint_ticket, people, submit, english, login):
    """Merged into a resolved master, "not solved" reopens that master; once the master is closed, the
    answer is still taken but reopens nothing, and the form says so."""
    code = follower_of_resolved(joint_ticket, people, submit, login)
    page = client.get(f"/track/{code}").get_data(as_text=True)
    assert "the request is reopened" in page and 'id="callback-recorded-only"' not in page
    with transaction():
        callbacks.answer_by_tracking_code(None, joint_ticket.submission.tracking_code, {"solved": 1, "satisfaction": 1})
    page = client.get(f"/track/{code}").get_data(as_text=True)
    assert 'id="callback-form"' in page and "the request is reopened" not in page
    assert 'id="callback-recorded-only"' in page and "can no longer reopen the request" in page
    assert client.post(f"/track/{code}/callback", data={"q_solved": "2", "q_satisfaction": "3"}).status_code == 302
    db.session.refresh(joint_ticket)
    assert joint_ticket.status == TicketStatus.CLOSED and results(joint_ticket) == [(1, "closed"), (1, "recorded")]


def test_a_followers_not_solved_on_the_tracking_page_reopens_its_master(
    client, joint_ticket, people, submit, english, login
):
    code = follower_of_resolved(joint_ticket, people, submit, login)
    assert client.post(f"/track/{code}/callback", data={"q_solved": "2", "q_satisfaction": "2"}).status_code == 302
    db.session.refresh(joint_ticket)
    assert joint_ticket.status == TicketStatus.REOPENED and results(joint_ticket) == [(1, "reopened")]
    page = client.get(f"/track/{code}").get_data(as_text=True)
    # "Not solved", though basically satisfied: the reopening gives that reason, not dissatisfaction.
    assert 'id="callback-form"' not in page and "The citizen reported that the problem is not solved." in page
    assert "not satisfied" not in page


def test_callback_without_one_waiting(client, joint_ticket, english):
    code = joint_ticket.submission.tracking_code
    response = client.post(f"/track/{code}/callback", data={"q_solved": "1", "q_satisfaction": "1"})
    assert response.status_code == 404 and "no callback waiting" in response.get_data(as_text=True)
    assert client.post("/track/NOPE/callback", data={}).status_code == 404
    assert client.post(f"/api/v1/submissions/{code}/callback", json={"answers": {}}).status_code == 404


def test_callback_through_the_api(client, joint_ticket, people, login):
    login(people.citizen)
    resolve_joint(joint_ticket, people)
    code = joint_ticket.submission.tracking_code
    url = f"/api/v1/submissions/{code}/callback"
    bad = client.post(url, json={"answers": {"solved": 1, "satisfaction": 4}})
    assert bad.status_code == 422 and "answers.satisfaction" in bad.json["error"]["fields"]
    assert client.post(url, json={"solved": 1}).status_code == 422
    response = client.post(url, json={"answers": {"solved": 2, "satisfaction": 2}})
    assert response.status_code == 201 and response.json["outcome"] == "reopened"
    db.session.refresh(joint_ticket)
    assert joint_ticket.status == TicketStatus.REOPENED


def test_a_callback_is_its_senders_to_answer(client, db, catalog, joint_ticket, people, english, login, make_user):
    """A request sent from an account: its tracking code lets others follow it, not judge it; the sender,
    signed in, answers. A request sent without an account: whoever holds the code is its sender."""
    resolve_joint(joint_ticket, people)
    code = joint_ticket.submission.tracking_code
    answer = {"q_solved": "1", "q_satisfaction": "1"}
    page = client.get(f"/track/{code}").get_data(as_text=True)
    assert 'id="callback-form"' not in page and "Sign in with the account that sent this request" in page
    refused = client.post(f"/track/{code}/callback", data=answer)
    assert refused.status_code == 401 and "Sign in with the account" in refused.get_data(as_text=True)
    api = client.post(f"/api/v1/submissions/{code}/callback", json={"answers": {"solved": 1, "satisfaction": 1}})
    assert api.status_code == 401
    login(make_user("citizen"))
    assert client.post(f"/track/{code}/callback", data=answer).status_code == 403
    db.session.refresh(joint_ticket)
    assert joint_ticket.status == TicketStatus.RESOLVED and count(CallbackResult) == 0
    client.post("/logout")
    login(people.citizen)
    assert 'id="callback-form"' in client.get(f"/track/{code}").get_data(as_text=True)
    assert client.post(f"/track/{code}/callback", data=answer).status_code == 302
    db.session.refresh(joint_ticket)
    assert joint_ticket.status == TicketStatus.CLOSED


def test_an_anonymous_requests_callback_is_answered_with_its_code(client, db, catalog, people, english):
    from participation.intake import services as intake
    from participation.routing import services as routing

    with transaction():
        submission, _ = intake.submit(None, {"kind": "complaint", "text": "工地半夜施工，噪音太大", "anonymous": True})
    ticket = submission.ticket
    with transaction():
        routing.dispatch(people.coordinator, ticket.id, ["NOISE"], "ENV", ["URBAN"])
    resolve_joint(ticket, people)
    code = submission.tracking_code
    assert 'id="callback-form"' in client.get(f"/track/{code}").get_data(as_text=True)
    assert client.post(f"/track/{code}/callback", data={"q_solved": "1", "q_satisfaction": "1"}).status_code == 302


def anonymous_request_resolved(people):
    from participation.intake import services as intake
    from participation.routing import services as routing

    with transaction():
        submission, _ = intake.submit(None, {"kind": "complaint", "text": "工地半夜施工，噪音太大", "anonymous": True})
    with transaction():
        routing.dispatch(people.coordinator, submission.ticket.id, ["NOISE"], "ENV", ["URBAN"])
    resolve_joint(submission.ticket, people)
    return submission


BY_THE_SENDER = "This request was sent without an account, so its callback is answered by its sender"


def test_staff_are_told_who_answers_a_callback_of_a_request_sent_without_an_account(
    client, db, catalog, people, english, login, make_user
):
    """Not "sign in with the sending account": there is none. Moderators, researchers, administrators and
    departments are told that the sender answers; a coordinator records a hotline answer."""
    code = anonymous_request_resolved(people).tracking_code
    answer = {"q_solved": "1", "q_satisfaction": "1"}
    for user in (make_user("moderator"), make_user("researcher"), make_user("admin"), people.env):
        login(user)
        page = client.get(f"/track/{code}").get_data(as_text=True)
        assert 'id="callback-form"' not in page and 'id="callback-by-sender"' in page and BY_THE_SENDER in page
        assert "Sign in with the account" not in page
        refused = client.post(f"/track/{code}/callback", data=answer)
        assert refused.status_code == 403 and BY_THE_SENDER in refused.get_data(as_text=True)
        api = client.post(f"/api/v1/submissions/{code}/callback", json={"answers": {"solved": 1, "satisfaction": 1}})
        assert api.status_code == 403 and BY_THE_SENDER in api.json["error"]["message"]
        client.post("/logout")
    assert count(CallbackResult) == 0
    login(people.coordinator)
    assert 'id="callback-form"' in client.get(f"/track/{code}").get_data(as_text=True)
    assert client.post(f"/track/{code}/callback", data=answer).status_code == 302
    assert count(CallbackResult) == 1


def test_staff_looking_at_a_request_sent_from_an_account_are_asked_for_that_account(
    client, joint_ticket, people, english, login, make_user
):
    resolve_joint(joint_ticket, people)
    login(make_user("moderator"))
    page = client.get(f"/track/{joint_ticket.submission.tracking_code}").get_data(as_text=True)
    assert "Sign in with the account that sent this request to answer." in page and BY_THE_SENDER not in page


def test_who_answers_is_said_in_chinese_too(client, db, catalog, people, login, make_user):
    code = anonymous_request_resolved(people).tracking_code
    login(make_user("moderator"))
    page = client.get(f"/track/{code}").get_data(as_text=True)
    assert "该诉求未登录账号提交，回访由提交人本人填写" in page and "请登录提交该诉求的账号后评价" not in page
