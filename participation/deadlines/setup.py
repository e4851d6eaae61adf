"""Administration of the business calendar (versioned) and the SLA policies, and the targets clocks use.

Every calendar edit copies the latest version into a new one, so a clock computed under an old
version can always be explained. Policy targets are entered in business hours and stored in minutes.
"""

from __future__ import annotations

import copy
import math
import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from participation.catalog.models import Category
from participation.core.audit import audit
from participation.core.errors import Conflict, NotFound, ValidationFailed
from participation.core.permissions import authorize, is_authenticated
from participation.deadlines.holidays import china_exceptions, official_years
from participation.deadlines.models import CalendarDay, CalendarVersion, DayKind, SlaPolicy
from participation.extensions import db

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_WEEKDAYS = (0, 1, 2, 3, 4)
DEFAULT_HOURS = (("09:00", "12:00"), ("13:30", "18:00"))
DEFAULT_NOTE = ""  # the history says "First version."; a note is what an admin types
FIRST_YEAR, LAST_YEAR = 2000, 2100
NAME_MAX, NOTE_MAX, MAX_INTERVALS = 100, 1000, 6

PRIORITIES = ("normal", "urgent")
TARGETS = ("sign_for", "first_contact", "resolve", "contribution")
MAX_TARGET_HOURS = 2000  # about a year of working hours; more is a typing error
FALLBACK_RESOLVE_DAYS = 15  # the catalog's default, for a city-wide target without a category

_HHMM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


# --- reading the calendar -------------------------------------------------------------------------


def current_calendar_version() -> CalendarVersion | None:
    """The latest calendar version (the one deadlines use), or None before any exists."""
    return db.session.scalar(select(CalendarVersion).order_by(CalendarVersion.number.desc()).limit(1))


def calendar_version(number: int) -> CalendarVersion:
    """One version by its number; 404 when there is none."""
    version = db.session.scalar(select(CalendarVersion).where(CalendarVersion.number == number))
    if version is None:
        raise NotFound()
    return version


def calendar_history(limit: int = 30) -> list[tuple[CalendarVersion, str | None]]:
    """The newest versions with the name of the person who saved each (None: the platform)."""
    from participation.accounts.models import User

    rows = db.session.execute(
        select(CalendarVersion, User.display_name)
        .outerjoin(User, User.id == CalendarVersion.created_by_id)
        .options(selectinload(CalendarVersion.days))
        .order_by(CalendarVersion.number.desc())
        .limit(limit)
    )
    return [(version, name) for version, name in rows]


def minutes_per_day(version: CalendarVersion | None = None) -> int:
    """Working minutes in one ordinary working day of the version (or of the default hours)."""
    hours = version.hours if version is not None else DEFAULT_HOURS
    return sum(_minutes(end) - _minutes(start) for start, end in hours)


def local_today(version: CalendarVersion | None = None) -> date:
    """Today in the calendar's time zone."""
    return datetime.now(ZoneInfo(version.timezone if version else DEFAULT_TIMEZONE)).date()


def calendar_warnings(version: CalendarVersion | None, today: date | None = None) -> list[str]:
    """What the admin should fix: a year without holidays, or one with the statutory holidays only."""
    if version is None:
        return [_("There is no business calendar yet; the default one is created when it is first needed.")]
    today = today or local_today(version)
    warnings = []
    for year in (today.year, today.year + 1):
        days = [d for d in version.days if d.day.year == year]
        if not days:
            warnings.append(
                _(
                    "No public holidays are set for %(year)s: deadlines would count them as working days. "
                    "Load the holiday schedule for %(year)s.",
                    year=year,
                )
            )
        elif any(d.provisional for d in days):
            message = _(
                "The official holiday schedule for %(year)s is not loaded; statutory holidays only, "
                "no make-up working days.",
                year=year,
            )
            if year in official_years():
                message += " " + _("It is available now: load the official schedule for %(year)s.", year=year)
            warnings.append(message)
    return warnings


