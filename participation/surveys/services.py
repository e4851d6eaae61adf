"""Survey operations: definitions and versions, invitations, responses with checked answers.

Each public function is one operation: load, authorise, validate, change, audit, and queue
live events after commit. The callback loop lives in `callbacks.py`, statistics in `analysis.py`.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from participation.accounts.models import Role
from participation.core.audit import audit
from participation.core.errors import Conflict, NotFound, ValidationFailed
from participation.core.models import utcnow
from participation.core.permissions import authorize
from participation.core.validation import validate
from participation.extensions import db
from participation.surveys.models import (
    Answer,
    Distribution,
    Invitation,
    Response,
    ResponseStatus,
    Survey,
    SurveyStatus,
    SurveyVersion,
)
from participation.surveys.schemas import SCALES, TEXT_MAX, SurveyFile, dump

NAMESPACE = "/surveys"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def survey_room(survey_id: int) -> str:
    return f"survey:{survey_id}"


# -- definitions --------------------------------------------------------------------------------


def get_survey(code: str) -> Survey:
    survey = db.session.scalar(select(Survey).where(Survey.code == (code or "").strip()))
    if survey is None:
        raise NotFound(_("No such survey."))
    return survey


def parse(definition: Any) -> SurveyFile:
    """A definition in the file format, checked; errors name their place (questions[2].choices[0].code)."""
    return validate(SurveyFile, definition)


def save_definition(
    actor: Any,
    definition: Any,
    *,
    distribution: str | None = None,
    anonymous: bool | None = None,
    department_id: int | None = None,
    publish: bool = False,
) -> tuple[Survey, bool]:
    """Create a survey or replace its draft from a definition (import, API, builder); returns (survey, created)."""
    parsed = parse(definition)
    survey = db.session.scalar(select(Survey).where(Survey.code == parsed.code))
    created = survey is None
    if created:
        authorize(actor, "surveys.create")
        if department_id is None and not actor.has_role(Role.COORDINATOR):
            department_id = next(iter(sorted(getattr(actor, "department_ids", set()))), None)
        survey = Survey(code=parsed.code, department_id=department_id, created_by_id=getattr(actor, "id", None))
        db.session.add(survey)
    else:
        authorize(actor, "surveys.manage", survey)
    if distribution is not None:
        try:
            survey.distribution = Distribution(distribution)
        except ValueError:
            raise ValidationFailed(fields={"distribution": [_("Choose public, invitation or callback.")]}) from None
    if anonymous is not None:
        survey.anonymous = bool(anonymous)
    survey.title_zh, survey.title_en = parsed.title.zh, parsed.title.en
    new = dump(parsed)
    latest = survey.current_version.definition if survey.current_version else None
    survey.draft = new
    survey.draft_changed = new != latest
    db.session.flush()
    audit(actor, "survey.created" if created else "survey.draft_saved", survey, code=survey.code)
    if publish:
        publish_survey(actor, survey.code)
    return survey, created


def publish_survey(actor: Any, code: str) -> SurveyVersion:
    """Freeze the draft as a new version and open the survey; an unchanged draft keeps its version."""
    survey = get_survey(code)
    authorize(actor, "surveys.manage", survey)
    parsed = parse(survey.draft)
    if survey.current_version is not None and not survey.draft_changed:
        version = survey.current_version
    else:
        number = (
            db.session.scalar(select(func.max(SurveyVersion.number)).where(SurveyVersion.survey_id == survey.id)) or 0
        ) + 1
        version = SurveyVersion(
            survey_id=survey.id, number=number, definition=dump(parsed), published_by_id=getattr(actor, "id", None)
        )
        db.session.add(version)
        db.session.flush()
        survey.current_version_id = version.id
        survey.current_version = version
        survey.draft_changed = False
    survey.status = SurveyStatus.OPEN
    audit(actor, "survey.published", survey, version=version.number)
    _announce(survey)
    return version


def close_survey(actor: Any, code: str) -> Survey:
    survey = get_survey(code)
    authorize(actor, "surveys.manage", survey)
    if survey.status != SurveyStatus.OPEN:
        raise Conflict(_("Only an open survey can be closed."))
    survey.status = SurveyStatus.CLOSED
    audit(actor, "survey.closed", survey)
    _announce(survey)
    return survey


def export_definition(code: str, version: int | None = None) -> dict:
    """The file format of the draft, or of a published version."""
    survey = get_survey(code)
    if version is None:
        return dict(survey.draft)
    found = next((v for v in survey.versions if v.number == version), None)
    if found is None:
        raise NotFound(_("No such version."))
    return dict(found.definition)


def list_surveys(actor: Any) -> list[Survey]:
    surveys = db.session.scalars(select(Survey).order_by(Survey.code))
    from participation.core.permissions import can

    return [s for s in surveys if can(actor, "surveys.manage", s) or can(actor, "surveys.analyse", s)]


# -- invitations ----------------------------------------------------------------------------------


def new_invitation(
    survey: Survey, *, email: str = "", ticket_id: int | None = None, user_id: int | None = None, round: int = 1
) -> tuple[Invitation, str]:
    """A one-use invitation; returns it and the raw token (shown or sent once, stored hashed)."""
    token = secrets.token_urlsafe(24)
    invitation = Invitation(
        survey_id=survey.id,
        token_hash=token_hash(token),
        email=email,
        ticket_id=ticket_id,
        user_id=user_id,
        round=round,
    )
    db.session.add(invitation)
    return invitation, token


def invite(actor: Any, code: str, emails: list[str]) -> list[tuple[Invitation, str]]:
    """Invitation links for a list of addresses (the links are sent by e-mail through the outbox)."""
    from email_validator import EmailNotValidError, validate_email

    survey = get_survey(code)
    authorize(actor, "surveys.manage", survey)
    if survey.distribution != Distribution.INVITATION:
        raise Conflict(_("This survey is not distributed by invitation."))
    clean, errors = [], {}
    for index, address in enumerate(emails):
        try:
            clean.append(validate_email(str(address), check_deliverability=False).normalized)
        except EmailNotValidError:
            errors[f"emails[{index}]"] = [_("Not a valid e-mail address.")]
    if errors:
        raise ValidationFailed(fields=errors)
    if not clean:
        raise ValidationFailed(fields={"emails": [_("Give at least one e-mail address.")]})
    made = [new_invitation(survey, email=address) for address in dict.fromkeys(clean)]
    audit(actor, "survey.invited", survey, count=len(made))
    return made


def invitation_for(token: str) -> Invitation:
    invitation = db.session.scalar(select(Invitation).where(Invitation.token_hash == token_hash(token or "")))
    if invitation is None:
        raise NotFound(_("This survey link is not valid."))
    if invitation.used_at is not None:
        raise Conflict(_("This survey link has already been used."))
    return invitation


# -- responses ------------------------------------------------------------------------------------


def _visible(definition: SurveyFile, answers: dict[str, Any]) -> set[str]:
    """The questions shown, given the answers so far (show-if conditions)."""
    shown: set[str] = set()
    for question in definition.questions:
        condition = question.show_if
        if condition is None:
            shown.add(question.name)
            continue
        given = answers.get(condition.question) if condition.question in shown else None
        given_codes = given if isinstance(given, list) else [given]
        if any(code in condition.in_ for code in given_codes if code is not None):
            shown.add(question.name)
    return shown


def check_answers(definition: SurveyFile, answers: Any, *, complete: bool) -> dict[str, Any]:
    """Answers checked against each question's type and range; errors per question name, nothing stored."""
    if not isinstance(answers, dict):
        raise ValidationFailed(fields={"answers": [_("Give the answers as an object of question names.")]})
    errors: dict[str, list[str]] = {}
    names = {q.name for q in definition.questions}
    for name in answers:
        if name not in names:
            errors[f"answers.{name}"] = [_("There is no such question.")]
    shown = _visible(definition, answers)
    out: dict[str, Any] = {}
    for question in definition.questions:
        value = answers.get(question.name)
        field = f"answers.{question.name}"
        if value is None or value == "" or value == []:
            if complete and question.required and question.name in shown:
                errors[field] = [_("This question needs an answer.")]
            continue
        if question.name not in shown:
            errors[field] = [_("This question is not shown for your earlier answers.")]
            continue
        if question.type == "text":
            if not isinstance(value, str):
                errors[field] = [_("Give a text.")]
            elif len(value) > TEXT_MAX:
                errors[field] = [_("At most %(n)s characters.", n=TEXT_MAX)]
            else:
                out[question.name] = value.strip()
            continue
        codes = question.codes()
        if question.type == "multiple":
            if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                errors[field] = [_("Give a list of answer codes.")]
            elif any(v not in codes for v in value):
                errors[field] = [_("Choose among the listed answers.")]
            else:
                out[question.name] = sorted(set(value))
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            errors[field] = [_("Give one answer code.")]
        elif value not in codes:
            if question.type in SCALES:
                scale = SCALES[question.type]
                errors[field] = [_("Give a value from %(a)s to %(b)s.", a=scale[0], b=scale[-1])]
            else:
                errors[field] = [_("Choose among the listed answers.")]
        else:
            out[question.name] = value
    if errors:
        raise ValidationFailed(fields=errors)
    return out


