"""The scorecard pages: the ranking and its drill-down links, the tickets behind a number, who sees what, weights."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from participation.core.models import utcnow
from participation.extensions import db
from participation.scoring import services as scoring
from participation.scoring.models import Scorecard, WeightsVersion
from tests.scoring.test_scorecards import callback, work_and_resolve


def resolved_month(joint_ticket, people):
    work_and_resolve(joint_ticket, people)
    callback(joint_ticket, solved=1, satisfaction=1, rating=5)
    return scoring.period_of(utcnow())


def row_of(html: str, code: str) -> str:
    match = re.search(rf'<tr data-department="{code}"[^>]*>(.*?)</tr>', html, re.S)
    assert match, f"no row for {code}"
    return match.group(0)


def test_ranking_shows_components_and_drill_down_links(client, login, english, joint_ticket, people):
    period = resolved_month(joint_ticket, people)
    login(people.coordinator)
    response = client.get(f"/scorecards?period={period}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Department scorecards" in html and "Response" in html and "Penalty points" in html
    env = row_of(html, "ENV")
    assert 'data-full="1"' in env
    for component in ("response", "resolution", "satisfaction", "collaboration"):
        assert f'href="/scorecards/ENV/{period}/lead/{component}"' in env
    assert "2 / 2" in env  # response: numerator / denominator
    assert 'data-chart-kind="bars"' in html and 'data-chart-kind="trend"' in html
    assert "js/scorecards.js" in html and "<script>" not in html
    assert f'<option value="{period}" selected>' in html and '<option value="R30"' in html
    # the trend computed the missing earlier months through the services
    assert db.session.scalar(select(func.count(func.distinct(Scorecard.period)))) >= 6
    # the co ranking and the rolling 30 days render too; the nav shows the link
    assert client.get(f"/scorecards?period={period}&role=co").status_code == 200
    default = client.get("/scorecards").get_data(as_text=True)
    assert 'id="nav-scorecards"' in default and "/scorecards/ENV/R30/lead/response" in default


def test_drill_down_lists_exactly_the_tickets_of_a_component(client, login, english, joint_ticket, people, submit):
    period = resolved_month(joint_ticket, people)
    login(people.coordinator)
    client.get(f"/scorecards?period={period}")
    card = db.session.scalar(
        select(Scorecard).where(
            Scorecard.period == period, Scorecard.role == "lead", Scorecard.department.has(code="ENV")
        )
    )
    assert card.components["resolution"]["count"] == 2  # the resolve clock and the callback
    expected = scoring.tickets_behind(card, "resolution")[0]
    assert expected == [joint_ticket.id]
    response = client.get(f"/scorecards/ENV/{period}/lead/resolution")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    listed = [int(x) for x in re.findall(r'<li data-ticket="(\d+)">', html)]
    assert listed == expected
    assert f'href="/tickets/{joint_ticket.id}"' in html
    k = card.weights_version.shrink_k
    comp = card.components["resolution"]
    assert f"(2 + {k:g} × {comp['city']:g}) / (2 + {k:g})" in html  # the formula with its numbers
    assert "Numerator" in html and "Denominator" in html
    # a penalty term opens too, and an unknown item is not found
    assert client.get(f"/scorecards/ENV/{period}/lead/reopen").status_code == 200
    assert client.get(f"/scorecards/ENV/{period}/lead/bogus").status_code == 404
    assert client.get(f"/scorecards/NOPE/{period}/lead/response").status_code == 404
    assert client.get(f"/scorecards/ENV/{period}/boss/response").status_code == 422


def test_department_admin_sees_its_own_department_in_full_only(client, login, english, joint_ticket, people, make_user):
    period = resolved_month(joint_ticket, people)
    head = make_user("department_admin", departments=("ENV",))
    login(head)
    html = client.get(f"/scorecards?period={period}").get_data(as_text=True)
    env, transport = row_of(html, "ENV"), row_of(html, "TRANSPORT")
    assert 'data-full="1"' in env and "/scorecards/ENV/" in env
    assert 'data-full="0"' in transport and "/scorecards/TRANSPORT/" not in transport
    assert "data-component" not in transport and "Summary only" in transport
    assert "/scorecards/weights" not in html
    assert client.get(f"/scorecards/ENV/{period}/lead/response").status_code == 200
    assert client.get(f"/scorecards/TRANSPORT/{period}/lead/response").status_code == 403
    assert client.get(f"/scorecards/URBAN/{period}/co/collaboration").status_code == 403
    assert client.get("/scorecards/weights").status_code == 403


def test_staff_and_citizens_are_refused(client, login, joint_ticket, people):
    for user in (people.env, people.citizen):
        login(user)
        assert client.get("/scorecards").status_code == 403
        assert client.get("/scorecards/ENV/R30/lead/response").status_code == 403
        assert client.get("/scorecards/weights").status_code == 403
        page = client.get("/").get_data(as_text=True)
        assert 'id="nav-scorecards"' not in page


def test_a_bad_period_is_422(client, login, people):
    login(people.coordinator)
    for period in ("2026-13", "junk", "0001-01", "99999-01"):
        assert client.get(f"/scorecards?period={period}").status_code == 422
    assert client.get("/scorecards?role=boss").status_code == 422
    assert client.get("/scorecards/ENV/2026-13/lead/response").status_code == 422


def test_weights_form(client, login, english, people):
    login(people.coordinator)
    page = client.get("/scorecards/weights")
    assert page.status_code == 200 and "Scorecard weights" in page.get_data(as_text=True)
    first = db.session.scalar(select(func.max(WeightsVersion.number)))
    bad = client.post("/scorecards/weights", data={"weights.response": "lots", "penalties.reopen": "50"})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert 'data-field="weights.response"' in html and 'data-field="penalties.reopen"' in html
    assert db.session.scalar(select(func.max(WeightsVersion.number))) == first
    zero = {f"weights.{c}": "0" for c in ("response", "resolution", "satisfaction", "collaboration")}
    assert client.post("/scorecards/weights", data=zero).status_code == 422
    good = client.post(
        "/scorecards/weights", data={"weights.response": "25", "shrink_k": "5", "note": "more on response"}
    )
    assert good.status_code == 302
    latest = db.session.scalar(select(WeightsVersion).order_by(WeightsVersion.number.desc()).limit(1))
    assert latest.number == first + 1 and latest.weights["response"] == 25 and latest.shrink_k == 5
    assert latest.weights["resolution"] == 35  # untouched fields keep the current value
    history = client.get("/scorecards/weights").get_data(as_text=True)
    assert f'data-version="{latest.number}"' in history and "more on response" in history
