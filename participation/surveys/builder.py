"""Builder operations: new surveys, draft edits through the definition schema, reusable answer code sets.

Every draft edit goes through `services.save_definition`, so the builder obeys exactly the rules of
an imported file; this module adds what the pages need around it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator
from sqlalchemy import select

from participation.accounts.models import Role
from participation.catalog.models import Department
from participation.core.audit import audit
from participation.core.errors import NotFound, ValidationFailed
from participation.core.permissions import authorize, can
from participation.core.validation import validate
from participation.extensions import db
from participation.surveys import services
from participation.surveys.models import AnswerCodeSet, Distribution, Survey
from participation.surveys.schemas import QUESTION_TYPES, Choice, Code

MAX_CHOICES = 50

# -- surveys ----------------------------------------------------------------------------------------


def manageable_surveys(actor: Any) -> list[Survey]:
    """The surveys the actor builds: all for coordinators, their departments' for department admins."""
    authorize(actor, "surveys.create")
    surveys = db.session.scalars(select(Survey).order_by(Survey.code))
    return [s for s in surveys if can(actor, "surveys.manage", s)]


def survey_to_manage(actor: Any, code: str) -> Survey:
    survey = services.get_survey(code)
    authorize(actor, "surveys.manage", survey)
    return survey


def departments_for(actor: Any) -> list[Department]:
    """Where the actor may place a new survey: any department for coordinators, else their own."""
    query = select(Department).order_by(Department.code)
    if not actor.has_role(Role.COORDINATOR):
        query = query.where(Department.id.in_(sorted(actor.department_ids) or [-1]))
    return list(db.session.scalars(query))


def starter_question() -> dict:
    """A new survey starts with one free-text question, since a definition needs at least one."""
    return {"name": "q1", "type": "text", "label": {"zh": "新问题", "en": "New question"}, "required": False}


def create_survey(
    actor: Any,
    *,
    code: str,
    title: dict,
    distribution: str,
    anonymous: bool,
    department_id: int | None,
) -> Survey:
    """A new survey with a one-question draft; a department admin's belongs to one of their departments."""
    authorize(actor, "surveys.create")
    code = (code or "").strip()
    if code and db.session.scalar(select(Survey.id).where(Survey.code == code)) is not None:
        raise ValidationFailed(fields={"code": [_("Another survey already has this code.")]})
    allowed = {d.id for d in departments_for(actor)}
    if department_id is None and not actor.has_role(Role.COORDINATOR):
        department_id = min(allowed) if allowed else -1  # a department admin without a department
    if department_id is not None and department_id not in allowed:
        raise ValidationFailed(fields={"department": [_("Choose one of your departments.")]})
    definition = {"code": code, "title": title, "questions": [starter_question()]}
    survey, _created = services.save_definition(
        actor, definition, distribution=distribution, anonymous=anonymous, department_id=department_id
    )
    return survey


def save_draft(
    actor: Any,
    code: str,
    *,
    title: dict,
    questions: list[dict],
    distribution: str | None = None,
    anonymous: bool | None = None,
) -> Survey:
    """Replace the draft's title and questions; every rule of the file format applies, errors name their place."""
    survey = survey_to_manage(actor, code)
    definition = {"code": survey.code, "title": title, "questions": questions}
    try:
        survey, _created = services.save_definition(actor, definition, distribution=distribution, anonymous=anonymous)
    except ValidationFailed as error:
        error.fields = place_errors(error.fields)
        raise
    return survey


_PLACED = re.compile(r"^questions\[(\d+)\]:\s*")


def place_errors(fields: dict[str, list[str]]) -> dict[str, list[str]]:
    """Errors of the whole file that name a question ("questions[2]: ...") are moved to that question."""
    out: dict[str, list[str]] = {}
    for key, messages in fields.items():
        for message in messages:
            match = _PLACED.match(message) if key == "_" else None
            if match:
                out.setdefault(f"questions[{match.group(1)}]", []).append(message[match.end() :])
            else:
                out.setdefault(key, []).append(message)
    return out


