"""Requests no form would send: each answered with a clear 4xx and nothing changed, never a 500."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from participation.accounts.services import create_token
from participation.core.uow import transaction
from participation.routing import services
from participation.routing.models import PartStatus, TicketEvent
from tests.routing.conftest import part_of
from tests.routing.test_api_and_live import routing_socket


@pytest.mark.parametrize("age", ["740000", "36501", "-5", "abc", "1e3"])
def test_an_inbox_age_out_of_range_is_refused(client, db, people, joint_ticket, bearer, login, age):
    response = client.get(f"/api/v1/tickets?department=ENV&age={age}", headers=bearer(people.env))
    assert response.status_code == 422 and "age" in response.get_json()["error"]["fields"]
    login(people.env)
    page = client.get(f"/inbox?age={age}")
    assert page.status_code == 200 and "36500" in page.get_data(as_text=True)  # the field's message
    assert client.get(f"/inbox?age={age}&partial=1").status_code == 200


def test_an_inbox_age_within_range_filters(client, db, people, joint_ticket, bearer):
    env = bearer(people.env)
    assert len(client.get("/api/v1/tickets?department=ENV&age=0", headers=env).get_json()["parts"]) == 1
    assert client.get("/api/v1/tickets?department=ENV&age=36500", headers=env).get_json()["parts"] == []
    assert len(client.get("/api/v1/tickets?department=ENV&age=０", headers=env).get_json()["parts"]) == 1  # full-width


def test_a_tracking_code_typed_in_full_width_is_found(client, db, joint_ticket):
    code = joint_ticket.submission.tracking_code
    wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in code.lower())
    page = client.get(f"/track/{wide}")
    assert page.status_code == 200 and code in page.get_data(as_text=True)
    assert client.get(f"/track?code={wide}").headers["Location"].endswith(f"/track/{code}")


def test_an_unknown_queue_is_refused(client, db, people, bearer):
    response = client.get("/api/v1/tickets?queue=nonsense", headers=bearer(people.coordinator))
    assert response.status_code == 422 and "queue" in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("ids", [[2**63], [2**31], [0], [-1]])
def test_bulk_sign_for_refuses_ids_out_of_range(client, db, people, joint_ticket, bearer, ids):
    response = client.post("/api/v1/parts/accept", json={"part_ids": ids}, headers=bearer(people.env))
    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == ["part_ids"]  # the field the caller sent
    assert part_of(joint_ticket, "ENV").status == PartStatus.PENDING


def test_bulk_sign_for_names_the_field_sent_when_nothing_is_chosen(client, db, people, bearer):
    response = client.post("/api/v1/parts/accept", json={"part_ids": []}, headers=bearer(people.env))
    assert response.status_code == 422 and list(response.get_json()["error"]["fields"]) == ["part_ids"]


def test_bulk_sign_for_with_nothing_to_sign_is_checked_and_refused(client, db, people, joint_ticket, login):
    """The page's form with no ticket chosen, or ids of nothing: a message, and the permission was checked
    first (the suite fails any write that returns without one)."""
    login(people.env)
    for data in ({}, {"part_ids": ["999999"]}, {"part_ids": ["x"]}):
        response = client.post("/inbox/accept", data=data)
        assert response.status_code == 302
    assert part_of(joint_ticket, "ENV").status == PartStatus.PENDING


@pytest.mark.parametrize("back", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_bulk_sign_for_goes_back_only_within_the_site(client, db, people, joint_ticket, login, back):
    login(people.env)
    lead = part_of(joint_ticket, "ENV")
    response = client.post("/inbox/accept", data={"part_ids": [str(lead.id)], "back": back})
    assert response.status_code == 302 and response.headers["Location"].endswith("/inbox")
    same_site = client.post("/inbox/accept", data={"part_ids": [str(lead.id)], "back": "/inbox?status=accepted"})
    assert same_site.headers["Location"].endswith("/inbox?status=accepted")


@pytest.mark.parametrize("path", ["/api/v1/routing/suggest", "/api/v1/parts/accept", "/login"])
def test_json_nested_deeper_than_the_parser_goes_is_a_bad_request(client, db, people, path):
    body = "[" * 5000 + "]" * 5000
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code in (400, 401, 415)
    assert response.status_code != 500


@pytest.mark.parametrize("event, key", [("watch_ticket", "ticket_id"), ("watch_inbox", "department_id")])
@pytest.mark.parametrize("value", [2**63, 2**31, -1, 0, True])
def test_watching_an_id_out_of_range_is_refused(app, db, people, joint_ticket, event, key, value):
    socket = routing_socket(app, people.env)
    assert socket.emit(event, {key: value}, namespace="/routing", callback=True) == {"ok": False}


def test_a_department_that_left_the_ticket_no_longer_sees_or_writes_on_it(client, db, people, joint_ticket, bearer):
    """URBAN's part is removed: the ticket leaves its inbox, its pages and its API, and it can no longer
    add notes; its part and what it did stay in the history."""
    urban = bearer(people.urban)
    assert client.get(f"/api/v1/tickets/{joint_ticket.id}", headers=urban).status_code == 200
    with transaction():
        services.remove_part(people.coordinator, part_of(joint_ticket, "URBAN").id, "交通局已另行处理")
    assert client.get(f"/api/v1/tickets/{joint_ticket.id}", headers=urban).status_code == 403
    notes = select(func.count()).select_from(TicketEvent).where(TicketEvent.type == "note")
    before = db.session.scalar(notes)
    refused = client.post(f"/api/v1/tickets/{joint_ticket.id}/notes", json={"text": "还在跟进"}, headers=urban)
    assert refused.status_code == 403 and db.session.scalar(notes) == before
    socket = routing_socket(client.application, people.urban)
    assert socket.emit("watch_ticket", {"ticket_id": joint_ticket.id}, namespace="/routing", callback=True) == {
        "ok": False
    }
    # The coordinator's view still shows the part that ended.
    coordinator = bearer(people.coordinator)
    body = client.get(f"/api/v1/tickets/{joint_ticket.id}", headers=coordinator).get_json()
    assert {p["department"]: p["status"] for p in body["parts"]}["URBAN"] == "ended"


@pytest.mark.parametrize("text", ["\u200b", "\u200b\u200f\ufeff", " \u2060 \u202e "])
def test_text_of_invisible_characters_only_is_empty(client, db, people, joint_ticket, bearer, text):
    env, coordinator = bearer(people.env), bearer(people.coordinator)
    note = client.post(f"/api/v1/tickets/{joint_ticket.id}/notes", json={"text": text}, headers=env)
    assert note.status_code == 422 and "text" in note.get_json()["error"]["fields"]
    reject = client.post(f"/api/v1/tickets/{joint_ticket.id}/reject", json={"reason": text}, headers=coordinator)
    assert reject.status_code == 422
    assert client.get(f"/api/v1/tickets/{joint_ticket.id}", headers=env).get_json()["status"] == "dispatched"


def test_a_department_that_left_is_led_from_old_links_to_its_inbox(client, db, people, joint_ticket, login):
    """An old notice or bookmark of a ticket the department has left: its inbox, with a word of why;
    the ticket's content is not shown. A department that never had a part still gets a plain 403."""
    with transaction():
        services.remove_part(people.coordinator, part_of(joint_ticket, "URBAN").id, "交通局已另行处理")
    login(people.urban)
    urban = part_of(joint_ticket, "URBAN").department_id
    page = client.get(f"/tickets/{joint_ticket.id}")
    assert page.status_code == 302 and page.headers["Location"].endswith(f"/inbox?department={urban}")
    # A form of the ticket's page, left open while the department left: the same.
    note = client.post(f"/tickets/{joint_ticket.id}/act", data={"action": "note", "text": "还在跟进"})
    assert note.status_code == 302 and note.headers["Location"].endswith(f"/inbox?department={urban}")
    inbox = client.get("/inbox").get_data(as_text=True)
    assert f"#{joint_ticket.id}" in inbox and joint_ticket.submission.text not in inbox
    # The live panel's partial request is refused, not redirected.
    assert client.get(f"/tickets/{joint_ticket.id}?partial=1").status_code == 403
    login(people.transport)  # never on it: no such ticket, as for a number never given out
    assert client.get(f"/tickets/{joint_ticket.id}").status_code == 404
    refused = client.post(f"/tickets/{joint_ticket.id}/act", data={"action": "note", "text": "看看"})
    assert refused.status_code == 404


