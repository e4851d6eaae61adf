"""Deadlines at work: clocks follow every transition, pauses, interim deadlines, the sweep, the queue."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from participation.core.errors import Conflict, PermissionDenied, ValidationFailed
from participation.core.labels import clock_label
from participation.core.models import utcnow
from participation.core.uow import transaction
from participation.deadlines import services as deadlines
from participation.deadlines.models import SlaCheckpoint, SlaClock
from participation.extensions import db
from participation.routing import services as routing
from participation.routing.models import TicketEvent
from tests.routing.conftest import part_of


@pytest.fixture
def clock_at(monkeypatch):
    """Move the deadline services' clock (the rest of the app keeps real time)."""

    def move(moment):
        monkeypatch.setattr(deadlines, "now", lambda: moment)
        return moment

    return move


def clocks(ticket) -> dict[str, SlaClock]:
    db.session.expire_all()
    return {f"{c.kind.value}:{c.department.code if c.part_id else '-'}": c for c in deadlines.clocks_of(ticket)}


def test_dispatch_starts_every_clock_and_sign_for_stops_one(joint_ticket, people):
    found = clocks(joint_ticket)
    assert set(found) == {"first_contact:-", "resolve:-", "sign_for:ENV", "sign_for:URBAN", "contribution:URBAN"}
    assert all(c.state.value == "running" for c in found.values())
    assert found["contribution:URBAN"].due_at <= found["resolve:-"].due_at
    with transaction():
        routing.accept(people.env, part_of(joint_ticket, "ENV").id)
    assert clocks(joint_ticket)["sign_for:ENV"].state.value == "met"
    with transaction():
        routing.reply_public(people.env, joint_ticket.id, "We are on our way.")
    assert clocks(joint_ticket)["first_contact:-"].state.value == "met"


def test_withdrawal_stops_the_clocks(joint_ticket, people):
    with transaction():
        routing.withdraw(joint_ticket, people.citizen, "solved myself")
    assert {c.state.value for c in clocks(joint_ticket).values()} == {"cancelled"}


def test_a_merged_duplicate_stops_its_clocks_and_never_fires_a_checkpoint(joint_ticket, people, submit):
    """The duplicate is handled under its master: its own deadlines end with the merge, as for a rejection."""
    with transaction():
        deadlines.pause(people.env, joint_ticket.id, "waiting_citizen", "asked for the exact address")
    master = submit("工地夜里施工太吵")
    with transaction():
        routing.dispatch(people.coordinator, master.id, ["NOISE"], "ENV", [])
    with transaction():
        routing.merge(people.coordinator, joint_ticket.id, master.id, "same site")
    assert {c.state.value for c in clocks(joint_ticket).values()} == {"cancelled"}
    assert joint_ticket.paused_since is None  # nobody waits for the sender of a merged item
    with transaction():
        deadlines.sweep(utcnow() + timedelta(days=60))
    fired = db.session.scalars(select(SlaCheckpoint.ticket_id).where(SlaCheckpoint.ticket_id == joint_ticket.id))
    assert list(fired) == []


def test_a_duplicate_merged_before_its_clocks_knew_merges_fires_no_checkpoint(joint_ticket, people, submit):
    """Duplicates merged before the clocks took "merged" for an end kept running clocks in the database; the
    sweep ends them when they come due, rather than warn and escalate a ticket handled under its master."""
    from sqlalchemy import update

    from participation.deadlines.models import ClockState

    master = submit("工地夜里施工太吵")
    with transaction():
        routing.dispatch(people.coordinator, master.id, ["NOISE"], "ENV", [])
    with transaction():
        routing.merge(people.coordinator, joint_ticket.id, master.id, "same site")
    with transaction():  # as the clocks were left by a merge before that
        db.session.execute(
            update(SlaClock)
            .where(SlaClock.ticket_id == joint_ticket.id)
            .values(state=ClockState.RUNNING, stopped_at=None, next_level=50, next_check_at=utcnow())
        )
    with transaction():
        deadlines.sweep(utcnow() + timedelta(days=60))
    fired = db.session.scalars(select(SlaCheckpoint.ticket_id).where(SlaCheckpoint.ticket_id == joint_ticket.id))
    assert list(fired) == []
    assert {c.state.value for c in clocks(joint_ticket).values()} == {"cancelled"}
    assert joint_ticket.escalation_level == 0


