"""Notifications: write them with the change that causes them, announce and send them after commit.

`notify` is called inside a transaction (usually from the ticket-event rules) and never
commits: the in-app rows and the outbox e-mails commit or roll back with the change itself.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from itertools import chain
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import lazyload

from participation.accounts.models import DepartmentMembership, Role, User, UserRole
from participation.core.audit import audit
from participation.core.errors import NotFound, ValidationFailed
from participation.core.labels import halfwidth
from participation.core.models import utcnow
from participation.core.permissions import authorize
from participation.core.sockets import emit_now, user_room
from participation.core.uow import after_commit
from participation.extensions import db
from participation.notifications.kinds import KINDS, render
from participation.notifications.models import (
    Notification,
    NotificationPreference,
    NotificationSettings,
    OutboxMessage,
    OutboxStatus,
)

NAMESPACE = "/notifications"
KEY_MAX = 120
_TIME = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")


def clock() -> datetime:
    """Now, in UTC; tests replace this module attribute to move time."""
    return utcnow()


# -- recipients --------------------------------------------------------------------------------


_RECIPIENTS = "participation.notify.recipients"


@contextmanager
def remembered_recipients() -> Iterator[None]:
    """Within the block, each recipient list is read once (a sweep notifies many tickets' departments)."""
    db.session.info[_RECIPIENTS] = {}
    try:
        yield
    finally:
        db.session.info.pop(_RECIPIENTS, None)


def _active_users(stmt) -> list[User]:
    # Recipients need their address and language, not their roles and memberships (loaded on access).
    stmt = stmt.where(User.active).order_by(User.id).options(lazyload(User.role_rows), lazyload(User.memberships))
    # Without writing the transaction's other pending rows first (the ticket's clocks, say): they are
    # written with the notifications, in one flush instead of two. Pending people, roles or memberships
    # do decide who is told, so those are written first.
    if _people_pending(db.session):
        db.session.flush()
    with db.session.no_autoflush:
        return list(db.session.scalars(stmt).unique())


_PEOPLE = (User, UserRole, DepartmentMembership)


def _people_pending(session) -> bool:
    """Whether the session holds unwritten people, roles or memberships (new, changed or deleted)."""
    return any(isinstance(obj, _PEOPLE) for obj in chain(session.new, session.dirty, session.deleted))


def _remembered(key: tuple, load) -> list[User]:
    cache = db.session.info.get(_RECIPIENTS)
    if cache is None:
        return load()
    if key not in cache:
        cache[key] = load()
    return cache[key]


def _members(department_id: int | None, roles: list[Role]) -> list[User]:
    if department_id is None:
        return []
    stmt = (
        select(User)
        .join(DepartmentMembership, DepartmentMembership.user_id == User.id)
        .join(UserRole, UserRole.user_id == User.id)
        .where(DepartmentMembership.department_id == department_id, UserRole.role.in_(roles))
    )
    key = ("members", department_id, tuple(sorted(roles)))
    return _remembered(key, lambda: _active_users(stmt))


def department_staff(department_id: int | None) -> list[User]:
    """Everyone who works for the department (staff and its administrators)."""
    return _members(department_id, [Role.DEPARTMENT_STAFF, Role.DEPARTMENT_ADMIN])


def department_heads(department_id: int | None) -> list[User]:
    """The department's administrators (its head's office)."""
    return _members(department_id, [Role.DEPARTMENT_ADMIN])


def coordinators() -> list[User]:
    stmt = select(User).join(UserRole, UserRole.user_id == User.id).where(UserRole.role == Role.COORDINATOR)
    return _remembered(("coordinators",), lambda: _active_users(stmt))


# -- choices -----------------------------------------------------------------------------------


def _choices(user_ids: list[int], kind: str) -> dict[int, tuple[bool, bool]]:
    """(in_app, email) per user for one kind; no row means the defaults (both on)."""
    rows = db.session.scalars(
        select(NotificationPreference).where(
            NotificationPreference.user_id.in_(user_ids), NotificationPreference.kind == kind
        )
    )
    found = {row.user_id: (row.in_app, row.email) for row in rows}
    return {uid: found.get(uid, (True, True)) for uid in user_ids}


def _parse_time(value: str) -> time:
    hour, minute = value.split(":")
    return time(int(hour), int(minute))


def quiet_until(start: str | None, end: str | None, now: datetime, timezone: str) -> datetime | None:
    """When the quiet hours that contain `now` end (UTC), or None outside quiet hours."""
    if not start or not end or start == end:
        return None
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    begin, finish, at = _parse_time(start), _parse_time(end), local.time()
    if begin < finish:
        inside = begin <= at < finish
        day = local.date()
    else:  # across midnight, e.g. 22:00 to 07:00
        inside = at >= begin or at < finish
        day = local.date() + timedelta(days=1) if at >= begin else local.date()
    if not inside:
        return None
    return datetime.combine(day, finish, tzinfo=zone).astimezone(now.tzinfo)


def _quiet_hours(user_ids: list[int]) -> dict[int, tuple[str | None, str | None]]:
    rows = db.session.scalars(select(NotificationSettings).where(NotificationSettings.user_id.in_(user_ids)))
    return {row.user_id: (row.quiet_start, row.quiet_end) for row in rows}


# -- writing -----------------------------------------------------------------------------------


def _key(dedupe: str | None, suffix: str) -> str:
    """The per-recipient de-duplication key; long keys are hashed to fit the column."""
    if dedupe is None:
        import secrets

        dedupe = f"once:{secrets.token_hex(12)}"
    key = f"{dedupe}:{suffix}"
    if len(key) > KEY_MAX:
        key = f"h:{hashlib.sha256(key.encode()).hexdigest()}"
    return key


def _existing(model, keys: list[str]) -> set[str]:
    """Keys already written, earlier in this transaction too (notify flushes what it writes)."""
    if not keys:
        return set()
    return set(db.session.scalars(select(model.dedupe_key).where(model.dedupe_key.in_(keys))))


def absolute(link: str) -> str:
    """A link for an e-mail: the site's public address in front of a path."""
    if not link or "://" in link:
        return link
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + link


def _email_text(kind: str, params: dict, link: str, locale: str) -> tuple[str, str]:
    """Subject and body of the e-mail, in the recipient's language."""
    if locale not in current_app.config["LANGUAGES"]:
        locale = current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        text = render(kind, params, locale)
        city = current_app.config["CITY_NAME"].get(locale) or current_app.config["CITY_NAME"]["zh"]
        lines = [text, ""]
        if link:
            lines += [_("Open: %(url)s", url=absolute(link)), ""]
        lines += [
            "--",
            _("%(city)s citizen participation platform. This message was sent automatically.", city=city),
            _("Choose what you receive: %(url)s", url=absolute("/account/notifications")),
        ]
        # A header is one line (the mailer refuses a line break in one): a title sent through the API, a
        # reason typed in a text area over several lines are put on one line here, whole in the body.
        subject = " ".join(f"[{city}] {text}".split())
    return subject[:300], "\n".join(lines)


def _deferred_until(quiet: tuple[str | None, str | None] | None, urgent: bool, now: datetime) -> datetime:
    if urgent or quiet is None:
        return now
    return quiet_until(quiet[0], quiet[1], now, current_app.config["CITY_TIMEZONE"]) or now


def notify(
    users: Iterable[User],
    kind: str,
    *,
    ticket: Any = None,
    params: dict | None = None,
    link: str = "",
    urgent: bool = False,
    dedupe: str | None = None,
    now: datetime | None = None,
) -> list[Notification]:
    """Write in-app notifications and outbox e-mails for `users` in the current transaction."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    now = now or clock()
    params = dict(params or {})
    if ticket is not None:
        params.setdefault("ticket", ticket.id)
    people = list({u.id: u for u in users if u is not None and u.active}.values())
    if not people:
        return []
    ids = [u.id for u in people]
    keys = {u.id: _key(dedupe, str(u.id)) for u in people}
    with db.session.no_autoflush:  # what notify wrote before is flushed already (below)
        choices = _choices(ids, kind)
        quiet = _quiet_hours(ids)
        have_notification = _existing(Notification, list(keys.values()))
        have_email = _existing(OutboxMessage, list(keys.values()))
    written: list[Notification] = []
    emails: list[OutboxMessage] = []
    for user in people:
        in_app, by_email = choices[user.id]
        key = keys[user.id]
        if in_app and key not in have_notification:
            item = Notification(
                user_id=user.id,
                kind=kind,
                ticket_id=ticket.id if ticket is not None else None,
                params=params,
                link=link,
                urgent=urgent,
                dedupe_key=key,
                created_at=now,
            )
            db.session.add(item)
            written.append(item)
        if by_email and user.email and key not in have_email:
            quiet_hours = quiet.get(user.id)
            locale = user.preferred_locale
            emails.append(_outbox(user.email, user.id, kind, params, link, locale, urgent, key, now, quiet_hours))
    if written or emails:
        db.session.flush()
    if written:
        live = [(n.user_id, n.id, kind, params, link, urgent) for n in written]
        locales = {u.id: u.preferred_locale for u in people}
        after_commit(_announce, live, locales)
    _queue(emails, now)
    return written


def notify_address(
    email: str,
    kind: str,
    *,
    ticket: Any = None,
    params: dict | None = None,
    link: str = "",
    urgent: bool = False,
    dedupe: str | None = None,
    locale: str | None = None,
    now: datetime | None = None,
) -> OutboxMessage | None:
    """An e-mail to someone without an account (the contact address of a submission)."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    email = (email or "").strip()
    if not email:
        return None
    now = now or clock()
    params = dict(params or {})
    if ticket is not None:
        params.setdefault("ticket", ticket.id)
    key = _key(dedupe, "m" + hashlib.sha256(email.lower().encode()).hexdigest()[:16])
    if _existing(OutboxMessage, [key]):
        return None
    locale = locale or current_app.config["BABEL_DEFAULT_LOCALE"]
    message = _outbox(email, None, kind, params, link, locale, urgent, key, now, None)
    db.session.flush()  # the id for the worker, and the key for a repeat in this transaction
    _queue([message], now)
    return message


def _outbox(email, user_id, kind, params, link, locale, urgent, key, now, quiet) -> OutboxMessage:
    subject, body = _email_text(kind, params, link, locale)
    message = OutboxMessage(
        dedupe_key=key,
        user_id=user_id,
        recipient=email,
        subject=subject,
        body=body,
        urgent=urgent,
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=_deferred_until(quiet, urgent, now),
        created_at=now,
    )
    db.session.add(message)
    return message


def _queue(messages: list[OutboxMessage], now: datetime) -> None:
    """Hand the e-mails due now to the worker once committed; deferred ones wait for the sweep."""
    due = [m.id for m in messages if m.next_attempt_at <= now]
    if due:
        after_commit(send_later, due)


def send_later(message_ids: list[int]) -> None:
    """Hand committed outbox e-mails to delivery: the embedded mailer thread, else one task each."""
    from participation.core.scheduler import hand_over
    from participation.notifications.tasks import MAILER, deliver

    if hand_over(MAILER, message_ids):
        return  # make run: the mailer thread sends them; the request does not wait for the mail server
    for message_id in message_ids:
        deliver.delay(message_id)


# The badge counts unread notifications up to here and then shows "99+": a page view, and every new
# notification pushed live, then reads at most this many rows, however many a person leaves unread.
BADGE_CAP = 100


def _unread(user_id: int, cap: int | None):
    """SELECT of the user's unread count, counting at most `cap` rows when given."""
    where = (Notification.user_id == user_id, Notification.read_at.is_(None))
    if cap is None:
        return select(func.count()).select_from(Notification).where(*where)
    return select(func.count()).select_from(select(Notification.id).where(*where).limit(cap).subquery())


def unread_counts(user_ids: list[int], cap: int | None = None) -> dict[int, int]:
    """Unread notifications per user, up to `cap` each, read on a connection of its own (safe after commit).

    One statement for all of them (a dispatch tells a whole department): a row of one count each."""
    if not user_ids:
        return {}
    stmt = select(*(_unread(uid, cap).scalar_subquery() for uid in user_ids))
    with db.engine.connect() as connection:
        row = connection.execute(stmt).one()
    return {uid: count or 0 for uid, count in zip(user_ids, row, strict=True)}


def _announce(live: list[tuple], locales: dict[int, str]) -> None:
    """Push each new notification, with the unread count, to its reader's open pages."""
    counts = unread_counts(sorted({item[0] for item in live}), BADGE_CAP)
    for user_id, notification_id, kind, params, link, urgent in live:
        locale = locales.get(user_id) or current_app.config["BABEL_DEFAULT_LOCALE"]
        with force_locale(locale):
            text = render(kind, params, locale)
        data = {
            "id": notification_id,
            "kind": kind,
            "text": text,
            "link": link,
            "urgent": urgent,
            "unread": counts[user_id],
        }
        emit_now("notification", data, user_room(user_id), NAMESPACE)


def _announce_count(user_id: int) -> None:
    unread = unread_counts([user_id], BADGE_CAP)[user_id]
    emit_now("notifications.unread", {"unread": unread}, user_room(user_id), NAMESPACE)


def withdraw(dedupe: str) -> None:
    """What the notices written under `dedupe` asked of their readers is no longer asked: the unread ones
    are marked read (the badge goes down, live) and their e-mails not yet sent are not sent."""
    now = clock()
    readers = db.session.scalars(
        update(Notification)
        .where(Notification.dedupe_key.startswith(f"{dedupe}:", autoescape=True), Notification.read_at.is_(None))
        .values(read_at=now)
        .returning(Notification.user_id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.dedupe_key.startswith(f"{dedupe}:", autoescape=True),
            OutboxMessage.status == OutboxStatus.PENDING,
        )
        .values(status=OutboxStatus.WITHDRAWN)
        .execution_options(synchronize_session=False)
    )
    for user_id in sorted(set(readers)):
        after_commit(_announce_count, user_id)


# -- reading -----------------------------------------------------------------------------------


def as_dict(notification: Notification) -> dict:
    """One notification as the reader sees it, in the current language."""
    return {
        "id": notification.id,
        "kind": notification.kind,
        "text": render(notification.kind, notification.params),
        "link": notification.link,
        "ticket_id": notification.ticket_id,
        "urgent": notification.urgent,
        "created_at": notification.created_at.isoformat(),
        "read": notification.read_at is not None,
    }


def list_for(
    actor: Any, *, unread_only: bool = False, limit: int = 50, before: int | None = None
) -> list[Notification]:
    """The actor's notifications, newest first."""
    authorize(actor, "notifications.list_own")
    stmt = select(Notification).where(Notification.user_id == actor.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    if before is not None:
        stmt = stmt.where(Notification.id < before)
    return list(db.session.scalars(stmt.order_by(Notification.id.desc()).limit(max(1, min(limit, 200)))))


def unread_count(actor: Any, cap: int | None = None) -> int:
    """The actor's unread notifications: all of them, or up to `cap` (the badge's BADGE_CAP)."""
    if not getattr(actor, "is_authenticated", False) or getattr(actor, "id", None) is None:
        return 0
    return db.session.scalar(_unread(actor.id, cap)) or 0


def get_notification(actor: Any, notification_id: int) -> Notification:
    notification = db.session.get(Notification, notification_id)
    if notification is None:
        raise NotFound(_("No such notification."))
    authorize(actor, "notifications.read", notification)
    return notification


def mark_read(actor: Any, notification_id: int) -> Notification:
    """Mark one of the actor's notifications read (again is harmless)."""
    notification = get_notification(actor, notification_id)
    if notification.read_at is None:
        notification.read_at = clock()
        after_commit(_announce_count, actor.id)
    return notification


def mark_all_read(actor: Any) -> int:
    """Mark every unread notification of the actor read; return how many."""
    authorize(actor, "notifications.list_own")
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == actor.id, Notification.read_at.is_(None))
        .values(read_at=clock())
        .execution_options(synchronize_session=False)
    )
    after_commit(_announce_count, actor.id)
    return result.rowcount or 0


