"""The ticket API (same rules as the pages) and live events per room."""

from __future__ import annotations

from participation.core.uow import transaction
from participation.routing import services
from tests.conftest import PASSWORD, live_client
from tests.routing.conftest import part_of


def test_staff_work_a_ticket_over_the_api(client, db, people, joint_ticket, bearer):
    env, urban = bearer(people.env), bearer(people.urban)
    lead_part, co_part = part_of(joint_ticket, "ENV"), part_of(joint_ticket, "URBAN")
    inbox = client.get("/api/v1/tickets?department=ENV", headers=env).get_json()
    assert [p["ticket"]["id"] for p in inbox["parts"]] == [joint_ticket.id]
    assert client.post(f"/api/v1/parts/{lead_part.id}/accept", headers=env).status_code == 200
    again = client.post(f"/api/v1/parts/{lead_part.id}/accept", headers=env)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "conflict"
    assert client.post(f"/api/v1/parts/{co_part.id}/accept", headers=env).status_code == 403
    assert client.post(f"/api/v1/parts/{co_part.id}/accept", headers=urban).status_code == 200
    bad = client.post(f"/api/v1/tickets/{joint_ticket.id}/resolve", json={"reply": "done"}, headers=env)
    assert bad.status_code == 409
    assert (
        client.post(f"/api/v1/parts/{co_part.id}/contribute", json={"note": "已处理"}, headers=urban).status_code == 200
    )
    assert client.post(f"/api/v1/parts/{co_part.id}/rate", json={"rating": "5"}, headers=env).status_code == 422
    assert client.post(f"/api/v1/parts/{co_part.id}/rate", json={"rating": 4}, headers=env).status_code == 200
    done = client.post(f"/api/v1/tickets/{joint_ticket.id}/resolve", json={"reply": "已解决"}, headers=env)
    assert done.status_code == 200 and done.get_json()["status"] == "resolved"
    body = client.get(f"/api/v1/tickets/{joint_ticket.id}", headers=env).get_json()
    assert {p["department"]: p["status"] for p in body["parts"]} == {"ENV": "done", "URBAN": "done"}
    assert any(e["type"] == "part.rated" for e in body["timeline"])


def test_departments_without_a_part_cannot_see_the_ticket(client, db, people, joint_ticket, bearer):
    transport = bearer(people.transport)
    # Asked for a ticket it was never on, a department hears what it would hear of a number never given
    # out: ticket numbers cannot be probed one by one.
    foreign = client.get(f"/api/v1/tickets/{joint_ticket.id}", headers=transport)
    unknown = client.get(f"/api/v1/tickets/{joint_ticket.id + 1000}", headers=transport)
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.get_json() == unknown.get_json()
    part = joint_ticket.parts[0].id
    for path in (f"/api/v1/parts/{part}/accept", f"/api/v1/tickets/{joint_ticket.id}/notes"):
        assert client.post(path, json={"text": "x"}, headers=transport).status_code == 404
    assert client.get(f"/api/v1/tickets/{joint_ticket.id}/deadlines", headers=transport).status_code == 404
    # The coordinator and the ticket's own departments find it.
    assert client.get(f"/api/v1/tickets/{joint_ticket.id}", headers=bearer(people.coordinator)).status_code == 200
    assert client.get(f"/api/v1/tickets/{joint_ticket.id}", headers=bearer(people.env)).status_code == 200
    assert client.get("/api/v1/tickets?department=ENV", headers=transport).status_code == 403
    assert client.get("/api/v1/tickets?department=TRANSPORT", headers=transport).get_json()["parts"] == []
    # Not signed in: asked to sign in, whether or not the number exists.
    for path in (
        f"/api/v1/tickets/{joint_ticket.id}",
        f"/api/v1/tickets/{joint_ticket.id + 1000}",
        "/api/v1/tickets",
        "/api/v1/tickets?department=ENV",
        "/api/v1/tickets?queue=nonsense",
    ):
        assert client.get(path).status_code == 401
    for path in (
        f"/api/v1/parts/{joint_ticket.parts[0].id}/accept",
        f"/api/v1/parts/{joint_ticket.parts[0].id + 1000}/accept",
    ):
        assert client.post(path).status_code == 401