def new_question(kind: str, existing: list[dict]) -> dict:
    """A blank question of the type with a free name (q1, q2, ...); choice questions get two empty rows."""
    if kind not in QUESTION_TYPES:
        raise ValidationFailed(fields={"new_type": [_("Choose a question type.")]})
    names = {str(q.get("name", "")).lower() for q in existing}
    n = len(existing) + 1
    while f"q{n}" in names:
        n += 1
    question: dict = {"name": f"q{n}", "type": kind, "label": {"zh": "", "en": ""}, "required": False}
    if kind in ("single", "multiple"):
        question["choices"] = [{"code": 1, "label": {"zh": "", "en": ""}}, {"code": 2, "label": {"zh": "", "en": ""}}]
    return question


def with_code_set(question: dict, code_set: AnswerCodeSet) -> dict:
    """The question with a copy of the code set's choices (later edits of the set do not change it)."""
    return {**question, "choices": [{"code": c["code"], "label": dict(c["label"])} for c in code_set.choices]}


# -- answer code sets -------------------------------------------------------------------------------

CodeSetLabel = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=200)]


class CodeSetLabels(BaseModel):
    model_config = ConfigDict(extra="forbid")

    zh: CodeSetLabel
    en: CodeSetLabel


class CodeSetIn(BaseModel):
    """A reusable list of choices: integer codes, each used once, at least two."""

    model_config = ConfigDict(extra="forbid")

    code: Code
    label: CodeSetLabels
    choices: list[Choice]

    @field_validator("choices")
    @classmethod
    def _choices(cls, choices: list[Choice]) -> list[Choice]:
        if len(choices) < 2:
            raise ValueError(_("A code set needs at least two choices."))
        if len(choices) > MAX_CHOICES:
            raise ValueError(_("At most %(n)s choices.", n=MAX_CHOICES))
        codes = [c.code for c in choices]
        if len(set(codes)) != len(codes):
            raise ValueError(_("Each choice needs its own code."))
        return choices


def code_set_json(code_set: AnswerCodeSet) -> dict:
    return {
        "id": code_set.id,
        "code": code_set.code,
        "label": {"zh": code_set.label_zh, "en": code_set.label_en},
        "choices": [{"code": c["code"], "label": dict(c["label"])} for c in code_set.choices],
    }


def code_sets(actor: Any) -> list[AnswerCodeSet]:
    """The shared code sets; anyone who builds surveys may use and maintain them."""
    authorize(actor, "surveys.create")
    return list(db.session.scalars(select(AnswerCodeSet).order_by(AnswerCodeSet.code)))


def get_code_set(actor: Any, code_set_id: int) -> AnswerCodeSet:
    authorize(actor, "surveys.create")
    code_set = db.session.get(AnswerCodeSet, code_set_id)
    if code_set is None:
        raise NotFound(_("No such code set."))
    return code_set


def save_code_set(actor: Any, data: Any, code_set_id: int | None = None) -> AnswerCodeSet:
    """Add a code set, or replace one; surveys that used it keep their copies."""
    code_set = get_code_set(actor, code_set_id) if code_set_id is not None else None
    authorize(actor, "surveys.create")
    clean = validate(CodeSetIn, data)
    taken = db.session.scalar(select(AnswerCodeSet).where(AnswerCodeSet.code == clean.code))
    if taken is not None and taken is not code_set:
        raise ValidationFailed(fields={"code": [_("Another code set already has this code.")]})
    created = code_set is None
    if code_set is None:
        code_set = AnswerCodeSet(code=clean.code)
        db.session.add(code_set)
    code_set.code = clean.code
    code_set.label_zh, code_set.label_en = clean.label.zh, clean.label.en
    code_set.choices = [c.model_dump(mode="json") for c in clean.choices]
    db.session.flush()
    audit(actor, "survey.codeset." + ("created" if created else "updated"), code_set, code=code_set.code)
    return code_set


def delete_code_set(actor: Any, code_set_id: int) -> None:
    code_set = get_code_set(actor, code_set_id)
    audit(actor, "survey.codeset.deleted", code_set, code=code_set.code)
    db.session.delete(code_set)
    db.session.flush()


def distribution_values() -> list[str]:
    return [d.value for d in Distribution]
