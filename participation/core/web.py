"""Wiring: blueprints, the log-in loaders, template helpers, Socket.IO namespaces, CLI groups."""

from __future__ import annotations

from flask import Flask, request
from flask_login import current_user

from participation.extensions import db, login_manager, socketio


def register(app: Flask) -> None:
    """Attach every feature to the app."""
    # Models and permission rules register themselves on import.
    from participation.accounts import api as _accounts_api  # noqa: F401
    from participation.accounts import models as _accounts_models  # noqa: F401
    from participation.accounts import permissions as _accounts_permissions  # noqa: F401
    from participation.accounts.models import User
    from participation.accounts.views import bp as accounts_bp
    from participation.catalog import api as _catalog_api  # noqa: F401
    from participation.catalog import models as _catalog_models  # noqa: F401
    from participation.catalog import permissions as _catalog_permissions  # noqa: F401
    from participation.catalog.views import bp as catalog_bp
    from participation.cli import register_cli
    from participation.core import audit as _audit  # noqa: F401
    from participation.core.api import bp as api_bp
    from participation.core.templating import register_template_helpers
    from participation.core.views import bp as core_bp
    from participation.intake import api as _intake_api  # noqa: F401
    from participation.intake import models as _intake_models  # noqa: F401
    from participation.intake import permissions as _intake_permissions  # noqa: F401
    from participation.intake import tasks as _intake_tasks  # noqa: F401
    from participation.intake.sockets import IntakeNamespace
    from participation.intake.views import bp as intake_bp
    from participation.routing import api as _routing_api  # noqa: F401
    from participation.routing import models as _routing_models  # noqa: F401
    from participation.routing import permissions as _routing_permissions  # noqa: F401
    from participation.routing import tasks as _routing_tasks  # noqa: F401
    from participation.routing.sockets import RoutingNamespace
    from participation.routing.views import bp as routing_bp

    login_manager.login_view = "accounts.login"
    login_manager.login_message = None

    @login_manager.user_loader
    def _load_user(user_id: str):
        return db.session.get(User, int(user_id)) if user_id.isdigit() else None

    for blueprint in (core_bp, accounts_bp, catalog_bp, intake_bp, routing_bp, api_bp):
        app.register_blueprint(blueprint)
    register_template_helpers(app)
    register_cli(app)
    socketio.on_namespace(IntakeNamespace("/intake"))
    socketio.on_namespace(RoutingNamespace("/routing"))

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'",
        )
        if request.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    _ = current_user
