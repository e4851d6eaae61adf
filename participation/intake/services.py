"""Intake: accept a submission (web, API), track it by code, list and withdraw one's own."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from participation.accounts.models import Role, User
from participation.accounts.services import normalise_mobile
from participation.catalog.models import Category, District
from participation.core.audit import audit
from participation.core.errors import Conflict, NotAuthenticated, NotFound, ValidationFailed
from participation.core.labels import CITIZEN_ANSWERED, halfwidth, system_text
from participation.core.permissions import SYSTEM, authorize, can, is_authenticated
from participation.core.uow import after_commit
from participation.core.validation import validate
from participation.deadlines import services as deadlines
from participation.extensions import db
from participation.intake import uploads
from participation.intake.models import Attachment, Channel, Submission, item_text
from participation.intake.schemas import SubmissionIn
from participation.routing import services as routing

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10
NAMESPACE = "/intake"


def new_tracking_code() -> str:
    """An unguessable public code such as HC-7K3M9Q2XPA."""
    return "HC-" + "".join(secrets.choice(CODE_ALPHABET) for _i in range(CODE_LENGTH))


def request_fingerprint(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def _check_contact(data: SubmissionIn, actor: Any, errors: dict[str, list[str]]) -> dict[str, str]:
    """Contact details to store: none when anonymous; required from people who are not logged in."""
    if data.anonymous:
        return {"contact_name": "", "contact_phone": "", "contact_email": ""}
    contact = data.contact
    out = {"contact_name": "", "contact_phone": "", "contact_email": ""}
    if contact is not None:
        out["contact_name"] = contact.name
        if contact.phone:
            try:
                out["contact_phone"] = normalise_mobile(contact.phone, field="contact.phone")
            except ValidationFailed as error:
                errors.update(error.fields)
        if contact.email:
            try:
                out["contact_email"] = validate_email(contact.email, check_deliverability=False).normalized
            except EmailNotValidError:
                errors["contact.email"] = [_("Not a valid e-mail address.")]
    if (
        not is_authenticated(actor)
        and not (out["contact_phone"] or out["contact_email"])
        and "contact.phone" not in errors
    ):
        errors["contact"] = [
            _("Give a phone number or an e-mail address so the department can reach you, or send anonymously.")
        ]
    return out


def submit(
    actor: Any,
    payload: dict,
    files: list[tuple[str, Any]] | None = None,
    channel: Channel = Channel.WEB,
    idempotency_key: str | None = None,
) -> tuple[Submission, bool]:
    """Accept a submission; return it and whether it was created (False: an idempotent repeat)."""
    authorize(actor, "intake.submission.create")
    user = actor if is_authenticated(actor) and isinstance(actor, User) else None
    key = None
    if idempotency_key is not None:
        idempotency_key = idempotency_key.strip()
        if not idempotency_key or len(idempotency_key) > 100:
            raise ValidationFailed(fields={"Idempotency-Key": [_("Give a key of 1 to 100 characters.")]})
        anonymous = payload.get("anonymous") is True
        key = f"{user.id if user and not anonymous else 'anon'}:{idempotency_key}"
        fingerprint = request_fingerprint(payload)
        existing = db.session.scalar(select(Submission).where(Submission.idempotency_key == key))
        if existing is not None:
            if existing.request_hash != fingerprint:
                raise Conflict(_("This Idempotency-Key was already used for a different request."))
            return existing, False

    data = validate(SubmissionIn, payload)
    errors: dict[str, list[str]] = {}
    config = current_app.config
    if len(data.text) > config["SUBMISSION_MAX_CHARS"]:
        errors["text"] = [_("At most %(n)s characters.", n=config["SUBMISSION_MAX_CHARS"])]
    if (data.lat is None) != (data.lng is None):
        errors["lat" if data.lat is None else "lng"] = [_("Give both latitude and longitude, or neither.")]
    category = district = None
    if data.category:
        category = db.session.scalar(select(Category).where(Category.code == data.category, Category.active))
        if category is None:
            errors["category"] = [_("Unknown category.")]
        elif category.enterprise_only and not (user and user.has_role(Role.ENTERPRISE)):
            errors["category"] = [_("This category is for enterprise accounts.")]
    if data.district:
        district = db.session.scalar(select(District).where(District.code == data.district))
        if district is None:
            errors["district"] = [_("Unknown district.")]
    contact = _check_contact(data, actor, errors)
    files = files or []
    if len(files) > config["UPLOAD_MAX_FILES"]:
        errors["photos"] = [_("At most %(n)s photos.", n=config["UPLOAD_MAX_FILES"])]
    if errors:
        raise ValidationFailed(fields=errors)
    images = [uploads.check_image(name, stream) for name, stream in files]

    submission = Submission(
        tracking_code=new_tracking_code(),
        kind=data.kind,
        title=data.title,
        text=data.text,
        category=category,
        district=district,
        address=data.address,
        lat=data.lat,
        lng=data.lng,
        anonymous=data.anonymous,
        channel=channel,
        user=None if data.anonymous else user,
        organisation_id=None if data.anonymous or user is None else user.organisation_id,
        idempotency_key=key,
        request_hash=request_fingerprint(payload) if key else None,
        **contact,
    )
    written: list[str] = []
    for image in images:
        values, path = uploads.keep(image)
        written.append(path)
        submission.attachments.append(Attachment(**values))
    db.session.add(submission)
    if key is None:
        db.session.flush()
    else:
        try:
            with db.session.begin_nested():  # a concurrent twin with the same key may win the insert
                db.session.flush()
        except IntegrityError:
            existing = db.session.scalar(select(Submission).where(Submission.idempotency_key == key))
            if existing is None:
                raise
            for path in written:  # the twin's photos are the ones kept
                uploads.remove(path)
            return existing, False
    sender = None if data.anonymous else user  # anonymous: no trace of the account anywhere
    ticket = routing.open_ticket(submission, actor=sender)
    from participation.deadlines.services import is_urgent

    if is_urgent(item_text(data.title, data.text)):
        ticket.priority = "urgent"
    audit(sender, "submission.created", submission, channel=channel.value, anonymous=data.anonymous)
    announce_status(submission, ticket.status.value)

    from participation.intake.tasks import queue_analysis

    after_commit(queue_analysis, [submission.id])
    return submission, True


def private_rooms(submission: Submission) -> list[str]:
    """The sender's and their organisation's rooms (the tracking room is public)."""
    from participation.core.sockets import organisation_room, user_room

    rooms = []
    if submission.user_id:
        rooms.append(user_room(submission.user_id))
    if submission.organisation_id:
        rooms.append(organisation_room(submission.organisation_id))
    return rooms


def announce_status(submission: Submission, status: str, **extra: str) -> None:
    """Tell the submitter's pages (own, organisation, tracking code) the new status, after commit.

    A merged item also hears its master's status (`master_status`)."""
    from participation.core.sockets import publish, tracking_room

    code = submission.tracking_code
    publish("submission.status", {"code": code, "status": status, **extra}, [tracking_room(code)], NAMESPACE)
    private = {"code": code, "status": status, "title": submission.title or submission.text[:60], **extra}
    publish("submission.status", private, private_rooms(submission), NAMESPACE)


