"""JSON API for research exports: request, status with progress, download; research projects."""

from __future__ import annotations

from flask import jsonify, request, send_file
from flask_login import current_user

from participation.core.api import bp
from participation.core.uow import transaction
from participation.core.validation import json_body
from participation.exports import services
from participation.exports.views import export_rate_limit


def _project_json(project) -> dict:
    return {"code": project.code, "title": project.title, "created_at": project.created_at.isoformat()}


@bp.get("/research-projects")
def list_projects():
    return jsonify({"items": [_project_json(p) for p in services.projects_of(current_user)]})


@bp.post("/research-projects")
def create_project():
    payload = json_body(request)
    with transaction():
        project = services.create_project(current_user, payload)
    return jsonify(_project_json(project)), 201


@bp.post("/exports")
@export_rate_limit
def request_export():
    """Queue an export: 202 with the job; its status and progress at `Location`."""
    payload = json_body(request)
    with transaction():
        job = services.request_export(current_user, payload)
        job_id = job.id
    job = services.get_job(current_user, job_id)  # as it stands now (small jobs may be done already)
    response = jsonify(services.job_json(job))
    response.status_code = 202
    response.headers["Location"] = f"/api/v1/exports/{job_id}"
    return response


@bp.get("/exports")
def list_exports():
    """The caller's exports; `?all=1` every export (coordinators and admins: who exported what, why, when)."""
    if request.args.get("all") == "1":
        jobs = services.all_jobs(current_user)
        return jsonify({"items": [{**services.job_json(j), "user_id": j.user_id} for j in jobs]})
    return jsonify({"items": [services.job_json(j) for j in services.jobs_of(current_user)]})


@bp.get("/exports/<int:job_id>")
def get_export(job_id: int):
    return jsonify(services.job_json(services.get_job(current_user, job_id)))


@bp.get("/exports/<int:job_id>/download")
def download_export(job_id: int):
    with transaction():
        path, name = services.download(current_user, job_id)
    return send_file(path, mimetype="application/zip", as_attachment=True, download_name=name)
