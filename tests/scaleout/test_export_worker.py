"""A research export queued by a web process is written by a real Celery worker, with live progress."""

from __future__ import annotations

import io
import threading
import zipfile

import pytest
import requests
import socketio

from participation.core.permissions import SYSTEM
from participation.core.uow import transaction
from participation.exports import services
from participation.surveys import services as survey_services
from tests.exports.test_exports import AT, PURPOSE, add_responses, definition
from tests.live import process_env, web_process, worker_process
from tests.scaleout.test_scaleout import logged_in_session, wait_for

pytestmark = pytest.mark.redis


def test_worker_writes_the_bundle_and_the_page_hears_its_progress(
    db, catalog, make_user, bearer, database_url, redis_url, tmp_path
):
    researcher = make_user("researcher")
    with transaction():
        survey_services.save_definition(SYSTEM, definition("PARKS"), distribution="public", publish=True)
        services.create_project(researcher, {"code": "PARKS-STUDY", "title": "Parks study"})
    add_responses(survey_services.get_survey("PARKS"), [{"at": AT, "answers": {"visited": 1, "nps": 9}}] * 30)

    env = process_env(database_url, str(tmp_path / "uploads"), redis_url)
    env.update(PARTICIPATION_EXPORT_FOLDER=str(tmp_path / "exports"), PARTICIPATION_EXPORT_BATCH_ROWS="5",
               PARTICIPATION_EXPORT_PROGRESS_SECONDS="0")  # fmt: skip
    with web_process(env, tmp_path, "web") as web:
        http = logged_in_session(web, researcher)  # the socket's session cookie
        http.headers.update(bearer(researcher))  # API calls with a personal token (no CSRF needed)
        response = http.post(
            web + "/api/v1/exports",
            json={"dataset": "survey-responses", "survey": "PARKS", "project": "PARKS-STUDY", "purpose": PURPOSE},
        )
        assert response.status_code == 202, response.text
        job = response.json()
        assert job["status"] == "queued"  # in Redis; no worker yet

        client = socketio.Client(reconnection=False)
        received: list[dict] = []
        arrived = threading.Event()

        @client.on("export.progress", namespace="/exports")
        def _progress(data):
            received.append(data)
            arrived.set()

        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.get_dict().items())
        client.connect(web, namespaces=["/exports"], headers={"Cookie": cookie}, transports=["websocket"])
        try:
            assert client.call("watch_job", {"id": job["id"]}, namespace="/exports", timeout=10)["ok"]
            with worker_process(env, tmp_path):
                done = wait_for(received, arrived, lambda e: e["status"] == "done", timeout=90)
        finally:
            client.disconnect()
        running = [e for e in received if e["id"] == job["id"] and e["status"] == "running"]
        assert running and max(e["rows_done"] for e in running) >= 5  # progress arrived before the end
        assert done["progress"] == 1.0 and done["rows_done"] == 30

        status = http.get(web + f"/api/v1/exports/{job['id']}").json()
        assert status["status"] == "done" and status["download"]
        bundle = http.get(web + status["download"])
        assert bundle.status_code == 200
        names = zipfile.ZipFile(io.BytesIO(bundle.content)).namelist()
        assert {"data.csv", "data.sav", "data.dta", "datapackage.json", "SHA256SUMS"} <= set(names)
        assert requests.get(web + status["download"]).status_code in (401, 403)  # not without the researcher
