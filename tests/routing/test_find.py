"""Finding a ticket: by tracking code, number or words; coordinators every ticket, staff their departments'."""

from __future__ import annotations

import pytest

from participation.core.errors import NotAuthenticated, PermissionDenied, ValidationFailed
from participation.core.uow import transaction
from participation.routing import services
from tests.routing.conftest import part_of, resolve_joint


def ids(tickets) -> list[int]:
    return [t.id for t in tickets]


@pytest.fixture
def three(people, submit, joint_ticket):
    """The joint noise ticket (ENV lead, URBAN co) resolved and closed; a water ticket of TRANSPORT's; one in triage."""
    resolve_joint(joint_ticket, people)
    from participation.surveys import callbacks

    with transaction():
        callbacks.answer_by_tracking_code(None, joint_ticket.submission.tracking_code, {"solved": 1, "satisfaction": 1})
    road = submit("Pothole on Harbour Road near No. 12, cars swerve around it")
    with transaction():
        services.dispatch(people.coordinator, road.id, ["POTHOLE"], "TRANSPORT", [])
    waiting = submit("路灯坏了三天，晚上很黑")
    return joint_ticket, road, waiting


def test_a_coordinator_finds_any_ticket_by_code_number_or_words(db, people, three, submit):
    noise, road, waiting = three
    code = noise.submission.tracking_code
    for typed in (code, code.lower(), code.replace("HC-", ""), " ".join(code), code[3:7] + "-" + code[7:]):
        assert ids(services.find_tickets(people.coordinator, typed)) == [noise.id], typed
    assert ids(services.find_tickets(people.coordinator, f"#{road.id}")) == [road.id]
    assert ids(services.find_tickets(people.coordinator, f"＃{road.id}")) == [road.id]
    assert ids(services.find_tickets(people.coordinator, "harbour ROAD")) == [road.id]  # every word, any case
    assert ids(services.find_tickets(people.coordinator, "harbour 路灯")) == []
    assert ids(services.find_tickets(people.coordinator, "路灯")) == [waiting.id]
    assert ids(services.find_tickets(people.coordinator, "12")) == [road.id]  # "No. 12"
    # Settled tickets are found too, and the state narrows.
    assert noise.id in ids(services.find_tickets(people.coordinator, "噪音"))
    assert ids(services.find_tickets(people.coordinator, "噪音", "open")) == []
    assert ids(services.find_tickets(people.coordinator, "噪音", "settled")) == [noise.id]
    # Words are read as words, also those as long as a tracking code ("demolition": HC-DEMOLITION).
    dust = submit("Demolition dust all day near the playground, the broken lamp post too")
    for word in ("demolition", "Playground", "broken lamp"):
        assert ids(services.find_tickets(people.coordinator, word)) == [dust.id], word
    # Wildcards are plain characters.
    assert services.find_tickets(people.coordinator, "%") == [] and services.find_tickets(people.coordinator, "_") == []


def test_a_word_is_found_as_written_not_by_its_character_pairs(db, people, submit):
    """On PostgreSQL an index of each request's character pairs narrows a search by words; a request
    holding every pair of a word, but not the word, is not found, and a word in the title is."""
    scattered = submit("十字路口，口灯不亮. The cab is in a bin")  # 路口 and 口灯, ca ab bi in: pairs only
    crossing = submit("路口灯坏了三天")
    titled = submit("Someone lives rough in the park", title="A CABIN by the lake")
    assert ids(services.find_tickets(people.coordinator, "路口灯")) == [crossing.id]
    assert ids(services.find_tickets(people.coordinator, "cabin")) == [titled.id]
    assert ids(services.find_tickets(people.coordinator, "灯")) == [crossing.id, scattered.id]  # one character
    assert ids(services.find_tickets(people.coordinator, "灯 cab")) == [scattered.id]
    assert ids(services.find_tickets(people.coordinator, "Lake rough")) == [titled.id]  # title and text


