"""JSON API for the reusable answer code sets: the same services and rules as the builder pages."""

from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from participation.core.api import bp
from participation.core.permissions import authorize
from participation.core.uow import transaction
from participation.core.validation import json_body
from participation.surveys import builder


@bp.get("/survey-codesets")
def survey_code_sets():
    """All code sets, with their choices."""
    return jsonify({"code_sets": [builder.code_set_json(c) for c in builder.code_sets(current_user)]})


@bp.post("/survey-codesets")
def survey_code_set_create():
    """Add a code set: {"code", "label": {"zh", "en"}, "choices": [{"code": int, "label": {"zh", "en"}}]}."""
    authorize(current_user, "surveys.create")
    data = json_body(request)
    with transaction():
        code_set = builder.save_code_set(current_user, data)
        body = builder.code_set_json(code_set)
    return jsonify(body), 201
