"""Configuration classes; environment variables override them.

`DATABASE_URL` and `REDIS_URL` are read as they are; any other key can be set as
`PARTICIPATION_<KEY>` (the value is parsed as JSON when it parses, else kept as text).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path


class Config:
    """Embedded default: SQLite under instance/, tasks in-process, no Redis."""

    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None  # filled from instance/ when unset
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    REDIS_URL: str | None = None

    BABEL_DEFAULT_LOCALE = "zh"
    # BABEL_DEFAULT_TIMEZONE (the pages' times) is always CITY_TIMEZONE: one setting for the city's time.
    LANGUAGES = ("zh", "en")

    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False  # set PARTICIPATION_SESSION_COOKIE_SECURE=true behind HTTPS
    REMEMBER_COOKIE_SECURE = False
    SOCKETIO_CORS_ORIGINS: list[str] | None = None

    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = "10 per minute"
    REGISTER_RATE_LIMIT = "10 per hour"
    SUBMISSION_RATE_LIMIT = "10 per minute;100 per day"

    ROUTING_CONFIDENCE_THRESHOLD = 0.3  # below it, an item waits in the coordinator's triage queue
    ROUTING_SECONDARY_THRESHOLD = 0.18  # a clause this sure of another (top-4) category adds it (multi-issue)
    ROUTING_AUTO_DISPATCH = True
    ROUTING_SEMANTIC = True  # the multilingual sentence model beside the lexical ones (off: faster, less accurate)
    ROUTING_RETRAIN_AFTER = 20  # new dispatcher confirmations before the router is retrained
    ROUTING_REFRESH_SECONDS = 5  # how often a process checks for a newer router or catalog
    TRIAGE_PAGE_SIZE = 100  # the triage page shows the oldest this many waiting tickets, with the total
    INBOX_PAGE_SIZE = 200  # an inbox shows the newest this many parts its filters select, with the total
    ESCALATION_PAGE_SIZE = 100  # the escalation queue shows the first this many tickets of its order, with the total
    SUGGEST_RATE_LIMIT = "120 per minute"

    DUPLICATE_WINDOW_DAYS = 14  # an open ticket reported this recently may be the master of a new item
    DUPLICATE_RADIUS_METERS = 500  # "near the same place" when both items have a point
    DUPLICATE_MIN_SIMILARITY = 0.35  # text similarity (0-1) from which an item near the same place is suggested
    DUPLICATE_NO_PLACE_SIMILARITY = 0.7  # ... and when the place cannot be compared
    DUPLICATE_AUTO_MERGE = True
    DUPLICATE_AUTO_MERGE_SIMILARITY = 0.9  # from here the router merges on its own
    DUPLICATE_SCAN_LIMIT = 300  # most recent same-category open tickets compared per new item

    # SLA targets in business minutes when no policy applies (deadlines.setup.targets_for). For a
    # normal ticket, resolve None = the category's resolve_days x a working day of the calendar, and
    # first contact = the category's respond_hours; contribution = 3 working days of 7.5 hours.
    SLA_DEFAULTS: dict = {
        "normal": {"sign_for": 4 * 60, "first_contact": 24 * 60, "resolve": None, "contribution": 3 * 450},
        "urgent": {"sign_for": 30, "first_contact": 2 * 60, "resolve": 24 * 60, "contribution": 12 * 60},
    }

    # Business days (of the calendar) a ticket may spend paused in total, per kind of pause.
    SLA_PAUSE_CAP_DAYS: dict = {"waiting_citizen": 5, "suspension": 20}
    # Words that make an item urgent at intake: its clocks then run around the clock (24x7).
    URGENT_TERMS: list = [
        "gas leak", "smell of gas", "fire", "smoke", "live wire", "electric shock", "explosion", "collapse",
        "flooding", "trapped", "燃气泄漏", "煤气泄漏", "天然气泄漏", "起火", "着火", "火灾", "冒烟", "漏电",
        "触电", "电线掉落", "爆炸", "坍塌", "塌陷", "被困", "内涝",
    ]  # fmt: skip
    # Periodic jobs run by `celery beat` in production, or by the embedded scheduler of `make run`:
    # task name -> seconds between runs.
    BEAT_TASKS: dict = {
        "deadlines.sweep": 60.0,
        "notifications.flush_outbox": 60.0,
        "scoring.refresh_rolling": 120.0,
        "exports.sweep": 300.0,
        "intake.analyse_pending": 300.0,
    }
    # A submission still unanalysed this long after it was stored is queued again (see intake.tasks).
    ANALYSIS_RETRY_MINUTES = 10

    # Notifications: quiet hours are in the city's time; e-mail goes through the outbox.
    CITY_TIMEZONE = "Asia/Shanghai"
    HOTLINE = "12345"  # the citizens' service hotline, shown in the footer and where a sender may call
    PUBLIC_BASE_URL = "http://127.0.0.1:5000"  # in front of the links in e-mails
    MAIL_BACKEND = "file"  # "smtp", or "file": .eml files in MAIL_FILE_DIR (instance/mail when unset)
    MAIL_FILE_DIR: str | None = None
    MAIL_SERVER = "localhost"
    MAIL_PORT = 25
    MAIL_USE_TLS = False
    MAIL_USE_SSL = False
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = None
    MAIL_DEFAULT_SENDER = "noreply@participation.local"
    MAIL_TIMEOUT = 20.0  # seconds for each SMTP connection
    MAIL_MAX_ATTEMPTS = 8  # then the e-mail is marked failed (admins see it at /admin/outbox)
    MAIL_RETRY_BASE_SECONDS = 60  # retries wait 1, 2, 4, ... times this
    MAIL_RETRY_MAX_SECONDS = 6 * 3600
    OUTBOX_CLAIM_TIMEOUT_SECONDS = 600  # a claim this old belongs to a worker that died
    OUTBOX_BATCH = 200  # e-mails sent per sweep

    # Scorecards: rates of small samples are shrunk toward the city rate, (x + k*p0) / (n + k).
    SCORING_SHRINK_K = 10
    SCORING_DEFAULT_RATE = 0.5  # p0 when the whole city has no data for a component yet
    SCORING_FREEZE_DAYS = 7  # a month is frozen once computed this many days after it ended
    SCORING_LIVE = True  # recompute the affected month after each relevant change (through Celery)
    # Joint-meeting agenda (docs/scoring.md): a category x department-pair cluster of a period is put on
    # the agenda when it has at least AGENDA_MIN_TICKETS joint tickets and AGENDA_MIN_ISSUES issues
    # (disputes + late joint tickets + low-satisfaction callbacks); AGENDA_WEIGHTS weigh them in the severity.
    AGENDA_MIN_TICKETS = 3
    AGENDA_MIN_ISSUES = 2
    AGENDA_WEIGHTS: dict = {"disputes": 3.0, "late": 2.0, "low_satisfaction": 2.0}
    SCORING_ROLLING_MAX_AGE = 300  # seconds: the stored rolling 30 days are computed anew when older

    # Forums (docs/forums.md): a proposal is sent to the router as a ticket of kind "proposal" once its
    # supporters reach the threshold of its category (FORUM_THRESHOLDS: category code -> supporters),
    # else FORUM_SUPPORT_THRESHOLD. Authors may not support their own proposals unless allowed here.
    FORUM_SUPPORT_THRESHOLD = 20
    FORUM_THRESHOLDS: dict = {}
    FORUM_ALLOW_SELF_SUPPORT = False
    FORUM_PAGE_SIZE = 20
    FORUM_COMMENT_MAX_CHARS = 5000
    FORUM_COMMENT_RATE_LIMIT = "10 per minute;200 per day"  # per account, HTML and API together
    FORUM_PROPOSAL_RATE_LIMIT = "5 per hour;20 per day"  # per account: new proposals (HTML and API)
    FORUM_SUPPORT_RATE_LIMIT = "30 per minute;300 per day"  # per account: supports and withdrawals
    # Moderation: open flags that hide an item pending review; the spam check (docs/forums.md).
    FORUM_FLAGS_TO_HIDE = 3
    FORUM_SPAM_CHECK = True
    FORUM_MAX_LINKS = 2  # more URLs than this in one post: held for review
    FORUM_SPAM_RATE = 5  # this many posts (proposals and comments) ...
    FORUM_SPAM_RATE_SECONDS = 120  # ... within this many seconds: the next one is held for review
    FORUM_SPAM_REPEAT_HOURS = 24  # the same or nearly the same text again within this time: held
    FORUM_SPAM_SIMILARITY = 0.9  # difflib ratio counted as "nearly the same"

    # Research exports (docs/exports.md): bundles are kept EXPORT_KEEP_HOURS, rows are read and written
    # EXPORT_BATCH_ROWS at a time, a running job that has not reported for EXPORT_STALE_SECONDS has died.
    # Pseudonym keys derive from EXPORT_PSEUDONYM_SECRET (or SECRET_KEY) and each project's code.
    EXPORT_FOLDER: str | None = None  # instance/exports when unset
    EXPORT_KEEP_HOURS = 72
    EXPORT_BATCH_ROWS = 10_000
    EXPORT_PROGRESS_SECONDS = 0.5  # at most this often a live progress event
    EXPORT_STALE_SECONDS = 600
    EXPORT_PSEUDONYM_SECRET: str | None = None
    EXPORT_RATE_LIMIT = "10 per hour;30 per day"  # per account: export requests (page and API)

    SUBMISSION_MAX_CHARS = 5000
    TITLE_MAX_CHARS = 200
    UPLOAD_MAX_BYTES = 5 * 1024 * 1024
    UPLOAD_MAX_FILES = 3
    MAX_CONTENT_LENGTH = 20 * 1024 * 1024
    UPLOAD_FOLDER: str | None = None  # instance/uploads when unset

    CITY_NAME = {"zh": "海城市", "en": "Haicheng"}
    SOCKETIO_MESSAGE_QUEUE: str | None = None
    CELERY: dict = {"task_always_eager": True, "task_eager_propagates": True, "task_ignore_result": True}
    PROXY_FIX = False


class TestingConfig(Config):
    """Tests: real CSRF and rate limits stay on; tests switch them off where they say so."""

    TESTING = True
    SECRET_KEY = "test-secret-key"
    SERVER_NAME = None
    MAIL_BACKEND = "memory"


def _parse(value: str, default):
    """An environment value in the type of the setting's default (text stays text)."""
    if isinstance(default, str) or default is None:
        return value
    try:
        parsed = json.loads(value)
    except ValueError:
        raise RuntimeError(f"setting must be JSON of type {type(default).__name__}: {value!r}") from None
    if isinstance(default, dict) and isinstance(parsed, dict):
        return {**default, **parsed}
    expected = {float: (float, int), tuple: (list, tuple)}.get(type(default), type(default))
    if isinstance(default, bool) != isinstance(parsed, bool) or not isinstance(parsed, expected):
        raise RuntimeError(f"setting must be of type {type(default).__name__}: {value!r}")
    return parsed


