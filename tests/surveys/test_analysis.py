"""Survey analysis: every figure checked against values computed by hand; the API, the page and live updates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from participation.catalog.models import Department, District
from participation.core.permissions import SYSTEM
from participation.core.uow import transaction
from participation.surveys import analysis
from participation.surveys.models import Answer, Distribution, Response, ResponseStatus
from participation.surveys.services import save_definition
from tests.conftest import PASSWORD, live_client

approx = pytest.approx


def _label(zh: str, en: str) -> dict:
    return {"zh": zh, "en": en}


DEFINITION = {
    "code": "CITY-2025",
    "title": _label("市民满意度调查", "Citizen satisfaction survey"),
    "questions": [
        {"name": "q1", "type": "likert5", "label": _label("办事方便", "Easy to get things done"), "group": "service"},
        {"name": "q2", "type": "likert5", "label": _label("态度友好", "Friendly staff"), "group": "service"},
        {"name": "q3", "type": "likert5", "label": _label("结果满意", "Happy with the result"), "group": "service"},
        {"name": "rec", "type": "nps", "label": _label("推荐意愿", "Would you recommend us?")},
        {"name": "rate", "type": "rating5", "label": _label("总体评分", "Overall rating")},
        {
            "name": "chan",
            "type": "multiple",
            "label": _label("联系渠道", "Channels used"),
            "choices": [
                {"code": 1, "label": _label("电话", "Phone")},
                {"code": 2, "label": _label("网站", "Website")},
                {"code": 3, "label": _label("应用", "App")},
            ],
        },
        {"name": "comment", "type": "text", "label": _label("意见", "Comments")},
    ],
}


def at(month: int, day: int, hour: int = 2) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=UTC)


# Six complete responses. R6 skips q3, so Cronbach's α is taken over R1–R5 (3 items × 5 people).
# R4 completes at 2025-03-31 17:00 UTC = 2025-04-01 01:00 in Shanghai: an April response.
ROWS = [
    # (q1, q2, q3, rec, rate, chan, comment, department, district, completed at UTC)
    (5, 4, 5, 10, 5, [1, 2], "Very good service, quick response", "ENV", "EAST-HILL", at(3, 10)),
    (4, 4, 4, 9, 5, [2], "服务很好，处理很快", "ENV", "EAST", at(3, 20)),
    (3, 2, 3, 7, 4, [1], None, "ENV", None, at(4, 5)),
    (2, 3, 2, 5, 2, [3], "Slow service and rude staff", "URBAN", None, at(3, 31, 17)),
    (4, 5, 4, 9, 4, [1, 3], None, "URBAN", None, at(5, 2)),
    (1, 2, None, 0, 1, [], None, None, None, at(5, 20)),
]  # fmt: skip


@pytest.fixture
def survey(db, catalog):
    """The survey published, six complete responses and two incomplete ones (which answer enthusiastically)."""
    found, _created = save_definition(SYSTEM, DEFINITION, distribution="public", publish=True)
    db.session.flush()
    version = found.current_version
    department = {d.code: d.id for d in db.session.query(Department)}
    district = {d.code: d.id for d in db.session.query(District)}
    for index, (q1, q2, q3, rec, rate, chan, comment, dept, dist, at) in enumerate(ROWS):
        response = Response(
            survey_id=found.id,
            version_id=version.id,
            status=ResponseStatus.COMPLETE,
            channel=Distribution.PUBLIC,
            session_hash=f"complete-{index}",
            department_id=department.get(dept),
            district_id=district.get(dist),
            started_at=at,
            completed_at=at,
        )
        values = {"q1": q1, "q2": q2, "q3": q3, "rec": rec, "rate": rate}
        response.answers = [Answer(question=k, value_int=v) for k, v in values.items() if v is not None]
        response.answers += [Answer(question="chan", value_int=code) for code in chan]
        if comment:
            response.answers.append(Answer(question="comment", value_text=comment))
        db.session.add(response)
    for index in range(2):
        response = Response(
            survey_id=found.id,
            version_id=version.id,
            status=ResponseStatus.INCOMPLETE,
            channel=Distribution.PUBLIC,
            session_hash=f"incomplete-{index}",
            started_at=datetime(2025, 4, 10, tzinfo=UTC),
        )
        response.answers = [Answer(question="q1", value_int=5), Answer(question="rec", value_int=10)]
        db.session.add(response)
    db.session.commit()
    return found


def question(result: dict, name: str) -> dict:
    return next(q for q in result["questions"] if q["name"] == name)


T5 = 2.570582  # Student's t, 0.975 quantile, 5 degrees of freedom (tables: 2.571)


def test_counts_distributions_and_incomplete_responses_excluded(survey):
    result = analysis.summary(survey)
    assert result["responses"] == {"complete": 6, "incomplete": 2}
    q1 = question(result, "q1")
    assert q1["count"] == 6
    # q1 = 5, 4, 3, 2, 4, 1: every point of the scale is listed, with its share of 6.
    assert [(p["code"], p["count"]) for p in q1["distribution"]] == [(1, 1), (2, 1), (3, 1), (4, 2), (5, 1)]
    assert [p["share"] for p in q1["distribution"]] == approx([1 / 6, 1 / 6, 1 / 6, 2 / 6, 1 / 6])
    assert question(result, "q3")["count"] == 5  # R6 skipped it
    nps_points = question(result, "rec")["distribution"]
    assert [p["code"] for p in nps_points] == list(range(11))  # 0–10, unanswered points included with 0
    assert {p["code"]: p["count"] for p in nps_points}[10] == 1  # the incomplete 10s are not counted
    # Multiple choice: 5 people chose something; phone R1 R3 R5, website R1 R2, app R4 R5.
    chan = question(result, "chan")
    assert chan["count"] == 5
    assert [(p["code"], p["count"], p["share"]) for p in chan["distribution"]] == [
        (1, 3, approx(0.6)),
        (2, 2, approx(0.4)),
        (3, 2, approx(0.4)),
    ]
    assert chan["distribution"][0]["label"] == {"zh": "电话", "en": "Phone"}
    assert "mean" not in chan  # choice codes are names, not quantities


def test_means_standard_deviations_and_t_intervals(survey):
    result = analysis.summary(survey)
    q1 = question(result, "q1")
    # q1: sum 19, mean 19/6 = 3.16667; Σx² = 25+16+9+4+16+1 = 71; SS = 71 − 19²/6 = 10.8333;
    # s² = 10.8333/5 = 2.16667, s = 1.47196; half width = 2.570582 · 1.47196/√6 = 1.54473.
    assert q1["mean"] == approx(3.16667, abs=1e-4)
    assert q1["sd"] == approx(1.47196, abs=1e-4)
    assert q1["ci"] == [approx(1.62194, abs=1e-4), approx(4.71139, abs=1e-4)]
    rate = question(result, "rate")
    # rate = 5, 5, 4, 2, 4, 1: mean 21/6 = 3.5; Σx² = 87; SS = 87 − 73.5 = 13.5; s² = 2.7, s = 1.64317;
    # half width = 2.570582 · 1.64317/√6 = 1.72440.
    assert rate["mean"] == approx(3.5)
    assert rate["sd"] == approx(1.64317, abs=1e-4)
    assert rate["ci"] == [approx(1.77560, abs=1e-4), approx(5.22440, abs=1e-4)]
    q3 = question(result, "q3")
    # q3 = 5, 4, 3, 2, 4 (n = 5, df = 4, t = 2.776445): mean 3.6; SS = 70 − 64.8 = 5.2; s² = 1.3,
    # s = 1.14018; half width = 2.776445 · 1.14018/√5 = 1.41572.
    assert q3["mean"] == approx(3.6)
    assert q3["ci"] == [approx(2.18428, abs=1e-4), approx(5.01572, abs=1e-4)]
    assert analysis.t_quantile(5) == approx(T5, abs=1e-5)


def test_csat_and_nps(survey):
    result = analysis.summary(survey)
    # Top-2-box (4 or 5): q1 5,4,3,2,4,1 → 3/6; rate 5,5,4,2,4,1 → 4/6.
    assert question(result, "q1")["csat"] == approx(0.5)
    assert question(result, "rate")["csat"] == approx(4 / 6)
    # rec = 10, 9, 7, 5, 9, 0: promoters 10, 9, 9 (3); passives 7 (1); detractors 5, 0 (2);
    # NPS = 100 · (3 − 2)/6 = 16.667.
    rec = question(result, "rec")
    assert rec["nps"] == {"promoters": 3, "passives": 1, "detractors": 2, "score": approx(16.6667, abs=1e-3)}
    assert rec["csat"] is None
    # Headline CSAT pools q1 (3 of 6), q2 4,4,2,3,5,2 (3 of 6), q3 5,4,3,2,4 (3 of 5), rate (4 of 6) = 13/23.
    assert result["headline"]["csat"] == approx(13 / 23)
    assert result["headline"]["nps"]["score"] == approx(16.6667, abs=1e-3)


def test_cronbach_alpha_of_the_likert_block(survey):
    (block,) = analysis.summary(survey)["blocks"]
    # Respondents R1–R5 (R6 skipped q3): q1 5,4,3,2,4; q2 4,4,2,3,5; q3 5,4,3,2,4.
    # Item variances: each Σx² = 70, sum 18 → SS = 70 − 18²/5 = 5.2 → s² = 1.3; Σ = 3.9.
    # Totals 14, 12, 8, 7, 13: sum 54, Σx² = 622 → SS = 622 − 583.2 = 38.8 → s² = 9.7.
    # α = 3/2 · (1 − 3.9/9.7) = 1.5 · 0.597938 = 0.896907.
    assert block["group"] == "service" and block["items"] == ["q1", "q2", "q3"]
    assert block["k"] == 3 and block["n"] == 5
    assert block["alpha"] == approx(0.896907, abs=1e-5)


def test_alpha_needs_two_items_and_two_respondents():
    assert analysis.cronbach_alpha([[1, 2]]) is None
    assert analysis.cronbach_alpha([[1], [2]]) is None
    assert analysis.cronbach_alpha([[3, 3], [3, 3]]) is None  # no variance in the totals
    # [[1, 2], [2, 3], [3, 3]]: item s² 1 and 1/3; totals 3, 5, 6 → s² = 7/3; α = 2 · (1 − (4/3)/(7/3)) = 6/7.
    assert analysis.cronbach_alpha([[1, 2], [2, 3], [3, 3]]) == approx(6 / 7)


def test_breakdowns_by_department_and_month(survey):
    breakdowns = analysis.summary(survey)["breakdowns"]
    by_department = {row["key"]: row for row in breakdowns["department"]}
    assert {k: r["responses"] for k, r in by_department.items()} == {"ENV": 3, "URBAN": 2, None: 1}
    env = by_department["ENV"]["questions"]
    # ENV = R1, R2, R3: q1 5, 4, 3 → mean 4, CSAT 2/3; rate 5, 5, 4 → mean 4.667, CSAT 1.
    assert env["q1"]["mean"] == approx(4.0) and env["q1"]["csat"] == approx(2 / 3)
    assert env["rate"]["mean"] == approx(14 / 3) and env["rate"]["csat"] == approx(1.0)
    # URBAN = R4, R5: q1 2, 4 → mean 3, CSAT 1/2; rec 5, 9 → NPS (1 − 1)/2 = 0.
    urban = by_department["URBAN"]["questions"]
    assert urban["q1"]["mean"] == approx(3.0) and urban["q1"]["csat"] == approx(0.5)
    assert urban["rec"]["nps"] == approx(0.0)
    assert by_department["ENV"]["label"]["en"] == "Ecology and Environment Bureau"
    by_month = {row["key"]: row for row in breakdowns["month"]}
    # March: R1, R2 (q1 5, 4 → 4.5); April: R3 and R4 (Shanghai time; q1 3, 2 → 2.5); May: R5, R6 (4, 1 → 2.5).
    assert list(by_month) == ["2025-03", "2025-04", "2025-05"]
    assert [by_month[m]["responses"] for m in by_month] == [2, 2, 2]
    assert [by_month[m]["questions"]["q1"]["mean"] for m in by_month] == approx([4.5, 2.5, 2.5])
    assert {row["key"] for row in breakdowns["district"]} == {"EAST", "EAST-HILL", None}


def test_filters(survey):
    def complete(**args):
        return analysis.summary(survey, filters=analysis.parse_filters(args))["responses"]["complete"]

    assert complete(**{"from": "2025-04", "to": "2025-04"}) == 2  # R3, and R4 by Shanghai time
    assert complete(**{"from": "2025-04"}) == 4
    assert complete(department="ENV") == 3
    assert complete(district="EAST") == 2  # EAST and its sub-district EAST-HILL
    assert complete(district="EAST-HILL") == 1
    only_env = analysis.summary(survey, filters=analysis.parse_filters({"department": "ENV"}))
    assert question(only_env, "q1")["mean"] == approx(4.0)
    assert only_env["responses"]["incomplete"] == 0  # the incomplete ones have no department


@pytest.mark.parametrize(
    "args, field",
    [
        ({"from": "2025-13"}, "from"),
        ({"to": "March"}, "to"),
        ({"from": "2025-05", "to": "2025-04"}, "to"),
        ({"department": "NOPE"}, "department"),
        ({"district": "MARS"}, "district"),
        ({"category": "x" * 300}, "category"),
    ],
)
def test_bad_filters_are_reported_by_field(survey, args, field):
    from participation.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as caught:
        analysis.parse_filters(args)
    assert field in caught.value.fields


def test_free_text_sentiment_and_keywords(survey):
    from participation.text import sentiment

    text = question(analysis.summary(survey), "comment")["text"]
    assert text["count"] == 3
    assert text["languages"] == {"en": 2, "zh": 1}
    expected = [
        sentiment(c) for c in ("Very good service, quick response", "服务很好，处理很快", "Slow service and rude staff")
    ]
    assert text["sentiment"] == approx(sum(expected) / 3, abs=1e-4)
    assert text["keywords"][0] == {"word": "service", "count": 2}  # the only word two answers share
    assert "服务" in {k["word"] for k in text["keywords"]}


def test_a_survey_without_responses(db, catalog):
    found, _created = save_definition(SYSTEM, {**DEFINITION, "code": "EMPTY"}, publish=True)
    db.session.commit()
    result = analysis.summary(found)
    assert result["responses"] == {"complete": 0, "incomplete": 0}
    q1 = question(result, "q1")
    assert q1["count"] == 0 and q1["mean"] is None and q1["ci"] is None and q1["csat"] is None
    assert result["blocks"][0]["alpha"] is None
    assert question(result, "comment")["text"]["count"] == 0


# -- the API, the page, live updates ----------------------------------------------------------------


@pytest.mark.parametrize(
    "role, status",
    [("citizen", 403), ("department_staff", 403), ("department_admin", 403), ("coordinator", 200), ("researcher", 200)],
)
def test_summary_api_permissions(client, survey, make_user, bearer, role, status):
    """A department admin analyses only their department's surveys; this one is the city's."""
    user = make_user(role, departments=("ENV",) if role.startswith("department") else ())
    response = client.get("/api/v1/surveys/CITY-2025/summary", headers=bearer(user))
    assert response.status_code == status
    if status == 200:
        assert response.get_json()["responses"] == {"complete": 6, "incomplete": 2}


def test_summary_api_filters_and_errors(client, survey, make_user, bearer):
    headers = bearer(make_user("researcher"))
    body = client.get("/api/v1/surveys/CITY-2025/summary?from=2025-04&to=2025-04&version=1", headers=headers).get_json()
    assert body["responses"]["complete"] == 2 and body["filters"] == {"from": "2025-04", "to": "2025-04"}
    assert body["version"] == 1
    bad = client.get("/api/v1/surveys/CITY-2025/summary?from=2025-4&department=NOPE", headers=headers)
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {"from", "department"}
    assert client.get("/api/v1/surveys/CITY-2025/summary?version=9", headers=headers).status_code == 422
    assert client.get("/api/v1/surveys/CITY-2025/summary?version=x", headers=headers).status_code == 422
    assert client.get("/api/v1/surveys/NOPE/summary", headers=headers).status_code == 404
    assert client.get("/api/v1/surveys/CITY-2025/summary").status_code == 401


def test_analysis_page_renders_charts_and_a_live_region(client, survey, make_user, login):
    login(make_user("coordinator"))
    page = client.get("/surveys/CITY-2025/analysis")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-chart-kind="distribution"' in html and 'data-chart-kind="means"' in html
    assert 'data-live-region data-ns="/surveys" data-watch="survey" data-watch-id="CITY-2025"' in html
    assert 'data-figure="complete">6<' in html and 'data-figure="incomplete">2<' in html
    assert 'data-figure="alpha-service">0.897<' in html
    assert "vendor/chart.min.js" in html and "js/survey-charts.js" in html
    partial = client.get("/surveys/CITY-2025/analysis?partial=1&department=ENV")
    assert partial.status_code == 200 and "<html" not in partial.get_data(as_text=True)
    assert 'data-figure="complete">3<' in partial.get_data(as_text=True)
    bad = client.get("/surveys/CITY-2025/analysis?from=soon")
    assert bad.status_code == 422 and 'data-field="from"' in bad.get_data(as_text=True)


def test_analysis_page_refuses_citizens(client, survey, make_user, login):
    login(make_user("citizen"))
    assert client.get("/surveys/CITY-2025/analysis").status_code == 403


def _socket(app, user):
    http = app.test_client()
    assert http.post("/login", data={"login": user.email, "password": PASSWORD}).status_code == 302
    return live_client(app, "/surveys", http)


def test_completing_a_response_updates_the_analysts_live(app, survey, make_user):
    from participation.surveys.services import answer

    analyst = _socket(app, make_user("researcher"))
    assert analyst.emit("watch_survey", {"code": "CITY-2025"}, namespace="/surveys", callback=True) == {"ok": True}
    citizen = _socket(app, make_user("citizen"))
    assert citizen.emit("watch_survey", {"code": "CITY-2025"}, namespace="/surveys", callback=True) == {"ok": False}
    assert [e["name"] for e in citizen.get_received("/surveys")] == ["error"]
    assert analyst.emit("watch_survey", {"code": "NOPE"}, namespace="/surveys", callback=True) == {"ok": False}
    analyst.get_received("/surveys")

    with transaction():
        answer(None, "CITY-2025", {"q1": 4}, session_key="browser-1", complete=False)
    assert analyst.get_received("/surveys") == []  # an incomplete response changes no figure
    with transaction():
        answer(None, "CITY-2025", {"q1": 4, "rec": 9}, session_key="browser-1")
    events = [e for e in analyst.get_received("/surveys") if e["name"] == "survey.updated"]
    assert [e["args"][0] for e in events] == [{"code": "CITY-2025", "status": "open"}]
    assert citizen.get_received("/surveys") == []
    assert analysis.summary(survey)["responses"] == {"complete": 7, "incomplete": 2}


def test_anonymous_cannot_connect_to_surveys(app, db):
    assert not live_client(app, "/surveys").is_connected("/surveys")
