"""JSON API for proposals: list, read, create, support and withdraw support."""

from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from participation.core.api import bp
from participation.core.uow import transaction
from participation.core.validation import json_body
from participation.forums import services
from participation.forums.views import list_filters


@bp.get("/proposals")
def list_proposals():
    """Public proposals with the list page's filters, sorting and pagination."""
    page = services.search(**list_filters(request.args))
    return jsonify(
        {
            "items": [services.proposal_out(p) for p in page.items],
            "total": page.total,
            "page": page.page,
            "pages": page.pages,
            "per_page": page.per_page,
        }
    )


@bp.get("/proposals/<int:proposal_id>")
def get_proposal(proposal_id: int):
    proposal = services.get_proposal(current_user, proposal_id)
    return jsonify(services.proposal_out(proposal, current_user))


@bp.post("/proposals")
def create_proposal():
    """Create a proposal; `"publish": false` keeps it as a draft."""
    payload = json_body(request)
    publish = payload.get("publish", True) is not False
    with transaction():
        proposal = services.create_proposal(
            current_user, {k: v for k, v in payload.items() if k != "publish"}, publish=publish
        )
    response = jsonify(services.proposal_out(proposal, current_user))
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/proposals/{proposal.id}"
    return response


@bp.post("/proposals/<int:proposal_id>/support")
def support(proposal_id: int):
    with transaction():
        proposal = services.support(current_user, proposal_id)
    return jsonify(services.proposal_out(proposal, current_user))


@bp.delete("/proposals/<int:proposal_id>/support")
def withdraw_support(proposal_id: int):
    with transaction():
        proposal = services.withdraw_support(current_user, proposal_id)
    return jsonify(services.proposal_out(proposal, current_user))
