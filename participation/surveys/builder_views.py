"""Survey builder pages for coordinators and department admins: list, new, edit, preview, publish, code sets."""

from __future__ import annotations

import re

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict

from participation.accounts.models import Role
from participation.core.errors import DomainError, ValidationFailed
from participation.core.i18n import current_language
from participation.core.permissions import authorize
from participation.core.uow import transaction
from participation.core.validation import small_int
from participation.surveys import builder, services
from participation.surveys.models import Survey
from participation.surveys.schemas import LIKERT, QUESTION_TYPES, SCALES

bp = Blueprint("survey_builder", __name__, url_prefix="/surveys")

MAX_QUESTIONS = 200
CODESET_ROWS = 3  # empty rows below a code set's choices

TYPE_LABELS = {
    "single": _l("Single choice"),
    "multiple": _l("Multiple choice"),
    "likert5": _l("Likert, 5 points"),
    "likert7": _l("Likert, 7 points"),
    "rating5": _l("Rating 1–5"),
    "nps": _l("NPS 0–10"),
    "text": _l("Free text"),
}
DISTRIBUTION_LABELS = {
    "public": _l("Public"),
    "invitation": _l("Invitation"),
    "callback": _l("Callback after resolution"),
}
STATUS_LABELS = {"draft": _l("Draft"), "open": _l("Open for answers"), "closed": _l("Closed")}

# Sub-fields of a question that have their own place on the form; other errors go to the question's head.
_PLACED = re.compile(
    r"^(name|type|label(\.zh|\.en)?|required|group|show_if(\.question|\.in(\[\d+\])?)?|choices"
    r"(\[\d+\](\.code|\.label(\.zh|\.en)?)?)?)$"
)


def _labels() -> dict:
    return {"type_labels": TYPE_LABELS, "distribution_labels": DISTRIBUTION_LABELS, "status_labels": STATUS_LABELS}


# -- form <-> definition -----------------------------------------------------------------------------


def _int_or_text(value: str) -> int | str:
    """A code typed on the form: an integer when it is one (the schema reports anything else)."""
    value = value.strip()
    return int(value) if re.fullmatch(r"-?[0-9]{1,9}", value) else value


def _count(form: MultiDict, name: str, limit: int) -> int:
    return min(small_int(form.get(name)) or 0, limit)


def choices_from_form(form: MultiDict, prefix: str) -> list[dict]:
    """Choice rows `<prefix>c<j>-code/-zh/-en`; rows left empty are ignored."""
    rows = []
    for j in range(_count(form, prefix + "choices", builder.MAX_CHOICES + 10)):
        code = form.get(f"{prefix}c{j}-code", "")
        zh, en = form.get(f"{prefix}c{j}-zh", ""), form.get(f"{prefix}c{j}-en", "")
        if code.strip() or zh.strip() or en.strip():
            rows.append({"code": _int_or_text(code), "label": {"zh": zh, "en": en}})
    return rows


def questions_from_form(form: MultiDict) -> list[dict]:
    """The question list as posted, in the file format (values kept as typed so errors can show them)."""
    questions = []
    for i in range(_count(form, "count", MAX_QUESTIONS + 1)):
        prefix = f"q{i}-"
        question: dict = {
            "name": form.get(prefix + "name", "").strip(),
            "type": form.get(prefix + "type", ""),
            "label": {"zh": form.get(prefix + "label_zh", ""), "en": form.get(prefix + "label_en", "")},
            "required": form.get(prefix + "required") == "on",
        }
        choices = choices_from_form(form, prefix)
        if choices:
            question["choices"] = choices
        group = form.get(prefix + "group", "").strip()
        if group:
            question["group"] = group
        target = form.get(prefix + "show_if", "").strip()
        if target:
            codes = [c for c in re.split(r"[\s,，;；]+", form.get(prefix + "show_if_in", "")) if c]
            question["show_if"] = {"question": target, "in": [_int_or_text(c) for c in codes]}
        questions.append(question)
    return questions


def _title(form: MultiDict) -> dict:
    return {"zh": form.get("title_zh", ""), "en": form.get("title_en", "")}


