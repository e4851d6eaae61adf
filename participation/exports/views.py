"""HTML pages of research exports (the builder, the job list with live progress, the audit list)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from participation.accounts.models import User
from participation.catalog import services as catalog
from participation.core.errors import DomainError
from participation.core.i18n import current_language
from participation.core.limits import account_limit
from participation.core.uow import transaction
from participation.exports import services
from participation.exports.datasets import DATASETS
from participation.extensions import db
from participation.surveys.models import Survey

bp = Blueprint("exports", __name__)


# One budget for the page and the JSON API, per account; refused requests (4xx) do not use it up.
export_rate_limit = account_limit("EXPORT_RATE_LIMIT", "research-export")

DATASET_LABELS = {
    "survey-responses": _l("Survey responses"),
    "callbacks": _l("Callback results"),
    "scorecards": _l("Department scorecards"),
}
DATE_LEVEL_LABELS = {"week": _l("Week"), "month": _l("Month"), "quarter": _l("Quarter"), "year": _l("Year")}
COLUMN_LABELS = {
    "district": _l("District"),
    "category": _l("Category"),
    "department": _l("Department"),
    "language": _l("Language of the response"),
    "lead_department": _l("Lead department"),
    "submitter": _l("Submitted by a person or an organisation"),
}
STATUS_LABELS = {
    "queued": _l("Queued"),
    "running": _l("Running"),
    "done": _l("Done"),
    "failed": _l("Failed"),
    "expired": _l("Expired"),
}
# Badge colours of the existing stylesheet: blue waiting, amber working, green done, red failed, grey gone.
STATUS_CLASSES = {
    "queued": "status-submitted",
    "running": "status-in_progress",
    "done": "status-resolved",
    "failed": "urgent",
    "expired": "status-withdrawn",
}
FORMAT_LABELS = {"csv": "CSV", "sav": "SPSS (.sav)", "dta": "Stata (.dta)"}
LANGUAGE_LABELS = {"zh": _l("Chinese"), "en": _l("English")}
FILTERS = ("district", "category", "department")
FILTER_LABELS = {
    "date_from": _l("From date"),
    "date_to": _l("To date"),
    "district": _l("District"),
    "category": _l("Category"),
    "department": _l("Department"),
}


def _labels() -> dict:
    return {
        "dataset_labels": DATASET_LABELS,
        "date_level_labels": DATE_LEVEL_LABELS,
        "column_labels": COLUMN_LABELS,
        "export_status_labels": STATUS_LABELS,
        "export_status_classes": STATUS_CLASSES,
        "live_labels": live_labels,
        "format_labels": FORMAT_LABELS,
        "filter_labels": FILTER_LABELS,
        "language_labels": LANGUAGE_LABELS,
        "file_size": file_size,
    }


def live_labels() -> dict:
    """What exports.js needs to write a status and a progress line in the page's language."""
    return {
        "status": {k: str(v) for k, v in STATUS_LABELS.items()},
        "classes": STATUS_CLASSES,
        "rows": _("%(done)s of %(total)s rows", done="{done}", total="{total}"),
    }


def file_size(size: int | None) -> str:
    """Bytes for people: 1.2 MB, 830 KB."""
    if size is None:
        return "—"
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= factor:
            return f"{format_decimal(size / factor, format='#,##0.#')} {unit}"
    return _("%(n)s bytes", n=format_decimal(size))


# -- form -> request -----------------------------------------------------------------------------


def request_from_form(form: MultiDict) -> dict[str, Any]:
    """The posted builder form as the request dict the JSON API takes (empty fields left out)."""
    dataset = form.get("dataset", "")
    data: dict[str, Any] = {
        "dataset": dataset,
        "project": form.get("project", ""),
        "purpose": form.get("purpose", ""),
        "date_level": form.get("date_level", "month"),
        "language": form.get("language", "en"),
        "formats": ["csv", *[f for f in ("sav", "dta") if form.get(f"format_{f}") == "on"]],
        "include_text": form.get("include_text") == "on",
    }
    if dataset == "survey-responses":  # the survey select is meaningless for the other datasets
        data["survey"] = form.get("survey", "")
    if dataset in DATASETS and DATASETS[dataset].QUASI:
        data["columns"] = form.getlist(f"columns-{dataset}")
    k = form.get("k", "").strip()
    if k:
        data["k"] = int(k) if k.lstrip("-").isdigit() and len(k) < 10 else k  # anything else: a field error
    filters = {name: form.get(name, "").strip() for name in ("date_from", "date_to", *FILTERS)}
    data["filters"] = {name: value for name, value in filters.items() if value}
    return data


