"""Survey statistics over complete responses: distributions, means with 95 % intervals, CSAT, NPS,
Cronbach's α per Likert block, breakdowns, and the sentiment and keywords of free text.

Decisions (kept here so that the API, the page and the tests agree):
- Only complete responses are counted; incomplete ones are reported as a count and nothing else.
- Means, standard deviations and intervals are given for the scales (likert5/7, rating5, nps) only:
  the codes of a single-choice question are names, not quantities.
- A multiple-choice share is the share of the question's respondents who chose the code, so the
  shares may add up to more than one.
- Without a version, every version's responses are pooled under the newest definition; an answer
  counts for a question only if its own version had a question of that name and type.
- Months are calendar months in the city's time zone (CITY_TIMEZONE); a district filter takes in
  the district's sub-districts, while the district breakdown shows the district as recorded.
- The headline CSAT pools every rating and Likert answer; the headline NPS pools every NPS answer.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from statistics import fmean, variance
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from participation.catalog.models import Category, Department, District
from participation.core.errors import ValidationFailed
from participation.core.permissions import authorize
from participation.extensions import db
from participation.surveys.models import Answer, Response, ResponseStatus, Survey, SurveyVersion
from participation.surveys.schemas import LIKERT, SCALES, Question, SurveyFile
from participation.surveys.services import get_survey

NUMERIC = ("likert5", "likert7", "rating5", "nps")
TOP_TWO = {"likert5": (4, 5), "likert7": (6, 7), "rating5": (4, 5)}  # CSAT: the top-2 boxes
PROMOTERS, DETRACTORS = range(9, 11), range(0, 7)  # NPS: 9–10 promote, 0–6 detract
BREAKDOWNS = ("department", "district", "category", "month")
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
TOP_KEYWORDS = 10

# Two-sided 95 % quantiles of Student's t, used only when SciPy is missing (df above 120: normal).
_T975 = {
    1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
    11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
    20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048,
    29: 2.045, 30: 2.042, 40: 2.021, 50: 2.009, 60: 2.000, 80: 1.990, 100: 1.984, 120: 1.980,
}  # fmt: skip


# -- small statistics -------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def t_quantile(df: int) -> float:
    """The 0.975 quantile of Student's t with df degrees of freedom."""
    try:
        from scipy.stats import t
    except ImportError:  # pragma: no cover - SciPy comes with scikit-learn
        if df in _T975:
            return _T975[df]
        larger = [d for d in _T975 if d > df]
        return _T975[min(larger)] if larger else 1.960  # the next tabulated df: a slightly wider interval
    return float(t.ppf(0.975, df))


def mean_ci(values: list[int]) -> dict[str, Any]:
    """Mean, sample standard deviation and the t interval of the mean (None where n is too small)."""
    n = len(values)
    if n == 0:
        return {"mean": None, "sd": None, "ci": None}
    mean = fmean(values)
    if n < 2:
        return {"mean": mean, "sd": None, "ci": None}
    sd = math.sqrt(variance(values))
    half = t_quantile(n - 1) * sd / math.sqrt(n)
    return {"mean": mean, "sd": sd, "ci": [mean - half, mean + half]}


def csat(values: list[int], question_type: str) -> float | None:
    """Top-2-box share of the answers."""
    if question_type not in TOP_TWO or not values:
        return None
    top = TOP_TWO[question_type]
    return sum(1 for v in values if v in top) / len(values)


def nps(values: list[int]) -> dict[str, Any] | None:
    """Net promoter score in points (−100 to 100) with its three groups."""
    if not values:
        return None
    promoters = sum(1 for v in values if v in PROMOTERS)
    detractors = sum(1 for v in values if v in DETRACTORS)
    n = len(values)
    return {
        "promoters": promoters,
        "passives": n - promoters - detractors,
        "detractors": detractors,
        "score": 100.0 * (promoters - detractors) / n,
    }


def cronbach_alpha(matrix: list[list[int]]) -> float | None:
    """α = k/(k−1)·(1 − Σσ²_item/σ²_total) with sample variances; rows are respondents, columns items."""
    if len(matrix) < 2 or not matrix[0] or len(matrix[0]) < 2:
        return None
    k = len(matrix[0])
    item_variances = sum(variance([row[i] for row in matrix]) for i in range(k))
    total_variance = variance([sum(row) for row in matrix])
    if total_variance == 0:
        return None  # everyone gave the same total: α is undefined
    return k / (k - 1) * (1 - item_variances / total_variance)


