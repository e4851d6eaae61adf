"""The exports JSON API and the `flask export` command."""

from __future__ import annotations

import zipfile

import pytest
from sqlalchemy import func, select

from participation.core.audit import AuditLog
from participation.exports.models import ExportJob, ResearchProject
from participation.extensions import db
from tests.exports.test_exports import AT, PURPOSE, add_responses, read_csv

REQUEST = {"dataset": "survey-responses", "survey": "PARKS", "project": "PARKS-STUDY", "purpose": PURPOSE}


@pytest.fixture
def responses(survey):
    add_responses(survey, [{"at": AT, "answers": {"visited": 1, "nps": 9}}] * 6)


def test_request_status_and_download(client, researcher, project, responses, bearer):
    headers = bearer(researcher)
    response = client.post("/api/v1/exports", json=REQUEST, headers=headers)
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert response.headers["Location"] == f"/api/v1/exports/{job['id']}"
    status = client.get(response.headers["Location"], headers=headers).get_json()
    assert status["status"] == "done" and status["progress"] == 1.0 and status["summary"]["rows"] == 6
    assert "file_name" not in status  # where the file lies is not the client's business
    download = client.get(status["download"], headers=headers)
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert download.headers["Content-Disposition"].startswith("attachment")
    listed = client.get("/api/v1/exports", headers=headers).get_json()["items"]
    assert [j["id"] for j in listed] == [job["id"]]


def test_api_errors(client, researcher, project, responses, bearer, make_user):
    headers = bearer(researcher)
    bad = client.post("/api/v1/exports", json={**REQUEST, "survey": "NOPE"}, headers=headers)
    assert bad.status_code == 422 and "survey" in bad.get_json()["error"]["fields"]
    refused = client.post("/api/v1/exports", json={**REQUEST, "k": 3}, headers=headers)
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "personal_data"
    wrong_type = client.post("/api/v1/exports", data="dataset=x", headers=headers)
    assert wrong_type.status_code == 415
    citizen = make_user("citizen")
    assert client.post("/api/v1/exports", json=REQUEST, headers=bearer(citizen)).status_code == 403
    assert client.get("/api/v1/exports/999", headers=headers).status_code == 404
    assert client.post("/api/v1/exports", json=REQUEST).status_code in (401, 403)
    assert db.session.scalar(select(func.count(ExportJob.id))) == 0


def test_other_researchers_cannot_see_or_download(client, researcher, project, responses, bearer, make_user):
    job = client.post("/api/v1/exports", json=REQUEST, headers=bearer(researcher)).get_json()
    other = bearer(make_user("researcher"))
    assert client.get(f"/api/v1/exports/{job['id']}", headers=other).status_code == 403
    assert client.get(f"/api/v1/exports/{job['id']}/download", headers=other).status_code == 403
    coordinator = bearer(make_user("coordinator"))
    audit_list = client.get("/api/v1/exports?all=1", headers=coordinator).get_json()["items"]
    assert audit_list[0]["purpose"] == PURPOSE and audit_list[0]["user_id"] == researcher.id
    assert client.get(f"/api/v1/exports/{job['id']}/download", headers=coordinator).status_code == 403
    assert client.get("/api/v1/exports?all=1", headers=bearer(researcher)).status_code == 403


def test_projects_api(client, researcher, bearer):
    headers = bearer(researcher)
    created = client.post("/api/v1/research-projects", json={"code": "P1", "title": "First"}, headers=headers)
    assert created.status_code == 201
    again = client.post("/api/v1/research-projects", json={"code": "P1", "title": "Again"}, headers=headers)
    assert again.status_code == 422
    assert [p["code"] for p in client.get("/api/v1/research-projects", headers=headers).get_json()["items"]] == ["P1"]


def test_export_requests_are_rate_limited(client, researcher, project, responses, bearer, app, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_RATE_LIMIT", "2 per hour")
    headers = bearer(researcher)
    codes = [client.post("/api/v1/exports", json=REQUEST, headers=headers).status_code for _ in range(3)]
    assert codes == [202, 202, 429]


def test_cli_writes_the_bundle(runner, survey, responses, tmp_path):
    out = tmp_path / "parks.zip"
    result = runner.invoke(
        args=["export", "survey-responses", "--survey", "PARKS", "--project", "CLI-STUDY", "--purpose", PURPOSE,
              "--from", "2026-10-01", "--to", "2026-10-31", "--dates", "month", "--out", str(out)]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "6 rows" in result.output
    with zipfile.ZipFile(out) as archive:
        archive.extractall(tmp_path / "x")
    assert len(read_csv(tmp_path / "x" / "data.csv")) == 6
    actions = set(db.session.scalars(select(AuditLog.action)))
    assert {"export.requested", "export.command_line", "export.completed"} <= actions


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["survey-responses", "--survey", "NOPE"], "survey"),
        (["callbacks", "--k", "2"], "  k: "),
        (["scorecards", "--district", "EAST"], "filters.district"),
        (["survey-responses", "--survey", "PARKS", "--dates", "day"], "date_level"),
    ],
)
def test_cli_bad_input(runner, survey, tmp_path, args, message):
    result = runner.invoke(
        args=["export", *args, "--project", "CLI", "--purpose", PURPOSE, "--out", str(tmp_path / "o.zip")]
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "o.zip").exists()
    assert db.session.scalar(select(func.count(ExportJob.id))) == 0


def test_cli_unknown_dataset(runner, tmp_path):
    result = runner.invoke(args=["export", "tax", "--project", "P", "--purpose", PURPOSE, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "tax" in result.output


def test_cli_refuses_an_invalid_project_code(runner, tmp_path):
    result = runner.invoke(
        args=["export", "scorecards", "--project", "bad code!", "--purpose", PURPOSE, "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and "code:" in result.output
    assert db.session.scalar(select(func.count(ResearchProject.id))) == 0
