"""The survey builder pages: draft edits through the schema, errors in place, versions, code sets, permissions."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from participation.core.audit import AuditLog
from participation.surveys.models import AnswerCodeSet, Survey, SurveyStatus
from participation.surveys.schemas import SurveyFile


@pytest.fixture(autouse=True)
def _english(english):
    """These tests read the English wording of messages."""


def label(zh: str, en: str) -> dict:
    return {"zh": zh, "en": en}


SATISFACTION = [
    {"code": 1, "label": label("满意", "Satisfied")},
    {"code": 2, "label": label("基本满意", "Basically satisfied")},
    {"code": 3, "label": label("不满意", "Dissatisfied")},
]

QUESTIONS = [
    {"name": "sat", "type": "single", "label": label("您满意吗？", "Are you satisfied?"), "required": True,
     "choices": SATISFACTION},
    {"name": "trust1", "type": "likert5", "label": label("部门可信", "The department is trustworthy"),
     "required": False, "group": "trust"},
    {"name": "trust2", "type": "likert5", "label": label("部门公正", "The department is fair"),
     "required": False, "group": "trust"},
    {"name": "trust3", "type": "likert5", "label": label("部门高效", "The department is efficient"),
     "required": False, "group": "trust"},
    {"name": "why", "type": "text", "label": label("为什么不满意？", "Why not satisfied?"), "required": False,
     "show_if": {"question": "sat", "in": [3]}},
]  # fmt: skip


def form_for(questions: list[dict], action: str = "save", **extra) -> dict:
    """The builder's form as a browser would post it for these questions."""
    data = {
        "title_zh": "满意度调查",
        "title_en": "Satisfaction survey",
        "distribution": "public",
        "anonymous": "on",
        "count": str(len(questions)),
        "action": action,
    }
    for i, q in enumerate(questions):
        p = f"q{i}-"
        data |= {p + "name": q["name"], p + "type": q["type"], p + "label_zh": q["label"]["zh"]}
        data[p + "label_en"] = q["label"]["en"]
        if q.get("required"):
            data[p + "required"] = "on"
        choices = q.get("choices") or []
        data[p + "choices"] = str(len(choices) + 1)  # and the empty row the page shows
        for j, c in enumerate(choices):
            data |= {f"{p}c{j}-code": str(c["code"]), f"{p}c{j}-zh": c["label"]["zh"], f"{p}c{j}-en": c["label"]["en"]}
        data[f"{p}c{len(choices)}-code"] = ""
        if q.get("group"):
            data[p + "group"] = q["group"]
        if q.get("show_if"):
            data[p + "show_if"] = q["show_if"]["question"]
            data[p + "show_if_in"] = ", ".join(str(c) for c in q["show_if"]["in"])
    return data | extra


@pytest.fixture
def coordinator(catalog, make_user):
    return make_user("coordinator")


def create(client, code: str = "SAT-2026", **extra):
    data = {"code": code, "title_zh": "满意度调查", "title_en": "Satisfaction survey", "distribution": "public"}
    data["anonymous"] = "on"
    return client.post("/surveys/manage/new", data=data | extra)


def survey(db, code: str = "SAT-2026") -> Survey:
    return db.session.scalar(select(Survey).where(Survey.code == code))


@pytest.fixture
def built(db, client, coordinator, login):
    """A coordinator's survey whose draft holds QUESTIONS."""
    login(coordinator)
    assert create(client).status_code == 302
    response = client.post("/surveys/manage/SAT-2026/edit", data=form_for(QUESTIONS))
    assert response.status_code == 302, response.get_data(as_text=True)
    return survey(db)


# --- building a draft -----------------------------------------------------------------------------


def test_new_survey_starts_with_one_question(db, client, coordinator, login):
    login(coordinator)
    response = create(client)
    assert response.status_code == 302 and response.headers["Location"].endswith("/surveys/manage/SAT-2026/edit")
    s = survey(db)
    assert s.status == SurveyStatus.DRAFT and s.department_id is None and s.anonymous
    assert [q["name"] for q in s.draft["questions"]] == ["q1"]
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "survey.created")) is not None
    html = client.get("/surveys/manage/SAT-2026/edit").get_data(as_text=True)
    assert 'name="q0-name"' in html and "Not published yet." in html


