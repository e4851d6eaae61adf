"""The JSON API blueprint (/api/v1): token or session authentication, CSRF for session callers."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import gettext as _

from participation.core.errors import NotAuthenticated
from participation.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


@bp.before_request
def _authenticate():
    """A bearer token must be valid; cookie-authenticated writes must carry the CSRF token."""
    from flask_login import current_user

    from participation.accounts.services import user_for_token
    from participation.extensions import db

    header = request.headers.get("Authorization")
    if header is not None:
        user = user_for_token(header.removeprefix("Bearer ").strip()) if header.startswith("Bearer ") else None
        if user is None:
            raise NotAuthenticated(_("The API token is missing, invalid or revoked."))
        db.session.commit()  # keeps last_used_at; nothing else is pending this early
        g._login_user = user  # Flask-Login's per-request user: token callers never get a session
        return
    unsafe = request.method not in ("GET", "HEAD", "OPTIONS")
    if unsafe and current_user.is_authenticated and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()


@bp.get("/health")
def health():
    """Liveness probe for load balancers."""
    return jsonify({"status": "ok"})