def form_errors(error: DomainError, placed: frozenset[str]) -> dict[str, list[str]]:
    """A domain error's messages keyed by the form's fields ("columns[2]" is the columns box); those
    without a place on the form, and a refusal's reason, go to the top."""
    errors: dict[str, list[str]] = {}
    top: list[str] = []
    if error.message and (not error.fields or error.code == "personal_data"):
        top.append(error.message)
    for key, messages in (error.fields or {}).items():
        name = "columns" if key.startswith("columns[") else key
        if name in placed:
            errors.setdefault(name, []).extend(messages)
        else:
            top.extend(f"{key}: {m}" for m in messages)
    if top:
        errors["_"] = top
    return errors


BUILDER_FIELDS = frozenset(
    ("project", "dataset", "survey", "purpose", "filters", "date_level", "k", "columns", "include_text", "formats",
     "language", "filters.date_from", "filters.date_to", *(f"filters.{name}" for name in FILTERS))
)  # fmt: skip
PROJECT_FIELDS = frozenset(("code", "title"))


# -- pages ---------------------------------------------------------------------------------------


def _published_surveys() -> list:
    return list(db.session.scalars(select(Survey).where(Survey.current_version_id.is_not(None)).order_by(Survey.code)))


def _builder(form=None, errors=None, project_form=None, project_errors=None, status: int = 200):
    projects = services.projects_of(current_user)  # authorises: researchers only
    jobs = services.jobs_of(current_user)
    return render_template(
        "exports/index.html",
        form=form,
        errors=errors or {},
        project_form=project_form,
        project_errors=project_errors or {},
        projects=projects,
        jobs=jobs,
        surveys=_published_surveys(),
        districts=catalog.district_tree(),
        categories=catalog.categories(),
        departments=catalog.departments(),
        datasets={name: DATASETS[name].QUASI for name in DATASET_LABELS},
        k_min=services.K_MIN,
        language=current_language(),
        **_labels(),
    ), status


@bp.get("/exports")
@login_required
def index():
    """The export builder, the researcher's projects and their exports (live)."""
    return _builder()


@bp.post("/exports")
@login_required
@export_rate_limit
def create():
    """Ask for an export; a refused or invalid request shows the form again with the reasons."""
    try:
        with transaction():
            job = services.request_export(current_user, request_from_form(request.form))
            job_id = job.id
    except DomainError as error:
        if error.status in (403, 404) and not error.fields:
            raise
        return _builder(form=request.form, errors=form_errors(error, BUILDER_FIELDS), status=error.status)
    return redirect(url_for(".job", job_id=job_id))


@bp.post("/exports/projects")
@login_required
def create_project():
    """A new research project (its code scopes the pseudonyms of its exports)."""
    try:
        with transaction():
            project = services.create_project(
                current_user, {"code": request.form.get("code", "").strip(), "title": request.form.get("title", "")}
            )
            code = project.code
    except DomainError as error:
        if error.status in (403, 404) and not error.fields:
            raise
        return _builder(
            project_form=request.form, project_errors=form_errors(error, PROJECT_FIELDS), status=error.status
        )
    flash(_("Research project %(code)s is created.", code=code), "success")
    return redirect(url_for(".index", project=code) + "#export-builder")


@bp.get("/exports/<int:job_id>")
@login_required
def job(job_id: int):
    """One export: status and live progress; when done, the download with its checksum and summary."""
    found = services.get_job(current_user, job_id)
    survey = db.session.get(Survey, found.survey_id) if found.survey_id else None
    return render_template("exports/job.html", job=found, survey=survey, **_labels())


@bp.get("/exports/<int:job_id>/download")
@login_required
def download(job_id: int):
    """The bundle (a ZIP), to the researcher who asked for it; every download is audited."""
    with transaction():
        path, name = services.download(current_user, job_id)
    return send_file(path, mimetype="application/zip", as_attachment=True, download_name=name)


@bp.get("/exports/audit")
@login_required
def audit():
    """Every export: who took what out of the platform, why and when (coordinators and admins)."""
    jobs = services.all_jobs(current_user)
    ids = {j.user_id for j in jobs if j.user_id}
    rows = db.session.execute(select(User.id, User.display_name).where(User.id.in_(ids))) if ids else []
    names = {user_id: name for user_id, name in rows}
    return render_template("exports/audit.html", jobs=jobs, names=names, **_labels())
