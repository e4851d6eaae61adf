"""Export pages: who may open them, the builder form (errors and refusals shown, nothing stored), the job
page with its download, the audit list, and live progress over the /exports namespace."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import pytest
from sqlalchemy import func, select

from participation.catalog.models import District
from participation.core.audit import AuditLog
from participation.core.uow import transaction
from participation.exports import services
from participation.exports.models import ExportJob, ExportStatus, ResearchProject
from participation.extensions import db
from tests.conftest import PASSWORD, UNAUTHORISED_WRITES, live_client
from tests.exports import test_exports as export_tests
from tests.exports.test_exports import AT, PURPOSE, add_responses, ids

# The export tests' fixtures: a researcher, their project PARKS-STUDY, the published PARKS survey.
researcher, project, survey = export_tests.researcher, export_tests.project, export_tests.survey

pytestmark = pytest.mark.usefixtures("english")


def form(**changes) -> dict:
    """The builder form as a browser posts it for the PARKS survey (every quasi-identifier ticked)."""
    data = {
        "project": "PARKS-STUDY",
        "dataset": "survey-responses",
        "survey": "PARKS",
        "purpose": PURPOSE,
        "date_from": "",
        "date_to": "",
        "district": "",
        "category": "",
        "department": "",
        "date_level": "month",
        "k": "5",
        "columns-survey-responses": ["district", "category", "department", "language"],
        "columns-callbacks": ["district", "category", "lead_department", "submitter"],
        "format_sav": "on",
        "format_dta": "on",
        "language": "en",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def responses(survey):
    district = ids(District)["EAST-HILL"]
    return add_responses(survey, [{"at": AT, "district": district, "answers": {"visited": 1, "nps": 8}}] * 6)


def jobs() -> int:
    return db.session.scalar(select(func.count()).select_from(ExportJob))


def field_error(html: str, field: str) -> str:
    match = re.search(rf'<div class="field-error" role="alert" data-field="{re.escape(field)}">([^<]*)</div>', html)
    assert match, f"no error shown for {field}"
    return match.group(1)


# -- who may open what ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/exports", "/exports/1", "/exports/1/download", "/exports/audit"])
def test_pages_need_a_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_posting_needs_a_login_and_stores_nothing(client, catalog):
    for path in ("/exports", "/exports/projects"):
        response = client.post(path, data=form())
        assert response.status_code == 302 and "/login" in response.headers["Location"]
        # The redirect to the log-in page is not a write (checked below), so the guard may drop it.
        UNAUTHORISED_WRITES.remove(f"POST {path} -> 302")
    assert jobs() == 0 and db.session.scalar(select(func.count()).select_from(ResearchProject)) == 0


@pytest.mark.parametrize(
    ("role", "builder", "audit"),
    [
        ("citizen", 403, 403),
        ("department_staff", 403, 403),
        ("researcher", 200, 403),
        ("coordinator", 403, 200),
        ("admin", 403, 200),
    ],
)
def test_pages_by_role(client, catalog, make_user, login, role, builder, audit):
    login(make_user(role))
    assert client.get("/exports").status_code == builder
    assert client.get("/exports/audit").status_code == audit
    created = client.post("/exports/projects", data={"code": "P-1", "title": "A project"}).status_code
    assert created == (302 if builder == 200 else 403)
    nav = client.get("/").get_data(as_text=True)
    assert ('id="nav-exports"' in nav) == (builder == 200)
    assert ('id="nav-export-audit"' in nav) == (audit == 200)


# -- projects ------------------------------------------------------------------------------------


def test_researcher_creates_a_project_on_the_page(client, researcher, login):
    login(researcher)
    response = client.post("/exports/projects", data={"code": "TRANSIT-2026", "title": "Transit complaints"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/exports?project=TRANSIT-2026")
    page = client.get("/exports?project=TRANSIT-2026").get_data(as_text=True)
    assert 'data-project="TRANSIT-2026"' in page
    assert '<option value="TRANSIT-2026" selected>' in page

    again = client.post("/exports/projects", data={"code": "TRANSIT-2026", "title": "<b>Same</b>"})
    html = again.get_data(as_text=True)
    assert again.status_code == 422 and field_error(html, "code") == "This code is taken."
    assert "&lt;b&gt;Same&lt;/b&gt;" in html and "<b>Same</b>" not in html  # kept in the form, escaped
    bad = client.post("/exports/projects", data={"code": "no spaces", "title": "x"})
    assert bad.status_code == 422
    assert field_error(bad.get_data(as_text=True), "code") and field_error(bad.get_data(as_text=True), "title")
    assert db.session.scalar(select(func.count()).select_from(ResearchProject)) == 1


# -- the builder ---------------------------------------------------------------------------------


def test_builder_offers_own_projects_published_surveys_and_the_datasets_columns(
    client, researcher, project, survey, make_user, login
):
    other = make_user("researcher")
    with transaction():
        services.create_project(other, {"code": "THEIRS", "title": "Someone else's"})
    login(researcher)
    html = client.get("/exports").get_data(as_text=True)
    assert '<option value="PARKS-STUDY"' in html and 'value="THEIRS"' not in html
    assert '<option value="PARKS"' in html
    for dataset in ("survey-responses", "callbacks", "scorecards"):
        assert f'<option value="{dataset}"' in html
    for column in ("district", "category", "department", "language"):
        assert f'name="columns-survey-responses" value="{column}" checked' in html
    for column in ("lead_department", "submitter"):
        assert f'name="columns-callbacks" value="{column}" checked' in html
    assert 'name="k" min="5"' in html and 'value="5"' in html
    assert 'src="/static/js/exports.js"' in html and "<script>" not in html  # CSP: no inline scripts


def test_researcher_requests_an_export_and_downloads_it(client, researcher, project, survey, responses, login):
    login(researcher)
    response = client.post("/exports", data=form(date_from="2026-10-01", date_to="2026-10-31", district="EAST-HILL"))
    assert response.status_code == 302
    job_id = int(re.fullmatch(r"/exports/(\d+)", response.headers["Location"]).group(1))
    job = db.session.get(ExportJob, job_id)
    assert job.status == ExportStatus.DONE and job.filters["district"] == "EAST-HILL"
    assert job.options["formats"] == ["csv", "sav", "dta"] and job.options["columns"] == [
        "district", "category", "department", "language"
    ]  # fmt: skip

    page = client.get(f"/exports/{job_id}").get_data(as_text=True)
    assert 'data-status="done"' in page and 'value="100"' in page
    assert f'href="/exports/{job_id}/download"' in page
    assert job.sha256 in page and 'data-summary="rows">6<' in page
    assert "data.csv" in page and "README.md" in page
    assert "6 of 6 rows" in page

    listing = client.get("/exports").get_data(as_text=True)
    assert f'<tr data-export-job="{job_id}" data-status="done">' in listing

    download = client.get(f"/exports/{job_id}/download")
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    with zipfile.ZipFile(io.BytesIO(download.data)) as bundle:
        rows = list(csv.DictReader(io.StringIO(bundle.read("data.csv").decode("utf-8"))))
    assert len(rows) == 6
    assert db.session.get(ExportJob, job_id).downloads == 1
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "export.downloaded"))


def test_unticked_formats_and_columns_are_left_out(client, researcher, project, survey, responses, login):
    login(researcher)
    data = form(format_sav=None, format_dta=None, language="zh", date_level="quarter")
    data["columns-survey-responses"] = ["district"]
    assert client.post("/exports", data=data).status_code == 302
    job = db.session.scalar(select(ExportJob))
    assert job.options["formats"] == ["csv"] and job.options["columns"] == ["district"]
    assert job.options["language"] == "zh" and job.options["date_level"] == "quarter"
    assert not {"sav", "dta"} & set(job.summary["formats"])


def test_scorecards_take_no_survey_and_no_columns(client, researcher, project, survey, login):
    login(researcher)
    response = client.post("/exports", data=form(dataset="scorecards"))  # the survey select is still posted
    assert response.status_code == 302
    job = db.session.scalar(select(ExportJob))
    assert job.dataset == "scorecards" and job.survey_id is None and job.options["columns"] is None


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"purpose": "short"}, "purpose", "This field cannot be empty."),
        ({"date_from": "2026-10-31", "date_to": "2026-10-01"}, "filters.date_to", "The end comes before the start."),
        ({"date_from": "last week"}, "filters.date_from", None),
        ({"district": "ATLANTIS"}, "filters.district", "Unknown code."),
        ({"dataset": "scorecards", "district": "EAST-HILL"}, "filters.district", None),
        ({"survey": "NOPE"}, "survey", "No survey with this code."),
        ({"project": ""}, "project", "No research project with this code."),
        ({"k": "many"}, "k", "Give a whole number."),
        ({"k": "5000"}, "k", "At most"),
        ({"date_level": "decade"}, "date_level", None),
        ({"dataset": "callbacks", "include_text": "on"}, "include_text", "Only survey responses have free text."),
        ({"columns-survey-responses": ["district", "shoe_size"]}, "columns", None),
        ({"language": "fr"}, "language", None),
    ],
)
def test_invalid_forms_are_shown_again_with_the_errors_and_store_nothing(
    client, researcher, project, survey, login, changes, field, message
):
    login(researcher)
    response = client.post("/exports", data=form(**changes))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    shown = field_error(html, field)
    if message:
        assert message in shown
    assert PURPOSE in html or changes.get("purpose") in html  # what was typed is kept
    assert jobs() == 0


def test_personal_data_requests_are_refused_with_the_reason(client, researcher, project, survey, login):
    login(researcher)
    response = client.post("/exports", data=form(k="2"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "This export would include personal data and is refused." in html
    assert "k must be at least 5" in field_error(html, "k")

    crafted = form()
    crafted["columns-survey-responses"] = ["district", "phone"]
    response = client.post("/exports", data=crafted)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "phone is personal data and is never exported." in field_error(html, "columns")
    assert jobs() == 0
    requested = select(func.count()).select_from(AuditLog).where(AuditLog.action == "export.requested")
    assert db.session.scalar(requested) == 0


def test_exporting_under_someone_elses_project_is_forbidden(client, researcher, project, survey, make_user, login):
    login(make_user("researcher"))
    assert client.post("/exports", data=form()).status_code == 403
    assert jobs() == 0


def test_the_request_limit_counts_only_accepted_requests(app, client, researcher, project, survey, login, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_RATE_LIMIT", "1 per hour")
    login(researcher)
    assert client.post("/exports", data=form(purpose="short")).status_code == 422
    assert client.post("/exports", data=form()).status_code == 302
    assert client.post("/exports", data=form()).status_code == 429
    assert jobs() == 1


# -- the job page, downloads and the audit -------------------------------------------------------


def test_only_the_researcher_downloads_coordinators_see_the_job(
    app, client, researcher, project, survey, responses, make_user, login
):
    login(researcher)
    job_id = int(client.post("/exports", data=form()).headers["Location"].rsplit("/", 1)[1])

    login(make_user("researcher"))
    assert client.get(f"/exports/{job_id}").status_code == 403
    assert client.get(f"/exports/{job_id}/download").status_code == 403

    login(make_user("coordinator"))
    page = client.get(f"/exports/{job_id}")
    assert page.status_code == 200
    assert "/download" not in page.get_data(as_text=True)
    assert "Only the researcher who asked for this export can download it." in page.get_data(as_text=True)
    assert client.get(f"/exports/{job_id}/download").status_code == 403
    assert client.get("/exports/999999").status_code == 404
    assert db.session.get(ExportJob, job_id).downloads == 0


def test_a_failed_job_shows_its_error_and_no_link(client, researcher, project, survey, login):
    with transaction():
        job = services.request_export(researcher, {**_api(), "purpose": PURPOSE}, queue=False)
        job.status, job.error = ExportStatus.FAILED, "The export failed and no file was kept. Please try again."
        job_id = job.id
    login(researcher)
    html = client.get(f"/exports/{job_id}").get_data(as_text=True)
    assert 'id="export-error"' in html and "The export failed and no file was kept." in html
    assert "/download" not in html
    assert client.get(f"/exports/{job_id}/download").status_code == 404


def test_audit_lists_every_export_escaped(client, researcher, project, survey, responses, make_user, login):
    purpose = "Compare <script>alert(1)</script> parks & squares by district"
    login(researcher)
    assert client.post("/exports", data=form(purpose=purpose, district="EAST-HILL")).status_code == 302
    job = db.session.scalar(select(ExportJob))
    client.get(f"/exports/{job.id}/download")

    login(make_user("coordinator"))
    html = client.get("/exports/audit").get_data(as_text=True)
    row = re.search(rf'<tr data-export-job="{job.id}">(.*?)</tr>', html, re.S).group(1)
    assert researcher.display_name in row and "PARKS-STUDY" in row and "Survey responses" in row
    assert "District: EAST-HILL" in row and 'data-downloads="1"' in row and "Done" in row
    assert "&lt;script&gt;alert(1)&lt;/script&gt; parks &amp; squares" in row and "<script>alert" not in html


# -- live progress -------------------------------------------------------------------------------


def _api() -> dict:
    return {"dataset": "survey-responses", "survey": "PARKS", "project": "PARKS-STUDY"}


def _socket(app, user):
    http = app.test_client()
    assert http.post("/login", data={"login": user.login_name, "password": PASSWORD}).status_code == 302
    return live_client(app, "/exports", http)


def _progress(socket) -> list[dict]:
    """The export.progress payloads received."""
    return [e["args"][0] for e in socket.get_received("/exports") if e["name"] == "export.progress"]


def test_progress_reaches_the_researcher_and_watchers_live(
    app, researcher, project, survey, responses, make_user, monkeypatch
):
    monkeypatch.setitem(app.config, "EXPORT_BATCH_ROWS", 2)
    monkeypatch.setitem(app.config, "EXPORT_PROGRESS_SECONDS", 0)
    with transaction():
        job_id = services.request_export(researcher, {**_api(), "purpose": PURPOSE}, queue=False).id

    owner = _socket(app, researcher)
    assert owner.emit("watch_job", {"id": job_id}, namespace="/exports", callback=True) == {"ok": True}
    coordinator = _socket(app, make_user("coordinator"))
    assert coordinator.emit("watch_job", {"id": job_id}, namespace="/exports", callback=True) == {"ok": True}
    stranger = _socket(app, make_user("researcher"))
    assert stranger.emit("watch_job", {"id": job_id}, namespace="/exports", callback=True) == {"ok": False}
    assert [e["name"] for e in stranger.get_received("/exports")] == ["error"]
    for bad in ({"id": "1"}, {"id": True}, {}, None, {"id": 10**12}):
        assert owner.emit("watch_job", bad, namespace="/exports", callback=True) == {"ok": False}
    assert {e["name"] for e in owner.get_received("/exports")} == {"error"}

    services.run_job(job_id)

    events = _progress(owner)
    assert all(a != b for a, b in zip(events, events[1:], strict=False))  # in the job's room and its own: once
    assert events == _progress(coordinator)  # the job's room
    assert stranger.get_received("/exports") == []
    statuses = [e["status"] for e in events]
    assert statuses[0] == "running" and statuses[-1] == "done" and set(statuses[1:-1]) <= {"running"}
    running = [e["rows_done"] for e in events if e["status"] == "running"]
    assert running == sorted(running) and running[0] == 0 and {2, 4} <= set(running)
    assert [e["progress"] for e in events] == sorted(e["progress"] for e in events)
    assert any(0 < e["progress"] < 1 for e in events)  # part-way
    done = events[-1]
    assert done["progress"] == 1.0 and done["rows_done"] == 6 and done["rows_total"] == 6
    assert done["download"] and done["sha256"] and done["summary"]["rows"] == 6 and done["error"] is None


def test_anonymous_cannot_connect_to_exports(app, db):
    assert not live_client(app, "/exports").is_connected("/exports")
