"""Answering pages: public surveys (/s/<code>), invitation links (/s/i/<token>) and the callback form
on the tracking page (/track/<code>/callback). Builder and analysis pages live in their own modules."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from participation.core.errors import DomainError, NotFound
from participation.core.i18n import current_language
from participation.core.permissions import can
from participation.core.uow import transaction
from participation.extensions import db, limiter
from participation.surveys import callbacks, services
from participation.surveys.models import Distribution, Invitation, Response, ResponseStatus, Survey, SurveyStatus
from participation.surveys.schemas import SCALES, Question, SurveyFile

bp = Blueprint("surveys", __name__)

LIKERT5_LABELS = (
    _l("Strongly disagree"),
    _l("Disagree"),
    _l("Neither agree nor disagree"),
    _l("Agree"),
    _l("Strongly agree"),
)
SCALE_ENDS = {
    "likert7": (_l("Strongly disagree"), _l("Strongly agree")),
    "rating5": (_l("Very poor"), _l("Excellent")),
    "nps": (_l("Not at all likely"), _l("Extremely likely")),
}


def response_limit() -> str:
    """Answers are rate-limited like submissions (their own budget, so surveys never block a request)."""
    return current_app.config.get("SURVEY_RESPONSE_RATE_LIMIT") or current_app.config["SUBMISSION_RATE_LIMIT"]


def survey_session_key() -> str:
    """The random per-browser key behind "one response per browser session" (kept in the signed session)."""
    return session.setdefault("survey_key", secrets.token_hex(16))


# -- rendering questions ---------------------------------------------------------------------------


def text_of(bilingual: Any) -> str:
    language = current_language()
    return (bilingual.en if language == "en" else bilingual.zh) or bilingual.zh or bilingual.en


@dataclass
class Point:
    code: int
    label: str


@dataclass
class Item:
    question: Question
    label: str
    points: list[Point]
    hidden: bool
    selected: set[int] = field(default_factory=set)
    text: str = ""
    ends: tuple[str, str] | None = None


@dataclass
class Block:
    kind: str  # "question" or "matrix" (a Likert block: one table, a row per item)
    items: list[Item]
    group: str | None = None

    @property
    def points(self) -> list[Point]:
        return self.items[0].points


def _points(question: Question) -> list[Point]:
    labels = {c.code: text_of(c.label) for c in question.choices or []}
    if question.type in ("single", "multiple"):
        return [Point(c.code, labels[c.code]) for c in question.choices or []]
    if question.type not in SCALES:
        return []
    defaults = dict(zip(SCALES["likert5"], LIKERT5_LABELS, strict=True)) if question.type == "likert5" else {}
    return [Point(code, labels.get(code) or str(defaults.get(code, code))) for code in SCALES[question.type]]


def survey_layout(definition: SurveyFile, values: dict | None = None) -> list[Block]:
    """The questions as blocks to render: consecutive Likert items of one group become a matrix.

    A question hidden by its show-if condition (for the current values) is rendered hidden and without
    its value; the survey script shows it when the condition is met.
    """
    values = values or {}
    shown = services._visible(definition, values)
    blocks: list[Block] = []
    for question in definition.questions:
        hidden = question.name not in shown
        value = None if hidden else values.get(question.name)
        selected = {v for v in (value if isinstance(value, list) else [value]) if isinstance(v, int)}
        ends = SCALE_ENDS.get(question.type)
        item = Item(
            question=question,
            label=text_of(question.label),
            points=_points(question),
            hidden=hidden,
            selected=selected,
            text=value if isinstance(value, str) else "",
            ends=(str(ends[0]), str(ends[1])) if ends else None,
        )
        previous = blocks[-1] if blocks else None
        if question.group is not None:
            if previous is not None and previous.kind == "matrix" and previous.group == question.group:
                previous.items.append(item)
            else:
                blocks.append(Block("matrix", [item], question.group))
        else:
            blocks.append(Block("question", [item]))
    return blocks


@bp.app_template_global("survey_layout")
def _survey_layout_global(definition: SurveyFile, values: dict | None = None) -> list[Block]:
    return survey_layout(definition, values)


# -- reading a form --------------------------------------------------------------------------------

_CODE = re.compile(r"^-?[0-9]{1,6}$")


def _code(raw: str) -> int | str:
    """An answer code from the form; anything else stays text so that the service names the error."""
    return int(raw) if _CODE.match(raw) else raw


def answers_from_form(definition: SurveyFile, form) -> dict[str, Any]:
    """The form's inputs (q_<name>) as the answers object the API takes."""
    answers: dict[str, Any] = {}
    for question in definition.questions:
        key = f"q_{question.name}"
        if question.type == "multiple":
            raw = [value.strip() for value in form.getlist(key) if value.strip()]
            if raw:
                answers[question.name] = [_code(value) for value in raw]
        elif question.type == "text":
            text = form.get(key, "")
            if text.strip():
                answers[question.name] = text
        else:
            raw = form.get(key, "").strip()
            if raw:
                answers[question.name] = _code(raw)
    return answers