def test_the_character_pairs_postgresql_indexes(db):
    """The pairs of a title and text: lower case, none across a space; a GIN index holds them (each once)."""
    from sqlalchemy import text

    from participation.extensions import db as _db

    if _db.engine.dialect.name != "postgresql":
        pytest.skip("the pairs index is PostgreSQL's")
    pairs = _db.session.scalar(text("SELECT search_bigrams('Ab ab', '路灯\n灯 x')"))
    assert set(pairs) == {"ab", "路灯"}
    assert _db.session.scalar(text("SELECT search_bigrams(NULL, NULL)")) == []
    index = _db.session.scalar(text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_submission_search_bigrams'"))
    assert "USING gin (search_bigrams(" in index


def test_department_staff_find_only_their_departments_tickets(db, people, three):
    noise, road, waiting = three
    assert ids(services.find_tickets(people.env, noise.submission.tracking_code)) == [noise.id]  # settled: still theirs
    assert ids(services.find_tickets(people.urban, "噪音")) == [noise.id]  # a co-handler too
    for person in (people.env, people.urban):
        assert services.find_tickets(person, road.submission.tracking_code) == []  # another department's
        assert services.find_tickets(person, f"#{road.id}") == []
        assert services.find_tickets(person, "路灯") == []  # in triage: no department's yet
    assert ids(services.find_tickets(people.transport, "Harbour")) == [road.id]


def test_a_department_that_left_a_ticket_no_longer_finds_it(db, people, joint_ticket):
    with transaction():
        services.remove_part(people.coordinator, part_of(joint_ticket, "URBAN").id, "不涉及城管职责")
    assert services.find_tickets(people.urban, "噪音") == []
    assert ids(services.find_tickets(people.env, "噪音")) == [joint_ticket.id]


def test_who_may_search_and_bad_searches(db, people, three, make_user):
    with pytest.raises(NotAuthenticated):
        services.find_tickets(None, "噪音")
    with pytest.raises(PermissionDenied):
        services.find_tickets(people.citizen, "噪音")
    with pytest.raises(PermissionDenied):  # a researcher is no department's
        services.find_tickets(make_user("researcher"), "噪音")
    for query, state, field in (("", "", "q"), ("   ", "", "q"), ("x" * 201, "", "q"), ("噪音", "closed", "state")):
        with pytest.raises(ValidationFailed) as refused:
            services.find_tickets(people.coordinator, query, state)
        assert field in refused.value.fields


def test_the_page_and_the_api(db, client, login, people, three, english, bearer, app):
    noise, road, _waiting = three
    login(people.env)
    page = client.get("/inbox").get_data(as_text=True)
    assert 'id="nav-find"' in page
    found = client.get("/tickets", query_string={"q": "噪音"})
    html = found.get_data(as_text=True)
    assert found.status_code == 200 and f'data-ticket="{noise.id}"' in html and f'data-ticket="{road.id}"' not in html
    assert noise.submission.tracking_code not in html  # staff read the code shortened
    refused = client.get("/tickets", query_string={"q": " "})
    assert refused.status_code == 422 and "Type a tracking code" in refused.get_data(as_text=True)
    assert client.get("/tickets").status_code == 200  # the empty form
    client.get("/logout")
    login(people.citizen)
    assert client.get("/tickets").status_code == 403
    assert 'id="nav-find"' not in client.get("/").get_data(as_text=True)
    client.get("/logout")
    api = app.test_client()
    assert api.get("/api/v1/tickets", query_string={"q": "噪音"}).status_code == 401
    answer = api.get("/api/v1/tickets", query_string={"q": "噪音"}, headers=bearer(people.coordinator))
    assert answer.status_code == 200 and [t["id"] for t in answer.get_json()["tickets"]] == [noise.id]
    assert answer.get_json()["tickets"][0]["code"] == noise.submission.tracking_code  # the centre reads it whole
    bad = api.get("/api/v1/tickets", query_string={"q": "", "state": "x"}, headers=bearer(people.urban))
    assert bad.status_code == 422 and set(bad.get_json()["error"]["fields"]) >= {"q", "state"}
