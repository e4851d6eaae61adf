"""The clock arithmetic with a controlled clock: weekends, holidays, make-up days, pauses, caps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from participation.deadlines.calendar import AroundTheClock, BusinessCalendar
from participation.deadlines.clocks import EventFacts, PartFacts, TicketFacts, cap_used_up, compute, resume_at

SH = ZoneInfo("Asia/Shanghai")
# National Day week 2026: 1-7 October off, Saturday 10 October a make-up working day.
CAL = BusinessCalendar(
    holidays=frozenset(date(2026, 10, d) for d in (1, 2, 5, 6, 7)),
    workdays=frozenset({date(2026, 10, 10)}),
)
TARGETS = {"sign_for": 240, "first_contact": 1440, "resolve": 3 * 450, "contribution": 450}
CAPS = {"waiting_citizen": 2 * 450, "suspension": 10 * 450}


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


def test_working_hours_skip_lunch_nights_and_weekends():
    friday_4pm = local(2026, 11, 27, 16, 0)
    # 2 h left on Friday; 3 h more lands at Monday 12:00 (morning 09:00-12:00)
    assert CAL.add(friday_4pm, 5 * 60) == local(2026, 11, 30, 12, 0)
    # one more minute goes past lunch: 13:31
    assert CAL.add(friday_4pm, 5 * 60 + 1) == local(2026, 11, 30, 13, 31)
    assert CAL.minutes_between(friday_4pm, local(2026, 11, 30, 13, 31)) == 5 * 60 + 1
    # starting at night counts from the next opening
    assert CAL.add(local(2026, 11, 30, 22, 0), 30) == local(2026, 12, 1, 9, 30)


def test_holidays_are_skipped_and_make_up_days_count():
    sept_30_5pm = local(2026, 9, 30, 17, 0)
    # 1 h on 30 Sept; 1-7 Oct off (3-4 a weekend, the rest holidays); Thursday 8 Oct resumes
    assert CAL.add(sept_30_5pm, 120) == local(2026, 10, 8, 10, 0)
    # Saturday 10 October is a make-up working day
    friday_9 = local(2026, 10, 9, 9, 0)
    assert CAL.add(friday_9, 450 + 60) == local(2026, 10, 10, 10, 0)
    assert CAL.is_working_day(date(2026, 10, 10)) and not CAL.is_working_day(date(2026, 10, 11))


def test_urgent_runs_around_the_clock():
    start = local(2026, 10, 1, 23, 0)
    assert AroundTheClock().add(start, 120) == local(2026, 10, 2, 1, 0)


def _facts(events=(), parts=(), created=None) -> TicketFacts:
    return TicketFacts(
        ticket_id=1,
        created_at=created or local(2026, 11, 30, 9, 0),
        lead_department_id=7,
        parts=list(parts),
        events=list(events),
    )


def _clock(results, kind, part_id=None, cycle=1):
    return next(c for c in results if c.kind == kind and c.part_id == part_id and c.cycle == cycle)


def test_sign_for_met_and_missed_and_checkpoints():
    assigned = local(2026, 11, 30, 9, 0)
    part = PartFacts(1, 7, "lead", "pending", assigned)
    clocks = compute(_facts(parts=[part]), TARGETS, CAL, local(2026, 11, 30, 10, 0))
    sign = _clock(clocks, "sign_for", 1)
    assert sign.state == "running" and sign.due_at == local(2026, 11, 30, 14, 30)
    assert sign.next_level == 50 and sign.next_check_at == local(2026, 11, 30, 11, 0)
    assert sign.amber_at == local(2026, 11, 30, 12, 0)  # 180 of 240 minutes: the end of the morning
    # after the 50 % checkpoint fired, the next is 75 %
    clocks = compute(_facts(parts=[part]), TARGETS, CAL, local(2026, 11, 30, 11, 5), fired={sign.key: 50})
    assert _clock(clocks, "sign_for", 1).next_level == 75
    signed = PartFacts(1, 7, "lead", "accepted", assigned, accepted_at=local(2026, 11, 30, 12, 0))
    assert _clock(compute(_facts(parts=[signed]), TARGETS, CAL, local(2026, 12, 1)), "sign_for", 1).state == "met"
    late = PartFacts(1, 7, "lead", "accepted", assigned, accepted_at=local(2026, 11, 30, 15, 0))
    result = _clock(compute(_facts(parts=[late]), TARGETS, CAL, local(2026, 12, 1)), "sign_for", 1)
    assert result.state == "missed" and result.next_check_at is None


def test_pause_pushes_the_due_time_back_by_the_business_time_paused():
    events = [
        EventFacts(local(2026, 11, 30, 10, 0), "clock.paused", {"kind": "waiting_citizen"}),
        EventFacts(local(2026, 12, 1, 10, 0), "clock.resumed", {}),
    ]
    plain = _clock(compute(_facts(), TARGETS, CAL, local(2026, 12, 2)), "resolve")
    paused = _clock(compute(_facts(events), TARGETS, CAL, local(2026, 12, 2)), "resolve")
    assert CAL.minutes_between(plain.due_at, paused.due_at) == 450  # one working day paused
    assert paused.paused_minutes == 450


def test_pause_is_capped_and_resumes_by_itself():
    events = [EventFacts(local(2026, 11, 30, 10, 0), "clock.paused", {"kind": "waiting_citizen"})]
    far = local(2026, 12, 20)
    uncapped = _clock(compute(_facts(events), TARGETS, CAL, far), "resolve")
    assert uncapped.state == "paused" and uncapped.paused_minutes == CAL.minutes_between(local(2026, 11, 30, 10), far)
    capped = _clock(compute(_facts(events), TARGETS, CAL, far, caps=CAPS), "resolve")
    assert capped.paused_minutes == 2 * 450 and capped.state == "running"
    assert resume_at(_facts(events), CAL, CAPS, local(2026, 12, 1)) == local(2026, 12, 2, 10, 0)


def test_a_pause_after_the_due_time_does_not_undo_lateness():
    created = local(2026, 11, 30, 9, 0)
    due = CAL.add(created, TARGETS["resolve"])
    events = [EventFacts(due + timedelta(hours=1), "clock.paused", {"kind": "waiting_citizen"})]
    clock = _clock(
        compute(_facts(events, created=created), TARGETS, CAL, due + timedelta(days=2), caps=CAPS), "resolve"
    )
    assert clock.due_at == due


def test_disputes_and_transfers_do_not_stop_the_clock():
    events = [EventFacts(local(2026, 11, 30, 10, 0), "part.return_requested", {"part_id": 1})]
    part = PartFacts(1, 7, "lead", "return_requested", local(2026, 11, 30, 9, 0))
    clocks = compute(_facts(events, [part]), TARGETS, CAL, local(2026, 12, 3))
    assert _clock(clocks, "sign_for", 1).state == "running"
    assert _clock(clocks, "resolve").state == "running"


def test_reopening_starts_a_new_resolve_cycle_and_interim_deadline_replaces_due():
    events = [
        EventFacts(local(2026, 11, 30, 11, 0), "reply", {}),
        EventFacts(local(2026, 12, 1, 11, 0), "status.resolved", {}),
        EventFacts(local(2026, 12, 2, 11, 0), "status.reopened", {}),
        EventFacts(
            local(2026, 12, 2, 12, 0), "deadline.interim", {"key": "1:-:resolve:2", "due": "2026-12-03T10:00:00+08:00"}
        ),
    ]
    clocks = compute(_facts(events), TARGETS, CAL, local(2026, 12, 2, 13, 0))
    assert _clock(clocks, "first_contact").state == "met"
    assert _clock(clocks, "resolve", cycle=1).state == "met"
    second = _clock(clocks, "resolve", cycle=2)
    assert second.state == "running" and second.effective_due == local(2026, 12, 3, 10, 0)


def test_contribution_is_due_before_the_lead_and_withdrawal_cancels():
    co = PartFacts(2, 8, "co", "accepted", local(2026, 11, 30, 9, 0))
    long_targets = {**TARGETS, "contribution": 10 * 450}
    contribution = _clock(compute(_facts(parts=[co]), long_targets, CAL, local(2026, 11, 30, 10)), "contribution", 2)
    resolve = _clock(compute(_facts(parts=[co]), long_targets, CAL, local(2026, 11, 30, 10)), "resolve")
    assert contribution.due_at == resolve.due_at
    withdrawn = [EventFacts(local(2026, 11, 30, 11, 0), "status.withdrawn", {})]
    for clock in compute(_facts(withdrawn, [co]), TARGETS, CAL, local(2026, 12, 1)):
        assert clock.state == "cancelled"


moments = st.integers(min_value=0, max_value=20 * 24 * 60).map(
    lambda m: datetime(2026, 9, 25, tzinfo=UTC) + timedelta(minutes=m)
)


@settings(max_examples=150, deadline=None)
@given(
    created=moments,
    spans=st.lists(st.tuples(moments, st.integers(min_value=1, max_value=5 * 24 * 60)), max_size=3),
    open_last=st.booleans(),
    now=moments,
    later=st.integers(min_value=0, max_value=3 * 24 * 60),
)
def test_pausing_never_moves_a_due_time_earlier(created, spans, open_last, now, later):
    events = []
    for start, length in sorted(spans):
        if events and start <= events[-1].at:
            continue
        events.append(EventFacts(start, "clock.paused", {"kind": "waiting_citizen"}))
        events.append(EventFacts(start + timedelta(minutes=length), "clock.resumed", {}))
    if open_last and events:
        events.pop()
    now = max(now, created, *(e.at for e in events)) if events else max(now, created)
    plain = _clock(compute(_facts(created=created), TARGETS, CAL, now, caps=CAPS), "resolve")
    paused = _clock(compute(_facts(events, created=created), TARGETS, CAL, now, caps=CAPS), "resolve")
    assert paused.due_at >= plain.due_at
    # and as time passes (during a running pause, too) the due time never moves earlier
    after = _clock(
        compute(_facts(events, created=created), TARGETS, CAL, now + timedelta(minutes=later), caps=CAPS), "resolve"
    )
    assert after.due_at >= paused.due_at


def _minutes_day_by_day(calendar: BusinessCalendar, start: datetime, end: datetime) -> float:
    """minutes_between as first written: every day's intervals, clipped to [start, end)."""
    total, day = 0.0, calendar.local_date(start)
    while end > start and day <= calendar.local_date(end):
        for a, b in calendar.intervals(day):
            lo, hi = max(a, start), min(b, end)
            total += max(0.0, (hi - lo).total_seconds() / 60)
        day += timedelta(days=1)
    return total