def test_new_survey_bad_input_is_shown_and_nothing_stored(db, client, coordinator, login):
    login(coordinator)
    response = create(client, code="no spaces!", title_en="")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-field="code"' in html and 'data-field="title.en"' in html and 'value="no spaces!"' in html
    assert db.session.scalars(select(Survey)).all() == []
    assert create(client).status_code == 302
    again = create(client)
    assert again.status_code == 422 and "Another survey already has this code." in again.get_data(as_text=True)


def test_edits_make_a_valid_draft(db, built):
    draft = built.draft
    parsed = SurveyFile.model_validate(draft)
    assert [q.name for q in parsed.questions] == ["sat", "trust1", "trust2", "trust3", "why"]
    assert parsed.question("sat").required and [c.code for c in parsed.question("sat").choices] == [1, 2, 3]
    assert parsed.question("sat").choices[1].label.en == "Basically satisfied"
    assert {q.group for q in parsed.questions[1:4]} == {"trust"}
    assert parsed.question("why").show_if.question == "sat" and parsed.question("why").show_if.in_ == [3]
    assert draft["title"] == {"zh": "满意度调查", "en": "Satisfaction survey"}
    assert built.draft_changed and built.status == SurveyStatus.DRAFT


def test_add_move_and_delete_questions(db, client, built):
    url = "/surveys/manage/SAT-2026/edit"
    page = client.post(url, data=form_for(QUESTIONS, action="add", new_type="multiple"))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'name="q5-name" maxlength="64" value="q6"' in html
    assert len(survey(db).draft["questions"]) == 5  # a new question is kept only when the draft is saved
    more = client.post(url, data=form_for(QUESTIONS, action="row:0")).get_data(as_text=True)
    assert 'name="q0-c4-code"' in more and 'name="q0-choices" value="5"' in more

    added = QUESTIONS + [
        {"name": "channels", "type": "multiple", "label": label("渠道", "Channels"),
         "choices": [{"code": 1, "label": label("电话", "Phone")}, {"code": 2, "label": label("网站", "Website")}]}
    ]  # fmt: skip
    assert client.post(url, data=form_for(added)).status_code == 302
    assert [q["name"] for q in survey(db).draft["questions"]][-1] == "channels"

    assert client.post(url, data=form_for(added, action="up:5")).status_code == 302
    assert [q["name"] for q in survey(db).draft["questions"]][-2:] == ["channels", "why"]
    assert client.post(url, data=form_for(survey(db).draft["questions"], action="delete:4")).status_code == 302
    assert [q["name"] for q in survey(db).draft["questions"]] == ["sat", "trust1", "trust2", "trust3", "why"]
    # removing a choice row saves too, unless a show-if condition still needs its code
    refused = client.post(url, data=form_for(QUESTIONS, action="unrow:0:2"))
    assert refused.status_code == 422
    assert "show_if uses codes [3] that sat does not have." in refused.get_data(as_text=True)
    assert [c["code"] for c in survey(db).draft["questions"][0]["choices"]] == [1, 2, 3]
    assert client.post(url, data=form_for(QUESTIONS, action="unrow:0:1")).status_code == 302
    assert [c["code"] for c in survey(db).draft["questions"][0]["choices"]] == [1, 3]


def _with(index: int, **changes) -> list[dict]:
    questions = [dict(q) for q in QUESTIONS]
    questions[index] = {k: v for k, v in {**questions[index], **changes}.items() if v is not None}
    return questions


@pytest.mark.parametrize(
    ("questions", "field", "message", "kept"),
    [
        (_with(4, name="with"), "questions[4]", "with is a reserved word in SPSS or Stata.", 'value="with"'),
        (
            _with(0, choices=SATISFACTION[:1]),
            "questions[0]",
            "A choice question needs at least two choices.",
            'value="满意"',
        ),
        (
            _with(0, show_if={"question": "why", "in": [1]}),
            "questions[0]",
            "show_if must name an earlier question.",
            '<option value="why" selected>',
        ),
        (
            _with(0, choices=[SATISFACTION[0], {"code": 1, "label": label("一般", "So-so")}]),
            "questions[0]",
            "Each choice needs its own code.",
            'value="So-so"',
        ),
        (
            _with(0, choices=[SATISFACTION[0], {"code": "x", "label": label("一般", "So-so")}]),
            "questions[0].choices[1].code",
            "Give a whole number.",
            'name="q0-c1-code" value="x"',
        ),
        (_with(1, type="rating5"), "questions[1]", "Only Likert questions form a block", 'value="rating5" selected'),
    ],
    ids=["reserved-name", "one-choice", "show-if-later", "duplicate-codes", "code-not-integer", "group-not-likert"],
)
def test_invalid_edit_is_shown_next_to_the_question_and_nothing_saved(
    db, client, built, questions, field, message, kept
):
    before = survey(db).draft
    response = client.post("/surveys/manage/SAT-2026/edit", data=form_for(questions))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    start = html.index(f'data-field="{field}"')
    assert message in html[start : start + 300]
    section = html.rindex('class="card question"', 0, start)
    assert html.index(f'id="question-{field[10]}"', section) < start  # inside that question's card
    assert kept in html
    assert survey(db).draft == before


