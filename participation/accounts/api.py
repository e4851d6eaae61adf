"""JSON API for accounts."""

from __future__ import annotations

from flask import jsonify
from flask_login import current_user

from participation.core.api import bp
from participation.core.errors import NotAuthenticated


@bp.get("/me")
def me():
    """Who the caller is (token or session)."""
    if not current_user.is_authenticated:
        raise NotAuthenticated()
    return jsonify(
        {
            "id": current_user.id,
            "display_name": current_user.display_name,
            "roles": sorted(current_user.roles),
            "organisation": current_user.organisation.name if current_user.organisation else None,
            "preferred_locale": current_user.preferred_locale,
        }
    )
