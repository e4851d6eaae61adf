"""The survey analysis page (with its live partial) and GET /api/v1/surveys/<code>/summary."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from participation.catalog import services as catalog
from participation.core.api import bp as api_bp
from participation.core.errors import ValidationFailed
from participation.core.i18n import current_language
from participation.surveys import analysis
from participation.surveys.models import SurveyStatus
from participation.surveys.services import get_survey

bp = Blueprint("survey_analysis", __name__)


@api_bp.get("/surveys/<code>/summary")
def summary_api(code: str):
    """?version=N&from=YYYY-MM&to=YYYY-MM&department=&district=&category=: every figure, as JSON."""
    _survey, _filters, result = analysis.analyse(current_user, code, request.args)
    return jsonify(result)


def _pick(label: dict | None, lang: str) -> str:
    if not label:
        return _("Not known")
    return label.get(lang) or label.get("zh") or label.get("en") or ""


def question_chart(question: dict, lang: str) -> dict:
    """What survey-charts.js draws for one question: a bar per code, and the mean with its interval."""
    points = question.get("distribution") or []
    return {
        "labels": [_pick(p["label"], lang) for p in points],
        "counts": [p["count"] for p in points],
        "series": _("Answers"),
        "mean": question.get("mean"),
        "ci": question.get("ci"),
        "meanLabel": _("Mean"),
        "ciLabel": _("Interval (95 per cent)"),
    }


def means_chart(result: dict, lang: str) -> dict:
    """Every scale question's mean and 95 % interval, side by side (floating bars for the intervals)."""
    rows = [q for q in result.get("questions", []) if q.get("mean") is not None]
    return {
        "labels": [q["name"] for q in rows],
        "titles": [_pick(q["label"], lang) for q in rows],
        "means": [q["mean"] for q in rows],
        "cis": [q["ci"] for q in rows],
        "meanLabel": _("Mean"),
        "ciLabel": _("Interval (95 per cent)"),
    }


def _context(code: str) -> dict:
    """The page's figures, or the filter form's errors (the survey is loaded and the analyst checked first)."""
    lang = current_language()
    errors: dict = {}
    try:
        survey, filters, result = analysis.analyse(current_user, code, request.args)
    except ValidationFailed as error:
        survey, filters, result = get_survey(code), None, None  # analyse() authorised before it validated
        errors = error.fields or {"_": [error.message]}
    args = {k: request.args.get(k, "") for k in ("version", "from", "to", "department", "district", "category")}
    refresh = {k: v for k, v in args.items() if v}
    return {
        "survey": survey,
        "result": result,
        "filters": filters,
        "args": args,
        "refresh_args": refresh,
        "errors": errors,
        "live": survey.status == SurveyStatus.OPEN and result is not None,
        "pick": lambda label: _pick(label, lang),
        "question_chart": lambda q: question_chart(q, lang),
        "means_chart": (means_chart(result, lang) if result else None),
        "breakdown_names": {
            "department": _("Department"),
            "district": _("District"),
            "category": _("Category"),
            "month": _("Month"),
        },
    }


@bp.get("/surveys/<code>/analysis")
@login_required
def page(code: str):
    """Headline figures, a chart and table per question, breakdowns, free text; live while the survey is open."""
    context = _context(code)
    if request.args.get("partial") == "1":
        if context["result"] is None:
            return render_template("surveys/analysis_results.html", **context), 422
        return render_template("surveys/analysis_results.html", **context)
    context.update(
        departments=catalog.departments(), districts=catalog.district_tree(), categories=catalog.categories()
    )
    status = 422 if context["errors"] else 200
    return render_template("surveys/analysis.html", **context), status