def test_urgent_words_make_an_item_urgent_and_its_clocks_run_around_the_clock(submit, people):
    ticket = submit("楼道里有燃气泄漏的味道，很危险")
    assert ticket.priority == "urgent"
    with transaction():
        routing.dispatch(people.coordinator, ticket.id, ["NOISE"], "ENV", [])
    resolve = clocks(ticket)["resolve:-"]
    assert resolve.around_the_clock
    assert resolve.due_at - resolve.started_at == timedelta(minutes=resolve.target_minutes)
    assert submit("The streetlight is broken").priority == "normal"


def test_sweep_fires_each_checkpoint_once_and_escalates(joint_ticket, clock_at):
    sign_for = clocks(joint_ticket)["sign_for:ENV"]
    half = sign_for.next_check_at
    assert sign_for.next_level == 50
    with transaction():
        assert deadlines.sweep(half - timedelta(seconds=1)) == 0
    with transaction():
        fired = deadlines.sweep(half + timedelta(seconds=1))
    assert fired >= 1
    with transaction():
        assert deadlines.sweep(half + timedelta(seconds=1)) == 0  # nothing twice
    assert clocks(joint_ticket)["sign_for:ENV"].level == 50
    # far later: every level up to the coordinator is reached; only the highest is announced
    late = clock_at(utcnow() + timedelta(days=60))
    with transaction():
        deadlines.sweep(late)
    sign_for = clocks(joint_ticket)["sign_for:ENV"]
    assert sign_for.level == 150 and sign_for.next_check_at is None
    levels = db.session.scalars(select(SlaCheckpoint.level).where(SlaCheckpoint.clock_id == sign_for.id)).all()
    assert sorted(levels) == [50, 75, 90, 100, 125, 150]
    events = [
        e.payload
        for e in db.session.scalars(select(TicketEvent).where(TicketEvent.type == "deadline.checkpoint"))
        if e.payload["key"] == sign_for.key
    ]
    assert [e["level"] for e in events] == [50, 150]
    assert events[-1]["notify"] == "coordinator"
    db.session.refresh(joint_ticket)
    assert joint_ticket.escalation_level == 2


def test_two_sweeps_at_once_fire_a_checkpoint_once(app, joint_ticket):
    """Two beat processes: on PostgreSQL two connections race; on SQLite they take turns."""
    at = utcnow() + timedelta(days=60)
    ticket_id = joint_ticket.id
    results: list[int] = []
    barrier = threading.Barrier(2)

    def run():
        with app.app_context():
            barrier.wait()
            with transaction():
                results.append(deadlines.sweep(at))
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    total_clocks = db.session.scalar(select(func.count()).select_from(SlaClock).where(SlaClock.ticket_id == ticket_id))
    rows = db.session.scalar(
        select(func.count()).select_from(SlaCheckpoint).where(SlaCheckpoint.ticket_id == ticket_id)
    )
    assert rows == total_clocks * 6  # every level of every clock, once
    assert sum(results) == rows
    announced = db.session.scalar(
        select(func.count()).select_from(TicketEvent).where(TicketEvent.type == "deadline.checkpoint")
    )
    assert announced == total_clocks