# Dashes as word processors and input methods write them (‐ ‑ ‒ – — ― −), read as the code's "-".
_DASHES = {c: ord("-") for c in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212)}


def normal_code(code: str | None) -> str:
    """A tracking code as stored, from what a person typed or copied: full-width forms (a Chinese input
    method types ＨＣ－７Ｋ…), spaces or dashes anywhere (read out on the phone in groups), lower case, the
    dash or the whole "HC-" left out are all read."""
    wanted = "".join(halfwidth(code or "").split()).upper().translate(_DASHES)
    plain = wanted.replace("-", "")  # dashes anywhere: read out or copied in groups (HC-7K3M-9Q2X-PA)
    if len(plain) == CODE_LENGTH:  # the code without its "HC-"
        return "HC-" + plain
    if len(plain) == len("HC") + CODE_LENGTH and plain.startswith("HC"):
        return "HC-" + plain[2:]
    return wanted


def get_by_code(code: str) -> Submission:
    # Typed with a Chinese input method, a code may come in full-width letters and digits (ＨＣ－７Ｋ…).
    wanted = normal_code(code)
    submission = db.session.scalar(select(Submission).where(Submission.tracking_code == wanted))
    if submission is None:
        raise NotFound(_("No request has this tracking code."))
    return submission


def public_view(code: str) -> dict:
    """What anyone holding the tracking code may see: status, departments, replies; no personal data, no staff names."""
    from participation.core.i18n import current_language

    submission = get_by_code(code)
    ticket = submission.ticket
    language = current_language()
    view = {
        "code": submission.tracking_code,
        "kind": submission.kind.value,
        "title": submission.title,
        "category": submission.category.code if submission.category else None,
        "district": submission.district.code if submission.district else None,
        "status": ticket.status.value,
        "submitted_at": submission.created_at.isoformat(),
        "updated_at": ticket.updated_at.isoformat(),
        "photos": len(submission.attachments),
        "departments": _public_departments(ticket, language),
        "reply": ticket.public_reply,
        "timeline": [_public_event(e, language) for e in ticket.events if e.public],
    }
    waiting = deadlines.waiting_for_citizen(ticket)
    if waiting is not None:
        view["waiting"] = {"since": ticket.paused_since.isoformat(), "reason": waiting}
    if ticket.master is not None:
        view["merged"] = _merged_view(ticket, language)
    return view


