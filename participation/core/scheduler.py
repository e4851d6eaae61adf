"""The embedded scheduler: in `make run` (no Celery beat, tasks in-process) run the periodic jobs here."""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask

log = logging.getLogger(__name__)


def start_embedded_beat(app: Flask) -> threading.Thread | None:
    """Run each task of BEAT_TASKS at its interval in a daemon thread; only when tasks run in-process."""
    if not app.config["CELERY"].get("task_always_eager") or not app.config["BEAT_TASKS"]:
        return None
    celery = app.extensions["celery"]
    schedule = {name: float(seconds) for name, seconds in app.config["BEAT_TASKS"].items()}
    due = dict.fromkeys(schedule, 0.0)

    def loop() -> None:
        while True:
            now = time.monotonic()
            for name, seconds in schedule.items():
                if now >= due[name]:
                    due[name] = now + seconds
                    try:
                        with app.app_context():
                            celery.tasks[name].apply()
                    except Exception:  # a failing run must not stop the next ones
                        log.exception("periodic task %s failed", name)
            time.sleep(1.0)

    thread = threading.Thread(target=loop, name="embedded-beat", daemon=True)
    thread.start()
    return thread