@pytest.mark.parametrize("closing", ["withdraw", "reject"])
def test_a_ticket_closed_for_everyone_stays_in_sight_of_its_departments(
    client, db, people, joint_ticket, bearer, login, closing
):
    """Withdrawn or rejected, the ticket ends every open part, but the departments did not leave it:
    they still read it (their history), and no 'no longer has a part' message misleads them."""
    with transaction():
        if closing == "withdraw":
            services.withdraw(joint_ticket, people.citizen, "已经自己解决了")
        else:
            services.reject(people.coordinator, joint_ticket.id, "重复提交")
    assert {p.status for p in joint_ticket.parts} == {PartStatus.ENDED}
    assert not any(p.departed for p in joint_ticket.parts)
    assert client.get(f"/api/v1/tickets/{joint_ticket.id}", headers=bearer(people.urban)).status_code == 200
    login(people.env)
    assert client.get(f"/tickets/{joint_ticket.id}").status_code == 200
    login(people.transport)  # never on it
    assert client.get(f"/tickets/{joint_ticket.id}").status_code == 404


def test_a_merged_duplicate_stays_in_sight_of_its_departments(client, db, people, joint_ticket, submit, login):
    master = submit("工地晚上施工太吵了，一直到凌晨两点")
    with transaction():
        services.dispatch(people.coordinator, master.id, ["NOISE"], "ENV", [])
        services.merge(people.coordinator, joint_ticket.id, master.id, "同一工地")
    login(people.urban)  # on the duplicate only
    page = client.get(f"/tickets/{joint_ticket.id}")
    assert page.status_code == 200 and f"#{master.id}" in page.get_data(as_text=True)


