"""Business time: working hours, weekends, public holidays and make-up working days.

Pure arithmetic over a calendar value; nothing here reads the database or the clock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_DAYS = 3 * 366  # no target spans more than three years of calendar days


def _parse(hhmm: str) -> time:
    hours, minutes = hhmm.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class BusinessCalendar:
    """Working intervals per day in a city's time zone, with holiday and make-up-day exceptions."""

    timezone: str = "Asia/Shanghai"
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    hours: tuple[tuple[time, time], ...] = ((time(9), time(12)), (time(13, 30), time(18)))
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    version_id: int | None = None
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    # Working minutes of whole days, summed from a first day onwards (see _minutes_before), and its lock.
    _sums: dict = field(init=False, repr=False, compare=False)
    _sums_lock: threading.Lock = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", ZoneInfo(self.timezone))
        object.__setattr__(self, "_sums", {"first": None, "totals": [0.0]})
        object.__setattr__(self, "_sums_lock", threading.Lock())

    @classmethod
    def from_settings(
        cls,
        *,
        timezone: str,
        weekdays: Iterable[int],
        hours: Iterable[Iterable[str]],
        holidays: Iterable[date] = (),
        workdays: Iterable[date] = (),
        version_id: int | None = None,
    ) -> BusinessCalendar:
        return cls(
            timezone=timezone,
            weekdays=frozenset(weekdays),
            hours=tuple((_parse(a), _parse(b)) for a, b in hours),
            holidays=frozenset(holidays),
            workdays=frozenset(workdays),
            version_id=version_id,
        )

    @property
    def minutes_per_day(self) -> int:
        return sum((b.hour * 60 + b.minute) - (a.hour * 60 + a.minute) for a, b in self.hours)

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() in self.weekdays

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self._zone).date()

    def intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's working intervals as UTC datetimes (empty on days off)."""
        if not self.is_working_day(day):
            return []
        return [
            (
                datetime.combine(day, a, self._zone).astimezone(UTC),
                datetime.combine(day, b, self._zone).astimezone(UTC),
            )
            for a, b in self.hours
        ]

    def minutes_between(self, start: datetime, end: datetime) -> float:
        """Business minutes in [start, end); zero when end is not after start."""
        if end <= start:
            return 0.0
        first = self.local_date(start)
        last = self.local_date(end)
        total = 0.0
        for day in {first, last}:  # the two ends, clipped
            for a, b in self.intervals(day):
                lo, hi = max(a, start), min(b, end)
                if hi > lo:
                    total += (hi - lo).total_seconds() / 60
        if (last - first).days > 1:  # the days between lie wholly inside (the escalation queue measures months)
            total += self._whole_days(first + timedelta(days=1), last)
        return total

    def _whole_days(self, begin: date, end: date) -> float:
        """The working minutes of the whole days from `begin` up to `end` (not included), from running
        totals kept from a first day on: two look-ups, whatever the span. Whole days have whole minutes
        (hours are HH:MM), so the totals and their differences are exact."""
        with self._sums_lock:
            sums = self._sums
            if sums["first"] is None or begin < sums["first"]:
                # Start (again) a year before the day asked for, as far as the totals reached.
                reach = sums["first"] + timedelta(days=len(sums["totals"]) - 1) if sums["first"] else end
                sums["first"], sums["totals"] = begin - timedelta(days=366), [0.0]
                self._extend(sums, max(reach, end))
            self._extend(sums, end)
            totals, first = sums["totals"], sums["first"]
            return totals[(end - first).days] - totals[(begin - first).days]

    def _extend(self, sums: dict, day: date) -> None:
        totals = sums["totals"]
        while len(totals) <= (day - sums["first"]).days:
            covered = sums["first"] + timedelta(days=len(totals) - 1)
            totals.append(totals[-1] + sum((b - a).total_seconds() / 60 for a, b in self.intervals(covered)))

    def add(self, start: datetime, minutes: float) -> datetime:
        """The moment `minutes` of business time after start (start itself for zero)."""
        if minutes <= 0:
            return start
        remaining = minutes
        day = self.local_date(start)
        for _i in range(MAX_DAYS):
            for a, b in self.intervals(day):
                lo = max(a, start)
                if b <= lo:
                    continue
                available = (b - lo).total_seconds() / 60
                if available >= remaining:
                    return lo + timedelta(minutes=remaining)
                remaining -= available
            day += timedelta(days=1)
        raise ValueError("the calendar has no working time within three years")


@dataclass(frozen=True)
class AroundTheClock:
    """Urgent items: every minute counts, day and night, holidays included."""

    version_id: int | None = None
    minutes_per_day: int = 24 * 60

    def minutes_between(self, start: datetime, end: datetime) -> float:
        return max(0.0, (end - start).total_seconds() / 60)

    def add(self, start: datetime, minutes: float) -> datetime:
        return start + timedelta(minutes=max(0.0, minutes))