def _public_departments(ticket, language: str) -> list[dict]:
    departments = [
        {"code": p.department.code, "name": p.department.text("name", language), "role": p.role.value}
        for p in ticket.parts
        if p.status.value not in ("ended", "waived")  # a waived part no longer handles it
    ]
    departments.sort(key=lambda d: d["role"] != "lead")
    return departments


def _merged_view(ticket, language: str) -> dict:
    """A merged item follows its master: its status, departments, reply and progress, never its code or sender."""
    master = ticket.master
    return {
        "at": ticket.merged_at.isoformat() if ticket.merged_at else None,
        "status": master.status.value,
        "updated_at": master.updated_at.isoformat(),
        "departments": _public_departments(master, language),
        "reply": master.public_reply,
        # What the master's departments asked of its sender is not the follower's to read.
        "timeline": [
            {**_public_event(e, language), **({"message": ""} if e.type == "clock.paused" else {})}
            for e in master.events
            if e.public and e.type != "submitted"
        ],
    }


def _public_event(event, language: str) -> dict:
    """One public timeline entry: what happened and the public text, never who did it."""
    payload = event.payload or {}
    out = {
        "at": event.at.isoformat(),
        "type": event.type,
        "status": event.to_status,
        "message": system_text(payload.get("message", "")),
    }
    if event.type == "clock.paused":  # what the departments wait for from the sender, in their words
        out["message"] = payload.get("reason") or ""
    if payload.get("photos"):
        out["photos"] = payload["photos"]
    names = payload.get(f"departments_{language}") or payload.get("departments_zh")
    if names:
        out["departments"] = names
    return out


def withdraw(actor: Any, code: str, reason: str = "") -> Submission:
    """The submitter takes back a request that is still open."""
    submission = get_by_code(code)
    authorize(actor, "intake.submission.withdraw", submission)
    if len(reason) > 500:
        raise ValidationFailed(fields={"reason": [_("At most %(n)s characters.", n=500)]})
    routing.withdraw(submission.ticket, actor, reason.strip())
    audit(actor, "submission.withdrawn", submission)
    return submission


INFORMATION_MAX = 2000


def add_information(actor: Any, code: str, text: str | None, files: list | None = None) -> Submission:
    """The sender gives what the departments asked for (text, photos or both) while the ticket waits for
    them; the photos join the request's, the lead is told and the deadlines run again."""
    submission = get_by_code(code)
    authorize(actor, "intake.submission.add_information", submission)
    if text is not None and not isinstance(text, str):
        raise ValidationFailed(fields={"information": [_("Must be text.")]})
    text, files = (text or "").strip(), files or []
    errors: dict[str, list[str]] = {}
    if not text and not files:
        errors["information"] = [_("Write what the departments asked for, or add the photos they asked for.")]
    if len(text) > INFORMATION_MAX:
        errors["information"] = [_("At most %(n)s characters.", n=INFORMATION_MAX)]
    limit = current_app.config["UPLOAD_MAX_FILES"]
    if len(files) > limit:
        errors["photos"] = [_("At most %(n)s photos.", n=limit)]
    if errors:
        raise ValidationFailed(fields=errors)
    ticket = submission.ticket
    if deadlines.waiting_for_citizen(ticket) is None:
        raise Conflict(_("The departments are not waiting for anything from you on this request now."))
    images = [uploads.check_image(name, stream) for name, stream in files]
    for image in images:
        values, _path = uploads.keep(image)
        submission.attachments.append(Attachment(**values))
    routing.record(
        ticket,
        "citizen.information",
        actor if is_authenticated(actor) else None,
        public=True,
        information=text,
        photos=len(images),
    )
    deadlines.resume(SYSTEM, ticket.id, reason=CITIZEN_ANSWERED)
    audit(actor, "submission.information_added", submission)
    return submission


def visible_submissions(actor: User, limit: int = 100) -> list[Submission]:
    """One's own submissions and, for enterprise members, the organisation's."""
    authorize(actor, "intake.submission.list_own")
    clause = Submission.user_id == actor.id
    if actor.organisation_id:
        clause = or_(clause, Submission.organisation_id == actor.organisation_id)
    stmt = select(Submission).where(clause).order_by(Submission.id.desc()).limit(limit)
    return list(db.session.scalars(stmt))


def attachment_for(actor: Any, attachment_id: int) -> Attachment:
    """A photo, for whoever may see the request's private details; for anyone else the same 404 as for a
    photo that does not exist (photo numbers cannot be probed)."""
    if not is_authenticated(actor):
        raise NotAuthenticated()
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or not can(actor, "intake.attachment.view", attachment.submission):
        raise NotFound()
    return attachment