def question_errors(errors: dict, count: int) -> tuple[list[dict], dict]:
    """Errors per question ({sub-field: messages}, "" for the question's head), and the others."""
    per: list[dict] = [{} for _i in range(count)]
    rest: dict = {}
    for key, messages in errors.items():
        match = re.match(r"^questions\[(\d+)\](?:\.(.*))?$", key)
        if match and int(match.group(1)) < count:
            sub = match.group(2) or ""
            place = sub if _PLACED.match(sub) else ""
            if sub.startswith("show_if.in"):
                place = "show_if.in"
            per[int(match.group(1))].setdefault(place, []).extend(messages)
        else:
            rest[key] = messages
    return per, rest


# -- pages -----------------------------------------------------------------------------------------


@bp.get("/manage")
@login_required
def index():
    surveys = builder.manageable_surveys(current_user)
    return render_template(
        "surveys/list.html",
        surveys=surveys,
        counts={s.id: services.response_counts(s) for s in surveys},
        **_labels(),
    )


@bp.route("/manage/new", methods=["GET", "POST"])
@login_required
def new():
    authorize(current_user, "surveys.create")
    departments = builder.departments_for(current_user)
    errors: dict = {}
    status = 200
    if request.method == "POST":
        form = request.form
        raw = form.get("department", "").strip()
        department_id = None if not raw else (small_int(raw) if small_int(raw) is not None else -1)
        try:
            with transaction():
                survey = builder.create_survey(
                    current_user,
                    code=form.get("code", ""),
                    title=_title(form),
                    distribution=form.get("distribution", ""),
                    anonymous=form.get("anonymous") == "on",
                    department_id=department_id,
                )
                code = survey.code
        except DomainError as error:
            errors, status = error.fields or {"_": [error.message]}, error.status
        else:
            flash(_("Survey created. Now write its questions."), "success")
            return redirect(url_for(".edit", code=code))
    return render_template(
        "surveys/builder_new.html",
        form=request.form if request.method == "POST" else None,
        errors=errors,
        departments=departments,
        city_wide=current_user.has_role(Role.COORDINATOR),
        distributions=builder.distribution_values(),
        **_labels(),
    ), status


def _edit_page(
    survey: Survey, questions: list[dict], *, title: dict, settings: dict, errors=None, extra=None, status=200
):
    per, rest = question_errors(errors or {}, len(questions))
    names = [str(q.get("name", "")) for q in questions]
    return render_template(
        "surveys/builder_edit.html",
        survey=survey,
        questions=questions,
        title=title,
        settings=settings,
        per=per,
        errors=rest,
        extra=extra or {},
        names=names,
        types=QUESTION_TYPES,
        scales={k: [r[0], r[-1]] for k, r in SCALES.items()},
        likert=LIKERT,
        code_sets=builder.code_sets(current_user),
        distributions=builder.distribution_values(),
        counts=services.response_counts(survey),
        **_labels(),
    ), status


@bp.get("/manage/<code>/edit")
@login_required
def edit(code: str):
    survey = builder.survey_to_manage(current_user, code)
    return _edit_page(
        survey,
        list(survey.draft.get("questions", [])),
        title=dict(survey.draft.get("title", {})),
        settings={"distribution": survey.distribution.value, "anonymous": survey.anonymous},
    )


def _apply(action: str, questions: list[dict], form: MultiDict) -> tuple[list[dict], bool, dict]:
    """Apply the button's action to the posted list: (questions, save?, extra empty choice rows)."""
    kind, _dash, rest = action.partition(":")
    parts = [small_int(p) for p in rest.split(":")] if rest else []
    if any(p is None for p in parts):
        return questions, True, {}
    i = parts[0] if parts else None
    if i is not None and i >= len(questions):
        return questions, True, {}
    if kind == "add":
        return questions + [builder.new_question(form.get("new_type", ""), questions)], False, {}
    if kind == "row" and i is not None:
        return questions, False, {i: 1}
    if kind == "unrow" and i is not None and len(parts) == 2:
        choices = list(questions[i].get("choices") or [])
        if parts[1] < len(choices):
            del choices[parts[1]]
        questions[i] = {**questions[i], "choices": choices} if choices else _without(questions[i], "choices")
    elif kind == "delete" and i is not None:
        del questions[i]
    elif kind == "up" and i:
        questions[i - 1], questions[i] = questions[i], questions[i - 1]
    elif kind == "down" and i is not None and i + 1 < len(questions):
        questions[i + 1], questions[i] = questions[i], questions[i + 1]
    elif kind == "codeset" and i is not None:
        chosen = small_int(form.get(f"q{i}-codeset"))
        if chosen is None:
            raise ValidationFailed(fields={f"questions[{i}].choices": [_("Choose a code set.")]})
        questions[i] = builder.with_code_set(questions[i], builder.get_code_set(current_user, chosen))
    return questions, True, {}