def test_a_department_that_left_and_is_invited_back_sees_the_ticket_again(client, db, people, joint_ticket, bearer):
    urban = bearer(people.urban)
    with transaction():
        services.remove_part(people.coordinator, part_of(joint_ticket, "URBAN").id, "交通局已另行处理")
    assert part_of(joint_ticket, "URBAN").departed
    with transaction():
        services.invite(people.env, joint_ticket.id, "URBAN", "还是需要城管配合")
    assert not part_of(joint_ticket, "URBAN").departed
    assert client.get(f"/api/v1/tickets/{joint_ticket.id}", headers=urban).status_code == 200


def test_only_full_width_forms_of_ascii_are_read_as_such():
    from participation.core.validation import small_int

    assert small_int("１２") == 12 and small_int("　３　") == 3
    assert small_int("²") is None and small_int("①") is None and small_int("㉑") is None


def test_a_lead_swapped_out_is_led_from_its_deadline_forms_to_its_inbox(client, db, people, joint_ticket, login):
    with transaction():
        services.swap_lead(people.coordinator, joint_ticket.id, "TRANSPORT", "交通局牵头")
    login(people.env)
    env = part_of(joint_ticket, "ENV").department_id
    sent = client.post(f"/tickets/{joint_ticket.id}/deadlines", data={"action": "contact", "note": "已电话联系"})
    assert sent.status_code == 302 and sent.headers["Location"].endswith(f"/inbox?department={env}")


def test_ticket_writes_from_a_signed_in_browser_need_the_csrf_token(
    app, client, db, people, joint_ticket, login, monkeypatch
):
    """Another site's page cannot act on a ticket with the staff member's cookies, through the pages or through
    the JSON API (which takes session cookies too); an API token, which no other site can send, needs none."""
    login(people.env)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    lead = part_of(joint_ticket, "ENV")
    events = db.session.scalar(select(func.count()).select_from(TicketEvent))
    for path, kwargs in (
        (f"/api/v1/tickets/{joint_ticket.id}/notes", {"json": {"text": "from elsewhere"}}),
        (f"/api/v1/parts/{lead.id}/accept", {}),
        ("/api/v1/parts/accept", {"json": {"part_ids": [lead.id]}}),
        (f"/tickets/{joint_ticket.id}/act", {"data": {"action": "accept", "part_id": str(lead.id)}}),
        ("/inbox/accept", {"data": {"part_ids": [str(lead.id)]}}),
    ):
        response = client.post(path, **kwargs)
        assert response.status_code == 400, path
    assert db.session.scalar(select(func.count()).select_from(TicketEvent)) == events
    assert lead.status == PartStatus.PENDING
    _token, raw = create_token(people.env, "app")
    db.session.commit()
    signed = client.post(f"/api/v1/parts/{lead.id}/accept", headers={"Authorization": f"Bearer {raw}"})
    assert signed.status_code == 200 and lead.status == PartStatus.ACCEPTED
