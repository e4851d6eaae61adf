"""Research exports: projects, requests (validated, refused when they would carry personal data), the
job that writes the bundle with live progress, downloads, and the sweep that expires old bundles."""

from __future__ import annotations

import secrets
import shutil
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints
from sqlalchemy import select

from participation.core.audit import audit
from participation.core.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from participation.core.models import utcnow
from participation.core.permissions import SYSTEM, authorize, can
from participation.core.sockets import emit_now, user_room
from participation.core.uow import after_commit
from participation.core.validation import validate
from participation.exports import deid
from participation.exports.datasets import DATASETS, Context, _catalog_labels
from participation.exports.models import ExportJob, ExportStatus, ResearchProject
from participation.extensions import db

NAMESPACE = "/exports"
FORMATS = ("csv", "sav", "dta")
K_MIN = 5

# What a request may never ask for: contact data, identities and exact moments (docs/exports.md).
PERSONAL = {
    "name", "contact_name", "phone", "contact_phone", "mobile", "email", "contact_email", "address",
    "lat", "lng", "location", "coordinates", "user", "user_id", "account", "respondent", "ip",
    "session", "session_hash", "staff", "actor", "tracking_code", "id_card", "plate", "raw_text",
    "exact_time", "timestamp", "completed_at", "created_at",
}  # fmt: skip
PERSONAL_LEVELS = {"day", "date", "hour", "minute", "exact", "timestamp", "datetime"}


class PersonalDataRefused(DomainError):
    """The request would carry personal data out of the platform; the message says which and why."""

    status, code = 422, "personal_data"


def job_room(job_id: int) -> str:
    return f"export:{job_id}"


# ---- projects ---------------------------------------------------------------------------------------------

ProjectCode = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,39}$")]


class ProjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: ProjectCode
    title: Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=3, max_length=200)]


def create_project(actor, data: dict) -> ResearchProject:
    """A research project: exports under it share pseudonyms; other projects get different ones."""
    authorize(actor, "exports.request")
    values = validate(ProjectIn, data)
    if db.session.scalar(select(ResearchProject.id).where(ResearchProject.code == values.code)):
        raise ValidationFailed(fields={"code": [_("This code is taken.")]})
    project = ResearchProject(code=values.code, title=values.title, owner_id=actor.id)
    db.session.add(project)
    db.session.flush()
    audit(actor, "export.project_created", project, code=project.code, title=project.title)
    return project


def projects_of(actor) -> list[ResearchProject]:
    authorize(actor, "exports.request")
    return list(
        db.session.scalars(
            select(ResearchProject).where(ResearchProject.owner_id == actor.id).order_by(ResearchProject.code)
        )
    )


# ---- requests ---------------------------------------------------------------------------------------------

Code = Annotated[str, StringConstraints(strict=True, max_length=40)]


class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date_from: date | None = None
    date_to: date | None = None
    district: Code | None = None
    category: Code | None = None
    department: Code | None = None


class RequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dataset: Literal["survey-responses", "callbacks", "scorecards"]
    survey: Code | None = None
    project: Code
    purpose: Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=10, max_length=2000)]
    filters: FiltersIn = Field(default_factory=FiltersIn)
    formats: Annotated[list[Literal["csv", "sav", "dta"]], Field(min_length=1, max_length=3)] = ["csv", "sav", "dta"]
    date_level: Literal["week", "month", "quarter", "year"] = "month"
    columns: list[Annotated[str, StringConstraints(strict=True, max_length=40)]] | None = None
    k: Annotated[StrictInt, Field(ge=K_MIN, le=1000)] = K_MIN
    include_text: StrictBool = False
    language: Literal["zh", "en"] = "en"


