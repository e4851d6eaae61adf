"""The application shell: configuration, migrations, errors, language, security headers."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from participation import create_app
from participation.extensions import db as _db

# The apps made here hand back what a process keeps once (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("suites_app_stays_current")


def test_environment_overrides_config(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    monkeypatch.setenv("PARTICIPATION_SUBMISSION_MAX_CHARS", "3000")
    monkeypatch.setenv("PARTICIPATION_CITY_NAME", '{"en": "Testville"}')
    monkeypatch.setenv("PARTICIPATION_CELERY", '{"task_ignore_result": false}')
    monkeypatch.delenv("REDIS_URL", raising=False)
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("/x.db")
    assert app.config["SUBMISSION_MAX_CHARS"] == 3000
    assert app.config["CITY_NAME"] == {"zh": "海城市", "en": "Testville"}  # dicts merge
    assert app.config["CELERY"]["task_always_eager"] is True
    assert app.config["SOCKETIO_MESSAGE_QUEUE"] is None


def test_one_setting_for_the_city_time(monkeypatch, tmp_path):
    """The pages (Babel) and the exports, notices and scorecards read the same city time zone."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    monkeypatch.setenv("PARTICIPATION_CITY_TIMEZONE", "Asia/Urumqi")
    monkeypatch.delenv("REDIS_URL", raising=False)
    app = create_app()
    assert app.config["BABEL_DEFAULT_TIMEZONE"] == app.config["CITY_TIMEZONE"] == "Asia/Urumqi"


def test_redis_url_switches_to_production_mode(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    with pytest.raises(RuntimeError):  # production needs one shared secret
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    monkeypatch.setenv("PARTICIPATION_SECRET_KEY", "20260101123456")
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SECRET_KEY"] == "20260101123456"  # text stays text
    assert app.config["CELERY"]["broker_url"] == "redis://127.0.0.1:6379/3"
    assert app.config["CELERY"]["task_always_eager"] is False
    assert app.config["SOCKETIO_MESSAGE_QUEUE"] == "redis://127.0.0.1:6379/3"
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/3"


def test_migrations_match_the_models(app, db):
    """`flask db upgrade` built the schema; the models have no change without a migration."""
    with _db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), _db.metadata)
    assert diff == []


def test_db_upgrade_command_on_a_fresh_database(tmp_path, monkeypatch):
    from click.testing import CliRunner
    from flask.cli import ScriptInfo
    from flask_migrate.cli import db as db_group

    target = tmp_path / "fresh.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{target}", "SECRET_KEY": "k"})
    result = CliRunner().invoke(db_group, ["upgrade"], obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    import sqlite3

    tables = {r[0] for r in sqlite3.connect(target).execute("select name from sqlite_master where type='table'")}
    assert {"user", "submission", "ticket", "ticket_event", "category", "audit_log"} <= tables


def test_language_switch_and_default(client):
    assert 'lang="zh-CN"' in client.get("/").get_data(as_text=True)
    english = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert 'lang="en"' in english and "Send a request" in english
    client.get("/lang/zh")
    chinese = client.get("/", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert 'lang="zh-CN"' in chinese and "Send a request" not in chinese
    assert client.get("/lang/en?next=https://evil.example/").headers["Location"] == "/"


def test_errors_are_pages_or_json_never_traces(client):
    page = client.get("/no/such/page")
    assert page.status_code == 404 and "<html" in page.get_data(as_text=True)
    api = client.get("/api/v1/no/such")
    assert api.status_code == 404 and api.get_json() == {
        "error": {"code": "not_found", "message": api.get_json()["error"]["message"]}
    }
    assert client.delete("/api/v1/health").status_code == 405


def test_unexpected_error_is_a_clean_500(tmp_path):
    fresh = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/e.db"})

    @fresh.get("/boom-for-test")
    def boom():
        raise RuntimeError("internal detail")

    response = fresh.test_client().get("/boom-for-test")
    assert response.status_code == 500 and "internal detail" not in response.get_data(as_text=True)


def test_security_headers(client):
    headers = client.get("/").headers
    assert headers["X-Frame-Options"] == "DENY" and "default-src 'self'" in headers["Content-Security-Policy"]


def test_oversized_request_is_413(client, app):
    response = client.post(
        "/api/v1/submissions", data=b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1), content_type="application/json"
    )
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "too_large"


@pytest.mark.parametrize("path", ["/profile", "/my", "/admin/users", "/admin/catalog/"])
def test_login_required(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_demo_load_is_idempotent(runner):
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    from sqlalchemy import func, select

    from participation.accounts.models import User

    assert _db.session.scalar(select(func.count()).select_from(User)) == 10


def test_savepoint_release_is_not_a_commit(db):
    from participation.core.uow import after_commit, transaction

    ran = []
    try:
        with transaction():
            after_commit(ran.append, "side effect")
            with _db.session.begin_nested():
                pass
            raise RuntimeError("later failure")
    except RuntimeError:
        pass
    assert ran == []
    with transaction():
        after_commit(ran.append, "side effect")
    assert ran == ["side effect"]


def test_failing_side_effect_does_not_fail_the_commit(db):
    from participation.core.uow import after_commit, transaction

    def boom():
        raise ConnectionError("message queue down")

    ran = []
    with transaction():
        after_commit(boom)
        after_commit(ran.append, "next")
    assert ran == ["next"]


def test_bad_typed_environment_value_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("PARTICIPATION_SUBMISSION_MAX_CHARS", "many")
    with pytest.raises(RuntimeError):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/y.db", "SECRET_KEY": "k"})


def test_the_authorisation_guard_catches_an_unchecked_write(tmp_path):
    from tests.conftest import UNAUTHORISED_WRITES, _guard_authorisation

    fresh = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/g.db", "WTF_CSRF_ENABLED": False}
    )

    @fresh.post("/unchecked-for-test")
    def unchecked():
        return "changed"

    _guard_authorisation(fresh)
    fresh.test_client().post("/unchecked-for-test")
    assert UNAUTHORISED_WRITES == ["POST /unchecked-for-test -> 200"]
    UNAUTHORISED_WRITES.clear()


def test_a_task_run_in_place_runs_for_the_app_that_queued_it(app, monkeypatch):
    """Celery's default app is the last one made in the process; a task run in place (eager, or in
    make run's threads) still reads the database and settings of the app that queued it."""
    monkeypatch.delenv("REDIS_URL", raising=False)  # the embedded mode, whatever the run's environment
    other = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "CITY_NAME": {"en": "Elsewhere"}})
    celery = other.extensions["celery"]

    @celery.task
    def city():
        from flask import current_app

        return current_app.config["CITY_NAME"]["en"]

    with app.app_context():
        assert city.apply().get() == app.config["CITY_NAME"]["en"] != "Elsewhere"
    assert city.apply().get() == "Elsewhere"  # no app context, as in a worker: the task's own app


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("路灯坏了\n\t一个月了\r\n", True),
        ("Street light\u200b out", True),  # invisible, but typed: visible() judges it
        ("abc\x00", False),
        ("abc\x1b[31m", False),
        ("\ud800路灯", False),  # half a UTF-16 pair
        ("\udfff", False),
        ("😀 emoji outside the BMP", True),
    ],
)
def test_typeable_text(text, expected):
    """One check for the request guard and for catalogs read by `routing evaluate`."""
    from participation.core.validation import typeable

    assert typeable(text) is expected