def _without(question: dict, key: str) -> dict:
    return {k: v for k, v in question.items() if k != key}


@bp.post("/manage/<code>/edit")
@login_required
def save(code: str):
    survey = builder.survey_to_manage(current_user, code)
    form = request.form
    questions = questions_from_form(form)
    title = _title(form)
    settings = {"distribution": form.get("distribution", ""), "anonymous": form.get("anonymous") == "on"}
    try:
        questions, store, extra = _apply(form.get("action", "save"), questions, form)
        if store:
            with transaction():
                builder.save_draft(
                    current_user,
                    survey.code,
                    title=title,
                    questions=questions,
                    distribution=settings["distribution"],
                    anonymous=settings["anonymous"],
                )
    except DomainError as error:
        survey = builder.survey_to_manage(current_user, code)
        fields = builder.place_errors(error.fields) if error.fields else {"_": [error.message]}
        return _edit_page(survey, questions, title=title, settings=settings, errors=fields, status=error.status)
    if not store:
        return _edit_page(survey, questions, title=title, settings=settings, extra=extra)
    flash(_("Draft saved."), "success")
    return redirect(url_for(".edit", code=code))


@bp.post("/manage/<code>/publish")
@login_required
def publish(code: str):
    try:
        with transaction():
            version = services.publish_survey(current_user, code)
            number = version.number
    except DomainError as error:
        if error.status in (403, 404):
            raise
        flash(error.message, "error")
    else:
        flash(_("Published version %(number)s.", number=number), "success")
    return redirect(url_for(".edit", code=code))


@bp.post("/manage/<code>/close")
@login_required
def close(code: str):
    try:
        with transaction():
            services.close_survey(current_user, code)
    except DomainError as error:
        if error.status in (403, 404):
            raise
        flash(error.message, "error")
    else:
        flash(_("Survey closed."), "success")
    return redirect(url_for(".edit", code=code))


@bp.get("/manage/<code>/preview")
@login_required
def preview(code: str):
    """The saved draft as respondents will see it, in Chinese or English; it has nothing to send."""
    survey = builder.survey_to_manage(current_user, code)
    language = request.args.get("lang", "")
    if language not in ("zh", "en"):
        language = current_language()
    definition = services.parse(survey.draft)
    with force_locale(language):
        return render_template(
            "surveys/builder_preview.html",
            survey=survey,
            survey_title=definition.title.en if language == "en" else definition.title.zh,
            definition=definition,
            preview_lang=language,
        )


# -- answer code sets -------------------------------------------------------------------------------


def _code_set_from_form(form: MultiDict) -> dict:
    return {
        "code": form.get("code", "").strip(),
        "label": {"zh": form.get("label_zh", ""), "en": form.get("label_en", "")},
        "choices": choices_from_form(form, ""),
    }


@bp.get("/codesets")
@login_required
def code_sets():
    return render_template("surveys/codesets.html", code_sets=builder.code_sets(current_user))


@bp.route("/codesets/new", methods=["GET", "POST"])
@bp.route("/codesets/<int:code_set_id>/edit", methods=["GET", "POST"])
@login_required
def code_set_form(code_set_id: int | None = None):
    code_set = builder.get_code_set(current_user, code_set_id) if code_set_id is not None else None
    authorize(current_user, "surveys.create")
    errors: dict = {}
    status = 200
    if code_set is not None:
        data = builder.code_set_json(code_set)
    else:
        data = {"code": "", "label": {"zh": "", "en": ""}, "choices": []}
    if request.method == "POST":
        data = _code_set_from_form(request.form)
        try:
            with transaction():
                builder.save_code_set(current_user, data, code_set_id)
        except DomainError as error:
            errors, status = error.fields or {"_": [error.message]}, error.status
        else:
            flash(_("Code set saved."), "success")
            return redirect(url_for(".code_sets"))
    rows = list(data["choices"]) + [{"code": "", "label": {"zh": "", "en": ""}}] * CODESET_ROWS
    return render_template("surveys/codesets_form.html", code_set=code_set, data=data, rows=rows, errors=errors), status


@bp.post("/codesets/<int:code_set_id>/delete")
@login_required
def code_set_delete(code_set_id: int):
    with transaction():
        builder.delete_code_set(current_user, code_set_id)
    flash(_("Code set deleted."), "success")
    return redirect(url_for(".code_sets"))