def _refuse_personal(data: dict) -> None:
    """Refuse, with the reason, a request that asks for personal data in any of its forms."""
    reasons: dict[str, list[str]] = {}
    for key in data:
        if isinstance(key, str) and key.lower() in PERSONAL:
            reasons[key] = [_("%(name)s is personal data and is never exported.", name=key)]
    columns = data.get("columns")
    if isinstance(columns, list):
        for i, name in enumerate(columns):
            if isinstance(name, str) and name.lower() in PERSONAL:
                reasons[f"columns[{i}]"] = [_("%(name)s is personal data and is never exported.", name=name)]
    level = data.get("date_level")
    if isinstance(level, str) and level.lower() in PERSONAL_LEVELS:
        reasons["date_level"] = [_("Exact dates identify people: choose week, month, quarter or year.")]
    k = data.get("k")
    if isinstance(k, int) and not isinstance(k, bool) and k < K_MIN:
        reasons["k"] = [_("Groups smaller than %(k)s people could identify them: k must be at least %(k)s.", k=K_MIN)]
    if data.get("scrub") is False or data.get("scrub_text") is False:
        reasons["scrub"] = [_("Free text is only exported scrubbed of personal data.")]
    if reasons:
        raise PersonalDataRefused(_("This export would include personal data and is refused."), fields=reasons)


def _resolve(values: RequestIn, actor) -> tuple[Context, Any, ResearchProject]:
    """Codes to rows: unknown survey, project or filter codes are field errors."""
    from participation.catalog.models import Category, Department, District
    from participation.surveys.models import Survey

    fields: dict[str, list[str]] = {}
    project = db.session.scalar(select(ResearchProject).where(ResearchProject.code == values.project))
    if project is None:
        fields["project"] = [_("No research project with this code.")]
    elif not can(actor, "exports.project.use", project):
        raise PermissionDenied(_("This research project is someone else's."))
    survey = None
    if values.dataset == "survey-responses":
        if not values.survey:
            fields["survey"] = [_("Choose a survey.")]
        else:
            survey = db.session.scalar(select(Survey).where(Survey.code == values.survey))
            if survey is None:
                fields["survey"] = [_("No survey with this code.")]
            elif survey.current_version_id is None:
                fields["survey"] = [_("This survey has never been published.")]
    elif values.survey:
        fields["survey"] = [_("Only the survey-responses dataset takes a survey.")]
    ctx = Context(survey=survey, date_level=values.date_level)
    f = values.filters
    if f.date_from and f.date_to and f.date_from > f.date_to:
        fields["filters.date_to"] = [_("The end comes before the start.")]
    zone = ZoneInfo(current_app.config["CITY_TIMEZONE"])
    ctx.zone = zone
    if f.date_from:
        ctx.date_from = datetime.combine(f.date_from, datetime.min.time(), zone).astimezone(UTC)
    if f.date_to:  # inclusive day: up to the next midnight
        ctx.date_to = datetime.combine(f.date_to + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)
    for name, model in (("district", District), ("category", Category), ("department", Department)):
        code = getattr(f, name)
        if code is None:
            continue
        if values.dataset == "scorecards" and name != "department":
            fields[f"filters.{name}"] = [_("Scorecards can be filtered by period and department only.")]
            continue
        found = db.session.scalar(select(model.id).where(model.code == code))
        if found is None:
            fields[f"filters.{name}"] = [_("Unknown code.")]
        setattr(ctx, f"{name}_id", found)
    dataset = DATASETS[values.dataset]
    if values.columns is None:
        ctx.quasi = dataset.QUASI
    else:
        unknown = [c for c in values.columns if c not in dataset.QUASI]
        if unknown:
            fields["columns"] = [
                _("Unknown column(s): %(names)s. Choose among: %(known)s.", names=", ".join(unknown),
                  known=", ".join(dataset.QUASI) or "-")
            ]  # fmt: skip
        ctx.quasi = tuple(c for c in dataset.QUASI if c in values.columns)
    if values.include_text and values.dataset != "survey-responses":
        fields["include_text"] = [_("Only survey responses have free text.")]
    if fields:
        raise ValidationFailed(fields=fields)
    return ctx, survey, project