# One calendar per zone for every example: the running totals it keeps grow and start again earlier as
# the examples ask, as the cached calendar of a server process does.
LONG_SPAN_CALENDARS = {
    zone: BusinessCalendar(
        timezone=zone,
        hours=((datetime.min.time().replace(hour=1), datetime.min.time().replace(hour=4)),) + CAL.hours,
        holidays=CAL.holidays,
        # Berlin's clocks change on Sundays: made working days here, their 01:00-04:00 is 2 or 4 hours long.
        workdays=CAL.workdays | {date(2026, 3, 29), date(2026, 10, 25), date(2027, 3, 28)},
    )
    for zone in ("Asia/Shanghai", "Europe/Berlin")
}


@settings(max_examples=300, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2028, 6, 1), timezones=st.just(UTC)),
    minutes=st.integers(min_value=-600, max_value=400 * 24 * 60),
    zone=st.sampled_from(sorted(LONG_SPAN_CALENDARS)),
)
def test_business_minutes_over_long_spans_match_the_day_by_day_count(start, minutes, zone):
    """Whole days between the two ends are counted from running totals (the escalation queue measures
    tickets late by months); the result is the day-by-day count's."""
    calendar = LONG_SPAN_CALENDARS[zone]
    end = start + timedelta(minutes=minutes)
    assert abs(calendar.minutes_between(start, end) - _minutes_day_by_day(calendar, start, end)) < 1e-6


def test_a_pause_ended_at_its_cap_has_used_the_cap():
    """A pause cut at its cap may measure a hair under it (floats, microseconds): the cap is still used
    up. This start gave 1019.9999999999999 minutes for a cap of 1020 when every day was summed interval
    by interval."""
    calendar = BusinessCalendar()
    start = datetime(2026, 11, 30, 3, 1, 1, 57538, tzinfo=UTC)
    used = calendar.minutes_between(start, calendar.add(start, 1020))
    assert abs(used - 1020) < 1e-9
    assert cap_used_up(used, 1020) and cap_used_up(1019.9999999999999, 1020)
    assert not cap_used_up(1018, 1020)