def _open_version(survey: Survey) -> SurveyVersion:
    if survey.status != SurveyStatus.OPEN or survey.current_version is None:
        if survey.status == SurveyStatus.CLOSED:
            raise Conflict(_("This survey is closed."))
        raise Conflict(_("This survey has not been published."))
    return survey.current_version


def answer(
    actor: Any,
    code: str,
    answers: Any,
    *,
    session_key: str | None = None,
    token: str | None = None,
    invitation: Invitation | None = None,
    complete: bool = True,
    language: str = "zh",
) -> Response:
    """Store a response to the open version: public (one per browser session) or through an invitation token.

    `complete=False` keeps a partly answered response as incomplete (it is never counted as complete);
    answering again from the same session or token continues it.
    """
    survey = get_survey(code)
    authorize(actor, "surveys.respond", survey)
    version = _open_version(survey)
    definition = SurveyFile.model_validate(version.definition)
    checked = check_answers(definition, answers, complete=complete)
    if survey.distribution == Distribution.PUBLIC:
        if not session_key:
            raise ValidationFailed(fields={"session": [_("Your browser must accept cookies to answer.")]})
        session_hash = token_hash(f"{survey.id}:{session_key}")
        response = db.session.scalar(
            select(Response).where(Response.survey_id == survey.id, Response.session_hash == session_hash)
        )
        if response is not None and response.status == ResponseStatus.COMPLETE:
            raise Conflict(_("You have already answered this survey."))
    else:
        if invitation is None:
            if not token:
                raise ValidationFailed(fields={"token": [_("This survey is answered through its invitation link.")]})
            invitation = invitation_for(token)
        elif invitation.used_at is not None:
            raise Conflict(_("This survey has already been answered."))
        if invitation.survey_id != survey.id:
            raise NotFound(_("This survey link is not valid."))
        session_hash = token_hash(f"invitation:{invitation.id}") if not survey.anonymous else None
        response = (
            db.session.get(Response, invitation.response_id)
            if invitation.response_id and not survey.anonymous
            else None
        )
    if response is None:
        response = Response(
            survey_id=survey.id,
            version_id=version.id,
            channel=survey.distribution,
            session_hash=session_hash,
            language=language if language in ("zh", "en") else "zh",
        )
        if invitation is not None and invitation.ticket_id is not None:
            _describe_ticket(response, invitation.ticket_id)
        db.session.add(response)
    else:
        for old in list(response.answers):
            response.answers.remove(old)
        response.version_id = version.id
    for name, value in checked.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, str):
                response.answers.append(Answer(question=name, value_text=item))
            else:
                response.answers.append(Answer(question=name, value_int=item))
    if complete:
        response.status = ResponseStatus.COMPLETE
        response.completed_at = utcnow()
    db.session.flush()
    if invitation is not None:
        if complete:
            invitation.used_at = utcnow()
        if not survey.anonymous:
            invitation.response_id = response.id
    audit(None, "survey.response." + ("completed" if complete else "saved"), survey, response=response.id)
    if complete and survey.distribution == Distribution.CALLBACK and invitation is not None:
        from participation.surveys.callbacks import record_callback

        record_callback(invitation, response, checked)
    if complete:
        _announce(survey)
    return response


def _describe_ticket(response: Response, ticket_id: int) -> None:
    """Breakdowns without personal data: the ticket's lead department, district and primary category."""
    from participation.routing.models import Ticket

    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None:
        return
    response.ticket_id = ticket.id
    response.department_id = ticket.lead_department_id
    response.district_id = ticket.district_id
    primary = ticket.primary_category
    response.category_id = primary.id if primary is not None else None


def response_counts(survey: Survey) -> dict[str, int]:
    rows = db.session.execute(
        select(Response.status, func.count()).where(Response.survey_id == survey.id).group_by(Response.status)
    )
    counts = {status.value: 0 for status in ResponseStatus}
    counts.update({status.value: n for status, n in rows})
    return counts


def _announce(survey: Survey) -> None:
    """Live: response counts (and so the charts) of the survey's analysis page."""
    from participation.core.sockets import publish

    publish("survey.updated", {"code": survey.code, "status": survey.status.value}, [survey_room(survey.id)], NAMESPACE)