def test_coordinator_queues_and_rulings_over_the_api(client, db, people, submit, bearer):
    coordinator, env = bearer(people.coordinator), bearer(people.env)
    ticket = submit()
    queue = client.get("/api/v1/tickets?queue=triage", headers=coordinator).get_json()["tickets"]
    assert [t["id"] for t in queue] == [ticket.id]
    assert client.get("/api/v1/tickets?queue=triage", headers=env).status_code == 403
    bad = client.post(
        f"/api/v1/tickets/{ticket.id}/dispatch", json={"categories": "NOISE", "lead": "ENV"}, headers=coordinator
    )
    assert bad.status_code == 422 and "categories" in bad.get_json()["error"]["fields"]
    ok = client.post(
        f"/api/v1/tickets/{ticket.id}/dispatch",
        json={"categories": ["NOISE"], "lead": "ENV", "co": ["URBAN"]},
        headers=coordinator,
    )
    assert ok.status_code == 200
    part = part_of(ticket, "ENV")
    dispute = client.post(
        f"/api/v1/parts/{part.id}/return",
        json={"kind": "transfer", "reason": "交通局主办", "suggested": "TRANSPORT"},
        headers=env,
    )
    assert dispute.status_code == 201
    dispute_id = dispute.get_json()["id"]
    for number in (dispute_id, dispute_id + 1000):  # refused alike, whether the dispute exists or not
        refused = client.post(f"/api/v1/disputes/{number}/rule", json={"decision": "upheld"}, headers=env)
        assert refused.status_code == 403
    ruled = client.post(f"/api/v1/disputes/{dispute_id}/rule", json={"decision": "upheld"}, headers=coordinator)
    assert ruled.status_code == 200 and ruled.get_json()["status"] == "upheld"
    assert client.get(f"/api/v1/tickets/{ticket.id}", headers=coordinator).get_json()["lead"] == "TRANSPORT"


def test_suggest_api_and_its_bad_input(client, db, catalog):
    good = client.post("/api/v1/routing/suggest", json={"text": "工地半夜施工噪音很大", "district": "EAST-HILL"})
    assert good.status_code == 200
    body = good.get_json()
    assert body["categories"][0]["code"] == "NOISE" and body["lead"] == "ENV"
    assert set(body["co"]) == {"URBAN", "OFFICE-EAST-HILL"} and isinstance(body["needs_triage"], bool)
    assert client.post("/api/v1/routing/suggest", json={"text": ""}).status_code == 422
    assert client.post("/api/v1/routing/suggest", json={"text": 5}).status_code == 422
    assert client.post("/api/v1/routing/suggest", json={"text": "x", "district": "MARS"}).status_code == 422
    assert client.post("/api/v1/routing/suggest", data="text=x").status_code == 415


def login_client(app, user):
    http = app.test_client()
    assert http.post("/login", data={"login": user.email, "password": PASSWORD}).status_code == 302
    return http


def routing_socket(app, user):
    return live_client(app, "/routing", login_client(app, user))


def updates(socket) -> list[dict]:
    return [e["args"][0] for e in socket.get_received("/routing") if e["name"] == "ticket.updated"]