def load(app, test_config: dict | None) -> None:
    """Fill app.config from the class, the environment and test_config, then derive the rest."""
    app.config.from_object(TestingConfig if test_config and test_config.get("TESTING") else Config)
    for key, value in os.environ.items():
        if key.startswith("PARTICIPATION_"):
            name = key.removeprefix("PARTICIPATION_")
            app.config[name] = _parse(value, app.config.get(name))
    if os.environ.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    if os.environ.get("REDIS_URL"):
        app.config["REDIS_URL"] = os.environ["REDIS_URL"]
    if test_config:
        app.config.update(test_config)

    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config["CITY_TIMEZONE"]

    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'participation.db'}"
    if not app.config["UPLOAD_FOLDER"]:
        app.config["UPLOAD_FOLDER"] = str(instance / "uploads")
    if not app.config["EXPORT_FOLDER"]:
        app.config["EXPORT_FOLDER"] = str(instance / "exports")
    if not app.config["SECRET_KEY"]:
        if app.config["REDIS_URL"]:
            raise RuntimeError("Set PARTICIPATION_SECRET_KEY: several processes must share one secret.")
        app.config["SECRET_KEY"] = _instance_secret(instance / "secret_key")

    redis_url = app.config["REDIS_URL"]
    celery = dict(app.config["CELERY"])
    if redis_url:
        celery.setdefault("broker_url", redis_url)
        celery["task_always_eager"] = False  # a worker does the tasks (tests may ask for eager explicitly)
        # The worker reserves as few queued tasks ahead as Celery allows (one a process), so that a routing
        # task queued behind a backlog of e-mails is taken next (celery_app's priorities), not after all the
        # e-mails the worker had already reserved.
        celery.setdefault("worker_prefetch_multiplier", 1)
        if app.config["RATELIMIT_STORAGE_URI"] == "memory://":
            app.config["RATELIMIT_STORAGE_URI"] = redis_url
        app.config["SOCKETIO_MESSAGE_QUEUE"] = app.config["SOCKETIO_MESSAGE_QUEUE"] or redis_url
    from participation.celery_app import TASK_ROUTES

    celery.setdefault("task_routes", TASK_ROUTES)
    celery["beat_schedule"] = {
        name: {"task": name, "schedule": float(seconds)} for name, seconds in app.config["BEAT_TASKS"].items()
    }
    app.config["CELERY"] = celery
    if test_config:  # what a caller sets explicitly wins over what REDIS_URL implies
        for key in ("SOCKETIO_MESSAGE_QUEUE", "RATELIMIT_STORAGE_URI"):
            if key in test_config:
                app.config[key] = test_config[key]
        celery.update(test_config.get("CELERY", {}))


def _instance_secret(path: Path) -> str:
    """A per-installation secret for the embedded default; production sets SECRET_KEY."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32))
    return path.read_text().strip()
