"""Network diagnostics on a hand-built scenario: pair counts, on-time and satisfaction rates, ping-pong, API, page."""

from __future__ import annotations

import json
import re

import pytest

from participation.core.models import utcnow
from participation.core.uow import transaction
from participation.routing import services as routing
from participation.scoring import network
from participation.scoring.services import period_of
from participation.surveys import callbacks
from tests.routing.conftest import late_joint_ticket, part_of

WORKERS = ("env", "urban", "transport")


def finish(ticket, people):
    """Every department signs for its part, co-handlers contribute, the lead resolves."""
    who = {"ENV": people.env, "URBAN": people.urban, "TRANSPORT": people.transport}
    with transaction():
        for part in ticket.parts:
            if part.status.value == "pending":
                routing.accept(who[part.department.code], part.id)
        for part in ticket.parts:
            if part.role.value == "co" and part.status.value == "accepted":
                routing.contribute(who[part.department.code], part.id, "Done our share.")
        routing.resolve(who[ticket.lead_department.code], ticket.id, "Resolved.")
    return ticket


def callback(ticket, satisfaction):
    with transaction():
        callbacks.answer_by_tracking_code(
            None, ticket.submission.tracking_code, {"solved": 1, "satisfaction": satisfaction}
        )


def edge(result, a, b):
    return next(e for e in result["edges"] if {e["a"], e["b"]} == {a, b})


@pytest.fixture
def scenario(joint_ticket, people, submit):
    """t1 ENV+URBAN on time, satisfied; t2 ENV+URBAN+TRANSPORT on time, basically satisfied;
    t3 ENV+URBAN late (came in 60 days ago, resolved now), dissatisfied; t4 ENV alone;
    t5 ENV+TRANSPORT still open, TRANSPORT's part ended: not joint."""
    t1 = finish(joint_ticket, people)
    callback(t1, 1)
    t2 = submit()
    with transaction():
        routing.dispatch(people.coordinator, t2.id, ["NOISE"], "ENV", ["URBAN", "TRANSPORT"])
    finish(t2, people)
    callback(t2, 2)
    t3 = finish(late_joint_ticket(people), people)
    callback(t3, 3)
    t4 = submit()
    with transaction():
        routing.dispatch(people.coordinator, t4.id, ["NOISE"], "ENV", [])
    t5 = submit()
    with transaction():
        routing.dispatch(people.coordinator, t5.id, ["NOISE"], "ENV", ["TRANSPORT"])
        dispute = routing.request_return(people.transport, part_of(t5, "TRANSPORT").id, "return", "Not ours.")
    with transaction():
        routing.rule(people.coordinator, dispute.id, "upheld")
    return [t1, t2, t3, t4, t5]


