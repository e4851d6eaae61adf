"""Scorecards on a hand-built scenario with known answers; incremental equals full; frozen months; API, CLI."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from participation.catalog.models import Department
from participation.core.errors import PermissionDenied, ValidationFailed
from participation.core.models import utcnow
from participation.core.uow import transaction
from participation.deadlines import services as deadlines
from participation.deadlines.models import ClockKind, ClockState, SlaClock
from participation.extensions import db
from participation.routing import services as routing
from participation.scoring import services as scoring
from participation.scoring.models import Scorecard
from participation.surveys import callbacks
from tests.routing.conftest import part_of

K = 10  # the default shrinkage constant


def work_and_resolve(ticket, people, *, rating=4):
    env, urban = part_of(ticket, "ENV"), part_of(ticket, "URBAN")
    with transaction():
        for part, who in ((env, people.env), (urban, people.urban)):
            if part.status.value == "pending":
                routing.accept(who, part.id)
        routing.reply_public(people.env, ticket.id, "We are on it.")
        routing.contribute(people.urban, urban.id, "Permits checked.")
        routing.rate(people.env, urban.id, rating)
        routing.resolve(people.env, ticket.id, "Done.")


def callback(ticket, **answers):
    with transaction():
        callbacks.answer_by_tracking_code(None, ticket.submission.tracking_code, answers)


def cards(period):
    with transaction():
        scoring.recompute(period)
    rows = db.session.scalars(select(Scorecard).where(Scorecard.period == period)).all()
    return {(c.department.code, c.role): c for c in rows}


def test_a_clean_joint_ticket_scores_as_computed_by_hand(joint_ticket, people):
    work_and_resolve(joint_ticket, people)
    callback(joint_ticket, solved=1, satisfaction=1, rating=5)
    period = scoring.period_of(utcnow())
    found = cards(period)
    env = found[("ENV", "lead")]
    # response: sign-for met + first contact met = 2/2; resolution: resolve met, not reopened, + callback solved = 2/2
    assert (env.components["response"]["num"], env.components["response"]["den"]) == (2, 2)
    assert (env.components["resolution"]["num"], env.components["resolution"]["den"]) == (2, 2)
    assert (env.components["satisfaction"]["num"], env.components["satisfaction"]["den"]) == (1, 1)
    # no collaboration data for any lead: the city rate is the default 0.5, so (0 + 10*0.5) / (0 + 10) = 0.5
    assert env.components["collaboration"]["shrunk"] == 0.5
    assert env.score == pytest.approx(20 * 1 + 35 * 1 + 30 * 1 + 15 * 0.5)  # 92.5
    urban = found[("URBAN", "co")]
    # co: resolution = resolve clock (1) + callback solved at half weight (0.5) -> 1.5 / 1.5
    assert (urban.components["resolution"]["num"], urban.components["resolution"]["den"]) == (1.5, 1.5)
    assert (urban.components["satisfaction"]["num"], urban.components["satisfaction"]["den"]) == (0.5, 0.5)
    # collaboration: contribution on time (1) + rating 4/5 (0.8) = 1.8 / 2; city rate 0.9; (1.8 + 9) / 12 = 0.9
    assert (urban.components["collaboration"]["num"], urban.components["collaboration"]["den"]) == (1.8, 2)
    assert urban.components["collaboration"]["shrunk"] == pytest.approx((1.8 + K * 0.9) / (2 + K))
    assert urban.score == pytest.approx(20 + 35 + 30 + 15 * 0.9)  # 98.5
    # a department with nothing measured gets the city rates: the same 92.5 as ENV's lead card
    assert found[("TRANSPORT", "lead")].score == pytest.approx(92.5)
    assert env.components["response"]["count"] == 2  # its sign-for and first-contact clocks
    assert scoring.tickets_behind(env, "response") == ([joint_ticket.id], 1)
    assert env.penalty_points == 0


def test_penalties_are_counted_and_capped(joint_ticket, people, submit):
    with transaction():
        deadlines.pause(people.env, joint_ticket.id, "waiting_citizen", "no contact yet")  # pause without contact
    with transaction():
        deadlines.resume(people.env, joint_ticket.id)
    with transaction():
        dispute = routing.request_return(people.urban, part_of(joint_ticket, "URBAN").id, "return", "not ours")
    with transaction():
        routing.rule(people.coordinator, dispute.id, "overruled", "it is yours")  # wrongful return
    work_and_resolve(joint_ticket, people)
    callback(joint_ticket, solved=2, satisfaction=3)  # contradicts the closure and reopens it
    found = cards(scoring.period_of(utcnow()))
    env = found[("ENV", "lead")].penalties
    assert {t: v["count"] for t, v in env.items()} == {
        "reopen": 1,
        "wrongful_dispute": 0,
        "contradicted_closure": 1,
        "pause_without_contact": 1,
    }
    assert found[("ENV", "lead")].penalty_points == 6  # 2 + 2 + 2
    assert found[("URBAN", "co")].penalties["wrongful_dispute"] == {
        "count": 1,
        "points": 3.0,
    }
    assert scoring.tickets_behind(found[("URBAN", "co")], "wrongful_dispute") == ([joint_ticket.id], 1)
    assert (
        found[("URBAN", "co")].components["collaboration"]["num"]
        < found[("URBAN", "co")].components["collaboration"]["den"]
    )
    # the cap: 20 points at most
    with transaction():
        scoring.save_weights(people.coordinator, {}, {"reopen": 20, "contradicted_closure": 20})
    assert cards(scoring.period_of(utcnow()))[("ENV", "lead")].penalty_points == 20


def test_incremental_updates_equal_a_full_recompute(app, joint_ticket, people, monkeypatch):
    monkeypatch.setitem(app.config, "SCORING_LIVE", True)
    work_and_resolve(joint_ticket, people)
    period = scoring.period_of(utcnow())

    def snapshot():
        db.session.expire_all()
        rows = db.session.scalars(select(Scorecard).where(Scorecard.period == period)).all()
        return sorted(
            (
                c.department_id,
                c.role,
                c.score,
                json.dumps(c.components, sort_keys=True),
                json.dumps(c.penalties, sort_keys=True),
            )
            for c in rows
        )

    def live_equals_full():
        assert not full_reads, "the month was updated from the changed ticket alone"
        live = snapshot()
        assert live, "the incremental update stored the month's scorecards"
        with transaction():
            scoring.recompute(period)
        full_reads.clear()
        assert snapshot() == live
        return live

    full_reads: list = []
    first = live_equals_full()
    real_aggregate = scoring.facts.aggregate
    monkeypatch.setattr(scoring.facts, "aggregate", lambda *a, **k: full_reads.append(a) or real_aggregate(*a, **k))
    # a "not solved" callback reopens the ticket (the resolution, met, now fails: reopened within 30
    # days); the coordinator then gives the lead to TRANSPORT (the reopening now counts against the new
    # lead) and invites DRC (a co-handler's share of the resolution and the callback): each change
    # reaches the scorecards through the incremental update alone
    callback(joint_ticket, solved=2, satisfaction=3)
    reopened = live_equals_full()
    assert reopened != first
    with transaction():
        routing.swap_lead(people.coordinator, joint_ticket.id, "TRANSPORT", "they run the site")
    swapped = live_equals_full()
    by_card = {(d, role): json.loads(penalties) for d, role, _s, _c, penalties in swapped}
    transport = db.session.scalar(select(Department.id).where(Department.code == "TRANSPORT"))
    assert by_card[(transport, "lead")]["reopen"]["count"] == 1
    with transaction():
        routing.invite(people.coordinator, joint_ticket.id, "DRC", "planning permission")
    invited = live_equals_full()
    assert invited != swapped
    drc = db.session.scalar(select(Department.id).where(Department.code == "DRC"))
    drc_co = next(json.loads(c) for d, role, _s, c, _p in invited if (d, role) == (drc, "co"))
    assert drc_co["satisfaction"]["count"] == 1  # the callback, at half weight


def test_closed_months_are_frozen(joint_ticket, people, monkeypatch):
    work_and_resolve(joint_ticket, people)
    period = scoring.period_of(utcnow())
    _start, end = scoring.period_bounds(period)
    later = end + timedelta(days=8)
    with transaction():
        scoring.recompute(period, at=later)
    before = {
        (c.department_id, c.role): c.score
        for c in db.session.scalars(select(Scorecard).where(Scorecard.period == period))
    }
    assert all(c.frozen for c in db.session.scalars(select(Scorecard).where(Scorecard.period == period)))
    callback(joint_ticket, solved=2, satisfaction=3)  # news about the month after it was frozen
    with transaction():
        assert scoring.recompute(period, at=later) == 0
    after = {
        (c.department_id, c.role): c.score
        for c in db.session.scalars(select(Scorecard).where(Scorecard.period == period))
    }
    assert after == before


def test_weights_are_versioned_and_checked(people):
    first = scoring.current_weights()
    with pytest.raises(PermissionDenied):
        scoring.save_weights(people.env, {"response": 10})
    with pytest.raises(ValidationFailed) as error:
        scoring.save_weights(people.coordinator, {"response": -1, "resolution": "a lot"})
    assert set(error.value.fields) == {"weights.response", "weights.resolution"}
    with transaction():
        second = scoring.save_weights(people.coordinator, {"response": 25}, note="more weight on response")
    assert second.number == first.number + 1 and second.weights["response"] == 25
    assert db.session.get(type(first), first.id).weights["response"] == 20  # the old version stays


def test_api_and_cli(client, bearer, runner, joint_ticket, people, make_user):
    work_and_resolve(joint_ticket, people)
    period = scoring.period_of(utcnow())
    coordinator = bearer(people.coordinator)
    body = client.get(f"/api/v1/scorecards?period={period}", headers=coordinator).get_json()
    env = next(c for c in body["scorecards"] if c["department"] == "ENV" and c["role"] == "lead")
    assert "components" in env and "penalties" in env
    head = make_user("department_admin", departments=("ENV",))
    seen = client.get(f"/api/v1/scorecards?period={period}", headers=bearer(head)).get_json()["scorecards"]
    assert all(("components" in c) == (c["department"] == "ENV") for c in seen)  # others in summary
    assert client.get(f"/api/v1/scorecards?period={period}", headers=bearer(people.env)).status_code == 403
    assert client.get("/api/v1/scorecards?period=2026-13", headers=coordinator).status_code == 422
    result = runner.invoke(args=["scoring", "show", "--period", period, "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert {(c["department"], c["role"]) for c in shown["scorecards"]} >= {("ENV", "lead"), ("URBAN", "co")}
    assert runner.invoke(args=["scoring", "recompute", "--period", period]).exit_code == 0


def test_the_recompute_leaves_the_planner_settings_as_they_were(joint_ticket, people):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("planner settings are PostgreSQL's")
    work_and_resolve(joint_ticket, people)
    with transaction():
        scoring.recompute_all([scoring.period_of(utcnow()), scoring.ROLLING])
        # the rest of the transaction plans as usual
        assert db.session.execute(text("SHOW enable_nestloop")).scalar() == "on"
        assert db.session.execute(text("SHOW enable_sort")).scalar() == "on"


def _month_cards(period):
    db.session.expire_all()
    return sorted(
        (c.department_id, c.role, c.score, json.dumps(c.components, sort_keys=True), json.dumps(c.penalties))
        for c in db.session.scalars(select(Scorecard).where(Scorecard.period == period))
    )


def test_a_clock_falling_due_is_counted_by_the_next_update(joint_ticket, people, submit):
    """A running clock counts as late from its due time, with no change to its ticket: the next
    incremental update, for any ticket, counts it as a full recompute at that moment does."""
    other = submit("路灯坏了，晚上很黑")
    with transaction():
        routing.accept(people.env, part_of(joint_ticket, "ENV").id)
    t0 = utcnow()
    period = scoring.period_of(t0)
    with transaction():
        scoring.recompute(period, at=t0)
    resolve = db.session.scalar(
        select(SlaClock).where(SlaClock.ticket_id == joint_ticket.id, SlaClock.kind == ClockKind.RESOLVE)
    )
    assert resolve.state == ClockState.RUNNING
    with transaction():  # its due time passes a minute after the scorecards were computed
        db.session.execute(
            update(SlaClock)
            .where(SlaClock.id == resolve.id)
            .values(due_at=t0 + timedelta(minutes=1), interim_due_at=None)
        )
    t1 = t0 + timedelta(minutes=2)
    with transaction():
        scoring.update_tickets({other.id}, [period], at=t1)
    incremental = _month_cards(period)
    with transaction():
        scoring.recompute(period, at=t1)
    assert _month_cards(period) == incremental
    env = next(c for c in db.session.scalars(select(Scorecard).where(Scorecard.period == period))
               if c.department.code == "ENV" and c.role == "lead")  # fmt: skip
    assert env.components["resolution"]["count"] == 1  # the late resolution


def test_a_clock_changed_without_a_counted_event_updates_the_scorecards(app, joint_ticket, people, monkeypatch):
    """A clock's state can change with an event that counts for nothing (the deadline recomputation runs
    on every event, and a pause past its cap ends there): the change itself updates the month."""
    monkeypatch.setitem(app.config, "SCORING_LIVE", True)
    work_and_resolve(joint_ticket, people)
    period = scoring.period_of(utcnow())
    live = _month_cards(period)
    sign_for = db.session.scalar(
        select(SlaClock).where(SlaClock.ticket_id == joint_ticket.id, SlaClock.kind == ClockKind.SIGN_FOR)
    )
    with transaction():  # through the ORM, as the deadline recomputation writes it; no ticket event
        sign_for.state = ClockState.MISSED
    changed = _month_cards(period)
    assert changed != live
    with transaction():
        scoring.recompute(period)
    assert _month_cards(period) == changed


def test_the_beat_brings_the_open_month_up_to_the_moment(joint_ticket, people):
    """With no change to any ticket, the beat's refresh counts a clock that fell due since the month was
    computed (besides computing the rolling 30 days)."""
    from participation.scoring import tasks

    with transaction():
        routing.accept(people.env, part_of(joint_ticket, "ENV").id)
    t0 = utcnow() - timedelta(minutes=2)
    period = scoring.period_of(utcnow())
    with transaction():
        scoring.recompute(period, at=t0)
    with transaction():
        db.session.execute(
            update(SlaClock)
            .where(SlaClock.ticket_id == joint_ticket.id, SlaClock.kind == ClockKind.RESOLVE)
            .values(due_at=utcnow() - timedelta(minutes=1), interim_due_at=None)
        )
    tasks.refresh_rolling.run()
    refreshed = _month_cards(period)
    with transaction():
        scoring.recompute(period)
    assert _month_cards(period) == refreshed
    assert db.session.scalar(select(Scorecard).where(Scorecard.period == scoring.ROLLING)) is not None


def test_a_new_ticket_queues_no_scorecard_update(app, people, submit, monkeypatch):
    """Submitting and dispatching count for nothing yet (running clocks, new parts): the submit path
    sends no scorecard task; the first counted change does."""
    from participation.scoring import tasks

    monkeypatch.setitem(app.config, "SCORING_LIVE", True)
    sent = []
    monkeypatch.setattr(tasks.refresh, "delay", lambda *args: sent.append(args))
    ticket = submit()
    with transaction():
        routing.dispatch(people.coordinator, ticket.id, ["NOISE"], "ENV", ["URBAN"])
    assert sent == []
    with transaction():
        routing.accept(people.env, part_of(ticket, "ENV").id)
    assert [tickets for _periods, tickets in sent] == [[ticket.id]]