def form_errors(definition: SurveyFile, values: dict, error: DomainError) -> dict[str, list[str]]:
    """Errors by question name; those of questions now hidden, and the rest, go to the top of the form."""
    shown = services._visible(definition, values)
    labels = {q.name: text_of(q.label) for q in definition.questions}
    errors: dict[str, list[str]] = {}
    for key, messages in (error.fields or {}).items():
        name = key.removeprefix("answers.")
        if name in labels and name in shown:
            errors[name] = list(messages)
        elif name in labels:
            errors.setdefault("_", []).extend(f"{labels[name]}: {m}" for m in messages)
        else:
            errors.setdefault("_", []).extend(messages)
    if not errors:
        errors["_"] = [error.message]
    return errors


def values_of(response: Response | None, definition: SurveyFile) -> dict[str, Any]:
    """A stored (incomplete) response as form values."""
    values: dict[str, Any] = {}
    if response is None:
        return values
    for answer in response.answers:
        question = definition.question(answer.question)
        if question is None:
            continue
        if question.type == "multiple":
            values.setdefault(question.name, []).append(answer.value_int)
        else:
            values[question.name] = answer.value_text if question.type == "text" else answer.value_int
    return values


def _definition(survey: Survey) -> SurveyFile:
    return SurveyFile.model_validate(services._open_version(survey).definition)


def _page(survey: Survey, definition: SurveyFile, values: dict, errors: dict, *, can_save: bool, status: int = 200):
    return render_template(
        "surveys/answer.html",
        survey=survey,
        definition=definition,
        title=text_of(definition.title),
        values=values,
        errors=errors,
        can_save=can_save,
        resumed=bool(values) and not errors,
    ), status


def _submit(survey: Survey, definition: SurveyFile, done_url: str, again_url: str, can_save: bool, **how):
    """Store the posted answers (finish, or save for later); show the form again with the errors."""
    complete = request.form.get("action") != "save" or not can_save
    values = answers_from_form(definition, request.form)
    try:
        with transaction():
            services.answer(current_user, survey.code, values, complete=complete, language=current_language(), **how)
    except DomainError as error:
        errors = form_errors(definition, values, error)
        return _page(survey, definition, values, errors, can_save=can_save, status=error.status)
    if complete:
        return redirect(done_url)
    flash(_("Your answers are saved. Come back to this page to finish."), "success")
    return redirect(again_url)


# -- public surveys --------------------------------------------------------------------------------


def _public_response(survey: Survey) -> Response | None:
    key = session.get("survey_key")
    if not key:
        return None
    session_hash = services.token_hash(f"{survey.id}:{key}")
    return db.session.scalar(
        select(Response).where(Response.survey_id == survey.id, Response.session_hash == session_hash)
    )


@bp.route("/s/<code>", methods=["GET", "POST"])
@limiter.shared_limit(response_limit, scope="survey_response", methods=["POST"])
def answer(code: str):
    """A public survey: anyone, anonymous, one response per browser session."""
    survey = services.get_survey(code)
    if survey.distribution != Distribution.PUBLIC:
        raise NotFound(_("This survey is answered through its invitation link."))
    definition = _definition(survey)
    done_url = url_for(".done", code=survey.code)
    if request.method == "POST":
        again_url = url_for(".answer", code=survey.code)
        return _submit(survey, definition, done_url, again_url, True, session_key=survey_session_key())
    response = _public_response(survey)
    if response is not None and response.status == ResponseStatus.COMPLETE:
        return render_template("surveys/done.html", title=text_of(definition.title), already=True)
    return _page(survey, definition, values_of(response, definition), {}, can_save=True)


