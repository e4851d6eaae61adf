"""Multi-stakeholder participation and feedback platform for city governance."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

__version__ = "0.1.0"


def create_app(test_config: dict | None = None) -> Flask:
    """Build the application: config, extensions, blueprints, error handlers, CLI."""
    from participation import config
    from participation.celery_app import celery_init_app
    from participation.core import web
    from participation.core.errors import register_error_handlers
    from participation.core.i18n import select_locale
    from participation.extensions import babel, csrf, db, limiter, login_manager, migrate, socketio

    app = Flask(__name__, instance_relative_config=True, static_folder="../static", static_url_path="/static")
    config.load(app, test_config)
    if app.config["PROXY_FIX"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    db.init_app(app)
    with app.app_context():
        from participation.core import sqlite

        sqlite.configure(db.engine)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    socketio.init_app(
        app,
        message_queue=app.config["SOCKETIO_MESSAGE_QUEUE"],
        async_mode="threading",
        cors_allowed_origins=app.config["SOCKETIO_CORS_ORIGINS"],  # None: same origin only
    )
    celery_init_app(app)

    web.register(app)
    register_error_handlers(app)
    return app