# -- filters ----------------------------------------------------------------------------------------


@dataclass
class Filters:
    """What the figures are restricted to; codes are kept to echo them back."""

    month_from: str | None = None
    month_to: str | None = None
    department: str | None = None
    district: str | None = None
    category: str | None = None
    department_id: int | None = None
    district_ids: list[int] = field(default_factory=list)
    category_id: int | None = None

    def as_args(self) -> dict[str, str]:
        """The filters as query arguments (for links and the live region's refresh URL)."""
        pairs = {
            "from": self.month_from,
            "to": self.month_to,
            "department": self.department,
            "district": self.district,
            "category": self.category,
        }
        return {k: v for k, v in pairs.items() if v}


def parse_filters(args: Mapping[str, Any]) -> Filters:
    """Query arguments to filters; every bad value is reported under its name."""
    errors: dict[str, list[str]] = {}
    filters = Filters()

    def text(name: str) -> str | None:
        value = args.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            errors[name] = [_("Wrong type of value.")]
            return None
        return value.strip() or None

    for name, attr in (("from", "month_from"), ("to", "month_to")):
        value = text(name)
        if value is not None:
            if MONTH.match(value):
                setattr(filters, attr, value)
            else:
                errors[name] = [_("Give a month as YYYY-MM.")]
    if filters.month_from and filters.month_to and filters.month_from > filters.month_to:
        errors["to"] = [_("The end month comes before the start month.")]
    for name, model in (("department", Department), ("district", District), ("category", Category)):
        code = text(name)
        if code is None:
            continue
        found = db.session.scalar(select(model).where(model.code == code)) if len(code) <= 40 else None
        if found is None:
            errors[name] = [_("No such code: %(code)s.", code=code[:40])]
            continue
        setattr(filters, name, found.code)
        if model is Department:
            filters.department_id = found.id
        elif model is Category:
            filters.category_id = found.id
        else:
            filters.district_ids = _with_sub_districts(found.id)
    if errors:
        raise ValidationFailed(fields=errors)
    return filters


def _with_sub_districts(district_id: int) -> list[int]:
    parents = dict(db.session.execute(select(District.id, District.parent_id)).all())
    found, frontier = {district_id}, {district_id}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier and child not in found}
        found |= frontier
    return sorted(found)


def _city_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("CITY_TIMEZONE", "Asia/Shanghai"))


def _month_start(month: str, zone: ZoneInfo, *, after: bool = False) -> datetime:
    """The first instant (UTC) of the month, or of the month after it."""
    year, number = int(month[:4]), int(month[5:])
    if after:
        year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return datetime(year, number, 1, tzinfo=zone).astimezone(UTC)


