"""JSON API for intake: submit and track."""

from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from participation.core.api import bp
from participation.core.uow import transaction
from participation.core.validation import json_body
from participation.extensions import limiter
from participation.intake import services
from participation.intake.models import Channel
from participation.intake.views import submission_limit


@bp.post("/submissions")
@limiter.shared_limit(submission_limit, scope="submission")
def create_submission():
    """Create a submission; the same Idempotency-Key twice gives back the first one."""
    payload = json_body(request)
    with transaction():
        submission, created = services.submit(
            current_user, payload, channel=Channel.API, idempotency_key=request.headers.get("Idempotency-Key")
        )
        code = submission.tracking_code
    body = services.public_view(code)  # as it stands after the commit (analysed in-process when embedded)
    response = jsonify(body)
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"/api/v1/submissions/{code}"
    return response


@bp.get("/submissions/<code>")
def get_submission(code: str):
    """Status and public timeline by tracking code; no personal data."""
    return jsonify(services.public_view(code))


@bp.post("/submissions/<code>/information")
@limiter.shared_limit(submission_limit, scope="submission")
def add_information(code: str):
    """The sender gives what the departments wait for: {"information": "..."}; the deadlines run again."""
    payload = json_body(request)
    with transaction():
        services.add_information(current_user, code, payload.get("information"))
    return jsonify(services.public_view(code))