# --- versions -------------------------------------------------------------------------------------


def test_publish_freezes_versions(db, client, built):
    url = "/surveys/manage/SAT-2026"
    assert client.post(f"{url}/publish").status_code == 302
    s = survey(db)
    assert s.status == SurveyStatus.OPEN and s.current_version.number == 1 and not s.draft_changed
    html = client.get(f"{url}/edit").get_data(as_text=True)
    assert "Published version 1" in html and 'id="draft-changed"' not in html

    changed = _with(0, label=label("您对处理结果满意吗？", "Are you satisfied with the outcome?"))
    assert client.post(f"{url}/edit", data=form_for(changed)).status_code == 302
    s = survey(db)
    assert s.draft_changed and s.current_version.number == 1
    html = client.get(f"{url}/edit").get_data(as_text=True)
    assert "The draft differs from version 1." in html and "Publish version 2" in html
    listing = client.get("/surveys/manage").get_data(as_text=True)
    assert 'data-version="1"' in listing and "draft changed" in listing

    assert client.post(f"{url}/publish").status_code == 302
    s = survey(db)
    assert [v.number for v in s.versions] == [1, 2] and s.current_version.number == 2
    first, second = s.versions
    assert first.definition["questions"][0]["label"]["en"] == "Are you satisfied?"
    assert second.definition["questions"][0]["label"]["en"] == "Are you satisfied with the outcome?"
    assert "Published version 2" in client.get(f"{url}/edit").get_data(as_text=True)

    assert client.post(f"{url}/close").status_code == 302
    assert survey(db).status == SurveyStatus.CLOSED
    assert client.post(f"{url}/close").status_code == 302
    assert "Only an open survey can be closed." in client.get(f"{url}/edit").get_data(as_text=True)


# --- preview --------------------------------------------------------------------------------------


def test_preview_in_both_languages_and_not_submittable(client, built):
    zh = client.get("/surveys/manage/SAT-2026/preview?lang=zh")
    en = client.get("/surveys/manage/SAT-2026/preview?lang=en")
    assert zh.status_code == 200 and en.status_code == 200
    zh_html, en_html = zh.get_data(as_text=True), en.get_data(as_text=True)
    assert "您满意吗？" in zh_html and "部门公正" in zh_html and "基本满意" in zh_html and "满意度调查" in zh_html
    assert "Are you satisfied?" in en_html and "The department is fair" in en_html and "Basically satisfied" in en_html
    assert "Are you satisfied?" not in zh_html and "您满意吗？" not in en_html
    assert 'data-group="trust"' in en_html  # the Likert block is one matrix
    preview = en_html[en_html.index('id="preview"') :]
    assert "<form" not in preview and 'type="submit"' not in preview


# --- code sets ------------------------------------------------------------------------------------


def code_set_form(code: str, choices: list[tuple[str, str, str]], **extra) -> dict:
    data = {"code": code, "label_zh": "同意程度", "label_en": "Agreement", "choices": str(len(choices) + 2)}
    for j, (c, zh, en) in enumerate(choices):
        data |= {f"c{j}-code": c, f"c{j}-zh": zh, f"c{j}-en": en}
    return data | extra


AGREE = [("1", "同意", "Agree"), ("2", "不同意", "Disagree"), ("9", "不知道", "Don't know")]