def request_export(actor, data: Any, queue: bool = True) -> ExportJob:
    """Ask for an export: checked, refused if it would carry personal data, audited, then queued
    (the command line runs it itself: queue=False)."""
    authorize(actor, "exports.request")
    if not isinstance(data, dict):
        raise ValidationFailed(fields={"_": [_("Send the request as a JSON object.")]})
    _refuse_personal(data)
    values = validate(RequestIn, data)
    _ctx, survey, project = _resolve(values, actor)
    options = values.model_dump(mode="json", exclude={"dataset", "survey", "project", "purpose", "filters"})
    filters = values.filters.model_dump(mode="json", exclude_none=True)
    job = ExportJob(
        user_id=actor.id,
        project_id=project.id,
        dataset=values.dataset,
        survey_id=survey.id if survey else None,
        filters=filters,
        options=options,
        purpose=values.purpose,
    )
    db.session.add(job)
    db.session.flush()
    audit(
        actor,
        "export.requested",
        job,
        dataset=job.dataset,
        survey=values.survey,
        project=project.code,
        filters=filters,
        options=options,
        purpose=job.purpose,
    )
    from participation.exports.tasks import run_export

    if queue:
        after_commit(run_export.delay, job.id)
    return job


def spec_for(job: ExportJob):
    """The bundle specification of a stored job (the same resolution as at request time)."""
    from participation.exports.bundle import Spec

    data = {
        "dataset": job.dataset,
        "project": job.project.code,
        "purpose": job.purpose,
        "filters": job.filters,
        **job.options,
    }
    if job.survey_id:
        from participation.surveys.models import Survey

        data["survey"] = db.session.get(Survey, job.survey_id).code
    values = validate(RequestIn, data)
    ctx, survey, project = _resolve(values, SYSTEM)
    ctx.key = deid.project_key(pseudonym_secret(), project.code)
    ctx.catalog = _catalog_labels()
    import participation

    return Spec(
        dataset=job.dataset,
        ctx=ctx,
        formats=tuple(values.formats),
        language=values.language,
        k=values.k,
        include_text=values.include_text,
        batch=current_app.config["EXPORT_BATCH_ROWS"],
        provenance={
            "project": project.code,
            "survey": f"{survey.code} ({survey.title_en})" if survey else "",
            "purpose": job.purpose,
            "filters": job.filters,
            "date_level": values.date_level,
            "requested": job.created_at.astimezone(UTC).isoformat(timespec="seconds"),
            "created": utcnow().astimezone(UTC).isoformat(timespec="seconds"),
            "job": job.id,
            "version": participation.__version__,
        },
    )


def pseudonym_secret() -> str:
    """EXPORT_PSEUDONYM_SECRET, or one derived from SECRET_KEY (kept out of the database either way)."""
    secret = current_app.config.get("EXPORT_PSEUDONYM_SECRET")
    if secret:
        return secret
    return deid.project_key(current_app.config["SECRET_KEY"], "export-pseudonyms").hex()


# ---- running ----------------------------------------------------------------------------------------------


