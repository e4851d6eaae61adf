"""The embedded scheduler: in `make run` (no Celery beat, tasks in-process) run the periodic jobs here.

It also runs a job as soon as it is asked to (`run_soon`): e-mails written by a request are sent
from this thread within about a second, so that a slow or unreachable mail server never holds up
the person whose action wrote them.
"""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask, current_app

log = logging.getLogger(__name__)
EXTENSION = "embedded_beat"


class EmbeddedBeat:
    """Each task of a schedule {name: seconds} at its interval, in one daemon thread, in app contexts."""

    def __init__(self, app: Flask, schedule: dict[str, float]):
        self.app = app
        self.schedule = dict(schedule)
        self._due = dict.fromkeys(self.schedule, 0.0)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="embedded-beat", daemon=True)

    def start(self) -> EmbeddedBeat:
        self.app.extensions[EXTENSION] = self
        self._thread.start()
        return self

    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def run_soon(self, name: str) -> bool:
        """Run the task at the loop's next turn; False when this beat does not run it."""
        if name not in self.schedule or not self.alive():
            return False
        with self._lock:
            self._due[name] = 0.0
        self._wake.set()
        return True

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        if self.app.extensions.get(EXTENSION) is self:
            del self.app.extensions[EXTENSION]

    def _loop(self) -> None:
        celery = self.app.extensions["celery"]
        while not self._stop.is_set():
            self._wake.clear()
            for name, seconds in self.schedule.items():
                with self._lock:
                    now = time.monotonic()
                    if now < self._due[name]:
                        continue
                    self._due[name] = now + seconds
                try:
                    with self.app.app_context():
                        celery.tasks[name].apply()
                except Exception:  # a failing run must not stop the next ones
                    log.exception("periodic task %s failed", name)
            self._wake.wait(1.0)


def start_embedded_beat(app: Flask) -> EmbeddedBeat | None:
    """Run BEAT_TASKS in this process; only when tasks run in-process (no Celery beat elsewhere)."""
    if not app.config["CELERY"].get("task_always_eager") or not app.config["BEAT_TASKS"]:
        return None
    schedule = {name: float(seconds) for name, seconds in app.config["BEAT_TASKS"].items()}
    return EmbeddedBeat(app, schedule).start()


def run_soon(name: str) -> bool:
    """Ask this process's embedded beat to run a task now; False when there is none (workers run it)."""
    beat = current_app.extensions.get(EXTENSION)
    return beat is not None and beat.run_soon(name)
