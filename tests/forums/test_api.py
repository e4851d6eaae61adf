"""Forum API: list and read, create, support and withdraw support; errors as JSON with field details."""

from __future__ import annotations

from tests.forums.conftest import GOOD


def test_list_and_detail(client, db, people, propose):
    a = propose(title="Night works curfew", text="Stop drilling after 10pm")
    b = propose(title="道路坑洼修补", text="山前路有很多坑", category="POTHOLE")
    body = client.get("/api/v1/proposals").get_json()
    assert body["total"] == 2 and [p["id"] for p in body["items"]] == [b.id, a.id]
    body = client.get("/api/v1/proposals?q=坑&category=POTHOLE").get_json()
    assert [p["id"] for p in body["items"]] == [b.id]
    detail = client.get(f"/api/v1/proposals/{a.id}").get_json()
    assert detail["title"] == "Night works curfew" and detail["state"] == "published" and detail["answer"] is None
    assert "email" not in str(detail)
    response = client.get("/api/v1/proposals?sort=random")
    assert response.status_code == 422 and "sort" in response.get_json()["error"]["fields"]
    assert client.get("/api/v1/proposals/999").get_json()["error"]["code"] == "not_found"


def test_create_needs_a_participant(client, db, people, bearer):
    assert client.post("/api/v1/proposals", json=GOOD).status_code == 401
    assert client.post("/api/v1/proposals", json=GOOD, headers=bearer(people.env)).status_code == 403


def test_create_and_errors(client, db, people, bearer):
    headers = bearer(people.author)
    response = client.post("/api/v1/proposals", json=GOOD, headers=headers)
    assert response.status_code == 201 and response.get_json()["state"] == "published"
    response = client.post("/api/v1/proposals", json={**GOOD, "title": "", "text": "x" * 5001}, headers=headers)
    error = response.get_json()["error"]
    assert response.status_code == 422 and {"title", "text"} <= set(error["fields"])
    assert client.post("/api/v1/proposals", data="nope", headers=headers).status_code == 415
    draft = client.post("/api/v1/proposals", json={**GOOD, "publish": False}, headers=headers).get_json()
    assert draft["state"] == "draft"


def test_support_and_withdraw(client, db, people, propose, bearer):
    proposal = propose()
    url = f"/api/v1/proposals/{proposal.id}/support"
    assert client.post(url).status_code == 401
    headers = bearer(people.alice)
    response = client.post(url, headers=headers)
    assert response.status_code == 200 and response.get_json()["support_count"] == 1
    assert response.get_json()["supported"] is True
    response = client.post(url, headers=headers)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "conflict"
    own = client.post(url, headers=bearer(people.author))
    assert own.status_code == 403 and own.get_json()["error"]["message"]
    assert client.delete(url, headers=headers).get_json()["support_count"] == 0
    assert client.delete(url, headers=headers).status_code == 409


def test_session_writes_need_csrf(app, client, db, people, propose, login, monkeypatch):
    proposal = propose()
    login(people.alice)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = client.post(f"/api/v1/proposals/{proposal.id}/support")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "csrf_failed"