# -- invitations -----------------------------------------------------------------------------------


@bp.route("/s/i/<token>", methods=["GET", "POST"])
@limiter.shared_limit(response_limit, scope="survey_response", methods=["POST"])
def invitation(token: str):
    """A one-use invitation link; an anonymous survey keeps no link between it and the answers."""
    found: Invitation = services.invitation_for(token)
    survey = db.session.get(Survey, found.survey_id)
    definition = _definition(survey)
    # Saving for later needs the invitation to find the answers again: not in anonymous mode.
    can_save = not survey.anonymous
    done_url = url_for(".done", code=survey.code)
    if request.method == "POST":
        return _submit(survey, definition, done_url, url_for(".invitation", token=token), can_save, token=token)
    saved = db.session.get(Response, found.response_id) if found.response_id and not survey.anonymous else None
    return _page(survey, definition, values_of(saved, definition), {}, can_save=can_save)


@bp.get("/s/<code>/done")
def done(code: str):
    survey = services.get_survey(code)
    return render_template("surveys/done.html", title=survey.title(current_language()), already=False)


# -- the callback on the tracking page -------------------------------------------------------------


@bp.app_template_global("pending_callback")
def pending_callback(code: str) -> SurveyFile | None:
    """The callback questions waiting for this tracking code's request, if any (for the tracking page)."""
    from participation.intake.services import get_by_code

    try:
        submission = get_by_code(code)
    except NotFound:
        return None
    if submission.ticket is None:
        return None
    waiting = callbacks.pending_invitation(submission.ticket)
    if waiting is None:
        return None
    survey = db.session.get(Survey, waiting.survey_id)
    if survey.status != SurveyStatus.OPEN or survey.current_version is None:
        return None
    return SurveyFile.model_validate(survey.current_version.definition)


@bp.app_template_global("callback_reopens")
def callback_reopens(code: str) -> bool:
    """Whether an unhappy answer to the waiting callback would reopen the request (not once the request a
    follower was merged into is closed), so that the form promises only what happens."""
    from participation.intake.services import get_by_code

    try:
        submission = get_by_code(code)
    except NotFound:
        return False
    return submission.ticket is not None and callbacks.answer_reopens(submission.ticket)


@bp.app_template_global("callback_refusal")
def callback_refusal(code: str) -> dict | None:
    """Why the person looking at the tracking page may not answer its callback (None: they may), and
    whether signing in with the sending account would let them."""
    from participation.intake.services import get_by_code

    try:
        submission = get_by_code(code)
    except NotFound:
        return None
    if can(current_user, "surveys.callback.answer", submission):
        return None
    sent_from_an_account = submission.user_id is not None or submission.organisation_id is not None
    return {"message": callbacks.why_not_answer(submission), "sign_in": sent_from_an_account}


@bp.get("/track/<code>/callback")
def callback_address(code: str):
    """The address a refused callback answer leaves in the browser: reloading it, or switching the language
    there, goes back to the tracking page."""
    return redirect(url_for("intake.track", code=code))


@bp.post("/track/<code>/callback")
@limiter.shared_limit(response_limit, scope="survey_response")
def callback(code: str):
    """Whoever holds the tracking code answers the callback; "dissatisfied" reopens the request."""
    from participation.intake.services import public_view

    definition = pending_callback(code)
    values = answers_from_form(definition, request.form) if definition is not None else {}
    try:
        with transaction():
            callbacks.answer_by_tracking_code(current_user, code, values, current_language())
    except DomainError as error:
        view = public_view(code)
        errors = form_errors(definition, values, error) if definition is not None else {"_": [error.message]}
        page_errors = errors if definition is None else {}  # no form to show them in: at the top
        return render_template(
            "intake/track.html", view=view, callback_values=values, callback_errors=errors, errors=page_errors
        ), error.status
    flash(_("Thank you for telling us how your request was handled."), "success")
    return redirect(url_for("intake.track", code=code))
