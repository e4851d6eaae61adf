"""Survey definitions as files (CLI import/export) and the survey API: create, read, publish, close, invite."""

from __future__ import annotations

import copy
import json
import re

import pytest
import yaml
from sqlalchemy import func, select

from participation.extensions import db
from participation.notifications.models import OutboxMessage
from participation.surveys.models import Invitation, Survey, SurveyStatus, SurveyVersion


def label(zh: str, en: str) -> dict:
    return {"zh": zh, "en": en}


def definition(code: str = "PARKS") -> dict:
    """A survey using every question type, a Likert block and show-if conditions (in export form)."""
    agree = [{"code": 1, "label": label("很不同意", "Strongly disagree")}]
    return {
        "code": code,
        "title": label("公园满意度调查", "Parks satisfaction survey"),
        "questions": [
            {
                "name": "visited",
                "type": "single",
                "label": label("您去过公园吗？", "Have you visited a park?"),
                "choices": [{"code": 1, "label": label("去过", "Yes")}, {"code": 2, "label": label("没去过", "No")}],
                "required": True,
            },
            {
                "name": "why_not",
                "type": "text",
                "label": label("为什么没去？", "Why not?"),
                "required": False,
                "show_if": {"question": "visited", "in": [2]},
            },
            {
                "name": "used",
                "type": "multiple",
                "label": label("您用过哪些设施？", "Which facilities did you use?"),
                "choices": [
                    {"code": 1, "label": label("步道", "Paths")},
                    {"code": 2, "label": label("厕所", "Toilets")},
                    {"code": 3, "label": label("运动场", "Sports fields")},
                ],
                "required": False,
                "show_if": {"question": "visited", "in": [1]},
            },
            {
                "name": "clean",
                "type": "likert5",
                "label": label("公园很干净", "The park is clean"),
                "choices": agree,
                "required": False,
                "group": "quality",
            },
            {
                "name": "safe",
                "type": "likert5",
                "label": label("公园很安全", "The park is safe"),
                "required": False,
                "group": "quality",
            },
            {"name": "rating", "type": "rating5", "label": label("总体评分", "Overall rating"), "required": False},
            {"name": "nps", "type": "nps", "label": label("您会推荐吗？", "Would you recommend it?"), "required": True},
            {"name": "comment", "type": "text", "label": label("其他意见", "Anything else?"), "required": False},
        ],
    }


@pytest.fixture(autouse=True)
def generous_limit(app, monkeypatch):
    monkeypatch.setitem(app.config, "SURVEY_RESPONSE_RATE_LIMIT", "1000 per minute")


@pytest.fixture
def coordinator(make_user):
    return make_user("coordinator")


def survey_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Survey))


def write(tmp_path, data, name="survey.json"):
    path = tmp_path / name
    if name.endswith((".yaml", ".yml")):
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    else:
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


# -- command line ---------------------------------------------------------------------------------


