"""Test fixtures: the app on SQLite or PostgreSQL (DATABASE_URL), clean tables per test, factories."""

from __future__ import annotations

import contextvars
import io
import os
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from participation import create_app
from participation.core.permissions import SYSTEM
from participation.extensions import db as _db
from participation.extensions import limiter

PASSWORD = "correct-horse-42"

SMALL_CATALOG = {
    "departments": [
        {"code": "ENV", "name": {"zh": "生态环境局", "en": "Ecology and Environment Bureau"}},
        {"code": "URBAN", "name": {"zh": "城市管理局", "en": "Urban Management Bureau"}},
        {"code": "TRANSPORT", "name": {"zh": "交通运输局", "en": "Transport Bureau"}},
        {"code": "DRC", "name": {"zh": "发展和改革委员会", "en": "Development and Reform Commission"}},
        {"code": "OFFICE-EAST", "name": {"zh": "东区人民政府", "en": "East District Government"}},
        {"code": "OFFICE-EAST-HILL", "name": {"zh": "山前街道办事处", "en": "Hillside Sub-district Office"}},
    ],
    "districts": [
        {"code": "EAST", "name": {"zh": "东区", "en": "East District"}, "office": "OFFICE-EAST"},
        {
            "code": "EAST-HILL",
            "name": {"zh": "山前街道", "en": "Hillside"},
            "parent": "EAST",
            "office": "OFFICE-EAST-HILL",
        },
    ],
    "categories": [
        {
            "code": "NOISE",
            "name": {"zh": "施工噪音", "en": "Construction noise"},
            "description": {"zh": "夜间施工扰民", "en": "Building work at night"},
            "lead": "ENV",
            "co": ["URBAN"],
            "keywords": ["噪音", "noise"],
            "examples": ["工地半夜还在施工", "Drilling after midnight"],
            "sla": {"respond_hours": 24, "resolve_days": 7},
            "district_co": True,
        },
        {
            "code": "POTHOLE",
            "name": {"zh": "道路坑洼", "en": "Potholes"},
            "lead": "TRANSPORT",
            "sla": {"respond_hours": 12, "resolve_days": 5},
        },
        {
            "code": "BIZ-ENV",
            "name": {"zh": "营商环境", "en": "Business environment"},
            "lead": "DRC",
            "sla": {"respond_hours": 24, "resolve_days": 10},
            "enterprise_only": True,
        },
    ],
}


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        name = f"{parsed.database}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return parsed.set(database=name).render_as_string(hide_password=False)
    return url


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    return _database_url(tmp_path_factory)


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    """One app and one migrated schema for the whole run."""
    application = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "UPLOAD_FOLDER": str(tmp_path_factory.mktemp("uploads")),
            "EXPORT_FOLDER": str(tmp_path_factory.mktemp("exports")),
            "WTF_CSRF_ENABLED": False,
            "SOCKETIO_MESSAGE_QUEUE": None,
            "CELERY": {"task_always_eager": True, "task_eager_propagates": True},
            "ROUTING_AUTO_DISPATCH": False,  # routing tests turn it on where they need it
            "DUPLICATE_AUTO_MERGE": False,  # likewise: tests submit the same text again and again
            "SCORING_LIVE": False,  # scoring tests turn it on: every relevant commit would recompute a month
            "ROUTING_REFRESH_SECONDS": 0,
        }
    )
    application.extensions["celery"].conf.task_always_eager = True
    application.test_client_class = IsolatedClient
    _guard_authorisation(application)
    with application.app_context():
        from flask_migrate import upgrade

        upgrade()
    return application


@pytest.fixture
def suites_app_stays_current(app):
    """A test that makes an app of its own (create_app) takes over what a process keeps once, for its
    one app in production: Flask-SocketIO's server, Flask-Limiter's storage (Redis, for an app made with
    REDIS_URL) and Celery's default app. The suite's app gets them back, so that the tests after it see
    the same live events, rate limits and tasks (run in place) whatever order they run in."""
    from participation.extensions import socketio

    kept = {extension: vars(extension).copy() for extension in (socketio, limiter)}
    yield
    for extension, state in kept.items():
        vars(extension).clear()
        vars(extension).update(state)
    app.extensions["celery"].set_default()
    app.extensions["celery"].set_current()


# Endpoints that change state without a permission rule, on purpose (anyone may do them).
UNGUARDED = {"accounts.login", "accounts.logout", "accounts.register"}
UNAUTHORISED_WRITES: list[str] = []


