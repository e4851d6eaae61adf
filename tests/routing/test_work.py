"""The work overview: what waits for each of a person's departments, and for the coordination centre."""

from __future__ import annotations

from datetime import timedelta

import pytest

from participation.core.errors import PermissionDenied, ValidationFailed
from participation.core.models import utcnow
from participation.core.uow import transaction
from participation.deadlines import services as deadlines
from participation.routing import services
from tests.routing.conftest import part_of
from tests.routing.test_api_and_live import routing_socket


def dept(people, who="env"):
    return sorted(getattr(people, who).department_ids)[0]


def test_a_departments_counts(db, people, submit, joint_ticket):
    env, urban = dept(people, "env"), dept(people, "urban")
    first = services.department_workload(people.env, env)
    assert {k: v for k, v in first.items() if k != "due_soon"} == {
        "to_sign": 1, "in_hand": 0, "returns": 0, "overdue": 0, "waiting_for_sender": 0
    }  # fmt: skip
    late = submit("工厂排放黑烟，气味刺鼻")
    paused = submit("河道漂浮垃圾发臭")
    with transaction():
        services.dispatch(people.coordinator, late.id, ["NOISE"], "ENV", [])
        services.dispatch(people.coordinator, paused.id, ["NOISE"], "ENV", [])
    with transaction():
        services.accept(people.env, part_of(joint_ticket, "ENV").id)
        services.accept(people.env, part_of(paused, "ENV").id)
        deadlines.pause(people.env, paused.id, "waiting_citizen", "请补充具体位置")
        services.accept(people.urban, part_of(joint_ticket, "URBAN").id)
        services.request_return(people.urban, part_of(joint_ticket, "URBAN").id, "return", "不属于城管职责")
    now = utcnow()
    for clock in deadlines.clocks_of(late):
        clock.due_at = now - timedelta(minutes=5)  # the sign-for deadline has passed
    for clock in deadlines.clocks_of(joint_ticket):
        if clock.part_id is None and clock.state.value == "running":
            clock.due_at = now + timedelta(hours=3)  # the lead's next deadline is near
    db.session.commit()
    assert services.department_workload(people.env, env) == {
        "to_sign": 1, "in_hand": 2, "returns": 0, "overdue": 1, "due_soon": 1, "waiting_for_sender": 1
    }  # fmt: skip
    assert services.department_workload(people.urban, urban)["returns"] == 1
    # The inbox lists the very parts each tile counts.
    waiting = services.inbox(people.env, env, role="lead", waiting_for_sender=True)
    assert [p.ticket_id for p in waiting] == [paused.id]
    assert [p.ticket_id for p in services.inbox(people.env, env, due="overdue")] == [late.id]
    assert [p.ticket_id for p in services.inbox(people.env, env, due="soon")] == [joint_ticket.id]
    with pytest.raises(ValidationFailed):
        services.inbox(people.env, env, due="later")
    with pytest.raises(PermissionDenied):
        services.department_workload(people.urban, env)


def test_a_suspension_is_not_waiting_for_the_sender(db, people, joint_ticket):
    with transaction():
        services.accept(people.env, part_of(joint_ticket, "ENV").id)
        deadlines.pause(people.coordinator, joint_ticket.id, "suspension", "等待上级批复")
    assert services.department_workload(people.env, dept(people))["waiting_for_sender"] == 0
    assert services.inbox(people.env, dept(people), waiting_for_sender=True) == []


def test_the_coordination_centres_counts(db, people, submit, joint_ticket):
    submit("路灯坏了三天，晚上很黑")  # waits in triage
    with transaction():
        services.accept(people.urban, part_of(joint_ticket, "URBAN").id)
        services.request_return(people.urban, part_of(joint_ticket, "URBAN").id, "return", "不属于城管职责")
    assert services.coordination_workload(people.coordinator) == {"triage": 1, "disputes": 1, "escalations": 0}
    for clock in deadlines.clocks_of(joint_ticket):
        clock.due_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    assert services.coordination_workload(people.coordinator)["escalations"] == 1
    with pytest.raises(PermissionDenied):
        services.coordination_workload(people.env)


def test_the_page_updates_live_and_is_for_staff(app, db, client, login, people, submit, english):
    login(people.env)
    page = client.get("/work").get_data(as_text=True)
    assert 'id="work-ENV"' in page and 'id="work-queues"' not in page and "To sign for" in page
    watcher = routing_socket(app, people.env)
    assert watcher.emit("watch_inbox", {"department_id": dept(people)}, namespace="/routing", callback=True)["ok"]
    watcher.get_received("/routing")
    ticket = submit()
    with transaction():
        services.dispatch(people.coordinator, ticket.id, ["NOISE"], "ENV", [])
    assert "ticket.updated" in [e["name"] for e in watcher.get_received("/routing")]
    card = client.get(f"/work?partial=department&department={dept(people)}").get_data(as_text=True)
    assert '<span class="count">1</span><span class="what">To sign for</span>' in card
    assert "waiting=1" in card and 'name="waiting"' in client.get("/inbox?waiting=1").get_data(as_text=True)
    assert "due=overdue" in card and "due=soon" in card
    assert "Choose past a deadline or due soon." in client.get("/inbox?due=x").get_data(as_text=True)
    assert client.get("/work?partial=queue").status_code == 403  # the coordination centre's card
    assert client.get("/work?partial=department&department=abc").status_code == 404
    assert client.get("/work?partial=department&department=999999").status_code == 404
    assert client.get(f"/work?partial=department&department={dept(people, 'urban')}").status_code == 403
    client.get("/logout")
    login(people.coordinator)
    page = client.get("/work").get_data(as_text=True)
    assert 'id="work-queues"' in page and "Waiting in triage" in page
    client.get("/logout")
    login(people.citizen)
    assert client.get("/work").status_code == 403


def test_staff_start_from_the_work_overview_and_citizens_from_the_front_page(db, client, people):
    from tests.conftest import PASSWORD

    for person, home in ((people.env, "/work"), (people.coordinator, "/work"), (people.citizen, "/")):
        answer = client.post("/login", data={"login": person.email, "password": PASSWORD})
        assert answer.status_code == 302 and answer.headers["Location"] == home, person
        client.post("/logout")
    answer = client.post("/login?next=/inbox", data={"login": people.env.email, "password": PASSWORD})
    assert answer.headers["Location"] == "/inbox"  # where they were going, when they were going somewhere