def test_code_set_pages_add_edit_delete(db, client, coordinator, login):
    login(coordinator)
    assert client.get("/surveys/codesets/new").status_code == 200
    response = client.post("/surveys/codesets/new", data=code_set_form("agree", AGREE))
    assert response.status_code == 302
    code_set = db.session.scalar(select(AnswerCodeSet))
    assert code_set.code == "agree" and [c["code"] for c in code_set.choices] == [1, 2, 9]
    assert code_set.choices[2]["label"] == {"zh": "不知道", "en": "Don't know"}
    assert "Agreement" in client.get("/surveys/codesets").get_data(as_text=True)

    edited = code_set_form("agree", AGREE[:2], label_en="Agreement (short)")
    assert client.post(f"/surveys/codesets/{code_set.id}/edit", data=edited).status_code == 302
    db.session.refresh(code_set)
    assert code_set.label_en == "Agreement (short)" and len(code_set.choices) == 2
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.action.like("survey.codeset.%"))).all()
    assert actions == ["survey.codeset.created", "survey.codeset.updated"]

    code_set_id = code_set.id
    assert client.post(f"/surveys/codesets/{code_set_id}/delete").status_code == 302
    assert db.session.scalars(select(AnswerCodeSet)).all() == []
    assert client.post(f"/surveys/codesets/{code_set_id}/delete").status_code == 404
    assert client.get(f"/surveys/codesets/{code_set_id}/edit").status_code == 404


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        (code_set_form("agree", AGREE[:1]), "choices", "A code set needs at least two choices."),
        (code_set_form("agree", [AGREE[0], ("1", "x", "y")]), "choices", "Each choice needs its own code."),
        (code_set_form("agree", [AGREE[0], ("two", "x", "y")]), "choices[1].code", "Give a whole number."),
        (code_set_form("agree", [AGREE[0], ("2", "", "y")]), "choices[1].label.zh", "cannot be empty"),
        (code_set_form("has space", AGREE), "code", "Not in the expected format."),
        (code_set_form("agree", AGREE, label_en=""), "label.en", "cannot be empty"),
    ],
    ids=["one-choice", "duplicate-codes", "code-not-integer", "empty-label", "bad-code", "no-name"],
)
def test_code_set_bad_input(db, client, coordinator, login, form, field, message):
    login(coordinator)
    response = client.post("/surveys/codesets/new", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    start = html.index(f'data-field="{field}"')
    assert message in html[start : start + 200]
    assert db.session.scalars(select(AnswerCodeSet)).all() == []


def test_code_set_codes_are_unique(db, client, coordinator, login):
    login(coordinator)
    assert client.post("/surveys/codesets/new", data=code_set_form("agree", AGREE)).status_code == 302
    again = client.post("/surveys/codesets/new", data=code_set_form("agree", AGREE))
    assert again.status_code == 422 and "Another code set already has this code." in again.get_data(as_text=True)


def test_code_set_api(db, client, coordinator, bearer):
    headers = bearer(coordinator)
    body = {"code": "yesno", "label": label("是否", "Yes/no"), "choices": [
        {"code": 1, "label": label("是", "Yes")}, {"code": 2, "label": label("否", "No")}]}  # fmt: skip
    created = client.post("/api/v1/survey-codesets", json=body, headers=headers)
    assert created.status_code == 201 and created.json["code"] == "yesno"
    listed = client.get("/api/v1/survey-codesets", headers=headers).json["code_sets"]
    assert [c["code"] for c in listed] == ["yesno"] and listed[0]["choices"] == body["choices"]
    bad = client.post("/api/v1/survey-codesets", json={**body, "choices": body["choices"][:1]}, headers=headers)
    assert bad.status_code == 422 and bad.json["error"]["fields"]["choices"]
    assert client.post("/api/v1/survey-codesets", json=body, headers=headers).status_code == 422
    assert client.post("/api/v1/survey-codesets", data="x", headers=headers).status_code == 415


def test_code_set_applied_to_a_question_is_a_copy(db, client, built):
    client.post("/surveys/codesets/new", data=code_set_form("agree", AGREE))
    code_set = db.session.scalar(select(AnswerCodeSet))
    form = form_for(QUESTIONS[:4], action="codeset:0", **{"q0-codeset": str(code_set.id)})
    assert client.post("/surveys/manage/SAT-2026/edit", data=form).status_code == 302
    choices = survey(db).draft["questions"][0]["choices"]
    assert choices == code_set.choices
    # a code set whose codes are off a scale cannot label it; nothing is saved
    off_scale = form_for(QUESTIONS[:4], action="codeset:1", **{"q1-codeset": str(code_set.id)})
    response = client.post("/surveys/manage/SAT-2026/edit", data=off_scale)
    assert response.status_code == 422 and "Scale labels must use the scale" in response.get_data(as_text=True)
    assert "choices" not in survey(db).draft["questions"][1]
    client.post(f"/surveys/codesets/{code_set.id}/edit", data=code_set_form("agree", AGREE[:2]))
    assert [c["code"] for c in survey(db).draft["questions"][0]["choices"]] == [1, 2, 9]  # the survey keeps its copy
    nothing = client.post("/surveys/manage/SAT-2026/edit", data=form_for(QUESTIONS[:4], action="codeset:0"))
    assert nothing.status_code == 422 and "Choose a code set." in nothing.get_data(as_text=True)


# --- permissions ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["citizen", "department_staff", "researcher"])
def test_citizens_and_staff_are_refused(db, client, catalog, make_user, login, bearer, role):
    owner = make_user("coordinator")
    login(owner)
    create(client)
    client.post("/logout")
    user = make_user(role, departments=("ENV",) if role == "department_staff" else ())
    login(user)
    for url in ["/surveys/manage", "/surveys/manage/new", "/surveys/codesets", "/surveys/codesets/new",
                "/surveys/manage/SAT-2026/edit", "/surveys/manage/SAT-2026/preview"]:  # fmt: skip
        assert client.get(url).status_code == 403, url
    assert create(client, code="MINE").status_code == 403
    assert client.post("/surveys/manage/SAT-2026/publish").status_code == 403
    assert client.post("/surveys/manage/SAT-2026/edit", data=form_for(QUESTIONS)).status_code == 403
    assert 'id="nav-surveys"' not in client.get("/").get_data(as_text=True)
    assert client.get("/api/v1/survey-codesets", headers=bearer(user)).status_code == 403
    assert survey(db).status == SurveyStatus.DRAFT and len(survey(db).draft["questions"]) == 1


def test_department_admins_build_their_departments_surveys(db, client, catalog, make_user, login):
    env_admin = make_user("department_admin", departments=("ENV",))
    urban_admin = make_user("department_admin", departments=("URBAN",))
    coordinator = make_user("coordinator")

    login(env_admin)
    assert 'id="nav-surveys"' in client.get("/").get_data(as_text=True)
    assert create(client, code="ENV-1").status_code == 302
    assert survey(db, "ENV-1").department.code == "ENV"
    assert client.post("/surveys/manage/ENV-1/edit", data=form_for(QUESTIONS)).status_code == 302
    urban_id = db.session.scalar(select(Survey.department_id).where(Survey.code == "ENV-1")) + 1
    refused = create(client, code="ENV-2", department=str(urban_id))
    assert refused.status_code == 422 and "Choose one of your departments." in refused.get_data(as_text=True)
    client.post("/logout")

    login(urban_admin)
    assert create(client, code="URBAN-1").status_code == 302
    listing = client.get("/surveys/manage").get_data(as_text=True)
    assert 'data-survey="URBAN-1"' in listing and 'data-survey="ENV-1"' not in listing
    for url in ["/surveys/manage/ENV-1/edit", "/surveys/manage/ENV-1/preview"]:
        assert client.get(url).status_code == 403
    assert client.post("/surveys/manage/ENV-1/edit", data=form_for(QUESTIONS[:1])).status_code == 403
    assert client.post("/surveys/manage/ENV-1/publish").status_code == 403
    assert client.post("/surveys/manage/ENV-1/close").status_code == 403
    assert len(survey(db, "ENV-1").draft["questions"]) == 5 and survey(db, "ENV-1").current_version is None
    client.post("/logout")

    login(coordinator)
    listing = client.get("/surveys/manage").get_data(as_text=True)
    assert 'data-survey="URBAN-1"' in listing and 'data-survey="ENV-1"' in listing
    assert client.post("/surveys/manage/ENV-1/publish").status_code == 302
    assert survey(db, "ENV-1").current_version.number == 1


def test_pages_need_log_in(client, db):
    assert client.get("/surveys/manage").status_code == 302
    assert client.get("/surveys/codesets").status_code == 302
    assert client.get("/api/v1/survey-codesets").status_code == 401
    assert client.get("/surveys/manage/NOPE/edit").status_code == 302


def test_unknown_survey_is_not_found(client, coordinator, login):
    login(coordinator)
    assert client.get("/surveys/manage/NOPE/edit").status_code == 404
    assert client.post("/surveys/manage/NOPE/publish").status_code == 404