def test_pause_needs_a_reason_a_right_and_room_under_the_cap(joint_ticket, people, clock_at):
    with pytest.raises(ValidationFailed) as error:
        deadlines.pause(people.env, joint_ticket.id, "waiting_citizen", "  ")
    assert "reason" in error.value.fields
    with pytest.raises(ValidationFailed):
        deadlines.pause(people.env, joint_ticket.id, "coffee", "because")
    with pytest.raises(PermissionDenied):
        deadlines.pause(people.env, joint_ticket.id, "suspension", "needs a court ruling")
    with pytest.raises(PermissionDenied):
        deadlines.pause(people.urban, joint_ticket.id, "waiting_citizen", "co-handlers do not pause")
    before = clocks(joint_ticket)["resolve:-"].due_at
    with transaction():
        deadlines.pause(people.env, joint_ticket.id, "waiting_citizen", "asked for the exact address")
    assert clocks(joint_ticket)["resolve:-"].state.value == "paused"
    with pytest.raises(Conflict):
        deadlines.pause(people.env, joint_ticket.id, "waiting_citizen", "again")
    # the pause reaches its cap: the sweep lets the clocks run again by itself
    with transaction():
        deadlines.sweep(utcnow() + timedelta(days=30))
    db.session.refresh(joint_ticket)
    assert joint_ticket.paused_since is None
    resolve = clocks(joint_ticket)["resolve:-"]
    assert resolve.state.value in ("running", "missed") and resolve.due_at > before
    # the cap is used up: no more waiting pauses
    clock_at(utcnow() + timedelta(days=30))
    with pytest.raises(Conflict):
        deadlines.pause(people.env, joint_ticket.id, "waiting_citizen", "once more")


def test_pause_and_resume_move_the_due_time_later_never_earlier(joint_ticket, people, clock_at):
    before = clocks(joint_ticket)["resolve:-"].due_at
    start = clock_at(utcnow())
    with transaction():
        deadlines.pause(people.env, joint_ticket.id, "waiting_citizen", "asked for a photo")
    clock_at(start + timedelta(hours=30))
    with transaction():
        deadlines.resume(people.env, joint_ticket.id)
    after = clocks(joint_ticket)["resolve:-"].due_at
    assert after >= before
    with pytest.raises(Conflict):
        deadlines.resume(people.env, joint_ticket.id)


def test_interim_deadline_rules(joint_ticket, people):
    resolve = clocks(joint_ticket)["resolve:-"]
    with pytest.raises(PermissionDenied):
        deadlines.set_interim_deadline(people.env, joint_ticket.id, resolve.id, "2030-01-01T10:00", "x")
    with pytest.raises(ValidationFailed) as error:
        deadlines.set_interim_deadline(people.coordinator, joint_ticket.id, resolve.id, "next tuesday", "x")
    assert "due" in error.value.fields
    with pytest.raises(ValidationFailed):
        deadlines.set_interim_deadline(people.coordinator, joint_ticket.id, resolve.id, "2020-01-01T10:00", "x")
    with pytest.raises(ValidationFailed):
        deadlines.set_interim_deadline(people.coordinator, joint_ticket.id, 999999, "2030-01-01T10:00", "x")
    with transaction():
        deadlines.set_interim_deadline(people.coordinator, joint_ticket.id, resolve.id, "2030-01-01T10:00", "weather")
    resolve = clocks(joint_ticket)["resolve:-"]
    assert resolve.effective_due.isoformat().startswith("2030-01-01T02:00")  # 10:00 in Shanghai


def test_escalation_queue_lists_late_tickets_by_lateness(joint_ticket, people, submit, clock_at):
    other = submit("Potholes on the main road", category="POTHOLE")
    with transaction():
        routing.dispatch(people.coordinator, other.id, ["POTHOLE"], "TRANSPORT", [])
    assert deadlines.escalation_queue(people.coordinator) == []
    clock_at(utcnow() + timedelta(days=40))
    rows = deadlines.escalation_queue(people.coordinator)
    assert {r["ticket"].id for r in rows} == {joint_ticket.id, other.id}
    assert rows[0]["late_minutes"] >= rows[1]["late_minutes"]
    with pytest.raises(PermissionDenied):
        deadlines.escalation_queue(people.env)