# -- preferences -------------------------------------------------------------------------------


CHANNELS = ("in_app", "email")
STAFF_ROLES = (Role.DEPARTMENT_STAFF, Role.DEPARTMENT_ADMIN, Role.COORDINATOR, Role.ADMIN)


def kinds_for(user: Any) -> list[str]:
    """The kinds this person can receive (staff kinds only for staff)."""
    staff = user.has_role(*STAFF_ROLES)
    return [code for code, kind in KINDS.items() if kind.audience == "public" or staff]


def preferences(actor: Any) -> dict:
    """The actor's choices per kind, with the defaults filled in, and their quiet hours."""
    authorize(actor, "notifications.preferences.edit", actor)
    rows = {
        row.kind: row
        for row in db.session.scalars(select(NotificationPreference).where(NotificationPreference.user_id == actor.id))
    }
    settings = db.session.get(NotificationSettings, actor.id)
    return {
        "kinds": {
            code: {
                "in_app": rows[code].in_app if code in rows else True,
                "email": rows[code].email if code in rows else True,
            }
            for code in kinds_for(actor)
        },
        "quiet_start": settings.quiet_start if settings else None,
        "quiet_end": settings.quiet_end if settings else None,
    }


def _quiet_value(value: Any, field: str, errors: dict) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    # As people type it: "7:30", or "22：00" with a Chinese input method's colon and digits.
    typed = "".join(halfwidth(value).split()) if isinstance(value, str) else None
    found = _TIME.match(typed) if typed else None
    if found is None:
        errors[field] = [_("Give a time as HH:MM, from 00:00 to 23:59.")]
        return None
    return f"{int(found.group(1)):02d}:{found.group(2)}"


