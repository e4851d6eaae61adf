"""notify(): written with the change, only on commit; each person's choices; quiet hours; languages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from participation.core.uow import transaction
from participation.notifications import services
from participation.notifications.models import (
    Notification,
    NotificationPreference,
    NotificationSettings,
    OutboxMessage,
)


def count(db, model, **where) -> int:
    stmt = select(func.count()).select_from(model)
    for name, value in where.items():
        stmt = stmt.where(getattr(model, name) == value)
    return db.session.scalar(stmt)


def test_written_on_commit_and_sent_only_after_it(db, make_user, sent, clock):
    user = make_user("citizen")
    with transaction():
        services.notify([user], "ticket_update", params={"code": "AB12", "variant": "resolved"}, dedupe="t1")
        assert sent == []  # nothing leaves before the commit
    assert count(db, Notification, user_id=user.id) == 1
    message = db.session.scalar(select(OutboxMessage))
    assert message.status.value == "sent" and message.recipient == user.email
    assert [m["To"] for m in sent] == [user.email]
    assert "AB12" in sent[0]["Subject"]


def test_nothing_written_or_sent_on_rollback(db, make_user, sent, clock):
    user = make_user("citizen")
    with pytest.raises(RuntimeError):
        with transaction():
            services.notify([user], "ticket_update", params={"code": "AB12"}, dedupe="t1")
            raise RuntimeError("the change failed")
    assert count(db, Notification) == 0 and count(db, OutboxMessage) == 0
    assert sent == []


def test_the_same_key_is_written_once(db, make_user, sent, clock):
    user = make_user("citizen")
    with transaction():
        services.notify([user], "ticket_update", params={"code": "A"}, dedupe="ev1")
        services.notify([user, user], "ticket_update", params={"code": "A"}, dedupe="ev1")
    with transaction():
        services.notify([user], "ticket_update", params={"code": "A"}, dedupe="ev1")
    assert count(db, Notification) == 1 and count(db, OutboxMessage) == 1 and len(sent) == 1


def test_each_person_chooses(db, make_user, sent, clock):
    app_only, mail_only, nothing, default = (make_user("citizen") for _ in range(4))
    inactive = make_user("citizen")
    inactive.active = False
    db.session.add_all(
        [
            NotificationPreference(user_id=app_only.id, kind="ticket_update", in_app=True, email=False),
            NotificationPreference(user_id=mail_only.id, kind="ticket_update", in_app=False, email=True),
            NotificationPreference(user_id=nothing.id, kind="ticket_update", in_app=False, email=False),
            NotificationPreference(user_id=default.id, kind="ticket_merged", in_app=False, email=False),
        ]
    )
    db.session.commit()
    with transaction():
        services.notify([app_only, mail_only, nothing, default, inactive], "ticket_update", params={}, dedupe="x")
    in_app = set(db.session.scalars(select(Notification.user_id)))
    emailed = set(db.session.scalars(select(OutboxMessage.user_id)))
    assert in_app == {app_only.id, default.id}
    assert emailed == {mail_only.id, default.id}


def test_no_email_address_means_in_app_only(db, make_user, sent, clock):
    from participation.accounts.models import User

    user = User(mobile="13800138000", display_name="手机用户", password_hash="x")
    db.session.add(user)
    db.session.commit()
    with transaction():
        services.notify([user], "ticket_update", params={"code": "A"}, dedupe="x")
    assert count(db, Notification, user_id=user.id) == 1 and count(db, OutboxMessage) == 0


def test_unknown_kind_is_a_programming_error(db, make_user):
    with pytest.raises(ValueError):
        services.notify([make_user()], "no_such_kind")


@pytest.mark.parametrize(
    ("start", "end", "local", "until"),
    [
        ("22:00", "07:00", (23, 30), (1, 7, 0)),  # before midnight: until 07:00 the next day
        ("22:00", "07:00", (6, 59), (0, 7, 0)),  # after midnight: until 07:00 the same day
        ("22:00", "07:00", (7, 0), None),  # the end is not quiet any more
        ("22:00", "07:00", (12, 0), None),
        ("12:00", "14:00", (13, 0), (0, 14, 0)),  # a window within one day
        ("12:00", "14:00", (14, 30), None),
        (None, None, (3, 0), None),
    ],
)
def test_quiet_until(start, end, local, until):
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Asia/Shanghai")
    now = datetime(2026, 3, 2, *local, tzinfo=zone).astimezone(UTC)
    result = services.quiet_until(start, end, now, "Asia/Shanghai")
    if until is None:
        assert result is None
    else:
        days, hour, minute = until
        expected = datetime(2026, 3, 2, hour, minute, tzinfo=zone) + timedelta(days=days)
        assert result == expected and result.tzinfo is not None


def test_quiet_hours_defer_email_but_not_urgent_ones(app, db, make_user, sent, clock):
    from participation.notifications.tasks import flush

    user = make_user("citizen")
    db.session.add(NotificationSettings(user_id=user.id, quiet_start="22:00", quiet_end="07:00"))
    db.session.commit()
    clock.now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 23:00 in the city
    with transaction():
        services.notify([user], "ticket_update", params={"code": "QUIET"}, dedupe="q1")
        services.notify([user], "deadline_overdue", params={"ticket": 1}, dedupe="q2", urgent=True)
    assert [m["Subject"] for m in sent if "QUIET" in m["Subject"]] == []
    assert len(sent) == 1 and sent[0]["X-Priority"] == "1"  # the urgent one went at once
    quiet = db.session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == f"q1:{user.id}"))
    assert quiet.status.value == "pending"
    assert quiet.next_attempt_at == datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 07:00 in the city
    assert count(db, Notification, user_id=user.id) == 2  # in the app at once: quiet hours are for e-mail
    clock.advance(hours=7, minutes=59)
    assert flush().get("sent", 0) == 0
    clock.advance(minutes=1)
    assert flush()["sent"] == 1
    assert any("QUIET" in m["Subject"] for m in sent)


def test_email_in_the_recipients_language_app_text_in_the_readers(app, db, make_user, sent, clock):
    from participation.accounts.models import User

    english = make_user("department_staff")
    english.preferred_locale = "en"
    chinese = make_user("department_staff")
    db.session.commit()
    params = {"title": "噪音", "department": {"zh": "生态环境局", "en": "Ecology and Environment Bureau"}}
    with transaction():
        services.notify([english, chinese], "ticket_assigned", params={**params, "ticket": 7}, dedupe="lang")
    by_recipient = {m["To"]: m for m in sent}
    assert "Ecology and Environment Bureau" in by_recipient[english.email]["Subject"]
    assert "生态环境局" in by_recipient[chinese.email]["Subject"]
    assert "/account/notifications" in by_recipient[english.email].get_content()
    stored = db.session.scalar(select(Notification).where(Notification.user_id == chinese.id))
    assert "department" in stored.params and "生态环境局" not in stored.link  # kind + params, not text
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert "Ecology and Environment Bureau" in services.as_dict(stored)["text"]
    assert isinstance(db.session.get(User, english.id), User)


def test_notify_address_for_a_submitter_without_account(db, sent, clock):
    with transaction():
        services.notify_address("someone@example.net", "ticket_update", params={"code": "XY"}, dedupe="a", locale="en")
        services.notify_address("someone@example.net", "ticket_update", params={"code": "XY"}, dedupe="a")
    assert [m["To"] for m in sent] == ["someone@example.net"]
    assert count(db, Notification) == 0


def test_recipient_helpers(db, catalog, make_user):
    staff = make_user("department_staff", departments=("ENV",))
    head = make_user("department_staff", "department_admin", departments=("ENV",))
    make_user("department_staff", departments=("URBAN",))
    gone = make_user("department_staff", departments=("ENV",))
    gone.active = False
    coordinator = make_user("coordinator")
    db.session.commit()
    env = staff.memberships[0].department_id
    assert [u.id for u in services.department_staff(env)] == [staff.id, head.id]
    assert [u.id for u in services.department_heads(env)] == [head.id]
    assert [u.id for u in services.coordinators()] == [coordinator.id]


def test_recipients_include_people_not_yet_written(db, catalog, make_user):
    """Recipients are read without writing other pending rows, but pending people, roles and
    memberships are written first: someone added in the same transaction is told."""
    from participation.accounts.models import Role, User

    staff = make_user("department_staff", departments=("ENV",))
    env = staff.memberships[0].department_id
    newcomer = User(email="newcomer@example.org", display_name="Newcomer")
    newcomer.set_password("a long enough password")
    newcomer.set_roles({Role.DEPARTMENT_STAFF})
    newcomer.set_departments({env})
    db.session.add(newcomer)  # not flushed
    assert [u.email for u in services.department_staff(env)] == [staff.email, "newcomer@example.org"]
    staff.active = False  # a pending change of a person counts too
    assert [u.email for u in services.department_staff(env)] == ["newcomer@example.org"]
    db.session.rollback()