def test_the_departments_the_catalog_gives_categories(client, db, people, bearer):
    """What the dispatch form fills in when the coordinator changes the categories: the primary's lead,
    its co-handlers, the further categories' leads, and the district office where a category asks."""
    coordinator = bearer(people.coordinator)
    ask = "/api/v1/routing/departments"
    assert client.get(f"{ask}?categories=NOISE", headers=coordinator).get_json() == {"lead": "ENV", "co": ["URBAN"]}
    with_office = client.get(f"{ask}?categories=NOISE&district=EAST-HILL", headers=coordinator).get_json()
    assert with_office["lead"] == "ENV" and set(with_office["co"]) == {"URBAN", "OFFICE-EAST-HILL"}
    both = client.get(f"{ask}?categories=POTHOLE,NOISE", headers=coordinator).get_json()
    assert both["lead"] == "TRANSPORT" and set(both["co"]) == {"ENV", "URBAN"}
    for query, field in (
        ("", "categories"),
        ("categories=NOPE", "categories"),
        ("categories=NOISE&district=X", "district"),
    ):
        refused = client.get(f"{ask}?{query}", headers=coordinator)
        assert refused.status_code == 422 and field in refused.get_json()["error"]["fields"], query
    assert client.get(f"{ask}?categories=NOISE", headers=bearer(people.env)).status_code == 403
    assert client.get(f"{ask}?categories=NOISE").status_code == 401


def test_live_events_reach_the_right_rooms(app, db, people, submit):
    from participation.core.uow import transaction
    from participation.routing import services

    env_inbox = routing_socket(app, people.env)
    env_id = people.env.memberships[0].department_id
    assert env_inbox.emit("watch_inbox", {"department_id": env_id}, namespace="/routing", callback=True) == {"ok": True}
    transport = routing_socket(app, people.transport)
    assert transport.emit("watch_inbox", {"department_id": env_id}, namespace="/routing", callback=True) == {
        "ok": False
    }
    coordinator = routing_socket(app, people.coordinator)
    assert coordinator.emit("watch_queue", {}, namespace="/routing", callback=True) == {"ok": True}
    assert env_inbox.emit("watch_queue", {}, namespace="/routing", callback=True) == {"ok": False}

    ticket = submit()
    assert [u["event"] for u in updates(coordinator)] == ["triage"]
    with transaction():
        services.dispatch(people.coordinator, ticket.id, ["NOISE"], "ENV", ["URBAN"])
    assert [u["event"] for u in updates(env_inbox)] == ["dispatched"]  # a new ticket appears in the inbox
    workspace = routing_socket(app, people.urban)
    assert workspace.emit("watch_ticket", {"ticket_id": ticket.id}, namespace="/routing", callback=True) == {"ok": True}
    assert transport.emit("watch_ticket", {"ticket_id": ticket.id}, namespace="/routing", callback=True) == {
        "ok": False
    }
    with transaction():
        services.accept(people.env, part_of(ticket, "ENV").id)
    assert [u["event"] for u in updates(workspace)] == ["part.accepted"]
    assert updates(transport) == []


def test_anonymous_cannot_connect_to_routing(app, db):
    anonymous = live_client(app, "/routing")
    assert not anonymous.is_connected("/routing")


def test_the_triage_queue_over_the_api_can_be_read_a_page_at_a_time(client, db, people, submit, bearer):
    coordinator = bearer(people.coordinator)
    tickets = [submit(f"工地半夜施工，噪音太大，第{n}次反映") for n in range(3)]
    whole = client.get("/api/v1/tickets?queue=triage", headers=coordinator).get_json()
    assert [t["id"] for t in whole["tickets"]] == [t.id for t in tickets] and whole["waiting"] == 3
    page = client.get("/api/v1/tickets?queue=triage&limit=2", headers=coordinator).get_json()
    assert [t["id"] for t in page["tickets"]] == [tickets[0].id, tickets[1].id] and page["waiting"] == 3
    for bad in ("0", "1001", "-1", "two", ""):
        response = client.get(f"/api/v1/tickets?queue=triage&limit={bad}", headers=coordinator)
        assert response.status_code == 422 and "limit" in response.get_json()["error"]["fields"]


def test_a_former_lead_is_marked_as_departed(client, db, people, joint_ticket, bearer):
    with transaction():
        services.swap_lead(people.coordinator, joint_ticket.id, "TRANSPORT", "交通部门牵头")
    parts = client.get(f"/api/v1/tickets/{joint_ticket.id}", headers=bearer(people.coordinator)).get_json()["parts"]
    leads = [(p["department"], p["departed"]) for p in parts if p["role"] == "lead"]
    assert sorted(leads) == [("ENV", True), ("TRANSPORT", False)]