def parse_version(survey: Survey, value: Any) -> SurveyVersion | None:
    """?version=N: one published version (None: all versions pooled)."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if not text.isdigit() or len(text) > 6:
        raise ValidationFailed(fields={"version": [_("Give a version number.")]})
    found = next((v for v in survey.versions if v.number == int(text)), None)
    if found is None:
        raise ValidationFailed(fields={"version": [_("This survey has no version %(n)s.", n=int(text))]})
    return found


# -- the summary ------------------------------------------------------------------------------------


def analyse(actor: Any, code: str, args: Mapping[str, Any]) -> tuple[Survey, Filters, dict]:
    """Load the survey, check the analyst, read the filters, and summarise: what the page and API call."""
    survey = get_survey(code)
    authorize(actor, "surveys.analyse", survey)
    version = parse_version(survey, args.get("version"))
    filters = parse_filters(args)
    return survey, filters, summary(survey, version=version, filters=filters)


def _restrict(stmt, filters: Filters, moment):
    if filters.department_id is not None:
        stmt = stmt.where(Response.department_id == filters.department_id)
    if filters.district_ids:
        stmt = stmt.where(Response.district_id.in_(filters.district_ids))
    if filters.category_id is not None:
        stmt = stmt.where(Response.category_id == filters.category_id)
    zone = _city_zone()
    if filters.month_from:
        stmt = stmt.where(moment >= _month_start(filters.month_from, zone))
    if filters.month_to:
        stmt = stmt.where(moment < _month_start(filters.month_to, zone, after=True))
    return stmt


def _definitions(survey: Survey, version: SurveyVersion | None) -> tuple[SurveyFile | None, dict[int, dict[str, str]]]:
    """The definition analysed and, per version id, the type of each of its questions."""
    versions = [version] if version is not None else list(survey.versions)
    if not versions:
        return None, {}
    newest = version or survey.current_version or versions[-1]
    types = {v.id: {q["name"]: q["type"] for q in v.definition.get("questions", [])} for v in versions}
    return SurveyFile.model_validate(newest.definition), types


def summary(survey: Survey, *, version: SurveyVersion | None = None, filters: Filters | None = None) -> dict:
    """Every figure of the analysis page and the summary API, over complete responses only."""
    filters = filters or Filters()
    definition, types = _definitions(survey, version)
    base = {
        "survey": {"code": survey.code, "title": {"zh": survey.title_zh, "en": survey.title_en}},
        "status": survey.status.value,
        "version": version.number if version is not None else None,
        "filters": filters.as_args(),
    }
    incomplete = (
        select(func.count())
        .select_from(Response)
        .where(Response.survey_id == survey.id, Response.status == ResponseStatus.INCOMPLETE)
    )
    if version is not None:
        incomplete = incomplete.where(Response.version_id == version.id)
    incomplete = _restrict(incomplete, filters, Response.started_at)

    stmt = (
        select(
            Response.id,
            Response.version_id,
            Response.department_id,
            Response.district_id,
            Response.category_id,
            Response.completed_at,
            Answer.question,
            Answer.value_int,
            Answer.value_text,
        )
        .outerjoin(Answer, Answer.response_id == Response.id)
        .where(Response.survey_id == survey.id, Response.status == ResponseStatus.COMPLETE)
        .order_by(Response.id, Answer.id)
    )
    if version is not None:
        stmt = stmt.where(Response.version_id == version.id)
    stmt = _restrict(stmt, filters, Response.completed_at)

    zone = _city_zone()
    respondents: dict[int, dict[str, Any]] = {}
    for row in db.session.execute(stmt):
        person = respondents.get(row.id)
        if person is None:
            person = respondents[row.id] = {
                "department": row.department_id,
                "district": row.district_id,
                "category": row.category_id,
                "month": row.completed_at.astimezone(zone).strftime("%Y-%m") if row.completed_at else None,
                "version": row.version_id,
                "answers": defaultdict(list),
            }
        if row.question is not None:
            person["answers"][row.question].append(row.value_text if row.value_text is not None else row.value_int)

    counts = {"complete": len(respondents), "incomplete": db.session.scalar(incomplete) or 0}
    if definition is None:
        return {**base, "responses": counts, "headline": {}, "questions": [], "blocks": [], "breakdowns": {}}

    # An answer counts only where its own version asked a question of the same name and type.
    answers: dict[str, dict[int, list]] = {q.name: {} for q in definition.questions}
    for rid, person in respondents.items():
        asked = types.get(person["version"], {})
        for question in definition.questions:
            given = person["answers"].get(question.name)
            if given and asked.get(question.name) == question.type:
                answers[question.name][rid] = given

    questions = [_question(q, answers[q.name]) for q in definition.questions]
    return {
        **base,
        "responses": counts,
        "headline": _headline(definition, answers),
        "questions": questions,
        "blocks": _blocks(definition, answers),
        "breakdowns": _breakdowns(definition, answers, respondents),
    }


def _points(question: Question) -> list[tuple[int, dict[str, str]]]:
    """Every code of the question with its zh/en label (a scale's unlabelled points show their number)."""
    labels = {c.code: {"zh": c.label.zh, "en": c.label.en} for c in question.choices or []}
    codes = list(SCALES[question.type]) if question.type in SCALES else [c.code for c in question.choices or []]
    return [(code, labels.get(code, {"zh": str(code), "en": str(code)})) for code in codes]


def _question(question: Question, given: dict[int, list]) -> dict:
    out: dict[str, Any] = {
        "name": question.name,
        "type": question.type,
        "label": {"zh": question.label.zh, "en": question.label.en},
        "group": question.group,
        "count": len(given),
    }
    if question.type == "text":
        out["text"] = text_summary([v for values in given.values() for v in values if isinstance(v, str)])
        return out
    chosen = Counter(v for values in given.values() for v in set(values) if isinstance(v, int))
    n = len(given)
    out["distribution"] = [
        {"code": code, "label": label, "count": chosen[code], "share": chosen[code] / n if n else None}
        for code, label in _points(question)
    ]
    if question.type in NUMERIC:
        values = [values[0] for values in given.values()]
        out.update(mean_ci(values))
        out["csat"] = csat(values, question.type)
        out["nps"] = nps(values) if question.type == "nps" else None
    return out


def _headline(definition: SurveyFile, answers: dict[str, dict[int, list]]) -> dict:
    top = total = 0
    nps_values: list[int] = []
    for question in definition.questions:
        values = [v[0] for v in answers[question.name].values()]
        if question.type in TOP_TWO:
            top += sum(1 for v in values if v in TOP_TWO[question.type])
            total += len(values)
        elif question.type == "nps":
            nps_values.extend(values)
    return {"csat": top / total if total else None, "nps": nps(nps_values)}


def _blocks(definition: SurveyFile, answers: dict[str, dict[int, list]]) -> list[dict]:
    """Cronbach's α of each Likert block, over the respondents who answered all of its items."""
    groups: dict[str, list[Question]] = {}
    for question in definition.questions:
        if question.group is not None and question.type in LIKERT:
            groups.setdefault(question.group, []).append(question)
    out = []
    for group, items in groups.items():
        names = [q.name for q in items]
        complete = set.intersection(*(set(answers[name]) for name in names))
        matrix = [[answers[name][rid][0] for name in names] for rid in sorted(complete)]
        out.append({"group": group, "items": names, "k": len(names), "n": len(matrix), "alpha": cronbach_alpha(matrix)})
    return out


def _breakdowns(definition: SurveyFile, answers: dict[str, dict[int, list]], respondents: dict[int, dict]) -> dict:
    """Per department, district, category and month: responses and each scale's mean, CSAT (and NPS)."""
    numeric = [q for q in definition.questions if q.type in NUMERIC]
    names = _catalog_names(respondents.values())
    out: dict[str, list[dict]] = {}
    for dimension in BREAKDOWNS:
        members: dict[Any, list[int]] = defaultdict(list)
        for rid, person in respondents.items():
            members[person[dimension]].append(rid)
        rows = []
        for key in sorted(members, key=lambda k: (k is None, _sort_key(dimension, k, names))):
            ids = members[key]
            figures = {}
            for question in numeric:
                values = [answers[question.name][rid][0] for rid in ids if rid in answers[question.name]]
                figures[question.name] = {
                    "n": len(values),
                    "mean": fmean(values) if values else None,
                    "csat": csat(values, question.type),
                    "nps": (nps(values) or {}).get("score") if question.type == "nps" else None,
                }
            code, label = _describe(dimension, key, names)
            rows.append({"key": code, "label": label, "responses": len(ids), "questions": figures})
        out[dimension] = rows
    return out


def _catalog_names(people: Iterable[dict]) -> dict[str, dict[int, Any]]:
    """The departments, districts and categories the respondents mention: one query each."""
    people = list(people)
    names: dict[str, dict[int, Any]] = {}
    for dimension, model in (("department", Department), ("district", District), ("category", Category)):
        ids = {p[dimension] for p in people if p[dimension] is not None}
        rows = db.session.execute(select(model).where(model.id.in_(ids))).scalars() if ids else []
        names[dimension] = {row.id: row for row in rows}
    return names


def _sort_key(dimension: str, key: Any, names: dict[str, dict[int, Any]]) -> str:
    if key is None:
        return ""
    if dimension == "month":
        return key
    row = names[dimension].get(key)
    return row.code if row is not None else str(key)


def _describe(dimension: str, key: Any, names: dict[str, dict[int, Any]]) -> tuple[str | None, dict | None]:
    if key is None:
        return None, None
    if dimension == "month":
        return key, {"zh": key, "en": key}
    row = names[dimension].get(key)
    if row is None:
        return str(key), {"zh": str(key), "en": str(key)}
    return row.code, {"zh": row.name_zh, "en": row.name_en}


# -- free text ----------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _analysed(text: str):
    """One text's language, sentiment and keywords (cached: live refreshes see the same texts again)."""
    from participation.text import analyse as analyse_text

    return analyse_text(text)


def text_summary(texts: list[str]) -> dict:
    """Count, mean sentiment, languages and the keywords most answers use (zh and en)."""
    texts = [t for t in texts if t and t.strip()]
    if not texts:
        return {"count": 0, "sentiment": None, "languages": {}, "keywords": []}
    results = [_analysed(t) for t in texts]
    frequency: Counter[str] = Counter()
    for result in results:
        frequency.update(set(result.keywords))  # how many answers use the word, not how often
    keywords = sorted(frequency.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_KEYWORDS]
    return {
        "count": len(texts),
        "sentiment": fmean(r.sentiment for r in results),
        "languages": dict(Counter(r.language for r in results)),
        "keywords": [{"word": word, "count": count} for word, count in keywords],
    }
