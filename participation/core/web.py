"""Wiring: blueprints, the log-in loaders, template helpers, Socket.IO namespaces, CLI groups."""

from __future__ import annotations

import secrets

from flask import Flask, request
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter

from participation.extensions import db, login_manager, socketio


class BoundedInt(IntegerConverter):
    """URL integers stop at the database's integer range (a larger id is simply not found)."""

    def __init__(self, url_map, fixed_digits=0, min=None, max=2**31 - 1, signed=False):  # noqa: A002
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def _text_inputs():
    """Every text value the request carries: query, form, and JSON strings at any depth."""
    for name, value in request.args.items(multi=True):
        yield name, value
    if request.form:
        for name, value in request.form.items(multi=True):
            yield name, value
    if request.is_json:
        from participation.core.validation import parsed_json

        stack = [("", parsed_json(request))]
        while stack:
            path, value = stack.pop()
            if isinstance(value, str):
                yield path or "_", value
            elif isinstance(value, dict):
                stack.extend((f"{path}.{k}" if path else str(k), v) for k, v in value.items())
            elif isinstance(value, list):
                stack.extend((f"{path}[{i}]", v) for i, v in enumerate(value))


def register(app: Flask) -> None:
    """Attach every feature to the app."""
    app.url_map.converters["int"] = BoundedInt  # before any route is added
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
    from participation.deadlines import api as _deadline_api  # noqa: F401
    from participation.deadlines import models as _deadline_models  # noqa: F401
    from participation.deadlines import permissions as _deadline_permissions  # noqa: F401
    from participation.deadlines import services as _deadline_services  # noqa: F401  (subscribes to ticket events)
    from participation.deadlines import setup_api as _deadline_setup_api  # noqa: F401
    from participation.deadlines import tasks as _deadline_tasks  # noqa: F401
    from participation.exports import api as _exports_api  # noqa: F401
    from participation.exports import models as _exports_models  # noqa: F401
    from participation.exports import permissions as _exports_permissions  # noqa: F401
    from participation.exports import tasks as _exports_tasks  # noqa: F401
    from participation.exports.sockets import ExportsNamespace
    from participation.exports.views import bp as exports_bp
    from participation.forums import api as _forums_api  # noqa: F401
    from participation.forums import models as _forums_models  # noqa: F401
    from participation.forums import permissions as _forums_permissions  # noqa: F401
    from participation.forums.rooms import NAMESPACE as FORUMS_NAMESPACE
    from participation.forums.sockets import ForumsNamespace
    from participation.forums.views import bp as forums_bp
    from participation.intake import api as _intake_api  # noqa: F401
    from participation.intake import models as _intake_models  # noqa: F401
    from participation.intake import permissions as _intake_permissions  # noqa: F401
    from participation.intake import tasks as _intake_tasks  # noqa: F401
    from participation.intake.sockets import IntakeNamespace
    from participation.intake.views import bp as intake_bp
    from participation.notifications import api as _notification_api  # noqa: F401
    from participation.notifications import models as _notification_models  # noqa: F401
    from participation.notifications import permissions as _notification_permissions  # noqa: F401
    from participation.notifications import rules as _notification_rules  # noqa: F401
    from participation.notifications import tasks as _notification_tasks  # noqa: F401
    from participation.notifications.sockets import NotificationsNamespace
    from participation.notifications.views import bp as notifications_bp
    from participation.routing import api as _routing_api  # noqa: F401
    from participation.routing import hooks as _routing_hooks  # noqa: F401
    from participation.routing import models as _routing_models  # noqa: F401
    from participation.routing import permissions as _routing_permissions  # noqa: F401
    from participation.routing import tasks as _routing_tasks  # noqa: F401
    from participation.routing.sockets import RoutingNamespace
    from participation.routing.views import bp as routing_bp
    from participation.scoring import api as _scoring_api  # noqa: F401
    from participation.scoring import models as _scoring_models  # noqa: F401
    from participation.scoring import permissions as _scoring_permissions  # noqa: F401
    from participation.scoring import tasks as _scoring_tasks  # noqa: F401  (incremental scorecards)
    from participation.scoring.agenda_views import bp as scoring_agenda_bp  # and its API
    from participation.scoring.network_views import bp as scoring_network_bp  # and its API
    from participation.scoring.views import bp as scoring_bp
    from participation.surveys import api as _survey_api  # noqa: F401
    from participation.surveys import builder_api as _survey_builder_api  # noqa: F401
    from participation.surveys import callbacks as _survey_callbacks  # noqa: F401  (asks after each resolution)
    from participation.surveys import models as _survey_models  # noqa: F401
    from participation.surveys import permissions as _survey_permissions  # noqa: F401
    from participation.surveys.analysis_views import bp as survey_analysis_bp  # and the summary API
    from participation.surveys.builder_views import bp as survey_builder_bp
    from participation.surveys.sockets import SurveysNamespace
    from participation.surveys.views import bp as surveys_bp

    login_manager.login_view = "accounts.login"
    login_manager.login_message = None

    @login_manager.user_loader
    def _load_user(session_id: str):
        user_id, _dot, token = session_id.partition(".")
        if not user_id.isascii() or not user_id.isdigit() or len(user_id) > 12:
            return None
        user = db.session.get(User, int(user_id))
        return user if user is not None and secrets.compare_digest(user.session_token, token) else None

    from participation.deadlines.setup_views import bp as deadline_setup_bp
    from participation.deadlines.views import bp as deadlines_bp

    for blueprint in (core_bp, accounts_bp, catalog_bp, intake_bp, routing_bp, deadlines_bp, deadline_setup_bp, api_bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(surveys_bp)
    app.register_blueprint(survey_analysis_bp)
    app.register_blueprint(survey_builder_bp)
    app.register_blueprint(scoring_network_bp)
    app.register_blueprint(scoring_agenda_bp)
    app.register_blueprint(scoring_bp)
    app.register_blueprint(forums_bp)
    app.register_blueprint(exports_bp)
    register_template_helpers(app)
    register_cli(app)
    socketio.on_namespace(IntakeNamespace("/intake"))
    socketio.on_namespace(RoutingNamespace("/routing"))
    socketio.on_namespace(NotificationsNamespace("/notifications"))
    socketio.on_namespace(SurveysNamespace("/surveys"))
    socketio.on_namespace(ForumsNamespace(FORUMS_NAMESPACE))
    socketio.on_namespace(ExportsNamespace("/exports"))

    @app.before_request
    def _refuse_control_characters():
        """NUL and other C0 control characters, and lone surrogates, are never text a person typed
        (PostgreSQL refuses NUL, and UTF-8 has no surrogates)."""
        from participation.core.errors import ValidationFailed
        from participation.core.validation import typeable

        bad = [name for name, value in _text_inputs() if not typeable(value)]
        if bad:
            raise ValidationFailed(fields={name: [_("Contains characters that are not allowed.")] for name in bad})

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
