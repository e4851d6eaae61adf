"""The inbox in the order a department works it: newest, oldest, or the nearest deadline first."""

from __future__ import annotations

from datetime import timedelta

import pytest

from participation.core.errors import ValidationFailed
from participation.core.models import utcnow
from participation.core.uow import transaction
from participation.deadlines import services as deadlines
from participation.deadlines.models import ClockState
from participation.routing import services
from tests.routing.conftest import part_of


def env_parts(people, sort):
    department = people.env.department_ids
    return [p.ticket_id for p in services.inbox(people.env, sorted(department)[0], sort=sort)]


def test_the_nearest_deadline_first(db, people, submit):
    tickets = []
    for text in ("工地半夜施工，噪音太大", "工厂排放黑烟，气味刺鼻", "河道漂浮垃圾发臭"):
        ticket = submit(text)
        with transaction():
            services.dispatch(people.coordinator, ticket.id, ["NOISE"], "ENV", [])
        tickets.append(ticket)
    first, second, third = tickets
    now = utcnow()
    # Each part's sign-for clock falls due at a chosen time: the second soonest, then the first; the third's
    # clocks are paused (waiting for its sender), so it has no deadline to meet and comes last.
    for ticket, hours in ((first, 5), (second, 1)):
        for clock in deadlines.clocks_of(ticket):
            clock.due_at = now + timedelta(hours=hours if clock.part_id else hours + 48)
    with transaction():
        services.accept(people.env, part_of(third, "ENV").id)
        deadlines.pause(people.env, third.id, "waiting_citizen", "请补充具体位置")
    assert all(c.state != ClockState.RUNNING for c in deadlines.clocks_of(third) if c.state != ClockState.MET)
    db.session.commit()
    assert env_parts(people, "deadline") == [second.id, first.id, third.id]
    assert env_parts(people, None) == [third.id, second.id, first.id]  # newest first, as before
    assert env_parts(people, "oldest") == [first.id, second.id, third.id]
    # An interim deadline set by the coordinator counts instead of the original one.
    for clock in deadlines.clocks_of(first):
        if clock.part_id:
            clock.interim_due_at = now + timedelta(minutes=10)
    db.session.commit()
    assert env_parts(people, "deadline")[0] == first.id


def test_a_lead_part_signed_for_is_ordered_by_the_tickets_deadlines(db, people, submit):
    """Once signed for, the lead's next deadline is the ticket's first contact or resolution."""
    early, late = submit("工地半夜施工，噪音太大"), submit("广场舞音响太吵")
    for ticket in (early, late):
        with transaction():
            services.dispatch(people.coordinator, ticket.id, ["NOISE"], "ENV", [])
            services.accept(people.env, part_of(ticket, "ENV").id)
    now = utcnow()
    for ticket, hours in ((early, 2), (late, 30)):
        for clock in deadlines.clocks_of(ticket):
            if clock.part_id is None:
                clock.due_at = now + timedelta(hours=hours)
    db.session.commit()
    assert env_parts(people, "deadline") == [early.id, late.id]


def test_an_unknown_order_is_refused_at_its_field(db, client, login, people, english, bearer):
    with pytest.raises(ValidationFailed) as refused:
        services.inbox(people.env, sorted(people.env.department_ids)[0], sort="random")
    assert "sort" in refused.value.fields
    login(people.env)
    page = client.get("/inbox?sort=random")
    assert "Sort by newest, oldest or nearest deadline." in page.get_data(as_text=True)
    assert 'value="deadline"' in client.get("/inbox").get_data(as_text=True)
    api = client.application.test_client()
    answer = api.get("/api/v1/tickets?department=ENV&sort=random", headers=bearer(people.env))
    assert answer.status_code == 422 and "sort" in answer.get_json()["error"]["fields"]
    assert api.get("/api/v1/tickets?department=ENV&sort=deadline", headers=bearer(people.env)).status_code == 200
