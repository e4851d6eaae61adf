"""The survey definition file format, shared by import, export, the API and the builder.

{"code", "title": {"zh", "en"}, "questions": [{"name", "type", "label": {"zh", "en"}, "choices"?,
 "required"?, "group"?, "show_if"?: {"question", "in": [codes]}}]}
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from flask_babel import lazy_gettext as _l
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints, model_validator

QUESTION_TYPES = ("single", "multiple", "likert5", "likert7", "rating5", "nps", "text")
SCALES = {"likert5": range(1, 6), "likert7": range(1, 8), "rating5": range(1, 6), "nps": range(0, 11)}
LIKERT = ("likert5", "likert7")
TEXT_MAX = 2000  # characters of a free-text answer

# Names SPSS and Stata reserve; a variable may not be called so (compared case-insensitively for SPSS).
SPSS_RESERVED = {"all", "and", "by", "eq", "ge", "gt", "le", "lt", "ne", "not", "or", "to", "with"}
STATA_RESERVED = {
    "_all", "_b", "byte", "_coef", "_cons", "double", "float", "if", "in", "int", "long", "_n", "_pi",
    "_pred", "_rc", "_skip", "strl", "using", "with", "_se",
}  # fmt: skip
VARIABLE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")  # SPSS: 64 bytes, Stata: 32 characters

Code = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")]
Label = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=500)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Bilingual(_Strict):
    zh: Label
    en: Label


class Choice(_Strict):
    code: Annotated[StrictInt, Field(ge=-99, le=9999)]
    label: Bilingual


class ShowIf(_Strict):
    question: Annotated[str, StringConstraints(strict=True, max_length=32)]
    in_: Annotated[list[StrictInt], Field(alias="in", min_length=1)]

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Question(_Strict):
    name: Annotated[str, StringConstraints(strict=True, max_length=32)]
    type: Literal["single", "multiple", "likert5", "likert7", "rating5", "nps", "text"]
    label: Bilingual
    choices: list[Choice] | None = None
    required: StrictBool = False
    group: Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,31}$")] | None = None
    show_if: ShowIf | None = None

    @model_validator(mode="after")
    def _check(self) -> Question:
        if not VARIABLE.match(self.name):
            raise ValueError(str(_l("A name starts with a letter and has at most 32 letters, digits or _.")))
        if self.name.lower() in SPSS_RESERVED or self.name.lower() in STATA_RESERVED:
            raise ValueError(str(_l("%(name)s is a reserved word in SPSS or Stata.", name=self.name)))
        if self.type in ("single", "multiple"):
            if not self.choices or len(self.choices) < 2:
                raise ValueError(str(_l("A choice question needs at least two choices.")))
        elif self.type == "text":
            if self.choices:
                raise ValueError(str(_l("A free-text question has no choices.")))
        elif self.choices:  # optional labels for the points of a scale: codes must be on the scale
            allowed = SCALES[self.type]
            if any(c.code not in allowed for c in self.choices):
                raise ValueError(
                    str(_l("Scale labels must use the scale's codes (%(a)s to %(b)s).", a=allowed[0], b=allowed[-1]))
                )
        if self.choices:
            codes = [c.code for c in self.choices]
            if len(set(codes)) != len(codes):
                raise ValueError(str(_l("Each choice needs its own code.")))
        if self.group is not None and self.type not in LIKERT:
            raise ValueError(str(_l("Only Likert questions form a block (group).")))
        return self

    def codes(self) -> list[int]:
        """The valid answer codes (empty for free text)."""
        if self.type in SCALES:
            return list(SCALES[self.type])
        return [c.code for c in self.choices or []]


class SurveyFile(_Strict):
    code: Code
    title: Bilingual
    questions: Annotated[list[Question], Field(min_length=1, max_length=200)]

    @model_validator(mode="after")
    def _check(self) -> SurveyFile:
        seen: dict[str, Question] = {}
        groups: dict[str, str] = {}
        for index, question in enumerate(self.questions):
            if question.name.lower() in {n.lower() for n in seen}:
                raise ValueError(
                    str(_l("questions[%(i)s]: the name %(name)s is used twice.", i=index, name=question.name))
                )
            if question.group is not None:
                if groups.setdefault(question.group, question.type) != question.type:
                    raise ValueError(str(_l("questions[%(i)s]: a Likert block mixes scales.", i=index)))
            if question.show_if is not None:
                target = seen.get(question.show_if.question)
                if target is None:
                    raise ValueError(str(_l("questions[%(i)s]: show_if must name an earlier question.", i=index)))
                if target.type == "text":
                    raise ValueError(str(_l("questions[%(i)s]: show_if cannot depend on free text.", i=index)))
                unknown = [c for c in question.show_if.in_ if c not in target.codes()]
                if unknown:
                    raise ValueError(
                        str(
                            _l(
                                "questions[%(i)s]: show_if uses codes %(codes)s that %(name)s does not have.",
                                i=index,
                                codes=unknown,
                                name=target.name,
                            )
                        )
                    )
            seen[question.name] = question
        return self

    def question(self, name: str) -> Question | None:
        return next((q for q in self.questions if q.name == name), None)


def dump(survey_file: SurveyFile) -> dict:
    """Back to the file format (what export writes and import reads)."""
    return survey_file.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=False)
