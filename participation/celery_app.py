"""Celery built from the Flask config; every task runs inside an app context."""

from __future__ import annotations

from celery import Celery, Task
from flask import Flask, current_app, has_app_context

# Which queued work a worker takes first. With Redis, lower numbers go first (kombu keeps one list per
# step 0, 3, 6, 9 and pops them in that order; a task without a priority is 0). What a person is waiting
# to see (a submission's analysis and routing, an export's progress, an escalation) goes first; work that
# may well be seconds late (e-mails, score refreshes, retraining the router) waits behind it, so that a
# burst of e-mails after a burst of submissions cannot hold up the next submission's routing. Set as
# routes (`task_routes`), where Celery keeps a task's priority from now on.
PRIORITY_DEFERRABLE = 6
DEFERRABLE_TASKS = (
    "notifications.deliver",
    "notifications.flush_outbox",
    "scoring.refresh",
    "scoring.refresh_rolling",
    "routing.retrain_router",
    "routing.maybe_retrain",
)
TASK_ROUTES = {name: {"priority": PRIORITY_DEFERRABLE} for name in DEFERRABLE_TASKS}


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app for this Flask app (Flask's documented pattern).

    A task runs in a fresh app context of its own: in a worker, of the app it was made with; run in
    place (eager, or the embedded threads), of the app that queued it. Celery's default app is the last
    one made in the process, and a task queued by one Flask app must not read another's database."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            owner = current_app._get_current_object() if has_app_context() else app
            with owner.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    celery.config_from_object(app.config["CELERY"])
    celery.set_default()
    app.extensions["celery"] = celery
    return celery
