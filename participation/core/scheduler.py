"""In-process background work for the embedded mode (`make run`: no Celery beat, tasks run eagerly).

`EmbeddedBeat` runs the periodic jobs of BEAT_TASKS in a daemon thread. `Background` is a daemon
thread that does work handed to it (`hand_over`), item by item, so that a request need not wait for
it: e-mail goes this way, so that a slow or unreachable mail server never holds up the person whose
action wrote it. Neither runs in production (Celery workers and beat do this work) or in tests,
unless a test starts one.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, current_app, has_app_context

log = logging.getLogger(__name__)
QUEUES = "background_queues"
_STOP = object()


class EmbeddedBeat:
    """Each task of a schedule {name: seconds} at its interval, in one daemon thread, in app contexts."""

    def __init__(self, app: Flask, schedule: dict[str, float]):
        self.app = app
        self.schedule = dict(schedule)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="embedded-beat", daemon=True)

    def start(self) -> EmbeddedBeat:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop after the task running now; True when the thread has ended."""
        self._stop.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        celery = self.app.extensions["celery"]
        due = dict.fromkeys(self.schedule, 0.0)
        while not self._stop.is_set():
            for name, seconds in self.schedule.items():
                if self._stop.is_set():
                    break
                now = time.monotonic()
                if now < due[name]:
                    continue
                due[name] = now + seconds
                try:
                    with self.app.app_context():
                        celery.tasks[name].apply()
                except Exception:  # a failing run must not stop the next ones
                    log.exception("periodic task %s failed", name)
            self._stop.wait(1.0)


class Background:
    """One daemon thread doing the items handed to it, in order, each in an app context of its own.

    An item that fails with one of `retry_on` (a database or a service briefly out of reach) is tried
    again after each of `delays` seconds in turn, as a Celery worker retries the same task with its
    backoff; the others go on meanwhile. After the last delay it is logged and left (the periodic
    jobs that look for unfinished work take it up)."""

    def __init__(
        self,
        app: Flask,
        name: str,
        work: Callable[[Any], Any],
        retry_on: tuple[type[BaseException], ...] = (),
        delays: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0),
    ):
        self.app = app
        self.name = name
        self.work = work
        self.retry_on = retry_on
        self.delays = delays
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=f"background-{name}", daemon=True)
        self._timers: set[threading.Timer] = set()
        self._timers_lock = threading.Lock()
        self._stopping = False

    def start(self) -> Background:
        self.app.extensions.setdefault(QUEUES, {})[self.name] = self
        self._thread.start()
        return self

    def submit(self, items: Iterable[Any]) -> bool:
        """Queue the items; False when this thread no longer takes work."""
        if self.app.extensions.get(QUEUES, {}).get(self.name) is not self or not self._thread.is_alive():
            return False
        for item in items:
            self._queue.put(item)
        return True

    def stop(self, timeout: float = 30.0) -> bool:
        """Take no more work, finish what was queued (not the retries still waiting: the periodic jobs
        take those up); True when the thread has ended."""
        if self.app.extensions.get(QUEUES, {}).get(self.name) is self:
            del self.app.extensions[QUEUES][self.name]
        with self._timers_lock:
            self._stopping = True
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
        self._queue.put(_STOP)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        while True:
            entry = self._queue.get()
            if entry is _STOP:
                return
            item, attempt = entry if isinstance(entry, _Retry) else (entry, 0)
            try:
                with self.app.app_context():
                    self.work(item)
            except self.retry_on as error:
                if attempt < len(self.delays):
                    delay = self.delays[attempt]
                    log.warning("background %s: %r failed (%s), again in %ss", self.name, item, error, delay)
                    self._later(delay, _Retry(item, attempt + 1))
                else:
                    log.exception("background %s gave up on %r after %d tries", self.name, item, attempt + 1)
            except Exception:  # one item's failure must not stop the others
                log.exception("background %s failed on %r", self.name, item)

    def _later(self, seconds: float, entry: _Retry) -> None:
        def put() -> None:
            with self._timers_lock:
                self._timers.discard(timer)
                if not self._stopping:
                    self._queue.put(entry)

        timer = threading.Timer(seconds, put)
        timer.daemon = True
        with self._timers_lock:
            if self._stopping:
                return
            self._timers.add(timer)
        timer.start()


class _Retry(tuple):
    """An item handed back to its thread's queue for another try: (item, tries so far)."""

    def __new__(cls, item: Any, attempt: int):
        return super().__new__(cls, (item, attempt))


def in_process(app: Flask) -> bool:
    """Do tasks run in this process (Celery eager: the embedded mode), with no workers or beat elsewhere?"""
    return bool(app.config["CELERY"].get("task_always_eager"))


def start_embedded_beat(app: Flask) -> EmbeddedBeat | None:
    """Run BEAT_TASKS in this process; only when tasks run in-process (no Celery beat elsewhere)."""
    if not in_process(app) or not app.config["BEAT_TASKS"]:
        return None
    schedule = {name: float(seconds) for name, seconds in app.config["BEAT_TASKS"].items()}
    return EmbeddedBeat(app, schedule).start()


def hand_over(name: str, items: Iterable[Any]) -> bool:
    """Give items to this process's background thread `name`; False when there is none."""
    if not has_app_context():
        return False
    background = current_app.extensions.get(QUEUES, {}).get(name)
    return background is not None and background.submit(items)