def test_cli_round_trip_json_and_yaml(runner, tmp_path):
    result = runner.invoke(args=["surveys", "import", str(write(tmp_path, definition()))])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report == {
        "code": "PARKS",
        "created": True,
        "status": "draft",
        "distribution": "public",
        "version": None,
        "draft_changed": True,
    }
    result = runner.invoke(args=["surveys", "export", "PARKS"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == definition()

    other = definition("PARKS-YAML")
    result = runner.invoke(args=["surveys", "import", str(write(tmp_path, other, "survey.yaml")), "--publish"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["version"] == 1
    out = tmp_path / "out.json"
    result = runner.invoke(args=["surveys", "export", "PARKS-YAML", "--version", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8")) == other


def test_cli_reimport_updates_the_draft(runner, tmp_path):
    path = write(tmp_path, definition())
    assert runner.invoke(args=["surveys", "import", str(path), "--publish"]).exit_code == 0
    again = runner.invoke(args=["surveys", "import", str(path)])
    assert json.loads(again.output)["created"] is False
    assert json.loads(again.output)["draft_changed"] is False  # the same file: nothing to publish
    changed = definition()
    changed["title"]["en"] = "Parks survey 2026"
    result = runner.invoke(args=["surveys", "import", str(write(tmp_path, changed)), "--distribution", "invitation"])
    report = json.loads(result.output)
    assert (report["created"], report["draft_changed"], report["distribution"]) == (False, True, "invitation")
    assert json.loads(runner.invoke(args=["surveys", "export", "PARKS"]).output) == changed
    exported_v1 = json.loads(runner.invoke(args=["surveys", "export", "PARKS", "--version", "1"]).output)
    assert exported_v1 == definition()  # the published version stays frozen
    assert survey_count() == 1


def _without_choices() -> dict:
    bad = definition()
    bad["questions"][1]["type"] = "single"  # a choice question with no "choices"
    return bad


def _reserved() -> dict:
    bad = definition()
    bad["questions"][2]["name"] = "with"
    bad["questions"][2].pop("show_if")
    return bad


def _later_show_if() -> dict:
    bad = definition()
    bad["questions"][0]["show_if"] = {"question": "nps", "in": [1]}
    return bad


def _bad_choice_code() -> dict:
    bad = definition()
    bad["questions"][0]["choices"][1]["code"] = "two"
    return bad


BAD_FILES = [
    pytest.param(_without_choices, "questions[1]", "at least two choices", id="choices-missing"),
    pytest.param(_reserved, "questions[2]", "reserved word", id="reserved-name"),
    pytest.param(_later_show_if, "questions[0]", "earlier question", id="show-if-later"),
    pytest.param(_bad_choice_code, "questions[0].choices[1].code", "Give a whole number", id="choice-code-type"),
]


@pytest.mark.parametrize(("make", "place", "words"), BAD_FILES)
def test_cli_rejects_an_invalid_file_with_its_place(runner, tmp_path, english, make, place, words):
    result = runner.invoke(args=["surveys", "import", str(write(tmp_path, make())), "--publish"])
    assert result.exit_code == 1
    assert place in result.stderr and words in result.stderr
    assert survey_count() == 0


def test_cli_reports_every_error_and_syntax(runner, tmp_path, english):
    bad = definition()
    del bad["questions"][1]["label"]
    bad["questions"][3]["type"] = "likert9"
    result = runner.invoke(args=["surveys", "import", str(write(tmp_path, bad))])
    assert result.exit_code == 1
    fields = json.loads(result.stderr)["fields"]
    assert "questions[1].label" in fields and "questions[3].type" in fields
    broken = tmp_path / "broken.json"
    broken.write_text('{"code": "X",', encoding="utf-8")
    result = runner.invoke(args=["surveys", "import", str(broken)])
    assert result.exit_code == 1 and "line 1" in result.stderr
    assert runner.invoke(args=["surveys", "export", "NOPE"]).exit_code == 1
    assert survey_count() == 0


# -- API ------------------------------------------------------------------------------------------


def test_api_create_publish_read_and_list(client, coordinator, make_user, bearer):
    headers = bearer(coordinator)
    response = client.post("/api/v1/surveys", json=definition(), headers=headers)
    assert response.status_code == 201, response.json
    assert response.json["definition"] == definition() and response.json["status"] == "draft"
    assert response.headers["Location"].endswith("/api/v1/surveys/PARKS")
    assert client.post("/api/v1/surveys", json=definition(), headers=headers).status_code == 200  # same code: update

    assert client.get("/api/v1/surveys/PARKS").status_code == 404  # a draft is not public
    published = client.post("/api/v1/surveys/PARKS/publish", headers=headers)
    assert published.json["status"] == "open" and published.json["version"] == 1
    public = client.get("/api/v1/surveys/PARKS").json
    assert public["version"] == 1 and public["definition"] == definition() and "versions" not in public

    managed = client.get("/api/v1/surveys/PARKS", headers=headers).json
    assert [v["number"] for v in managed["versions"]] == [1]
    assert managed["responses"] == {"incomplete": 0, "complete": 0}
    listed = client.get("/api/v1/surveys", headers=headers).json["surveys"]
    assert [s["code"] for s in listed] == ["PARKS"]
    citizen = make_user("citizen")
    assert client.get("/api/v1/surveys", headers=bearer(citizen)).json["surveys"] == []
    assert client.get("/api/v1/surveys").status_code == 401

    closed = client.post("/api/v1/surveys/PARKS/close", headers=headers)
    assert closed.json["status"] == "closed"
    assert client.get("/api/v1/surveys/PARKS").status_code == 404
    assert client.post("/api/v1/surveys/PARKS/close", headers=headers).status_code == 409


def test_api_publish_flag_and_distribution(client, coordinator, bearer):
    body = {**definition("INV"), "distribution": "invitation", "anonymous": False}
    response = client.post("/api/v1/surveys?publish=1", json=body, headers=bearer(coordinator))
    assert response.status_code == 201
    assert (response.json["status"], response.json["version"], response.json["distribution"]) == (
        "open",
        1,
        "invitation",
    )
    assert response.json["anonymous"] is False
    bad = client.post("/api/v1/surveys", json={**definition("X"), "distribution": "mail"}, headers=bearer(coordinator))
    assert bad.status_code == 422 and "distribution" in bad.json["error"]["fields"]


@pytest.mark.parametrize(("make", "place", "words"), BAD_FILES)
def test_api_rejects_an_invalid_definition_with_its_place(client, coordinator, bearer, english, make, place, words):
    response = client.post("/api/v1/surveys?publish=1", json=make(), headers=bearer(coordinator))
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "invalid"
    assert any(place in key or any(place in m for m in messages) for key, messages in error["fields"].items())
    assert any(words in m for messages in error["fields"].values() for m in messages)
    assert survey_count() == 0


def test_api_survey_management_needs_permission(client, make_user, bearer, coordinator):
    assert client.post("/api/v1/surveys", json=definition()).status_code == 401
    citizen = bearer(make_user("citizen"))
    assert client.post("/api/v1/surveys", json=definition(), headers=citizen).status_code == 403
    client.post("/api/v1/surveys", json=definition(), headers=bearer(coordinator))
    assert client.post("/api/v1/surveys/PARKS/publish", headers=citizen).status_code == 403
    assert (
        client.post("/api/v1/surveys/PARKS/invitations", json={"emails": ["a@b.org"]}, headers=citizen).status_code
        == 403
    )
    assert client.post("/api/v1/surveys/NOPE/publish", headers=bearer(coordinator)).status_code == 404
    assert client.post("/api/v1/surveys", data="x", headers=bearer(coordinator)).status_code == 415


def test_api_edit_and_publish_again_makes_version_two(client, coordinator, bearer):
    headers = bearer(coordinator)
    client.post("/api/v1/surveys?publish=1", json=definition(), headers=headers)
    assert client.post("/api/v1/surveys/PARKS/publish", headers=headers).json["version"] == 1  # unchanged draft
    changed = definition()
    changed["questions"][-1]["label"]["en"] = "Anything else you want to say?"
    assert client.post("/api/v1/surveys", json=changed, headers=headers).json["draft_changed"] is True
    assert client.get("/api/v1/surveys/PARKS").json["version"] == 1  # still answering version 1
    assert client.post("/api/v1/surveys/PARKS/publish", headers=headers).json["version"] == 2
    numbers = db.session.scalars(select(SurveyVersion.number).order_by(SurveyVersion.number)).all()
    assert numbers == [1, 2]
    first = client.get("/api/v1/surveys/PARKS?version=1", headers=headers).json["definition"]
    assert first == definition()


def test_api_invitations_are_sent_through_the_outbox(client, coordinator, bearer, english):
    headers = bearer(coordinator)
    client.post("/api/v1/surveys?publish=1", json={**definition(), "distribution": "invitation"}, headers=headers)
    response = client.post(
        "/api/v1/surveys/PARKS/invitations",
        json={"emails": ["Ann@Example.org", "bo@example.org", "bo@example.org"]},
        headers=headers,
    )
    assert response.status_code == 201, response.json
    assert response.json["invited"] == 2 and "token" not in json.dumps(response.json)
    mails = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [m.recipient for m in mails] == ["Ann@example.org", "bo@example.org"]
    assert "Parks satisfaction survey" in mails[0].body
    token = re.search(r"/s/i/([A-Za-z0-9_-]+)", mails[0].body).group(1)
    stored = db.session.scalars(select(Invitation.token_hash)).all()
    assert token not in stored and len(stored) == 2  # only the hash is kept

    bad = client.post("/api/v1/surveys/PARKS/invitations", json={"emails": ["ok@example.org", "nope"]}, headers=headers)
    assert bad.status_code == 422 and "emails[1]" in bad.json["error"]["fields"]
    assert client.post("/api/v1/surveys/PARKS/invitations", json={"emails": "x"}, headers=headers).status_code == 422
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 2


def test_api_invitations_need_an_invitation_survey(client, coordinator, bearer):
    headers = bearer(coordinator)
    client.post("/api/v1/surveys?publish=1", json=definition(), headers=headers)
    response = client.post("/api/v1/surveys/PARKS/invitations", json={"emails": ["a@example.org"]}, headers=headers)
    assert response.status_code == 409
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_survey_status_after_cli_publish(runner, tmp_path):
    runner.invoke(args=["surveys", "import", str(write(tmp_path, copy.deepcopy(definition()))), "--publish"])
    survey = db.session.scalar(select(Survey))
    assert survey.status == SurveyStatus.OPEN and survey.current_version.number == 1