def describe_change(previous: CalendarVersion | None, version: CalendarVersion) -> list[str]:
    """What a version changed compared with the one before, in words for the history."""
    if previous is None:
        return [_("First version.")]
    out = []
    if list(previous.weekdays) != list(version.weekdays):
        out.append(_("Working weekdays changed."))
    if [list(h) for h in previous.hours] != [list(h) for h in version.hours]:
        out.append(_("Working hours changed."))
    if previous.timezone != version.timezone:
        out.append(_("Time zone changed to %(zone)s.", zone=version.timezone))
    before = {d.day: (d.kind, d.name_zh, d.name_en, d.provisional) for d in previous.days}
    after = {d.day: (d.kind, d.name_zh, d.name_en, d.provisional) for d in version.days}
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(day for day in set(after) & set(before) if after[day] != before[day])
    if added:
        out.append(_("Exceptions added: %(days)s.", days=_day_list(added)))
    if removed:
        out.append(_("Exceptions removed: %(days)s.", days=_day_list(removed)))
    if changed:
        out.append(_("Exceptions changed: %(days)s.", days=_day_list(changed)))
    return out


def _day_list(days: list[date], most: int = 5) -> str:
    shown = ", ".join(d.isoformat() for d in days[:most])
    return shown + (f" (+{len(days) - most})" if len(days) > most else "")


# --- editing the calendar -------------------------------------------------------------------------


def _actor_id(actor: Any) -> int | None:
    return getattr(actor, "id", None) if is_authenticated(actor) else None


def _day_row(entry: dict) -> CalendarDay:
    return CalendarDay(
        day=entry["day"],
        kind=DayKind(entry["kind"]),
        name_zh=entry["name_zh"],
        name_en=entry["name_en"],
        provisional=entry["provisional"],
    )


def _store(version: CalendarVersion) -> None:
    """Insert a new version; a concurrent edit that took the same number is a conflict."""
    try:
        with db.session.begin_nested():
            db.session.add(version)
    except IntegrityError:
        raise Conflict(_("Someone else changed the calendar at the same moment. Reload and try again.")) from None


def ensure_default_calendar(actor: Any = None, today: date | None = None) -> CalendarVersion:
    """The latest calendar, creating version 1 (Monday to Friday, China's holidays this year and next) if none."""
    existing = current_calendar_version()
    if existing is not None:
        return existing
    today = today or local_today()
    version = CalendarVersion(
        number=1,
        timezone=DEFAULT_TIMEZONE,
        weekdays=list(DEFAULT_WEEKDAYS),
        hours=[list(pair) for pair in DEFAULT_HOURS],
        note=DEFAULT_NOTE,
        created_by_id=_actor_id(actor),
    )
    version.days = [_day_row(e) for e in china_exceptions([today.year, today.year + 1])]
    try:
        with db.session.begin_nested():
            db.session.add(version)
    except IntegrityError:  # another process created it first
        created = current_calendar_version()
        if created is None:
            raise
        return created
    audit(actor, "deadlines.calendar.created", version, number=1, years=[today.year, today.year + 1])
    return version


def _next_version(actor: Any, note: str, base: int | None) -> CalendarVersion:
    """A copy of the latest version under the next number, not yet added to the session."""
    latest = ensure_default_calendar(actor)
    if base is not None and base != latest.number:
        raise Conflict(
            _(
                "The calendar changed since you opened it (now version %(number)s). Reload and try again.",
                number=latest.number,
            )
        )
    version = CalendarVersion(
        number=latest.number + 1,
        timezone=latest.timezone,
        weekdays=list(latest.weekdays),
        hours=[list(pair) for pair in latest.hours],
        note=note,
        created_by_id=_actor_id(actor),
    )
    version.days = [
        CalendarDay(day=d.day, kind=d.kind, name_zh=d.name_zh, name_en=d.name_en, provisional=d.provisional)
        for d in latest.days
    ]
    return version


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


def _check_note(note: Any, errors: dict[str, list[str]]) -> str:
    if note is None:
        return ""
    if not isinstance(note, str):
        errors.setdefault("note", []).append(_("Wrong type of value."))
        return ""
    note = note.strip()
    if len(note) > NOTE_MAX:
        errors.setdefault("note", []).append(_("At most %(n)s characters.", n=NOTE_MAX))
    return note


def _check_weekdays(weekdays: Any, errors: dict[str, list[str]]) -> list[int]:
    if not isinstance(weekdays, list | tuple | set) or not all(
        isinstance(w, int) and not isinstance(w, bool) and 0 <= w <= 6 for w in weekdays
    ):
        errors["weekdays"] = [_("Give weekdays as numbers from 0 (Monday) to 6 (Sunday).")]
        return []
    if not weekdays:
        errors["weekdays"] = [_("Choose at least one working weekday.")]
    return sorted(set(weekdays))


