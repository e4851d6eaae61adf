"""JSON API for surveys: definitions (the file format), publishing, invitations, responses, and the callback.

One response per session for public surveys: a cookie caller uses the same random per-browser key as the
pages (kept in the signed session cookie, so a client that keeps its cookies answers once); a caller with
an API token has no session, so the key is derived from the token's user: one response per account.
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from participation.core.api import bp
from participation.core.errors import NotAuthenticated, NotFound, ValidationFailed
from participation.core.i18n import current_language
from participation.core.permissions import can
from participation.core.uow import transaction
from participation.core.validation import json_body, small_int
from participation.extensions import db, limiter
from participation.surveys import callbacks, services
from participation.surveys.models import CallbackResult, Distribution, Response, Survey, SurveyStatus
from participation.surveys.views import response_limit, survey_session_key


def _bilingual(survey: Survey) -> dict:
    return {"zh": survey.title_zh, "en": survey.title_en}


def survey_json(survey: Survey) -> dict:
    """What a manager or analyst sees of a survey (without the definition)."""
    return {
        "code": survey.code,
        "title": _bilingual(survey),
        "status": survey.status.value,
        "distribution": survey.distribution.value,
        "anonymous": survey.anonymous,
        "department": survey.department.code if survey.department else None,
        "version": survey.current_version.number if survey.current_version else None,
        "draft_changed": survey.draft_changed,
        "updated_at": survey.updated_at.isoformat(),
    }


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _bool_field(body: dict, name: str, default: Any) -> Any:
    value = body.get(name, default)
    if value is not default and not isinstance(value, bool):
        raise ValidationFailed(fields={name: [_("Wrong type of value.")]})
    return value


@bp.post("/surveys")
def create_survey():
    """Create a survey or replace its draft from a definition in the file format (`?publish=1` publishes it).

    Besides the file's fields the body may carry "distribution" (public, invitation, callback) and "anonymous".
    """
    body = json_body(request)
    distribution = body.pop("distribution", None)
    if distribution is not None and not isinstance(distribution, str):
        raise ValidationFailed(fields={"distribution": [_("Choose public, invitation or callback.")]})
    anonymous = _bool_field(body, "anonymous", None)
    body.pop("anonymous", None)
    with transaction():
        survey, created = services.save_definition(
            current_user,
            body,
            distribution=distribution,
            anonymous=anonymous,
            publish=_flag(request.args.get("publish")),
        )
        payload = {**survey_json(survey), "definition": survey.draft}
    response = jsonify(payload)
    response.status_code = 201 if created else 200
    response.headers["Location"] = url_for("api.get_survey", code=payload["code"])
    return response


@bp.get("/surveys")
def list_surveys():
    """The surveys the caller may manage or analyse."""
    if not current_user.is_authenticated:
        raise NotAuthenticated()
    return jsonify({"surveys": [survey_json(s) for s in services.list_surveys(current_user)]})


@bp.get("/surveys/<code>")
def get_survey(code: str):
    """Managers get the draft (or `?version=N`) and the versions; anyone gets the open version of a public survey."""
    survey = services.get_survey(code)
    if can(current_user, "surveys.manage", survey):
        raw = request.args.get("version")
        number = small_int(raw) if raw is not None else None
        if raw is not None and not number:
            raise ValidationFailed(fields={"version": [_("Give a version number.")]})
        return jsonify(
            {
                **survey_json(survey),
                "definition": services.export_definition(survey.code, number),
                "versions": [{"number": v.number, "published_at": v.published_at.isoformat()} for v in survey.versions],
                "responses": services.response_counts(survey),
            }
        )
    if survey.status != SurveyStatus.OPEN or survey.distribution != Distribution.PUBLIC:
        raise NotFound(_("No such survey."))  # drafts and invitation-only surveys are not shown to everyone
    version = survey.current_version
    return jsonify(
        {
            "code": survey.code,
            "title": _bilingual(survey),
            "status": survey.status.value,
            "distribution": survey.distribution.value,
            "version": version.number,
            "definition": version.definition,
        }
    )


@bp.post("/surveys/<code>/publish")
def publish_survey(code: str):
    """Freeze the draft as a new version (an unchanged draft keeps its version) and open the survey."""
    with transaction():
        version = services.publish_survey(current_user, code)
        payload = survey_json(version.survey)
    return jsonify(payload)


@bp.post("/surveys/<code>/close")
def close_survey(code: str):
    with transaction():
        payload = survey_json(services.close_survey(current_user, code))
    return jsonify(payload)


@bp.post("/surveys/<code>/invitations")
def invite_to_survey(code: str):
    """One-use links for {"emails": [...]}, each sent by e-mail through the outbox (the token never comes back)."""
    from participation.notifications.services import notify_address

    body = json_body(request)
    emails = body.get("emails")
    if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
        raise ValidationFailed(fields={"emails": [_("Give a list of e-mail addresses.")]})
    if len(emails) > 1000:
        raise ValidationFailed(fields={"emails": [_("At most %(n)s addresses at a time.", n=1000)]})
    with transaction():
        made = services.invite(current_user, code, emails)
        survey = services.get_survey(code)
        title = _bilingual(survey)
        for invitation, token in made:
            notify_address(
                invitation.email,
                "survey_invitation",
                params={"title": title},
                link=url_for("surveys.invitation", token=token),
            )
        invited = [invitation.email for invitation, _token in made]
    return jsonify({"invited": len(invited), "emails": invited}), 201


def _session_key() -> str:
    """Token callers: one response per account; cookie callers: the browser session's key (see the module)."""
    if request.headers.get("Authorization") and g.get("_login_user") is not None:
        return f"user:{current_user.id}"
    return survey_session_key()


def _answers_body() -> tuple[Any, bool, str | None]:
    body = json_body(request)
    if "answers" not in body:
        raise ValidationFailed(fields={"answers": [_("This field is required.")]})
    complete = _bool_field(body, "complete", True)
    token = body.get("token")
    if token is not None and not isinstance(token, str):
        raise ValidationFailed(fields={"token": [_("Wrong type of value.")]})
    return body["answers"], complete, token


def response_json(response: Response) -> dict:
    return {
        "survey": response.survey.code,
        "version": response.version.number,
        "status": response.status.value,
        "completed_at": response.completed_at.isoformat() if response.completed_at else None,
    }


@bp.post("/surveys/<code>/responses")
@limiter.shared_limit(response_limit, scope="survey_response")
def answer_survey(code: str):
    """Answer an open survey: {"answers": {name: code | [codes] | text}, "token"?, "complete"?: true}."""
    answers, complete, token = _answers_body()
    survey = services.get_survey(code)
    how: dict[str, Any] = {"token": token} if survey.distribution != Distribution.PUBLIC else {}
    with transaction():
        if survey.distribution == Distribution.PUBLIC:
            how["session_key"] = _session_key()
        response = services.answer(current_user, code, answers, complete=complete, language=current_language(), **how)
        payload = response_json(response)
    return jsonify(payload), 201


@bp.post("/submissions/<code>/callback")
@limiter.shared_limit(response_limit, scope="survey_response")
def answer_callback(code: str):
    """Whoever holds the tracking code answers the waiting callback: {"answers": {"solved", "satisfaction", ...}}."""
    answers, _complete, _token = _answers_body()
    with transaction():
        response = callbacks.answer_by_tracking_code(current_user, code, answers, current_language())
        result = db.session.scalar(select(CallbackResult).where(CallbackResult.response_id == response.id))
        payload = {**response_json(response), "outcome": result.outcome if result else None}
    return jsonify(payload), 201
