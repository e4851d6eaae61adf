"""A late deadline gets an interim one while the lead department watches: its workspace follows without a reload.

The ticket came in long ago, so its resolution clock is late (red). The coordinator gives it an interim deadline a
few seconds ahead (through the services, in this test process); the change is announced over the shared Redis
message queue to the real web process, which re-renders the lead's workspace live. Its countdown then shows the
new due time, amber (three quarters of the original target are long gone) and, once the interim deadline passes,
red, all in the same page.
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
import socketio
from playwright.sync_api import expect

from participation.core import sockets
from participation.core.models import utcnow
from participation.core.uow import transaction
from participation.deadlines import services as deadlines
from tests.browser.conftest import log_in
from tests.live import process_env, require_redis, web_process
from tests.routing.conftest import late_joint_ticket

pytestmark = [pytest.mark.browser, pytest.mark.redis]

INTERIM_IN = timedelta(seconds=20)  # long enough for the live refresh to arrive before it passes, on a busy machine


@pytest.fixture
def people(catalog, make_user):
    return SimpleNamespace(
        citizen=make_user("citizen"),
        env=make_user("department_staff", departments=("ENV",)),
        urban=make_user("department_staff", departments=("URBAN",)),
        coordinator=make_user("coordinator"),
    )


@pytest.fixture
def shared_sockets(monkeypatch):
    """The test process and the web process share a Socket.IO message queue on Redis (only that: tasks stay eager).

    What the services in this test announce after commit goes out through the queue to the web process's clients.
    """
    url = require_redis()
    queue = socketio.RedisManager(url, channel="flask-socketio", write_only=True)  # Flask-SocketIO's channel

    def emit_now(event, data, room, namespace):
        queue.emit(event, data, room=room, namespace=namespace)

    monkeypatch.setattr(sockets, "emit_now", emit_now)
    return url


@pytest.fixture
def queue_server(db, database_url, tmp_path, shared_sockets):
    """Like ``live_server``, with the web process listening on the shared message queue."""
    uploads = tmp_path / "uploads"
    uploads.mkdir(exist_ok=True)
    env = process_env(database_url, str(uploads), redis=None)
    env["PARTICIPATION_SOCKETIO_MESSAGE_QUEUE"] = shared_sockets
    with web_process(env, tmp_path) as base:
        yield base


def test_interim_deadline_refreshes_the_workspace_live_and_its_countdown_turns_amber_then_red(
    shared_sockets, db, people, queue_server, new_context
):
    ticket = late_joint_ticket(people)
    resolve = next(c for c in deadlines.clocks_of(ticket) if c.kind.value == "resolve")
    assert resolve.state.value == "running" and resolve.effective_due < utcnow()
    late_due = resolve.effective_due.isoformat()

    page = new_context().new_page()
    log_in(page, queue_server, people.env)
    page.goto(f"{queue_server}/tickets/{ticket.id}")
    expect(page.locator('[data-live-region][data-connected="1"]')).to_have_count(1)
    countdown = page.locator(f'#clocks tr[data-clock="{resolve.id}"] .deadline')
    expect(countdown).to_have_attribute("data-due", late_due)
    expect(countdown).to_have_attribute("data-state", "red")
    expect(countdown).to_have_class("deadline deadline-red")
    page.evaluate("window.__m = 1")

    # The coordinator sets an interim deadline a few seconds ahead, from the server side.
    with transaction():
        deadlines.set_interim_deadline(
            people.coordinator, ticket.id, resolve.id, utcnow() + INTERIM_IN, "The contractor needs a site visit."
        )
    db.session.expire_all()
    resolve = next(c for c in deadlines.clocks_of(ticket) if c.kind.value == "resolve")
    assert resolve.interim_due_at is not None and resolve.amber_at < utcnow() < resolve.effective_due

    # The workspace re-renders itself: the new due time, amber while the interim deadline is ahead ...
    expect(countdown).to_have_attribute("data-due", resolve.effective_due.isoformat(), timeout=15_000)
    expect(countdown).to_have_attribute("data-state", "amber", timeout=3_000)
    expect(countdown).to_have_class("deadline deadline-amber")
    assert page.evaluate("window.__m") == 1, "the workspace was reloaded"

    # ... and red once it has passed, by the page's own clock, without a reload.
    expect(countdown).to_have_attribute("data-state", "red", timeout=INTERIM_IN.seconds * 1000 + 5_000)
    expect(countdown).to_have_class("deadline deadline-red")
    assert utcnow() >= resolve.effective_due
    assert page.evaluate("window.__m") == 1, "the workspace was reloaded"