def _check_hours(hours: Any, errors: dict[str, list[str]]) -> list[list[str]]:
    """Working intervals "HH:MM"-"HH:MM", each ending after it starts, none overlapping; sorted."""
    if not isinstance(hours, list | tuple):
        errors["hours"] = [_("Give the working hours as a list of start and end times.")]
        return []
    if not hours:
        errors["hours"] = [_("Give at least one interval of working hours.")]
        return []
    if len(hours) > MAX_INTERVALS:
        errors["hours"] = [_("At most %(n)s intervals.", n=MAX_INTERVALS)]
        return []
    pairs: list[tuple[int, list[str]]] = []
    for index, pair in enumerate(hours):
        place = f"hours[{index}]"
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or not all(isinstance(t, str) and _HHMM.fullmatch(t) for t in pair)
        ):
            errors.setdefault(place, []).append(_("Give a start and an end as HH:MM (00:00 to 23:59)."))
            continue
        start, end = pair
        if _minutes(end) <= _minutes(start):
            errors.setdefault(place, []).append(_("The end must be after the start."))
            continue
        pairs.append((index, [start, end]))
    pairs.sort(key=lambda item: item[1][0])
    for (_i, before), (index, after) in zip(pairs, pairs[1:], strict=False):
        if _minutes(after[0]) < _minutes(before[1]):
            errors.setdefault(f"hours[{index}]", []).append(
                _("Overlaps %(start)s-%(end)s.", start=before[0], end=before[1])
            )
    return [pair for _i, pair in pairs]


def _check_timezone(name: Any, errors: dict[str, list[str]]) -> str:
    if not isinstance(name, str) or name not in available_timezones():
        errors["timezone"] = [_("Unknown time zone.")]
        return ""
    return name


def parse_day(value: Any, place: str = "day") -> date:
    """A real calendar date from a date or an ISO "YYYY-MM-DD" text; a field error otherwise."""
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    elif isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise ValidationFailed(fields={place: [_("%(value)s is not a real date.", value=value.strip())]}) from None
    else:
        raise ValidationFailed(fields={place: [_("Give a date as YYYY-MM-DD.")]})
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValidationFailed(fields={place: [_("Give a date from %(a)s to %(b)s.", a=FIRST_YEAR, b=LAST_YEAR)]})
    return day


def save_calendar(
    actor: Any,
    *,
    weekdays: Any,
    hours: Any,
    note: Any = "",
    timezone: Any = None,
    base: int | None = None,
) -> CalendarVersion:
    """Save new working weekdays and hours (and time zone) as a new version; exceptions carry over."""
    authorize(actor, "deadlines.calendar.edit")
    errors: dict[str, list[str]] = {}
    days = _check_weekdays(weekdays, errors)
    intervals = _check_hours(hours, errors)
    zone = _check_timezone(timezone, errors) if timezone is not None else None
    text = _check_note(note, errors)
    if errors:
        raise ValidationFailed(_("The calendar was not saved."), fields=errors)
    version = _next_version(actor, text, base)
    version.weekdays, version.hours = days, intervals
    if zone:
        version.timezone = zone
    _store(version)
    audit(actor, "deadlines.calendar.saved", version, number=version.number, weekdays=days, hours=intervals)
    return version