def save_preferences(actor: Any, choices: dict, quiet_start: Any = None, quiet_end: Any = None) -> dict:
    """Store the actor's choices ({kind: {"in_app": bool, "email": bool}}) and quiet hours."""
    authorize(actor, "notifications.preferences.edit", actor)
    errors: dict[str, list[str]] = {}
    allowed = kinds_for(actor)
    if not isinstance(choices, dict):
        raise ValidationFailed(fields={"kinds": [_("Wrong type of value.")]})
    for code, choice in choices.items():
        if code not in allowed:
            errors[f"kinds.{code}"] = [_("Unknown kind of notification.")]
        elif not isinstance(choice, dict) or not all(
            isinstance(choice.get(k, True), bool) for k in ("in_app", "email")
        ):
            errors[f"kinds.{code}"] = [_("Wrong type of value.")]
    start = _quiet_value(quiet_start, "quiet_start", errors)
    end = _quiet_value(quiet_end, "quiet_end", errors)
    if not errors and (start is None) != (end is None):
        errors["quiet_start" if start is None else "quiet_end"] = [_("Give both the start and the end, or neither.")]
    if not errors and start is not None and start == end:
        errors["quiet_end"] = [_("The end must differ from the start.")]
    if errors:
        raise ValidationFailed(fields=errors)
    rows = {
        row.kind: row
        for row in db.session.scalars(select(NotificationPreference).where(NotificationPreference.user_id == actor.id))
    }
    for code, choice in choices.items():
        row = rows.get(code) or NotificationPreference(user_id=actor.id, kind=code)
        row.in_app, row.email = choice.get("in_app", True), choice.get("email", True)
        db.session.add(row)
    settings = db.session.get(NotificationSettings, actor.id) or NotificationSettings(user_id=actor.id)
    settings.quiet_start, settings.quiet_end = start, end
    db.session.add(settings)
    audit(actor, "notifications.preferences", actor, quiet_start=start or "", quiet_end=end or "")
    return preferences(actor)


# -- the outbox, for administrators ------------------------------------------------------------


def outbox(actor: Any, status: str = "failed", limit: int = 200) -> list[OutboxMessage]:
    """E-mails by status (failed by default), newest first."""
    authorize(actor, "notifications.outbox.view")
    try:
        wanted = OutboxStatus(status)
    except ValueError:
        raise ValidationFailed(fields={"status": [_("Unknown status.")]}) from None
    stmt = select(OutboxMessage).where(OutboxMessage.status == wanted).order_by(OutboxMessage.id.desc()).limit(limit)
    return list(db.session.scalars(stmt))


def retry_failed(actor: Any, message_id: int) -> OutboxMessage:
    """Give a failed e-mail another round of attempts (after the mail server is fixed)."""
    authorize(actor, "notifications.outbox.view")
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound()
    if message.status != OutboxStatus.FAILED:
        raise ValidationFailed(fields={"status": [_("Only failed e-mails can be retried.")]})
    now = clock()
    message.status, message.attempts, message.next_attempt_at = OutboxStatus.PENDING, 0, now
    audit(actor, "notifications.outbox.retry", message)
    _queue([message], now)
    return message
