"""Admin pages for the catalog: browse, edit an entry, import and export files."""

from __future__ import annotations

import json
import re

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from participation.catalog import services
from participation.catalog.models import Category, Department, District
from participation.core.errors import DomainError, NotFound, ValidationFailed
from participation.core.permissions import authorize
from participation.core.uow import transaction

bp = Blueprint("catalog", __name__, url_prefix="/admin/catalog")

_MODELS = {"departments": Department, "districts": District, "categories": Category}


@bp.get("/")
@login_required
def index():
    authorize(current_user, "catalog.manage")
    return render_template(
        "catalog/index.html",
        departments=services.departments(),
        districts=services.district_tree(),
        categories=services.categories(),
    )


def _entry_from_form(section: str, form) -> dict:
    """Turn an edit form into one catalog entry in the file format."""
    entry: dict = {
        "code": form.get("code", "").strip(),
        "name": {"zh": form.get("name_zh", ""), "en": form.get("name_en", "")},
    }
    if section == "districts":
        entry["parent"] = form.get("parent") or None
        entry["office"] = form.get("office") or None
    if section == "categories":
        lines = lambda key: [line.strip() for line in form.get(key, "").splitlines() if line.strip()]  # noqa: E731
        entry.update(
            {
                "description": {"zh": form.get("description_zh", ""), "en": form.get("description_en", "")},
                "lead": form.get("lead", ""),
                "co": form.getlist("co"),
                "keywords": [k.strip() for k in form.get("keywords", "").replace("，", ",").split(",") if k.strip()],
                "examples": lines("examples"),
                "district_co": form.get("district_co") == "on",
                "enterprise_only": form.get("enterprise_only") == "on",
            }
        )
        sla = {}
        for key in ("respond_hours", "resolve_days"):
            raw = form.get(key, "").strip()
            sla[key] = int(raw) if re.fullmatch(r"-?[0-9]{1,9}", raw) else raw
        entry["sla"] = sla
    if section in ("departments", "categories"):
        entry["active"] = form.get("active") == "on"
    return entry


@bp.route("/new/<section>", methods=["GET", "POST"], defaults={"code": None})
@bp.route("/<section>/<code>", methods=["GET", "POST"])
@login_required
def edit(section: str, code: str | None):
    authorize(current_user, "catalog.manage")
    model = _MODELS.get(section)
    if model is None:
        raise NotFound()
    entry = services.by_code(model, code) if code else None
    if code and entry is None:
        raise NotFound()
    errors: dict = {}
    status = 200
    if request.method == "POST":
        data = _entry_from_form(section, request.form)
        if code:
            data["code"] = code
        try:
            if code is None and services.by_code(model, data["code"]) is not None:
                raise ValidationFailed(fields={"code": [_("This code is already in use.")]})
            with transaction():
                services.save_entry(current_user, section, data)
            flash(_("Saved."), "success")
            return redirect(url_for("catalog.index") + f"#{section}")
        except DomainError as error:
            errors, status = error.fields or {"_": [error.message]}, error.status
    return render_template(
        "catalog/edit.html",
        section=section,
        entry=entry,
        form=request.form if request.method == "POST" else None,
        errors=errors,
        departments=services.departments(),
        districts=services.district_tree(),
    ), status


@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_page():
    authorize(current_user, "catalog.manage")
    errors: dict = {}
    report = None
    status = 200
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            errors, status = {"file": [_("Choose a JSON or YAML file.")]}, 422
        else:
            try:
                text = upload.read().decode("utf-8")
                with transaction():
                    report = services.import_catalog(
                        current_user, services.parse_catalog_text(text, upload.filename), source=upload.filename
                    )
            except UnicodeDecodeError:
                errors, status = {"file": [_("The file is not UTF-8 text.")]}, 422
            except DomainError as error:
                errors, status = error.fields or {"_": [error.message]}, error.status
    return render_template("catalog/import.html", errors=errors, report=report), status


@bp.get("/export.json")
@login_required
def export():
    authorize(current_user, "catalog.manage")
    body = json.dumps(services.export_catalog(), ensure_ascii=False, indent=2)
    return Response(
        body, mimetype="application/json", headers={"Content-Disposition": "attachment; filename=catalog.json"}
    )
