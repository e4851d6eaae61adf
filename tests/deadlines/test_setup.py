"""Calendar and SLA policy administration: China's schedule, versions, warnings, bad input, permissions."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from participation.catalog.models import Category
from participation.core.audit import AuditLog
from participation.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from participation.core.permissions import SYSTEM
from participation.deadlines import setup
from participation.deadlines.holidays import china_exceptions, official_years
from participation.deadlines.models import CalendarDay, CalendarVersion, SlaPolicy


@pytest.fixture(autouse=True)
def _english(english):
    """These tests read the English wording of messages."""


TODAY = date(2026, 11, 28)  # 2026 is published, 2027 is not (chinesecalendar 1.11)


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def calendar(db):
    """Version 1: the default calendar for 2026 and 2027."""
    version = setup.ensure_default_calendar(SYSTEM, today=TODAY)
    db.session.commit()
    return version


def days_of(version: CalendarVersion) -> dict[date, CalendarDay]:
    return {d.day: d for d in version.days}


# --- China's schedule -----------------------------------------------------------------------------


def test_official_2026_schedule():
    assert 2026 in official_years() and 2027 not in official_years()
    days = {e["day"]: e for e in china_exceptions([2026])}
    assert days[date(2026, 2, 16)]["kind"] == "holiday" and days[date(2026, 2, 16)]["name_zh"] == "春节"
    assert days[date(2026, 2, 14)]["kind"] == "workday"  # a Saturday worked before the Spring Festival
    assert days[date(2026, 10, 1)]["kind"] == "holiday" and days[date(2026, 10, 1)]["name_en"] == "National Day"
    assert not any(e["provisional"] for e in days.values())
    assert all(d.weekday() < 5 for d, e in days.items() if e["kind"] == "holiday")
    assert all(d.weekday() >= 5 for d, e in days.items() if e["kind"] == "workday")
    assert date(2026, 2, 15) not in days  # a Sunday inside the holiday is off anyway


def test_unpublished_year_is_provisional_statutory_holidays_only():
    entries = china_exceptions([2027])
    assert entries and all(e["provisional"] and e["kind"] == "holiday" for e in entries)
    days = {e["day"]: e for e in entries}
    assert date(2027, 10, 1) in days and days[date(2027, 10, 1)]["name_zh"] == "国庆节"
    assert date(2027, 1, 1) in days  # a Friday
    assert all(d.weekday() < 5 for d in days)


# --- versions -------------------------------------------------------------------------------------


def test_default_calendar_is_created_once(db, calendar):
    assert calendar.number == 1 and calendar.weekdays == [0, 1, 2, 3, 4]
    assert calendar.hours == [["09:00", "12:00"], ["13:30", "18:00"]] and calendar.timezone == "Asia/Shanghai"
    days = days_of(calendar)
    assert days[date(2026, 2, 16)].kind == "holiday" and not days[date(2026, 2, 16)].provisional
    assert days[date(2026, 2, 14)].kind == "workday"
    assert days[date(2027, 10, 1)].provisional
    assert setup.ensure_default_calendar(SYSTEM, today=TODAY).id == calendar.id
    assert count(db, CalendarVersion) == 1
    assert setup.minutes_per_day(calendar) == 450


def test_every_edit_is_a_new_version_and_old_ones_stay(db, calendar, make_user):
    admin = make_user("admin")
    v2 = setup.save_calendar(admin, weekdays=[0, 1, 2, 3, 4, 5], hours=[["08:30", "12:00"]], note="Saturday service")
    db.session.commit()
    v3 = setup.add_exception(admin, "2026-12-24", "holiday", "平安夜", "Christmas Eve")
    db.session.commit()
    v4 = setup.remove_exception(admin, date(2026, 2, 16))
    db.session.commit()
    v5 = setup.load_official_year(admin, 2027)
    db.session.commit()
    assert [v.number for v in (v2, v3, v4, v5)] == [2, 3, 4, 5]
    assert setup.current_calendar_version().number == 5

    old = setup.calendar_version(1)
    db.session.refresh(old)
    assert old.weekdays == [0, 1, 2, 3, 4] and old.hours == [["09:00", "12:00"], ["13:30", "18:00"]]
    assert date(2026, 2, 16) in days_of(old) and date(2026, 12, 24) not in days_of(old)

    assert v2.weekdays == [0, 1, 2, 3, 4, 5] and v2.note == "Saturday service" and v2.created_by_id == admin.id
    assert days_of(v2).keys() == days_of(old).keys()  # exceptions carry over
    assert days_of(v3)[date(2026, 12, 24)].name_en == "Christmas Eve" and v3.hours == [["08:30", "12:00"]]
    assert date(2026, 2, 16) not in days_of(v4)
    assert days_of(v5)[date(2027, 10, 1)].provisional  # 2027 is still unpublished: statutory days again

    actions = list(db.session.scalars(select(AuditLog.action).where(AuditLog.action.like("deadlines.calendar.%"))))
    assert actions.count("deadlines.calendar.created") == 1
    assert {"deadlines.calendar.saved", "deadlines.calendar.exception_added"} <= set(actions)
    assert any("Exceptions removed: 2026-02-16" in line for line in setup.describe_change(v3, v4))


def test_adding_an_exception_on_the_same_day_replaces_it(db, calendar, make_user):
    version = setup.add_exception(make_user("admin"), "2027-10-01", "holiday", "国庆节", "National Day")
    day = days_of(version)[date(2027, 10, 1)]
    assert not day.provisional and [d.day for d in version.days].count(date(2027, 10, 1)) == 1


def test_an_edit_based_on_an_old_version_is_a_conflict(db, calendar, make_user):
    admin = make_user("admin")
    setup.add_exception(admin, "2026-12-24", "holiday", "平安夜", "", base=1)
    db.session.commit()
    with pytest.raises(Conflict):
        setup.add_exception(admin, "2026-12-31", "holiday", "跨年", "", base=1)


# --- warnings -------------------------------------------------------------------------------------


def test_warning_when_next_year_is_only_provisional(db, calendar):
    warnings = setup.calendar_warnings(calendar, today=TODAY)
    assert warnings == [
        "The official holiday schedule for 2027 is not loaded; statutory holidays only, no make-up working days."
    ]
    assert setup.calendar_warnings(calendar, today=date(2026, 3, 1)) == warnings


def test_warning_when_next_year_is_missing(db, calendar):
    warnings = setup.calendar_warnings(calendar, today=date(2027, 6, 1))  # 2028 has nothing at all
    assert any("2028" in w and "No public holidays" in w for w in warnings)
    assert any("2027" in w and "not loaded" in w for w in warnings)


def test_no_warning_when_both_years_are_official(db, make_user):
    version = setup.ensure_default_calendar(SYSTEM, today=date(2025, 6, 1))
    assert setup.calendar_warnings(version, today=date(2025, 6, 1)) == []


def test_an_official_schedule_that_became_available_is_pointed_out(db, make_user):
    version = setup.ensure_default_calendar(SYSTEM, today=date(2025, 6, 1))
    version = setup.load_official_year(make_user("admin"), 2026)
    for day in version.days:
        if day.day.year == 2026:
            day.provisional = True  # as if loaded before the State Council published 2026
    (warning,) = setup.calendar_warnings(version, today=date(2025, 6, 1))
    assert "2026" in warning and "available now" in warning


# --- bad calendar input: field errors, nothing stored ---------------------------------------------


@pytest.mark.parametrize(
    "day, kind, name_zh, name_en, field",
    [
        ("2026-02-30", "holiday", "假", "x", "day"),
        ("2026-13-01", "holiday", "假", "x", "day"),
        ("30.02.2026", "holiday", "假", "x", "day"),
        ("20260216", "holiday", "假", "x", "day"),
        ("", "holiday", "假", "x", "day"),
        (None, "holiday", "假", "x", "day"),
        ("1899-01-02", "holiday", "假", "x", "day"),
        ("2026-12-24", "vacation", "假", "x", "kind"),
        ("2026-12-24", ["holiday"], "假", "x", "kind"),
        ("2026-12-24", "holiday", "假" * 101, "x", "name.zh"),
        ("2026-12-24", "holiday", "", "", "name.zh"),
        ("2026-12-26", "holiday", "周六", "Saturday", "day"),  # already a day off
        ("2026-12-24", "workday", "周四", "Thursday", "day"),  # already a working day
    ],
)
def test_bad_exception_is_refused_whole(db, calendar, make_user, day, kind, name_zh, name_en, field):
    admin = make_user("admin")
    with pytest.raises(ValidationFailed) as caught:
        setup.add_exception(admin, day, kind, name_zh, name_en)
    assert field in caught.value.fields
    db.session.rollback()
    assert count(db, CalendarVersion) == 1


def test_invalid_date_message_names_the_date(db, calendar, make_user):
    with pytest.raises(ValidationFailed) as caught:
        setup.add_exception(make_user("admin"), "2026-02-30", "holiday", "假", "")
    assert caught.value.fields["day"] == ["2026-02-30 is not a real date."]


@pytest.mark.parametrize(
    "weekdays, hours, timezone, field",
    [
        ([], [["09:00", "12:00"]], None, "weekdays"),
        ([7], [["09:00", "12:00"]], None, "weekdays"),
        ("0,1", [["09:00", "12:00"]], None, "weekdays"),
        ([0], [], None, "hours"),
        ([0], "09:00-12:00", None, "hours"),
        ([0], [["9:00", "12:00"]], None, "hours[0]"),
        ([0], [["09:00", "24:00"]], None, "hours[0]"),
        ([0], [["12:00", "09:00"]], None, "hours[0]"),
        ([0], [["09:00", "09:00"]], None, "hours[0]"),
        ([0], [["09:00", "12:00"], ["11:00", "14:00"]], None, "hours[1]"),
        ([0], [["13:00", "18:00"], ["09:00", "13:30"]], None, "hours[0]"),
        ([0], [["09:00", "12:00", "13:00"]], None, "hours[0]"),
        ([0], [["09:00", "12:00"]], "Mars/Olympus", "timezone"),
        ([0], [["09:00", "12:00"]], "../../etc/passwd", "timezone"),
    ],
)
def test_bad_hours_are_refused_whole(db, calendar, make_user, weekdays, hours, timezone, field):
    with pytest.raises(ValidationFailed) as caught:
        setup.save_calendar(make_user("admin"), weekdays=weekdays, hours=hours, timezone=timezone)
    assert field in caught.value.fields
    db.session.rollback()
    assert count(db, CalendarVersion) == 1


def test_touching_intervals_and_unsorted_input_are_fine(db, calendar, make_user):
    version = setup.save_calendar(
        make_user("admin"),
        weekdays=[4, 0, 0],
        hours=[["13:00", "17:00"], ["08:00", "13:00"]],
        timezone="Asia/Hong_Kong",
    )
    assert version.weekdays == [0, 4] and version.hours == [["08:00", "13:00"], ["13:00", "17:00"]]
    assert version.timezone == "Asia/Hong_Kong"


def test_removing_a_day_without_an_exception_and_loading_a_bad_year(db, calendar, make_user):
    admin = make_user("admin")
    with pytest.raises(ValidationFailed) as caught:
        setup.remove_exception(admin, "2026-03-03")
    assert "day" in caught.value.fields
    for year in ("two thousand", 1999, 2101, True, "２０２６"):
        with pytest.raises(ValidationFailed) as caught:
            setup.load_official_year(admin, year)
        assert "year" in caught.value.fields
    db.session.rollback()
    assert count(db, CalendarVersion) == 1


# --- SLA policies ---------------------------------------------------------------------------------

TARGETS = {"sign_for": 2, "first_contact": 8, "resolve": 37.5, "contribution": 15}


def test_save_policy_stores_minutes_and_upserts(db, catalog, make_user):
    admin = make_user("admin")
    policy = setup.save_policy(admin, "NOISE", "normal", TARGETS)
    db.session.commit()
    assert (policy.sign_for_minutes, policy.first_contact_minutes, policy.resolve_minutes) == (120, 480, 2250)
    assert policy.contribution_minutes == 900 and policy.updated_by_id == admin.id
    again = setup.save_policy(admin, "NOISE", "normal", {**TARGETS, "sign_for": "0.5"})
    db.session.commit()
    assert again.id == policy.id and again.sign_for_minutes == 30
    city = setup.save_policy(admin, None, "normal", TARGETS)
    city_again = setup.save_policy(admin, "", "normal", TARGETS)
    db.session.commit()
    assert city.id == city_again.id and city.category_id is None
    assert count(db, SlaPolicy) == 2
    assert [(p.category.code if p.category else None, p.priority) for p in setup.list_policies()] == [
        (None, "normal"),
        ("NOISE", "normal"),
    ]
    setup.delete_policy(admin, policy.id)
    db.session.commit()
    assert count(db, SlaPolicy) == 1
    with pytest.raises(NotFound):
        setup.delete_policy(admin, policy.id)
    audited = set(db.session.scalars(select(AuditLog.action).where(AuditLog.action.like("deadlines.policy.%"))))
    assert audited == {"deadlines.policy.saved", "deadlines.policy.deleted"}


@pytest.mark.parametrize(
    "category, priority, targets, field",
    [
        ("NOISE", "normal", {**TARGETS, "sign_for": 0}, "targets.sign_for"),
        ("NOISE", "normal", {**TARGETS, "resolve": -5}, "targets.resolve"),
        ("NOISE", "normal", {**TARGETS, "first_contact": "-1"}, "targets.first_contact"),
        ("NOISE", "normal", {**TARGETS, "contribution": "0"}, "targets.contribution"),
        ("NOISE", "normal", {**TARGETS, "contribution": "0.001"}, "targets.contribution"),
        ("NOISE", "normal", {**TARGETS, "contribution": "soon"}, "targets.contribution"),
        ("NOISE", "normal", {**TARGETS, "contribution": float("nan")}, "targets.contribution"),
        ("NOISE", "normal", {**TARGETS, "contribution": float("inf")}, "targets.contribution"),
        ("NOISE", "normal", {**TARGETS, "contribution": True}, "targets.contribution"),
        ("NOISE", "normal", {**TARGETS, "resolve": 100000}, "targets.resolve"),
        ("NOISE", "normal", {k: v for k, v in TARGETS.items() if k != "resolve"}, "targets.resolve"),
        ("NOISE", "normal", {**TARGETS, "lunch": 1}, "targets.lunch"),
        ("NOISE", "normal", [1, 2, 3, 4], "targets"),
        ("NOISE", "high", TARGETS, "priority"),
        ("NO-SUCH", "normal", TARGETS, "category"),
        (42, "normal", TARGETS, "category"),
    ],
)
def test_bad_policy_is_refused(db, catalog, make_user, category, priority, targets, field):
    with pytest.raises(ValidationFailed) as caught:
        setup.save_policy(make_user("admin"), category, priority, targets)
    assert field in caught.value.fields
    db.session.rollback()
    assert count(db, SlaPolicy) == 0


def test_zero_target_message(db, catalog, make_user):
    with pytest.raises(ValidationFailed) as caught:
        setup.save_policy(make_user("admin"), None, "urgent", {**TARGETS, "sign_for": 0, "resolve": -1})
    assert caught.value.fields["targets.sign_for"] == ["The target must be more than zero hours."]
    assert caught.value.fields["targets.resolve"] == ["The target must be more than zero hours."]


def test_targets_for_precedence(app, db, catalog, calendar, make_user):
    admin = make_user("admin")
    noise = db.session.scalar(select(Category).where(Category.code == "NOISE"))  # 24 h respond, 7 days resolve
    pothole = db.session.scalar(select(Category).where(Category.code == "POTHOLE"))  # 12 h, 5 days
    # 1. no rows: the defaults, with the category's own response and resolution times
    assert setup.targets_for(noise, "normal") == {
        "sign_for": 240,
        "first_contact": 24 * 60,
        "resolve": 7 * 450,
        "contribution": 1350,
    }
    assert setup.targets_for(pothole, "normal")["first_contact"] == 12 * 60
    assert setup.targets_for(pothole, "urgent") == {
        "sign_for": 30,
        "first_contact": 120,
        "resolve": 1440,
        "contribution": 720,
    }
    assert setup.targets_for(None, "normal")["resolve"] == setup.FALLBACK_RESOLVE_DAYS * 450
    # the working day follows the current calendar
    setup.save_calendar(admin, weekdays=[0, 1, 2, 3, 4], hours=[["09:00", "17:00"]])
    assert setup.targets_for(noise, "normal")["resolve"] == 7 * 480
    # 2. a city-wide row beats the defaults
    setup.save_policy(admin, None, "normal", {"sign_for": 3, "first_contact": 6, "resolve": 30, "contribution": 9})
    assert setup.targets_for(noise, "normal") == {
        "sign_for": 180,
        "first_contact": 360,
        "resolve": 1800,
        "contribution": 540,
    }
    # 3. the category's own row beats the city-wide one, for that category only
    setup.save_policy(admin, "NOISE", "normal", TARGETS)
    assert setup.targets_for(noise, "normal")["resolve"] == 2250
    assert setup.targets_for(pothole, "normal")["resolve"] == 1800
    assert setup.targets_for(noise, "urgent")["resolve"] == 1440  # other priority: still the default
    with pytest.raises(ValueError):
        setup.targets_for(noise, "whenever")


def test_defaults_come_from_config(app, db, catalog):
    noise = db.session.scalar(select(Category).where(Category.code == "NOISE"))
    original = app.config["SLA_DEFAULTS"]
    app.config["SLA_DEFAULTS"] = {**original, "urgent": {**original["urgent"], "sign_for": 15}}
    try:
        assert setup.targets_for(noise, "urgent")["sign_for"] == 15
        assert setup.policy_defaults()["urgent"]["sign_for"] == 15
    finally:
        app.config["SLA_DEFAULTS"] = original


# --- permissions ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["citizen", "department_staff", "coordinator", "researcher"])
def test_only_admins_edit(db, catalog, calendar, make_user, role):
    actor = make_user(role)
    with pytest.raises(PermissionDenied):
        setup.add_exception(actor, "2026-12-24", "holiday", "平安夜", "")
    with pytest.raises(PermissionDenied):
        setup.save_calendar(actor, weekdays=[0], hours=[["09:00", "12:00"]])
    with pytest.raises(PermissionDenied):
        setup.load_official_year(actor, 2027)
    with pytest.raises(PermissionDenied):
        setup.save_policy(actor, None, "normal", TARGETS)


@pytest.mark.parametrize(
    "role, view, edit",
    [("citizen", 403, 403), ("department_staff", 403, 403), ("coordinator", 200, 403), ("admin", 200, 302)],
)
def test_pages_by_role(client, catalog, calendar, make_user, login, role, view, edit):
    login(make_user(role, departments=("ENV",) if role == "department_staff" else ()))
    assert client.get("/admin/calendar").status_code == view
    assert client.get("/admin/calendar/versions/1").status_code == view
    assert client.get("/admin/sla").status_code == view
    response = client.post(
        "/admin/calendar/exceptions", data={"day": "2026-12-24", "kind": "holiday", "name_zh": "平安夜"}
    )
    assert response.status_code == edit
    response = client.post("/admin/sla", data={"priority": "normal", **{k: str(v) for k, v in TARGETS.items()}})
    assert response.status_code == edit


def test_pages_need_log_in(client, calendar):
    assert client.get("/admin/calendar").status_code == 302
    assert client.get("/api/v1/calendar").status_code == 401
    assert client.get("/api/v1/sla-policies").status_code == 401


@pytest.mark.parametrize("role, view, edit", [("citizen", 403, 403), ("coordinator", 200, 403), ("admin", 200, 201)])
def test_api_by_role(client, calendar, make_user, login, role, view, edit):
    login(make_user(role))
    assert client.get("/api/v1/calendar").status_code == view
    assert client.get("/api/v1/sla-policies").status_code == view
    response = client.post(
        "/api/v1/calendar/exceptions", json={"day": "2026-12-24", "kind": "holiday", "name": {"zh": "平安夜"}}
    )
    assert response.status_code == edit
    if edit == 403:
        assert response.get_json()["error"]["code"] == "forbidden"


# --- pages ----------------------------------------------------------------------------------------


def test_calendar_page_shows_the_schedule_and_the_warning(client, calendar, make_user, login):
    login(make_user("admin"))
    html = client.get("/admin/calendar").get_data(as_text=True)
    assert 'data-day="2026-02-16" data-kind="holiday"' in html
    assert 'data-day="2026-02-14" data-kind="workday"' in html
    assert 'class="badge provisional"' in html  # 2027
    assert "calendar-warning" in html and "2027" in html
    assert 'action="/admin/calendar/hours"' in html and "<script>" not in html


def test_calendar_page_edits_and_history(client, calendar, make_user, login):
    login(make_user("admin"))
    response = client.post(
        "/admin/calendar/hours",
        data={
            "weekdays": ["0", "1", "2", "3", "4"],
            "start_0": "08:30",
            "end_0": "12:00",
            "base": "1",
            "note": "early",
        },
    )
    assert response.status_code == 302
    response = client.post("/admin/calendar/exceptions/remove", data={"day": "2026-10-01", "base": "2"})
    assert response.status_code == 302
    response = client.post("/admin/calendar/official", data={"year": "2027", "base": "3"})
    assert response.status_code == 302
    assert setup.current_calendar_version().number == 4
    html = client.get("/admin/calendar").get_data(as_text=True)
    assert "/admin/calendar/versions/1" in html and "early" in html and "Exceptions removed: 2026-10-01" in html
    old = client.get("/admin/calendar/versions/1").get_data(as_text=True)
    assert 'id="read-only"' in old and 'data-day="2026-10-01"' in old
    assert 'action="/admin/calendar/exceptions"' not in old  # no forms on an old version


def test_calendar_page_shows_field_errors_and_stores_nothing(client, db, calendar, make_user, login):
    login(make_user("admin"))
    response = client.post(
        "/admin/calendar/exceptions", data={"day": "2026-02-30", "kind": "holiday", "name_zh": "假", "base": "1"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'data-field="day"' in html and "2026-02-30 is not a real date." in html
    assert 'value="假"' in html  # the form keeps what was typed
    response = client.post(
        "/admin/calendar/hours",
        data={"weekdays": ["0"], "start_0": "09:00", "end_0": "12:00", "start_2": "11:00", "end_2": "13:00"},
    )
    assert response.status_code == 422
    assert 'data-field="hours[2]"' in response.get_data(as_text=True)  # the row as it is on the form
    response = client.post("/admin/calendar/hours", data={"start_0": "09:00", "end_0": "12:00"})
    assert response.status_code == 422 and 'data-field="weekdays"' in response.get_data(as_text=True)
    response = client.post("/admin/calendar/exceptions", data={"day": "2026-12-24", "kind": "x", "name_zh": "y"})
    assert response.status_code == 422 and 'data-field="kind"' in response.get_data(as_text=True)
    response = client.post("/admin/calendar/official", data={"year": "soon"})
    assert response.status_code == 422 and 'data-field="year"' in response.get_data(as_text=True)
    response = client.post(
        "/admin/calendar/exceptions", data={"day": "2026-12-24", "kind": "holiday", "name_zh": "y", "base": "9"}
    )
    assert response.status_code == 409
    assert count(db, CalendarVersion) == 1


def test_sla_page_saves_edits_deletes_and_shows_errors(client, db, catalog, make_user, login):
    login(make_user("admin"))
    page = client.get("/admin/sla").get_data(as_text=True)
    assert "No policies yet" in page and "NOISE" in page
    form = {
        "category": "NOISE",
        "priority": "urgent",
        "sign_for": "0.5",
        "first_contact": "1",
        "resolve": "8",
        "contribution": "4",
    }
    assert client.post("/admin/sla", data=form).status_code == 302
    policy = setup.list_policies()[0]
    assert policy.sign_for_minutes == 30 and policy.category.code == "NOISE"
    edit = client.get(f"/admin/sla?edit={policy.id}").get_data(as_text=True)
    assert 'name="sign_for" inputmode="decimal" required value="0.5"' in edit
    bad = client.post("/admin/sla", data={**form, "sign_for": "0", "resolve": "-3", "category": "GHOST"})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    for field in ("targets.sign_for", "targets.resolve", "category"):
        assert f'data-field="{field}"' in html
    assert "The target must be more than zero hours." in html
    db.session.refresh(policy)
    assert policy.sign_for_minutes == 30 and count(db, SlaPolicy) == 1
    policy_id = policy.id
    assert client.post(f"/admin/sla/{policy_id}/delete").status_code == 302
    assert count(db, SlaPolicy) == 0
    assert client.post(f"/admin/sla/{policy_id}/delete").status_code == 404


# --- JSON API -------------------------------------------------------------------------------------


def test_api_calendar(client, db, calendar, make_user, login):
    login(make_user("admin"))
    body = client.get("/api/v1/calendar").get_json()
    assert body["number"] == 1 and body["minutes_per_day"] == 450
    exceptions = {e["day"]: e for e in body["exceptions"]}
    assert exceptions["2026-02-14"]["kind"] == "workday" and exceptions["2027-10-01"]["provisional"]
    assert any("2027" in w for w in body["warnings"])

    response = client.post(
        "/api/v1/calendar/exceptions", json={"day": "2026-12-24", "kind": "holiday", "name": {"zh": "平安夜", "en": ""}}
    )
    assert response.status_code == 201 and response.get_json()["number"] == 2
    response = client.post(
        "/api/v1/calendar/exceptions", json={"day": "2026-02-30", "kind": "holiday", "name": {"zh": "x"}}
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid" and error["fields"]["day"] == ["2026-02-30 is not a real date."]
    response = client.post("/api/v1/calendar/exceptions", json={"day": "2026-12-25", "kind": "feast", "name": "x"})
    assert response.status_code == 422 and "name" in response.get_json()["error"]["fields"]
    response = client.post("/api/v1/calendar/exceptions", data="day=2026-12-25")
    assert response.status_code == 415
    response = client.put("/api/v1/calendar", json={"weekdays": [0, 1], "hours": [["09:00", "08:00"]]})
    assert response.status_code == 422 and "hours[0]" in response.get_json()["error"]["fields"]
    response = client.put("/api/v1/calendar", json={"weekdays": [0, 1], "hours": [["09:00", "17:00"]], "base": 2})
    assert response.status_code == 200 and response.get_json()["minutes_per_day"] == 480
    assert client.delete("/api/v1/calendar/exceptions/2026-12-24").status_code == 200
    assert client.delete("/api/v1/calendar/exceptions/2026-12-24").status_code == 422
    assert client.post("/api/v1/calendar/official-years", json={"year": 2027}).status_code == 201
    assert client.get("/api/v1/calendar?version=1").get_json()["number"] == 1
    assert client.get("/api/v1/calendar?version=99").status_code == 404
    assert client.get("/api/v1/calendar?version=x").status_code == 422
    assert count(db, CalendarVersion) == 5


def test_api_sla_policies(client, catalog, make_user, login):
    login(make_user("admin"))
    body = client.get("/api/v1/sla-policies").get_json()
    assert body["policies"] == [] and body["defaults_minutes"]["urgent"]["sign_for"] == 30
    response = client.put("/api/v1/sla-policies", json={"category": None, "priority": "urgent", "targets": TARGETS})
    assert response.status_code == 200
    policy = response.get_json()["policy"]
    assert policy["targets_minutes"]["resolve"] == 2250 and policy["targets_hours"]["resolve"] == 37.5
    response = client.put(
        "/api/v1/sla-policies", json={"category": "NOISE", "priority": "normal", "targets": {**TARGETS, "sign_for": 0}}
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {"targets.sign_for": ["The target must be more than zero hours."]}
    response = client.put(
        "/api/v1/sla-policies", json={"category": "NOISE", "priority": "normal", "targets": {**TARGETS, "resolve": -1}}
    )
    assert response.status_code == 422
    response = client.put("/api/v1/sla-policies", json={"category": "GHOST", "priority": "normal", "targets": TARGETS})
    assert response.status_code == 422 and "category" in response.get_json()["error"]["fields"]
    assert client.put("/api/v1/sla-policies", data="x", content_type="application/json").status_code == 400
    assert len(client.get("/api/v1/sla-policies").get_json()["policies"]) == 1
    assert client.delete(f"/api/v1/sla-policies/{policy['id']}").status_code == 204
    assert client.delete(f"/api/v1/sla-policies/{policy['id']}").status_code == 404


# --- demo -----------------------------------------------------------------------------------------


def test_demo_load_creates_calendar_and_policies_once(runner, db):
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    assert count(db, CalendarVersion) == 1
    policies = setup.list_policies()
    assert [(p.category.code if p.category else None, p.priority) for p in policies] == [
        (None, "urgent"),
        ("TRAFFIC-SIGNAL", "normal"),
    ]