def _guard_authorisation(application) -> None:
    """CKAN's idea: a state-changing request that succeeded without any permission check is a bug."""
    from flask import g, request

    @application.after_request
    def _check(response):
        if (
            request.method in ("POST", "PUT", "PATCH", "DELETE")
            and response.status_code < 400
            and request.endpoint not in UNGUARDED
            and not g.get("authorized")
        ):
            UNAUTHORISED_WRITES.append(f"{request.method} {request.path} -> {response.status_code}")
        return response


@pytest.fixture(autouse=True)
def every_write_is_authorised():
    UNAUTHORISED_WRITES.clear()
    yield
    assert UNAUTHORISED_WRITES == [], "state changed without a permission check"


@pytest.fixture
def db(app):
    """The database inside an app context; every table is emptied after the test."""
    ctx = app.app_context()
    ctx.push()
    limiter.reset()
    yield _db
    _db.session.rollback()
    empty_tables()
    ctx.pop()


def empty_tables() -> None:
    """Every table emptied (ids restarted on PostgreSQL)."""
    _db.session.remove()
    tables = [t.name for t in reversed(_db.metadata.sorted_tables)]
    with _db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))


class IsolatedClient(FlaskClient):
    """Each request runs in its own app context (own session, g and locale), as in production.

    The test's own session is expired afterwards so that it reads what the request committed.
    """

    def open(self, *args, **kwargs):
        try:
            return contextvars.Context().run(super().open, *args, **kwargs)
        finally:
            _db.session.expire_all()


class IsolatedSocket:
    """A Socket.IO test client whose every call runs in its own context, as separate connections do."""

    def __init__(self, app, namespace: str, http=None):
        from participation.extensions import socketio

        self.namespace = namespace
        self._client = contextvars.Context().run(socketio.test_client, app, namespace=namespace, flask_test_client=http)

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if callable(attr):
            return lambda *args, **kwargs: contextvars.Context().run(attr, *args, **kwargs)
        return attr


def live_client(app, namespace: str, http=None) -> IsolatedSocket:
    return IsolatedSocket(app, namespace, http)


@pytest.fixture
def client(app, db):
    return app.test_client()


@pytest.fixture
def runner(app, db):
    return app.test_cli_runner()


@pytest.fixture
def catalog(db):
    """The small catalog above, imported."""
    from participation.catalog.services import import_catalog

    import_catalog(SYSTEM, SMALL_CATALOG)
    db.session.commit()
    return SMALL_CATALOG


@pytest.fixture
def make_user(db):
    """Factory: make_user('coordinator', departments=['ENV'], email=...)."""
    from participation.accounts.models import Organisation, Role, User
    from participation.catalog.models import Department

    counter = {"n": 0}

    def make(*roles: str, departments: tuple[str, ...] = (), email: str | None = None, organisation: str | None = None):
        counter["n"] += 1
        user = User(email=email or f"user{counter['n']}@example.org", display_name=f"User {counter['n']}")
        user.set_password(PASSWORD)
        user.set_roles({Role(r) for r in (roles or ("citizen",))})
        if departments:
            user.set_departments({_db.session.query(Department).filter_by(code=c).one().id for c in departments})
        if organisation:
            org = _db.session.query(Organisation).filter_by(credit_code=organisation).one_or_none()
            user.organisation = org or Organisation(name=f"Org {organisation}", credit_code=organisation)
        _db.session.add(user)
        _db.session.commit()
        return user

    return make


@pytest.fixture
def bearer(db):
    """Authorization headers with a fresh personal API token of the user."""
    from participation.accounts.services import create_token

    def make(user):
        _token, raw = create_token(user, "api")
        db.session.commit()
        return {"Authorization": f"Bearer {raw}"}

    return make


@pytest.fixture
def english(app, monkeypatch):
    """Messages in English (the default language is Chinese): for tests that read the wording."""
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "en")
    monkeypatch.setitem(app.config, "LANGUAGES", ("en",))  # a profile's Chinese preference does not apply


@pytest.fixture
def login(client):
    """Log a user in through the real log-in form."""

    def do(user, password: str = PASSWORD):
        response = client.post("/login", data={"login": user.login_name, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return do


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (32, 24)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


VALID_CREDIT_CODE = "91350100M000100Y43"


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


ROOT = Path(__file__).resolve().parents[1]