def folder() -> Path:
    path = Path(current_app.config["EXPORT_FOLDER"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def job_json(job: ExportJob) -> dict:
    """A job as the API and the live events show it (no file path)."""
    return {
        "id": job.id,
        "dataset": job.dataset,
        "project": job.project.code if job.project else None,
        "status": str(job.status),
        "rows_total": job.rows_total,
        "rows_done": job.rows_done,
        "progress": round(job.progress, 4),
        "summary": job.summary or {},
        "error": job.error or None,
        "purpose": job.purpose,
        "filters": job.filters,
        "options": job.options,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "expires_at": job.expires_at.isoformat() if job.expires_at else None,
        "size": job.file_size,
        "sha256": job.sha256,
        "download": f"/api/v1/exports/{job.id}/download" if job.status == ExportStatus.DONE else None,
    }


def _announce(job: ExportJob) -> None:
    """Tell the job's room and its researcher's room how far it is, once each listener (after the commit)."""
    rooms = [job_room(job.id)] + ([user_room(job.user_id)] if job.user_id else [])
    after_commit(emit_now, "export.progress", job_json(job), rooms, NAMESPACE)  # a list of rooms: no repeats


def run_job(job_id: int) -> ExportJob | None:
    """The task body: write the bundle, committing progress between pages; a failure marks the job failed
    and offers no file."""
    from participation.exports import bundle

    job = db.session.get(ExportJob, job_id)
    if job is None or job.status != ExportStatus.QUEUED:
        return job
    job.status = ExportStatus.RUNNING
    job.started_at = job.heartbeat_at = utcnow()
    _announce(job)
    db.session.commit()

    last = [0.0]

    def progress(done: int, total: int | None) -> None:
        job.rows_done, job.rows_total = done, total
        job.heartbeat_at = utcnow()
        now = time.monotonic()
        if now - last[0] >= current_app.config["EXPORT_PROGRESS_SECONDS"] or done == total or done == 0:
            last[0] = now
            _announce(job)
        db.session.commit()

    name = f"export-{job.id}-{secrets.token_hex(8)}.zip"
    path = folder() / name
    try:
        summary = bundle.run(spec_for(job), path, progress)
    except Exception as error:  # noqa: BLE001 - any failure ends the job as failed, with no file
        db.session.rollback()
        current_app.logger.exception("export %s failed", job_id)
        job = db.session.get(ExportJob, job_id)
        job.status = ExportStatus.FAILED
        job.finished_at = utcnow()
        job.error = _("The export failed and no file was kept. Please try again.")
        audit(None, "export.failed", job, reason=type(error).__name__)
        _announce(job)
        db.session.commit()
        return job
    job.status = ExportStatus.DONE
    job.finished_at = utcnow()
    job.file_name = name
    job.file_size = path.stat().st_size
    job.sha256 = deid.sha256_file(path)
    job.expires_at = job.finished_at + timedelta(hours=current_app.config["EXPORT_KEEP_HOURS"])
    job.rows_done = summary["rows"]
    job.summary = summary
    audit(None, "export.completed", job, rows=summary["rows"], files=summary["files"], sha256=job.sha256)
    _announce(job)
    db.session.commit()
    return job


def get_job(actor, job_id: int) -> ExportJob:
    job = db.session.get(ExportJob, job_id)
    if job is None:
        raise NotFound()
    authorize(actor, "exports.view", job)
    return job


def jobs_of(actor) -> list[ExportJob]:
    authorize(actor, "exports.request")
    return list(
        db.session.scalars(select(ExportJob).where(ExportJob.user_id == actor.id).order_by(ExportJob.id.desc()))
    )


def all_jobs(actor, limit: int = 200) -> list[ExportJob]:
    """Every export, newest first, for the city's audit of what left the platform."""
    authorize(actor, "exports.audit")
    return list(db.session.scalars(select(ExportJob).order_by(ExportJob.id.desc()).limit(limit)))


def download(actor, job_id: int) -> tuple[Path, str]:
    """The bundle's path and download name; audited. Only complete, unexpired bundles are offered."""
    job = get_job(actor, job_id)
    authorize(actor, "exports.download", job)
    if job.status != ExportStatus.DONE or not job.file_name:
        raise NotFound(_("This export has no file to download (it is not finished, failed or expired)."))
    path = folder() / job.file_name
    if not path.is_file():
        raise NotFound(_("This export has no file to download (it is not finished, failed or expired)."))
    job.downloads += 1
    audit(actor, "export.downloaded", job, sha256=job.sha256)
    return path, f"{job.dataset}-{job.project.code}-{job.id}.zip"


def sweep(now: datetime | None = None) -> dict:
    """Expire bundles past their time (files removed) and fail jobs whose worker stopped beating."""
    now = now or utcnow()
    expired = failed = 0
    for job in db.session.scalars(
        select(ExportJob).where(ExportJob.status == ExportStatus.DONE, ExportJob.expires_at <= now)
    ):
        if job.file_name:
            (folder() / job.file_name).unlink(missing_ok=True)
        job.status, job.file_name = ExportStatus.EXPIRED, None
        audit(None, "export.expired", job)
        _announce(job)
        expired += 1
    stale = now - timedelta(seconds=current_app.config["EXPORT_STALE_SECONDS"])
    for job in db.session.scalars(
        select(ExportJob).where(ExportJob.status == ExportStatus.RUNNING, ExportJob.heartbeat_at < stale)
    ):
        job.status = ExportStatus.FAILED
        job.finished_at = now
        job.error = _("The export was interrupted and no file was kept. Please try again.")
        audit(None, "export.failed", job, reason="interrupted")
        _announce(job)
        failed += 1
    for leftover in [*folder().glob("export-*.zip.partial"), *folder().glob(".work-*")]:  # interrupted writers'
        if leftover.stat().st_mtime < stale.timestamp():
            shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)
    return {"expired": expired, "failed": failed}
