"""The synthetic data generator: reproducible, inside its period, in life-cycle order, gaming planted."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from participation.catalog.models import Department
from participation.deadlines.models import ClockKind, ClockState, SlaClock
from participation.deadlines.services import current_calendar
from participation.demo_data import BEHAVIOURS, Options, event_digest, generate
from participation.extensions import db as _db
from participation.intake.models import Submission
from participation.routing.models import Dispute, DisputeStatus, Ticket, TicketEvent, TicketPart
from participation.surveys.models import CallbackResult
from tests.conftest import empty_tables

UNTIL = "2026-05-15"
CONTACT = {"contact.recorded", "reply"}


def _empty_tables() -> None:
    empty_tables()


def _generate(seed: int, tickets: int, months: int = 2) -> tuple[dict, str]:
    from participation.cli import load_demo

    load_demo()
    manifest = generate(Options(tickets=tickets, seed=seed, months=months, until=datetime(2026, 5, 15).date()))
    return manifest, event_digest()


@pytest.fixture(scope="module")
def generated(app, tmp_path_factory):
    """One generated city (the CLI with a manifest), shared by the read-only tests of this module."""
    from participation.cli import load_demo

    ctx = app.app_context()
    ctx.push()
    load_demo()
    path = tmp_path_factory.mktemp("gen") / "manifest.json"
    result = app.test_cli_runner().invoke(
        args=["demo", "generate", "--tickets", "180", "--seed", "11", "--until", UNTIL, "--manifest", str(path)]
    )
    assert result.exit_code == 0, result.output
    assert "tickets/s" in result.output
    manifest = json.loads(path.read_text(encoding="utf-8"))
    yield manifest
    _empty_tables()
    ctx.pop()


def _events_by_ticket() -> dict[int, list[TicketEvent]]:
    out: dict[int, list[TicketEvent]] = defaultdict(list)
    for event in _db.session.scalars(select(TicketEvent).order_by(TicketEvent.ticket_id, TicketEvent.id)):
        out[event.ticket_id].append(event)
    return out


def _codes() -> dict[int, str]:
    return dict(_db.session.execute(select(Department.id, Department.code)).all())


def _clean(manifest: dict, behaviour: str) -> set[str]:
    return set(_codes().values()) - {c for codes in manifest["planted"].values() for c in codes}


# -- reproducibility ------------------------------------------------------------------------------


def test_same_seed_same_data_and_another_seed_other_data(db):
    first, digest = _generate(seed=3, tickets=40)
    _empty_tables()
    again, same = _generate(seed=3, tickets=40)
    _empty_tables()
    other, different = _generate(seed=4, tickets=40)
    assert digest == same
    assert {k: v for k, v in first.items() if k != "seconds"} == {k: v for k, v in again.items() if k != "seconds"}
    assert different != digest


def test_refuses_an_empty_catalog_and_a_database_with_tickets(runner, db):
    result = runner.invoke(args=["demo", "generate", "--tickets", "5", "--seed", "1", "--until", UNTIL])
    assert result.exit_code == 1 and "demo load" in result.output
    _generate(seed=1, tickets=3, months=1)
    result = runner.invoke(args=["demo", "generate", "--tickets", "5", "--seed", "1", "--until", UNTIL])
    assert result.exit_code == 1 and "already has tickets" in result.output


# -- the generated city ---------------------------------------------------------------------------


def test_manifest_names_one_department_per_behaviour(generated):
    assert generated["seed"] == 11 and generated["tickets"] == 180
    assert generated["period"] == {"from": "2025-10-31T16:00:00+00:00", "to": "2026-05-14T16:00:00+00:00"}
    assert set(generated["planted"]) == set(BEHAVIOURS)
    codes = [c for codes in generated["planted"].values() for c in codes]
    assert len(codes) == len(set(codes)) == 4 and set(codes) <= set(_codes().values())
    counts = generated["counts"]
    assert counts["submitted"] == 180 and counts["resolved"] > 100 and counts["callbacks"] > 80
    for kind in ("disputes.overruled", "disputes.upheld", "pauses", "reopened", "contributions", "checkpoints"):
        assert counts[kind] > 0, kind


def test_every_time_is_simulated_inside_the_period_and_in_life_cycle_order(generated):
    start = datetime.fromisoformat(generated["period"]["from"])
    end = datetime.fromisoformat(generated["period"]["to"])
    for ticket_id, events in _events_by_ticket().items():
        ticket = _db.session.get(Ticket, ticket_id)
        times = [e.at for e in events]
        assert all(start <= at < end for at in times)
        assert events[0].type == "submitted" and ticket.created_at == events[0].at
        ordered = [e.at for e in events if not (e.payload or {}).get("automatic") or e.type != "clock.resumed"]
        assert ordered == sorted(ordered), ticket_id  # the history is written in the order it happened
        first = {}
        for e in events:
            first.setdefault(e.type, e.at)
        chain = [first.get(t) for t in ("submitted", "dispatched", "part.accepted", "status.resolved")]
        chain = [at for at in chain if at is not None]
        assert chain == sorted(chain)
        if ticket.resolved_at is not None:
            assert start <= ticket.resolved_at < end
    for part in _db.session.scalars(select(TicketPart)):
        stamps = [part.assigned_at, part.accepted_at, part.done_at]
        assert all(start <= at < end for at in stamps if at is not None)
        if part.accepted_at and part.done_at:
            assert part.accepted_at <= part.done_at
    for result in _db.session.scalars(select(CallbackResult)):
        assert start <= result.at < end
        resolved = [e.at for e in _db.session.get(Ticket, result.ticket_id).events if e.type == "status.resolved"]
        assert resolved and min(resolved) <= result.at


def test_arrivals_favour_weekday_working_hours(generated):
    zone = ZoneInfo(generated["timezone"])
    local = [s.created_at.astimezone(zone) for s in _db.session.scalars(select(Submission))]
    mornings = sum(1 for t in local if t.weekday() < 5 and 8 <= t.hour < 12)
    nights = sum(1 for t in local if 0 <= t.hour < 6)
    weekend = sum(1 for t in local if t.weekday() >= 5) / 2
    weekday = sum(1 for t in local if t.weekday() < 5) / 5
    assert mornings > 3 * nights and weekday > 1.5 * weekend
    categories = Counter(t.primary_category.code for t in _db.session.scalars(select(Ticket)) if t.primary_category)
    top = sum(n for _c, n in categories.most_common(5))
    assert top > 0.4 * sum(categories.values())  # a few common categories, a long tail


def test_bouncing_department_is_overruled_often(generated):
    codes = _codes()
    overruled = Counter(
        codes[d.department_id]
        for d in _db.session.scalars(select(Dispute).where(Dispute.status == DisputeStatus.OVERRULED))
    )
    (planted,) = generated["planted"]["bouncing"]
    clean = [overruled[c] for c in _clean(generated, "bouncing")]
    assert overruled[planted] >= 3 and overruled[planted] > 2 * max(clean)


def test_late_department_misses_its_contribution_deadlines(generated):
    codes = _codes()
    states: dict[str, Counter] = defaultdict(Counter)
    for clock in _db.session.scalars(select(SlaClock).where(SlaClock.kind == ClockKind.CONTRIBUTION)):
        states[codes[clock.department_id]][clock.state] += 1
    (planted,) = generated["planted"]["late_contribution"]
    mine = states[planted]
    assert mine[ClockState.MISSED] >= 3 and mine[ClockState.MISSED] > mine[ClockState.MET]
    clean_missed = sum(states[c][ClockState.MISSED] for c in _clean(generated, "late_contribution"))
    clean_met = sum(states[c][ClockState.MET] for c in _clean(generated, "late_contribution"))
    assert clean_missed < 0.3 * (clean_missed + clean_met)


def test_pauses_without_contact_belong_to_the_planted_department(generated):
    codes = _codes()
    silent = Counter()
    for ticket_id, events in _events_by_ticket().items():
        for index, event in enumerate(events):
            if event.type == "clock.paused" and not any(e.type in CONTACT for e in events[:index]):
                silent[codes[_db.session.get(Ticket, ticket_id).lead_department_id]] += 1
    (planted,) = generated["planted"]["pause_without_contact"]
    assert silent[planted] >= 3
    assert sum(n for c, n in silent.items() if c != planted) <= 1


def test_fast_closures_reopen_after_the_callback(generated):
    codes = _codes()
    calendar = current_calendar()
    fast_reopened = Counter()
    for ticket_id, events in _events_by_ticket().items():
        types = [e.type for e in events]
        if "status.resolved" not in types or "part.accepted" not in types:
            continue
        ticket = _db.session.get(Ticket, ticket_id)
        lead = ticket.lead_part
        resolved = events[types.index("status.resolved")]
        reopened = types.index("status.reopened") if "status.reopened" in types else None
        by_callback = reopened is not None and "callback.recorded" in types[types.index("status.resolved") : reopened]
        if by_callback and lead.accepted_at and calendar.minutes_between(lead.accepted_at, resolved.at) <= 240:
            fast_reopened[codes[ticket.lead_department_id]] += 1
    (planted,) = generated["planted"]["fast_close_reopen"]
    assert fast_reopened[planted] >= 3
    assert sum(n for c, n in fast_reopened.items() if c != planted) <= 1


# -- the scorecard catches what was planted -------------------------------------------------------


def test_scorecards_put_planted_gaming_at_the_bottom_of_its_term(generated):
    """Scored month by month, each planted department collects the most points of its penalty term
    (the late contributor: the lowest on-time share of contributions), and clean ones collect few."""
    from participation.core.uow import transaction
    from participation.scoring import services as scoring
    from participation.scoring.models import Scorecard

    periods = []
    for period in scoring.periods_with_activity():
        start, _end = scoring.period_bounds(period)
        if start.date().isoformat() <= UNTIL:
            periods.append(period)
    with transaction():
        for period in periods:
            scoring.recompute(period)
    codes = _codes()
    points: dict[str, Counter] = defaultdict(Counter)
    contributions: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    total: Counter = Counter()
    for card in _db.session.scalars(select(Scorecard).where(Scorecard.period.in_(periods))):
        code = codes[card.department_id]
        for term, value in card.penalties.items():
            points[term][code] += value["count"]
        total[code] += card.penalty_points
    for clock in _db.session.scalars(select(SlaClock).where(SlaClock.kind == ClockKind.CONTRIBUTION)):
        if clock.state in (ClockState.MET, ClockState.MISSED):
            tally = contributions[codes[clock.department_id]]
            tally[0] += clock.state == ClockState.MET
            tally[1] += 1

    def worst(term: str) -> str:
        return points[term].most_common(1)[0][0]

    (bouncing,) = generated["planted"]["bouncing"]
    (pausing,) = generated["planted"]["pause_without_contact"]
    (fast,) = generated["planted"]["fast_close_reopen"]
    (late,) = generated["planted"]["late_contribution"]
    assert worst("wrongful_dispute") == bouncing
    assert worst("pause_without_contact") == pausing
    assert fast in {worst("reopen"), worst("contradicted_closure")}
    rates = {code: met / n for code, (met, n) in contributions.items() if n >= 3}
    assert min(rates, key=rates.get) == late
    clean = [total[code] for code in _clean(generated, "") if code in total]
    planted_points = min(total[c] for c in (bouncing, pausing, fast))
    assert sorted(clean)[len(clean) // 2] < planted_points  # the median clean department is well below
