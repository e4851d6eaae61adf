"""HTML pages of research exports (the builder, the job list with live progress, the audit list)."""

from __future__ import annotations

from flask import Blueprint, current_app
from flask_limiter.util import get_remote_address
from flask_login import current_user

from participation.extensions import limiter

bp = Blueprint("exports", __name__)


def account_key() -> str:
    """Export requests are limited per account (by address only for requests refused anyway)."""
    if current_user.is_authenticated and current_user.id is not None:
        return f"user:{current_user.id}"
    return get_remote_address()


# One budget for the page and the JSON API; refused requests (4xx) do not use it up.
export_rate_limit = limiter.shared_limit(
    lambda: current_app.config["EXPORT_RATE_LIMIT"],
    scope="research-export",
    key_func=account_key,
    methods=["POST"],
    deduct_when=lambda response: response.status_code < 400,
)