def test_deferrable_tasks_are_tasks_that_exist(app):
    """The routes that put e-mails and refreshes behind routing name real tasks (a typo would route nothing)."""
    from participation.celery_app import DEFERRABLE_TASKS, PRIORITY_DEFERRABLE

    celery = app.extensions["celery"]
    celery.loader.import_default_modules()
    assert set(DEFERRABLE_TASKS) <= set(celery.tasks)
    route = celery.amqp.router.route({}, "notifications.deliver")
    assert route["priority"] == PRIORITY_DEFERRABLE
    assert "priority" not in celery.amqp.router.route({}, "intake.analyse_submission")


@pytest.mark.parametrize(
    ("path", "method", "referrer", "expected"),
    [
        ("/login", "POST", None, "/login"),  # the address has a page of its own
        ("/submit?kind=complaint", "POST", None, "/submit?kind=complaint"),
        ("/proposals/7/comments", "POST", None, "/proposals/7/comments"),  # whose reading leads to the proposal
        ("/my/HC-1/withdraw", "POST", "http://localhost/my?page=2", "/my?page=2"),  # where it was sent from
        ("/my/HC-1/withdraw", "POST", None, None),  # no page of its own, and not known where it came from
        ("/my/HC-1/withdraw", "POST", "http://elsewhere.example/my", None),
        ("/my/HC-1/withdraw", "POST", "http://localhost//elsewhere.example/x", None),  # another site's path
        ("/login", "GET", None, None),  # only a page answering a form is reloaded elsewhere
    ],
)
def test_where_a_reload_of_a_page_answering_a_form_goes(app, path, method, referrer, expected):
    from participation.core.templating import reload_url

    headers = {"Referer": referrer} if referrer else {}
    with app.test_request_context(path, method=method, headers=headers, base_url="http://localhost"):
        assert reload_url() == expected


def test_under_a_prefix_a_reload_keeps_it(app):
    from participation.core.templating import reload_url

    with app.test_request_context("/login", method="POST", base_url="http://localhost/city"):
        assert reload_url() == "/city/login"


def test_a_refused_form_tells_the_browser_where_a_reload_goes(client, db):
    page = client.post("/login", data={"login": "nobody@example.org", "password": "wrong"})
    assert page.status_code in (401, 422)
    assert '<meta name="reload-url" content="/login">' in page.get_data(as_text=True)
    assert 'name="reload-url"' not in client.get("/login").get_data(as_text=True)


@pytest.mark.parametrize(
    ("text", "length", "shown"),
    [
        ("路灯坏了", 60, "路灯坏了"),
        ("工地半夜施工，噪音太大，渣土车还把路压坏了", 10, "工地半夜施工，噪音…"),
        ("  Pothole\n on   Harbour Road ", 60, "Pothole on Harbour Road"),
        (None, 60, ""),
    ],
)
def test_a_list_shows_the_start_of_a_text_and_says_where_it_was_cut(text, length, shown):
    from participation.core.templating import excerpt

    assert excerpt(text, length) == shown