def test_co_handling_pairs_with_known_rates(scenario, people):
    t1, t2, t3, _t4, _t5 = scenario
    result = network.co_handling(period_of(utcnow()))
    assert {(e["a"], e["b"]) if e["a"] < e["b"] else (e["b"], e["a"]) for e in result["edges"]} == {
        ("ENV", "URBAN"),
        ("ENV", "TRANSPORT"),
        ("TRANSPORT", "URBAN"),
    }
    env_urban = edge(result, "ENV", "URBAN")
    assert env_urban["joint_tickets"] == 3
    assert env_urban["ticket_ids"] == sorted([t1.id, t2.id, t3.id])
    assert (env_urban["on_time"], env_urban["resolved"]) == (2, 3)
    assert env_urban["on_time_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert env_urban["satisfaction_rate"] == pytest.approx((1.0 + 0.6 + 0.0) / 3, abs=1e-4)
    env_transport = edge(result, "ENV", "TRANSPORT")  # t5's TRANSPORT part ended: only t2
    assert (env_transport["joint_tickets"], env_transport["ticket_ids"]) == (1, [t2.id])
    assert env_transport["on_time_rate"] == 1.0
    assert env_transport["satisfaction_rate"] == pytest.approx(0.6)
    assert edge(result, "URBAN", "TRANSPORT")["joint_tickets"] == 1
    nodes = {n["department"]: n["joint_tickets"] for n in result["nodes"]}
    assert nodes == {"ENV": 3, "URBAN": 3, "TRANSPORT": 1}
    assert result["edges"][0]["joint_tickets"] == 3  # the busiest pair first


def test_a_period_without_the_tickets_is_empty(scenario):
    assert network.co_handling("2001-01") == {"nodes": [], "edges": []}
    assert network.ping_pong("2001-01") == []


def test_open_joint_tickets_count_without_an_on_time_rate(joint_ticket):
    e = edge(network.co_handling("R30"), "ENV", "URBAN")
    assert (e["joint_tickets"], e["resolved"], e["on_time_rate"], e["satisfaction_rate"]) == (1, 0, None, None)


def test_ping_pong_transfer_there_and_back(people, submit):
    ticket = submit()
    with transaction():
        routing.dispatch(people.coordinator, ticket.id, ["NOISE"], "ENV", [])
        there = routing.request_return(people.env, part_of(ticket, "ENV").id, "transfer", "Roads.", "URBAN")
    with transaction():
        routing.rule(people.coordinator, there.id, "upheld")
    with transaction():
        back = routing.request_return(people.urban, part_of(ticket, "URBAN").id, "transfer", "Noise.", "ENV")
    with transaction():
        routing.rule(people.coordinator, back.id, "upheld")
    # a second ticket bounced by a lead swap and a return naming no department (the coordinator names it)
    other = submit()
    with transaction():
        routing.dispatch(people.coordinator, other.id, ["NOISE"], "ENV", [])
    with transaction():
        routing.swap_lead(people.coordinator, other.id, "URBAN", "Roads first.")
    with transaction():
        back = routing.request_return(people.urban, part_of(other, "URBAN").id, "return", "Not ours.")
    with transaction():
        routing.rule(people.coordinator, back.id, "upheld", department="ENV")
    # one way only: not ping-pong
    single = submit()
    with transaction():
        routing.dispatch(people.coordinator, single.id, ["NOISE"], "ENV", [])
        one_way = routing.request_return(people.env, part_of(single, "ENV").id, "transfer", "Bus stop.", "TRANSPORT")
    with transaction():
        routing.rule(people.coordinator, one_way.id, "upheld")
    pairs = network.ping_pong(period_of(utcnow()))
    assert [(p["from"], p["to"], p["count"], p["ticket_ids"]) for p in pairs] == [
        ("ENV", "URBAN", 2, sorted([ticket.id, other.id]))
    ]


def test_api_permissions_and_period(scenario, people, client, bearer):
    period = period_of(utcnow())
    assert client.get(f"/api/v1/scorecards/network?period={period}", headers=bearer(people.env)).status_code == 403
    coordinator = bearer(people.coordinator)
    response = client.get(f"/api/v1/scorecards/network?period={period}", headers=coordinator)
    assert response.status_code == 200
    body = response.get_json()
    assert body["period"] == period
    assert edge(body, "ENV", "URBAN")["joint_tickets"] == 3
    assert body["ping_pong"] == []
    assert client.get("/api/v1/scorecards/network?period=2026-13", headers=coordinator).status_code == 422
    assert client.get("/api/v1/scorecards/network?period=nonsense", headers=coordinator).status_code == 422
    assert client.get("/api/v1/scorecards/network", headers=coordinator).status_code == 200  # R30


def test_the_page_draws_the_graph_and_tables(scenario, people, login, make_user):
    t1 = scenario[0]
    period = period_of(utcnow())
    page = login(people.coordinator).get(f"/scorecards/network?period={period}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    graph = json.loads(re.search(r'data-graph="([^"]*)"', html).group(1).replace("&#34;", '"').replace("&quot;", '"'))
    assert {n["id"] for n in graph["nodes"]} == {"ENV", "URBAN", "TRANSPORT"}
    assert {(e["a"], e["b"], e["joint"]) for e in graph["edges"]} >= {("ENV", "URBAN", 3)}
    assert f'href="/tickets/{t1.id}"' in html
    assert "js/network.js" in html and 'id="ping-pong"' not in html  # no ping-pong in this scenario
    assert "<script>" not in html.split("</head>")[-1].replace('<script type="application/json"', "")
    assert login(people.coordinator).get("/scorecards/network?period=2026-13").status_code == 422


def test_the_page_refuses_department_staff(people, login):
    assert login(people.env).get("/scorecards/network").status_code == 403


# -- what a department admin sees ------------------------------------------------------------------

STAFF = {"ENV": "env", "URBAN": "urban", "TRANSPORT": "transport"}


def bounce(people, submit, first: str, second: str):
    """A ticket `first` leads, transfers to `second`, and gets back: one ping-pong first -> second."""
    ticket = submit()
    with transaction():
        routing.dispatch(people.coordinator, ticket.id, ["NOISE"], first, [])
    for source, target in ((first, second), (second, first)):
        staff = getattr(people, STAFF[source])
        with transaction():
            dispute = routing.request_return(staff, part_of(ticket, source).id, "transfer", "Not ours.", target)
        with transaction():
            routing.rule(people.coordinator, dispute.id, "upheld")
    return ticket


@pytest.fixture
def bounced(scenario, people, submit):
    """The scenario, plus ping-pong ENV -> URBAN (no TRANSPORT) and URBAN -> TRANSPORT."""
    return {
        "ENV-URBAN": bounce(people, submit, "ENV", "URBAN"),
        "URBAN-TRANSPORT": bounce(people, submit, "URBAN", "TRANSPORT"),
    }


@pytest.fixture
def transport_admin(make_user, people):
    return make_user("department_admin", departments=("TRANSPORT",))


def pairs_of(result) -> set[frozenset[str]]:
    return {frozenset((e["a"], e["b"])) for e in result["edges"]}


def ping_pong_pairs(result) -> set[tuple[str, str]]:
    return {(p["from"], p["to"]) for p in result["ping_pong"]}


def table_pairs(html: str, table_id: str) -> set[frozenset[str]]:
    table = re.search(rf'<table[^>]*id="{table_id}"[^>]*>(.*?)</table>', html, re.S).group(1)
    return {frozenset(pair.split("-")) for pair in re.findall(r'<tr data-pair="([A-Z]+-[A-Z]+)"', table)}


def test_a_department_admin_sees_only_the_pairs_of_its_departments(scenario, bounced, people, transport_admin):
    t2 = scenario[1]
    period = period_of(utcnow())
    everything = network.network(people.coordinator, period)
    assert pairs_of(everything) == {
        frozenset(p) for p in (("ENV", "URBAN"), ("ENV", "TRANSPORT"), ("TRANSPORT", "URBAN"))
    }
    assert ping_pong_pairs(everything) == {("ENV", "URBAN"), ("URBAN", "TRANSPORT")}
    assert {n["department"]: n["joint_tickets"] for n in everything["nodes"]} == {"ENV": 3, "URBAN": 3, "TRANSPORT": 1}

    own = network.network(transport_admin, period)
    assert pairs_of(own) == {frozenset(("ENV", "TRANSPORT")), frozenset(("TRANSPORT", "URBAN"))}
    assert all(e["ticket_ids"] == [t2.id] for e in own["edges"])  # the ticket links of its pairs
    # the other departments count only the tickets they shared with TRANSPORT, not their other pairs
    assert {n["department"]: n["joint_tickets"] for n in own["nodes"]} == {"ENV": 1, "URBAN": 1, "TRANSPORT": 1}
    assert [(p["from"], p["to"], p["ticket_ids"]) for p in own["ping_pong"]] == [
        ("URBAN", "TRANSPORT", [bounced["URBAN-TRANSPORT"].id])
    ]


def test_a_department_admin_of_no_department_in_the_network_sees_nothing(scenario, bounced, make_user):
    head = make_user("department_admin", departments=("DRC",))
    result = network.network(head, period_of(utcnow()))
    assert (result["nodes"], result["edges"], result["ping_pong"]) == ([], [], [])


def test_the_api_filters_for_a_department_admin(scenario, bounced, people, transport_admin, client, bearer):
    period = period_of(utcnow())
    response = client.get(f"/api/v1/scorecards/network?period={period}", headers=bearer(transport_admin))
    assert response.status_code == 200
    body = response.get_json()
    assert pairs_of(body) == {frozenset(("ENV", "TRANSPORT")), frozenset(("TRANSPORT", "URBAN"))}
    assert ping_pong_pairs(body) == {("URBAN", "TRANSPORT")}
    everything = client.get(f"/api/v1/scorecards/network?period={period}", headers=bearer(people.coordinator))
    assert len(everything.get_json()["edges"]) == 3 and len(everything.get_json()["ping_pong"]) == 2


def test_the_page_filters_for_a_department_admin(scenario, bounced, people, transport_admin, client, login):
    t1, t2 = scenario[0], scenario[1]
    period = period_of(utcnow())
    html = login(transport_admin).get(f"/scorecards/network?period={period}").get_data(as_text=True)
    assert table_pairs(html, "network-pairs") == {frozenset(("ENV", "TRANSPORT")), frozenset(("TRANSPORT", "URBAN"))}
    assert table_pairs(html, "ping-pong") == {frozenset(("URBAN", "TRANSPORT"))}
    graph = json.loads(re.search(r'data-graph="([^"]*)"', html).group(1).replace("&#34;", '"').replace("&quot;", '"'))
    assert {frozenset((e["a"], e["b"])) for e in graph["edges"]} == {
        frozenset(("ENV", "TRANSPORT")),
        frozenset(("TRANSPORT", "URBAN")),
    }
    assert f'href="/tickets/{t2.id}"' in html and f'href="/tickets/{bounced["URBAN-TRANSPORT"].id}"' in html
    assert f'href="/tickets/{t1.id}"' not in html and f'href="/tickets/{bounced["ENV-URBAN"].id}"' not in html
    assert 'id="network-scope"' in html
    client.post("/logout")
    everything = login(people.coordinator).get(f"/scorecards/network?period={period}").get_data(as_text=True)
    assert f'href="/tickets/{t1.id}"' in everything and f'href="/tickets/{bounced["ENV-URBAN"].id}"' in everything
    assert 'id="network-scope"' not in everything


@pytest.mark.parametrize("who", ["staff", "citizen"])
def test_without_scoring_view_page_and_api_are_refused(scenario, people, client, login, bearer, who):
    user = people.env if who == "staff" else people.citizen
    period = period_of(utcnow())
    api = client.get(f"/api/v1/scorecards/network?period={period}", headers=bearer(user))
    assert api.status_code == 403 and api.get_json()["error"]["code"] == "forbidden"
    assert login(user).get(f"/scorecards/network?period={period}").status_code == 403


def test_anonymous_callers_are_asked_to_log_in(client):
    assert client.get("/api/v1/scorecards/network").status_code == 401
    assert client.get("/scorecards/network").status_code == 302
