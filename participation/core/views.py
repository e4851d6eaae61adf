"""Home page and language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

bp = Blueprint("core", __name__)


def safe_next(target: str | None, default: str) -> str:
    """Only same-site relative redirects."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return default


@bp.get("/")
def index():
    from participation.catalog import services as catalog

    return render_template("index.html", categories=catalog.categories()[:12])


@bp.get("/lang/<code>")
def set_language(code: str):
    """Switch the interface language for this browser session."""
    if code in current_app.config["LANGUAGES"]:
        session["locale"] = code
    return redirect(safe_next(request.args.get("next"), url_for("core.index")))
