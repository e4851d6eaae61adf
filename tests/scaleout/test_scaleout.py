"""Scale-out proof with the real Redis: events cross web processes, and a real Celery worker does queued work."""

from __future__ import annotations

import re
import threading

import pytest
import requests
import socketio

from participation.routing.models import Ticket
from tests.conftest import PASSWORD
from tests.live import process_env, web_process, worker_process

pytestmark = pytest.mark.redis


def logged_in_session(base: str, user) -> requests.Session:
    http = requests.Session()
    page = http.get(base + "/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = http.post(
        base + "/login", data={"csrf_token": token, "login": user.email, "password": PASSWORD}, allow_redirects=False
    )
    assert response.status_code == 302, response.text
    return http


def csrf(http: requests.Session, url: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', http.get(url).text).group(1)


def listener(base: str, cookies: dict[str, str], follow: tuple[str, dict]):
    """A Socket.IO client on /intake; returns (client, received statuses, event set on each message)."""
    client = socketio.Client(reconnection=False)
    received: list[dict] = []
    arrived = threading.Event()

    @client.on("submission.status", namespace="/intake")
    def _on_status(data):
        received.append(data)
        arrived.set()

    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    client.connect(base, namespaces=["/intake"], headers={"Cookie": cookie}, transports=["websocket"], wait_timeout=10)
    answer = client.call(follow[0], follow[1], namespace="/intake", timeout=10)
    assert answer["ok"], answer
    return client, received, arrived


def wait_for(received: list[dict], arrived: threading.Event, predicate, timeout: float = 30) -> dict:
    """Block until a received event matches (each arrival wakes us; no fixed sleeping)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        for item in received:
            if predicate(item):
                return item
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no matching event; received {received}")
        arrived.clear()
        arrived.wait(remaining)


def test_event_caused_on_one_web_process_reaches_a_client_on_another(
    db, catalog, make_user, database_url, redis_url, tmp_path
):
    user = make_user("citizen")
    env = process_env(database_url, str(tmp_path / "uploads"), redis_url)
    with web_process(env, tmp_path, "web-a") as web_a, web_process(env, tmp_path, "web-b") as web_b:
        http_a = logged_in_session(web_a, user)
        token = csrf(http_a, web_a + "/submit")
        response = http_a.post(
            web_a + "/submit",
            data={"csrf_token": token, "kind": "complaint", "text": "路灯坏了两个星期", "contact_phone": "13800138000"},
            allow_redirects=False,
        )
        assert response.status_code == 302, response.text
        code = response.headers["Location"].rsplit("/", 1)[-1]

        # The same browser session, connected to the *other* process.
        client, received, arrived = listener(web_b, http_a.cookies.get_dict(), ("follow_mine", {}))
        try:
            token = csrf(http_a, web_a + "/my")
            assert (
                http_a.post(
                    f"{web_a}/my/{code}/withdraw", data={"csrf_token": token}, allow_redirects=False
                ).status_code
                == 302
            )
            event = wait_for(received, arrived, lambda e: e["status"] == "withdrawn")
            assert event["code"] == code
        finally:
            client.disconnect()


def test_real_worker_process_does_the_task_a_request_queued(db, catalog, database_url, redis_url, tmp_path):
    env = process_env(database_url, str(tmp_path / "uploads"), redis_url)
    with web_process(env, tmp_path, "web") as web:
        response = requests.post(
            web + "/api/v1/submissions",
            json={"kind": "complaint", "anonymous": True, "text": "The street light on Hill Road is broken"},
        )
        assert response.status_code == 201
        code = response.json()["code"]
        assert response.json()["status"] == "submitted"  # queued in Redis, nobody has done it yet
        client, received, arrived = listener(web, {}, ("follow_code", {"code": code}))
        try:
            with worker_process(env, tmp_path):
                event = wait_for(received, arrived, lambda e: e["status"] == "triage", timeout=90)
            assert event["code"] == code
        finally:
            client.disconnect()
    db.session.expire_all()
    ticket = db.session.query(Ticket).one()
    assert ticket.status.value == "triage"
    assert ticket.submission.language == "en" and "light" in ticket.submission.keywords