def test_pages_show_deadlines_and_refuse_bad_actions(client, joint_ticket, people, login, english):
    ticket_id = joint_ticket.id
    login(people.env)
    page = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert 'id="deadlines"' in page and "data-due=" in page
    inbox = client.get("/inbox").get_data(as_text=True)
    assert "data-due=" in inbox
    response = client.post(
        f"/tickets/{ticket_id}/deadlines",
        data={"action": "pause", "kind": "waiting_citizen", "reason": ""},
    )
    assert response.status_code == 422  # the ticket again, the problem said once, at the field
    refused = response.get_data(as_text=True)
    assert (
        refused.count("Give a reason.") == 1 and '<div class="field-error" role="alert" data-field="reason">' in refused
    )
    assert 'id="pause-clocks"' in client.get(f"/tickets/{ticket_id}").get_data(as_text=True)  # not paused
    assert client.get("/coordination/escalations").status_code == 403
    client.post("/logout")
    login(people.coordinator)
    assert client.get("/coordination/escalations").status_code == 200


def test_api_reads_and_acts_with_the_same_rules(client, bearer, joint_ticket, people):
    ticket_id = joint_ticket.id
    env, urban, coordinator = bearer(people.env), bearer(people.urban), bearer(people.coordinator)
    body = client.get(f"/api/v1/tickets/{ticket_id}/deadlines", headers=env).get_json()
    kinds = sorted(c["kind"] for c in body["clocks"])
    assert kinds == ["contribution", "first_contact", "resolve", "sign_for", "sign_for"]
    assert client.get(f"/api/v1/tickets/{ticket_id}/deadlines").status_code == 401
    bad = client.post(f"/api/v1/tickets/{ticket_id}/deadlines/pause", json={"kind": "waiting_citizen"}, headers=env)
    assert bad.status_code == 422 and "reason" in bad.get_json()["error"]["fields"]
    wrong = client.post(
        f"/api/v1/tickets/{ticket_id}/deadlines/pause", json={"kind": "waiting_citizen", "reason": "x"}, headers=urban
    )
    assert wrong.status_code == 403
    paused = client.post(
        f"/api/v1/tickets/{ticket_id}/deadlines/pause",
        json={"kind": "waiting_citizen", "reason": "asked for a photo"},
        headers=env,
    )
    assert paused.status_code == 200 and paused.get_json()["paused_since"]
    resolve = next(c for c in paused.get_json()["clocks"] if c["kind"] == "resolve")
    interim = client.post(
        f"/api/v1/tickets/{ticket_id}/deadlines/interim",
        json={"clock_id": resolve["id"], "due": "yesterday", "reason": "x"},
        headers=coordinator,
    )
    assert interim.status_code == 422 and "due" in interim.get_json()["error"]["fields"]
    wrong_clock = client.post(
        f"/api/v1/tickets/{ticket_id}/deadlines/interim",
        json={"clock_id": "one", "due": "2030-01-01T10:00", "reason": "x"},
        headers=coordinator,
    )
    assert wrong_clock.status_code == 422 and "clock_id" in wrong_clock.get_json()["error"]["fields"]
    assert client.get("/api/v1/escalations", headers=env).status_code == 403
    assert client.get("/api/v1/escalations", headers=coordinator).get_json() == {"tickets": [], "total": 0}


def test_a_co_handler_made_lead_stops_its_contribution_clock_and_takes_the_ticket_clocks(joint_ticket, people):
    with transaction():
        routing.accept(people.urban, part_of(joint_ticket, "URBAN").id)
        routing.swap_lead(people.coordinator, joint_ticket.id, "URBAN", "the road works are the cause")
    found = clocks(joint_ticket)
    assert found["contribution:URBAN"].state.value == "cancelled"
    assert found["contribution:URBAN"].next_check_at is None  # the sweep will not fire it any more
    assert found["first_contact:-"].state.value == "running"
    assert found["first_contact:-"].department.code == "URBAN"
    assert found["resolve:-"].department.code == "URBAN"
    assert found["sign_for:ENV"].state.value == "cancelled"
    due = {c.id for c in deadlines._due_clocks(utcnow() + timedelta(days=400), 100)}
    assert found["contribution:URBAN"].id not in due