def _check_name(value: Any, place: str, errors: dict[str, list[str]]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.setdefault(place, []).append(_("Wrong type of value."))
        return ""
    value = value.strip()
    if len(value) > NAME_MAX:
        errors.setdefault(place, []).append(_("At most %(n)s characters.", n=NAME_MAX))
    return value


def add_exception(
    actor: Any,
    day: Any,
    kind: Any,
    name_zh: Any,
    name_en: Any,
    *,
    note: Any = "",
    base: int | None = None,
) -> CalendarVersion:
    """Add (or replace) a public holiday or make-up working day, as a new version."""
    authorize(actor, "deadlines.calendar.edit")
    errors: dict[str, list[str]] = {}
    try:
        when = parse_day(day)
    except ValidationFailed as error:
        errors.update(error.fields)
        when = None
    if not isinstance(kind, str) or kind not in {k.value for k in DayKind}:
        errors["kind"] = [_("Choose a public holiday or a make-up working day.")]
    zh = _check_name(name_zh, "name.zh", errors)
    en = _check_name(name_en, "name.en", errors)
    if not zh and not en and "name.zh" not in errors and "name.en" not in errors:
        errors["name.zh"] = [_("Give a name in Chinese or in English.")]
    text = _check_note(note, errors)
    if errors:
        raise ValidationFailed(_("The exception was not added."), fields=errors)
    assert when is not None
    version = _next_version(actor, text, base)
    working = when.weekday() in version.weekdays
    if kind == DayKind.HOLIDAY and not working:
        raise ValidationFailed(
            _("The exception was not added."),
            fields={"day": [_("%(day)s is already a day off every week; a holiday there changes nothing.", day=when)]},
        )
    if kind == DayKind.WORKDAY and working:
        raise ValidationFailed(
            _("The exception was not added."),
            fields={"day": [_("%(day)s is already a working day every week.", day=when)]},
        )
    version.days = [d for d in version.days if d.day != when] + [
        CalendarDay(day=when, kind=DayKind(kind), name_zh=zh, name_en=en, provisional=False)
    ]
    _store(version)
    audit(actor, "deadlines.calendar.exception_added", version, number=version.number, day=when.isoformat(), kind=kind)
    return version


def remove_exception(actor: Any, day: Any, *, note: Any = "", base: int | None = None) -> CalendarVersion:
    """Remove the exception on a day, as a new version."""
    authorize(actor, "deadlines.calendar.edit")
    errors: dict[str, list[str]] = {}
    when = parse_day(day)
    text = _check_note(note, errors)
    if errors:
        raise ValidationFailed(fields=errors)
    version = _next_version(actor, text, base)
    kept = [d for d in version.days if d.day != when]
    if len(kept) == len(version.days):
        raise ValidationFailed(fields={"day": [_("There is no exception on %(day)s.", day=when)]})
    version.days = kept
    _store(version)
    audit(actor, "deadlines.calendar.exception_removed", version, number=version.number, day=when.isoformat())
    return version


def load_official_year(actor: Any, year: Any, *, note: Any = "", base: int | None = None) -> CalendarVersion:
    """Replace a year's exceptions with China's schedule (official when published, else provisional)."""
    authorize(actor, "deadlines.calendar.edit")
    if isinstance(year, str) and year.strip().isascii() and year.strip().isdigit():
        year = int(year.strip())
    if not isinstance(year, int) or isinstance(year, bool) or not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValidationFailed(fields={"year": [_("Give a year from %(a)s to %(b)s.", a=FIRST_YEAR, b=LAST_YEAR)]})
    errors: dict[str, list[str]] = {}
    text = _check_note(note, errors)
    if errors:
        raise ValidationFailed(fields=errors)
    version = _next_version(actor, text, base)
    entries = china_exceptions([year])
    version.days = [d for d in version.days if d.day.year != year] + [_day_row(e) for e in entries]
    _store(version)
    audit(
        actor,
        "deadlines.calendar.year_loaded",
        version,
        number=version.number,
        year=year,
        official=year in official_years(),
        days=len(entries),
    )
    return version


# --- SLA policies ---------------------------------------------------------------------------------


def policy_defaults() -> dict[str, dict[str, int | None]]:
    """The targets (minutes) used when neither the category nor the city has a policy row.

    From the SLA_DEFAULTS setting. A None resolve target means the category's resolve_days times the
    working minutes of one day of the current calendar; for normal priority, first contact is the
    category's respond_hours.
    """
    return copy.deepcopy(current_app.config["SLA_DEFAULTS"])


def list_policies() -> list[SlaPolicy]:
    """All policy rows: city-wide first, then by category code; normal before urgent."""
    rows = db.session.scalars(select(SlaPolicy).options(selectinload(SlaPolicy.category)))
    return sorted(
        rows,
        key=lambda p: (
            p.category is not None,
            p.category.code if p.category is not None else "",
            PRIORITIES.index(p.priority) if p.priority in PRIORITIES else len(PRIORITIES),
        ),
    )


def policy_minutes(policy: SlaPolicy) -> dict[str, int]:
    return {name: getattr(policy, f"{name}_minutes") for name in TARGETS}


def _hours_to_minutes(value: Any, place: str, errors: dict[str, list[str]]) -> int:
    """A positive number of hours (a number, or text such as "0.5") as whole minutes."""
    if value is None or (isinstance(value, str) and not value.strip()):
        errors[place] = [_("This field is required.")]
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        errors[place] = [_("Give a number of hours.")]
        return 0
    if isinstance(value, str):
        text = value.strip().replace(",", ".")
        if not re.fullmatch(r"[-+]?[0-9]{1,7}(\.[0-9]{1,4})?|[-+]?\.[0-9]{1,4}", text):
            errors[place] = [_("Give a number of hours.")]
            return 0
        value = float(text)
    if not math.isfinite(value):
        errors[place] = [_("Give a number of hours.")]
        return 0
    if value <= 0:
        errors[place] = [_("The target must be more than zero hours.")]
        return 0
    if value > MAX_TARGET_HOURS:
        errors[place] = [_("At most %(n)s hours.", n=MAX_TARGET_HOURS)]
        return 0
    minutes = round(value * 60)
    if minutes < 1:
        errors[place] = [_("The target must be at least one minute.")]
    return minutes


def save_policy(actor: Any, category_code: str | None, priority: Any, targets: Any) -> SlaPolicy:
    """Create or update the policy of a category (None: the whole city) and priority; targets in hours."""
    authorize(actor, "deadlines.policy.edit")
    errors: dict[str, list[str]] = {}
    if priority not in PRIORITIES:
        errors["priority"] = [_("Choose normal or urgent.")]
    category = None
    if category_code not in (None, ""):
        if isinstance(category_code, str):
            category = db.session.scalar(select(Category).where(Category.code == category_code.strip()))
        if category is None:
            errors["category"] = [_("Unknown category %(code)s.", code=str(category_code)[:60])]
    minutes: dict[str, int] = {}
    if not isinstance(targets, dict):
        errors["targets"] = [_("Give the four targets in hours.")]
    else:
        for key in sorted(set(targets) - set(TARGETS)):
            errors[f"targets.{str(key)[:40]}"] = [_("Unknown field.")]
        for name in TARGETS:
            minutes[name] = _hours_to_minutes(targets.get(name), f"targets.{name}", errors)
    if errors:
        raise ValidationFailed(_("The policy was not saved."), fields=errors)

    stmt = select(SlaPolicy).where(SlaPolicy.priority == priority)
    stmt = stmt.where(SlaPolicy.category_id == category.id if category else SlaPolicy.category_id.is_(None))
    policy = db.session.scalar(stmt)
    created = policy is None
    if policy is None:
        policy = SlaPolicy(category=category, priority=priority)
        db.session.add(policy)
    for name, value in minutes.items():
        setattr(policy, f"{name}_minutes", value)
    policy.updated_by_id = _actor_id(actor)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise Conflict(_("Someone else saved this policy at the same moment. Reload and try again.")) from None
    audit(
        actor,
        "deadlines.policy.saved",
        policy,
        category=category.code if category else None,
        priority=priority,
        created=created,
        minutes=minutes,
    )
    return policy


def delete_policy(actor: Any, policy_id: int) -> None:
    """Delete a policy row; its category falls back to the city-wide policy, then the defaults."""
    authorize(actor, "deadlines.policy.edit")
    policy = db.session.get(SlaPolicy, policy_id)
    if policy is None:
        raise NotFound()
    audit(
        actor,
        "deadlines.policy.deleted",
        policy,
        category=policy.category.code if policy.category else None,
        priority=policy.priority,
        minutes=policy_minutes(policy),
    )
    db.session.delete(policy)
    db.session.flush()


def targets_for(category: Category | None, priority: str, day_minutes: int | None = None) -> dict[str, int]:
    """The four targets in business minutes: the category's policy, else the city's, else the defaults
    (`day_minutes`: the current calendar's working minutes a day, read from it when not given)."""
    if priority not in PRIORITIES:
        raise ValueError(f"unknown priority {priority!r}")
    rows = db.session.scalars(
        select(SlaPolicy).where(
            SlaPolicy.priority == priority,
            SlaPolicy.category_id.is_(None)
            if category is None
            else (SlaPolicy.category_id == category.id) | SlaPolicy.category_id.is_(None),
        )
    ).all()
    rows.sort(key=lambda p: p.category_id is None)  # the category's own row first
    if rows:
        return policy_minutes(rows[0])
    targets = dict(policy_defaults()[priority])
    if priority == "normal" and category is not None:
        targets["first_contact"] = category.respond_hours * 60
    if targets.get("resolve") is None:
        days = category.resolve_days if category is not None else FALLBACK_RESOLVE_DAYS
        if day_minutes is None:
            day_minutes = minutes_per_day(current_calendar_version())
        targets["resolve"] = days * day_minutes
    return {name: int(targets[name]) for name in TARGETS}