def test_the_inbox_shows_the_lead_its_ticket_deadlines_once_it_has_signed(joint_ticket, people):
    lead, co = part_of(joint_ticket, "ENV"), part_of(joint_ticket, "URBAN")
    with transaction():
        routing.accept(people.env, lead.id)
    nearest = deadlines.open_clocks_by_part([lead.id, co.id])
    found = clocks(joint_ticket)
    assert nearest[lead.id].id == found["first_contact:-"].id  # signed for: first contact is what is due next
    assert nearest[co.id].kind.value in ("sign_for", "contribution")  # a co-handler is not shown the lead's
    with transaction():
        routing.reply_public(people.env, joint_ticket.id, "We are on our way.")
    assert deadlines.open_clocks_by_part([lead.id])[lead.id].id == clocks(joint_ticket)["resolve:-"].id


def test_a_refused_deadline_action_keeps_what_was_sent_in_its_form(client, joint_ticket, people, login, english):
    """Pausing, recording a contact, setting an interim deadline: after a refusal the ticket shows again with
    what was sent still in the form it came from (and only there), the problem at its field."""
    ticket_id = joint_ticket.id
    login(people.coordinator)
    open_clocks = [c for c in deadlines.clocks_of(joint_ticket) if c.state.value == "running"]
    clock, other = open_clocks[0], open_clocks[1]
    response = client.post(
        f"/tickets/{ticket_id}/deadlines",
        data={"action": "interim", "clock_id": str(clock.id), "due": "2020-01-01T10:00", "reason": "等待检测报告"},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'<input id="due-{clock.id}" type="datetime-local" name="due" value="2020-01-01T10:00" required>' in page
    assert page.count('value="等待检测报告"') == 1  # this clock's form only
    assert f'<input id="due-{other.id}" type="datetime-local" name="due" value="" required>' in page
    assert page.count("The new deadline must be in the future.") == 1
    assert page.index(f'id="due-{clock.id}"') < page.index('data-field="due"') < page.index(f'id="due-{other.id}"')
    assert client.get(f"/tickets/{ticket_id}/deadlines").headers["Location"].endswith(f"/tickets/{ticket_id}")

    # An approved suspension without a reason: the kind chosen stays chosen.
    response = client.post(
        f"/tickets/{ticket_id}/deadlines", data={"action": "pause", "kind": "suspension", "reason": " "}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert '<option value="suspension" selected>' in page and '<option value="waiting_citizen" selected>' not in page
    assert page.count("Give a reason.") == 1

    client.post("/logout")
    login(people.env)
    note = "电话联系" * 251  # too long
    response = client.post(f"/tickets/{ticket_id}/deadlines", data={"action": "contact", "note": note})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'name="note" value="{note}"' in page and page.count("At most 1000 characters.") == 1
    # The pause form, not the one sent, starts afresh.
    assert '<option value="waiting_citizen" selected>' in page and 'name="reason" value=""' in page


def test_the_escalation_queue_says_less_than_a_minute_for_an_item_just_late(
    client, joint_ticket, people, submit, login, clock_at, english
):
    first_due = min(c.effective_due for c in deadlines.clocks_of(joint_ticket) if c.state.value == "running")
    escalated = submit("Potholes on the main road", category="POTHOLE")
    with transaction():
        routing.dispatch(people.coordinator, escalated.id, ["POTHOLE"], "TRANSPORT", [])
    with transaction():
        routing.accept(people.transport, part_of(escalated, "TRANSPORT").id)
        escalated.escalation_level = 1  # escalated, not late
    clock_at(first_due + timedelta(seconds=20))
    login(people.coordinator)
    page = client.get("/coordination/escalations").get_data(as_text=True)
    row = page[page.index(f'<tr data-ticket="{joint_ticket.id}">') :]
    row = row[: row.index("</tr>")]
    assert "less than a minute" in row and "0 min" not in row
    other = page[page.index(f'<tr data-ticket="{escalated.id}">') :]
    other = other[: other.index("</tr>")]
    assert 'data-late-minutes="0">—</td>' in other
    # No department is preselected to take the lead (nor the one leading already).
    assert 'aria-label="New lead department" required><option value="">Choose…</option>' in row
    assert '<option value="ENV">' not in row[row.index('name="department"') : row.index("Swap lead")]


def test_the_escalation_queues_interim_deadline_says_which_deadline_it_moves(
    client, joint_ticket, people, login, english, clock_at
):
    """A late ticket has several late deadlines and the row's form moves one of them: it names that one."""
    clock_at(utcnow() + timedelta(days=40))
    (row,) = deadlines.escalation_queue(people.coordinator)
    moved = row["clocks"][0][0]
    assert len(row["clocks"]) > 1
    login(people.coordinator)
    page = client.get("/coordination/escalations").get_data(as_text=True)
    form = page[page.index('value="interim"') :]
    form = form[: form.index("</form>")]
    assert f'name="clock_id" value="{moved.id}"' in form
    label = re.search(r"<label[^>]*>(.*?)<input", form, re.S)
    assert label and "New deadline" in label.group(1)
    assert f"{clock_label(moved.kind.value)} · {moved.department.name}" in label.group(1)


def test_the_timeline_says_which_deadline_a_checkpoint_is_about(client, joint_ticket, people, login, english):
    half = clocks(joint_ticket)["sign_for:ENV"].next_check_at
    with transaction():
        deadlines.sweep(half + timedelta(seconds=1))
    with transaction():
        deadlines.sweep(utcnow() + timedelta(days=60))
    login(people.coordinator)
    page = client.get(f"/tickets/{joint_ticket.id}").get_data(as_text=True)
    details = re.findall(r'<div class="meta checkpoint">(.*?)</div>', page, re.S)
    assert any("Sign for · 50% of the time used · due " in d for d in details)
    assert any("150% of the time: escalated" in d and "the coordination centre is told" in d for d in details)


def test_a_met_clock_stays_with_the_department_that_met_it_after_a_lead_change(joint_ticket, people):
    with transaction():
        routing.accept(people.env, part_of(joint_ticket, "ENV").id)
        routing.reply_public(people.env, joint_ticket.id, "We are on our way.")
    assert clocks(joint_ticket)["first_contact:-"].state.value == "met"
    with transaction():
        routing.swap_lead(people.coordinator, joint_ticket.id, "TRANSPORT", "交通部门牵头")
    found = clocks(joint_ticket)
    assert found["first_contact:-"].department.code == "ENV"  # met by ENV, counted for ENV
    assert found["resolve:-"].department.code == "TRANSPORT"  # still running: the new lead's


def test_the_escalation_queue_says_when_the_callback_escalated_a_ticket(client, joint_ticket, people, login, english):
    from participation.surveys import callbacks
    from tests.routing.conftest import resolve_joint

    for _round in (1, 2):
        resolve_joint(joint_ticket, people)
        with transaction():
            callbacks.answer_by_tracking_code(
                None, joint_ticket.submission.tracking_code, {"solved": 2, "satisfaction": 3}
            )
    (row,) = deadlines.escalation_queue(people.coordinator)
    assert row["callback"] and row["clocks"] == []
    login(people.coordinator)
    page = client.get("/coordination/escalations").get_data(as_text=True)
    assert "Not satisfied again at the callback" in page


def test_a_long_escalation_queue_shows_its_first_page_and_says_how_many_there_are(
    app, client, bearer, joint_ticket, people, submit, login, clock_at, english, monkeypatch
):
    for text in ("Potholes on the main road", "Broken kerb outside the school"):
        ticket = submit(text, category="POTHOLE")
        with transaction():
            routing.dispatch(people.coordinator, ticket.id, ["POTHOLE"], "TRANSPORT", [])
    with transaction():
        ticket.escalation_level = 2  # the last one: escalated to the coordination centre, and late too
    clock_at(utcnow() + timedelta(days=30))
    everything = {
        sort: deadlines.escalation_queue(people.coordinator, sort=sort) for sort in ("late", "level", "oldest")
    }
    assert len(everything["late"]) == 3 == deadlines.escalation_count(people.coordinator)
    late = [row["late_minutes"] for row in everything["late"]]
    assert late == sorted(late, reverse=True) and late[-1] > 0
    assert everything["level"][0]["ticket"].id == ticket.id
    assert [r["ticket"].id for r in everything["oldest"]] == sorted(r["ticket"].id for r in everything["oldest"])
    for sort, rows in everything.items():  # the first page is the head of the whole order, with its clocks
        page = deadlines.escalation_queue(people.coordinator, sort=sort, limit=2)
        assert [(r["ticket"].id, [c.id for c, _m in r["clocks"]]) for r in page] == [
            (r["ticket"].id, [c.id for c, _m in r["clocks"]]) for r in rows[:2]
        ]

    monkeypatch.setitem(app.config, "ESCALATION_PAGE_SIZE", 2)
    login(people.coordinator)
    html = client.get("/coordination/escalations").get_data(as_text=True)
    assert html.count("<tr data-ticket=") == 2
    assert "Showing the 2 latest of 3; settle these to see the others." in html
    html = client.get("/coordination/escalations?sort=level&partial=1").get_data(as_text=True)
    assert "Showing the 2 most escalated of 3" in html and f'<tr data-ticket="{ticket.id}">' in html

    coordinator, env = bearer(people.coordinator), bearer(people.env)
    body = client.get("/api/v1/escalations?limit=1&sort=level", headers=coordinator).get_json()
    assert body["total"] == 3 and [t["ticket_id"] for t in body["tickets"]] == [ticket.id]
    assert client.get("/api/v1/escalations", headers=coordinator).get_json()["total"] == 3
    for query, field in (("limit=0", "limit"), ("limit=many", "limit"), ("sort=newest", "sort")):
        refused = client.get(f"/api/v1/escalations?{query}", headers=coordinator)
        assert refused.status_code == 422 and field in refused.get_json()["error"]["fields"], query
        assert client.get(f"/api/v1/escalations?{query}", headers=env).status_code == 403


def test_a_ticket_settled_while_the_escalation_queue_is_read_does_not_break_the_page(
    client, joint_ticket, people, submit, login, clock_at
):
    """The queue reads the late clocks, then the tickets: one resolved or withdrawn in between (another
    coordinator, a department at work) is still listed as it was read, not a server error."""
    from sqlalchemy import event, update

    from participation.routing.models import Ticket, TicketStatus

    other = submit("Streetlight out on Pine Street for a week")
    with transaction():
        routing.dispatch(people.coordinator, other.id, ["NOISE"], "ENV", [])
    clock_at(utcnow() + timedelta(days=40))
    seen = {"clocks": False, "done": False}

    def settle_between_reads(conn, cursor, statement, parameters, context, executemany):
        if seen["done"]:
            return
        if "sla_clock" in statement and "ticket" in statement:
            seen["clocks"] = True
        elif seen["clocks"]:
            seen["done"] = True
            with db.engine.begin() as elsewhere:  # committed by another request, between the two reads
                elsewhere.execute(
                    update(Ticket).where(Ticket.id == joint_ticket.id).values(status=TicketStatus.WITHDRAWN)
                )

    login(people.coordinator)
    event.listen(db.engine, "before_cursor_execute", settle_between_reads)
    try:
        page = client.get("/coordination/escalations")
    finally:
        event.remove(db.engine, "before_cursor_execute", settle_between_reads)
    assert seen["done"]
    assert page.status_code == 200
    assert f'<tr data-ticket="{other.id}">' in page.get_data(as_text=True)
