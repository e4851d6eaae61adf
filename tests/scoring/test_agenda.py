"""Joint-meeting agenda: clusters of a hand-built scenario, thresholds, the stored items and the coordinator's
actions (permissions, bad input, audit), and a decision's catalog change followed by the router."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from participation.catalog.models import Category, Department
from participation.core.audit import AuditLog
from participation.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from participation.core.models import utcnow
from participation.core.uow import transaction
from participation.routing import engine
from participation.routing import services as routing
from participation.routing.models import TicketStatus
from participation.scoring import agenda
from participation.scoring.models import AgendaItem, AgendaStatus
from participation.scoring.services import period_of
from participation.surveys import callbacks
from tests.routing.conftest import late_joint_ticket, part_of
from tests.scoring.test_network import finish

POTHOLE_TEXT = "这条路上的坑越来越多，电动车经常摔倒"


def dispatch(people, ticket, category, lead, co):
    with transaction():
        routing.dispatch(people.coordinator, ticket.id, [category], lead, co)
    return ticket


def callback(ticket, satisfaction, solved=1):
    with transaction():
        callbacks.answer_by_tracking_code(
            None, ticket.submission.tracking_code, {"solved": solved, "satisfaction": satisfaction}
        )


def cluster(clusters, category, a, b):
    return next(c for c in clusters if c["category"] == category and set(c["departments"]) == {a, b})


def ids(refs):
    return [r["ticket_id"] for r in refs]


@pytest.fixture
def scenario(people, submit):
    """NOISE / ENV+URBAN: t1 fine; t2 returned by URBAN (overruled), dissatisfied; t3 resolved late, "not
    solved"; t4 open. NOISE / ENV+TRANSPORT: t5, whose TRANSPORT part ended (return upheld). POTHOLE /
    TRANSPORT+URBAN: t6 (a transfer request by URBAN, open), t7, t8."""
    t1 = finish(dispatch(people, submit(), "NOISE", "ENV", ["URBAN"]), people)
    callback(t1, 1)
    t2 = dispatch(people, submit(), "NOISE", "ENV", ["URBAN"])
    with transaction():
        returned = routing.request_return(people.urban, part_of(t2, "URBAN").id, "return", "Not ours.")
    with transaction():
        routing.rule(people.coordinator, returned.id, "overruled")
    finish(t2, people)
    callback(t2, 3)
    t3 = finish(late_joint_ticket(people), people)
    callback(t3, 2, solved=2)
    t4 = dispatch(people, submit(), "NOISE", "ENV", ["URBAN"])
    t5 = dispatch(people, submit(), "NOISE", "ENV", ["TRANSPORT"])
    with transaction():
        upheld = routing.request_return(people.transport, part_of(t5, "TRANSPORT").id, "return", "Not ours.")
    with transaction():
        routing.rule(people.coordinator, upheld.id, "upheld")
    potholes = [dispatch(people, submit(POTHOLE_TEXT), "POTHOLE", "TRANSPORT", ["URBAN"]) for _ in range(3)]
    with transaction():
        routing.request_return(people.urban, part_of(potholes[0], "URBAN").id, "transfer", "Roads.", "ENV")
    return {"t1": t1, "t2": t2, "t3": t3, "t4": t4, "t5": t5, "potholes": potholes}


@pytest.fixture
def period():
    return period_of(utcnow())


@pytest.fixture
def admins(make_user, people):
    return {"own": make_user("department_admin", departments=("ENV",)), "other": make_user("department_admin")}


def built(people, period) -> AgendaItem:
    with transaction():
        agenda.build(people.coordinator, period)
    return agenda.items(people.coordinator, period)[0]


# -- clusters --------------------------------------------------------------------------------------


def test_clusters_of_the_scenario_with_their_evidence(scenario, period):
    t1, t2, t3, t4, t5 = (scenario[k] for k in ("t1", "t2", "t3", "t4", "t5"))
    found = agenda.compute_clusters(period)
    assert len(found) == 3
    noise = cluster(found, "NOISE", "ENV", "URBAN")
    assert ids(noise["evidence"]["joint_tickets"]) == sorted([t1.id, t2.id, t3.id, t4.id])
    assert (noise["joint_tickets"], noise["disputes"], noise["late"], noise["low_satisfaction"]) == (4, 1, 1, 2)
    assert ids(noise["evidence"]["disputes"]) == [t2.id]
    assert noise["evidence"]["disputes"][0]["department"] == "URBAN"
    assert noise["evidence"]["disputes"][0]["status"] == "overruled"
    assert noise["evidence"]["late"] == [{"ticket_id": t3.id, "tracking_code": t3.submission.tracking_code,
                                         "clock": "missed"}]  # fmt: skip
    assert sorted(ids(noise["evidence"]["low_satisfaction"])) == sorted([t2.id, t3.id])
    assert noise["evidence"]["joint_tickets"][0]["tracking_code"] == t1.submission.tracking_code
    assert (noise["issues"], noise["troubled"]) == (4, 2)
    assert noise["severity"] == pytest.approx((3 * 1 + 2 * 1 + 2 * 2) * (0.5 + 0.5 * 2 / 4))
    assert noise["qualifies"] is True
    # a department whose part ended still counts: the return is the friction
    ended = cluster(found, "NOISE", "ENV", "TRANSPORT")
    assert (ids(ended["evidence"]["joint_tickets"]), ended["disputes"], ended["qualifies"]) == ([t5.id], 1, False)
    potholes = cluster(found, "POTHOLE", "TRANSPORT", "URBAN")
    assert (potholes["joint_tickets"], potholes["disputes"], potholes["late"], potholes["low_satisfaction"]) == (
        3, 1, 0, 0,
    )  # fmt: skip
    assert potholes["evidence"]["disputes"][0]["kind"] == "transfer" and potholes["qualifies"] is False
    assert found[0] is noise  # the most severe first
    assert agenda.compute_clusters("2001-01") == []


def test_thresholds_are_configurable(app, scenario, period, monkeypatch):
    qualifying = lambda: {(c["category"], frozenset(c["departments"])) for c in agenda.compute_clusters(period)  # noqa: E731
                          if c["qualifies"]}  # fmt: skip
    assert qualifying() == {("NOISE", frozenset({"ENV", "URBAN"}))}
    monkeypatch.setitem(app.config, "AGENDA_MIN_ISSUES", 1)
    assert ("POTHOLE", frozenset({"TRANSPORT", "URBAN"})) in qualifying()
    assert ("NOISE", frozenset({"ENV", "TRANSPORT"})) not in qualifying()  # one joint ticket
    monkeypatch.setitem(app.config, "AGENDA_MIN_TICKETS", 1)
    assert len(qualifying()) == 3
    monkeypatch.setitem(app.config, "AGENDA_MIN_TICKETS", 5)
    assert qualifying() == set()
    monkeypatch.setitem(app.config, "AGENDA_WEIGHTS", {"disputes": 10.0, "late": 0.0, "low_satisfaction": 0.0})
    noise = cluster(agenda.compute_clusters(period), "NOISE", "ENV", "URBAN")
    assert noise["severity"] == pytest.approx(10 * 0.75)


# -- building ----------------------------------------------------------------------------------------


def test_building_is_idempotent_and_refreshes_only_open_items(app, db, scenario, people, period, monkeypatch):
    with transaction():
        first = agenda.build(people.coordinator, period)
    assert len(first["created"]) == 1 and first["refreshed"] == []
    (item,) = agenda.items(people.coordinator, period)
    assert (item.category.code, {item.dept_a.code, item.dept_b.code}) == ("NOISE", {"ENV", "URBAN"})
    assert item.status == AgendaStatus.OPEN and item.evidence["disputes"] == 1
    with transaction():
        again = agenda.build(people.coordinator, period)
    assert again == {"period": period, "created": [], "refreshed": [item.id]}
    assert db.session.scalar(select(func.count()).select_from(AgendaItem)) == 1
    # new evidence refreshes the open item
    with transaction():
        routing.request_return(people.urban, part_of(scenario["t4"], "URBAN").id, "return", "Again not ours.")
    with transaction():
        agenda.build(people.coordinator, period)
    db.session.refresh(item)
    assert item.evidence["disputes"] == 2 and item.severity > 6.75
    # once discussed, the evidence stays what the meeting saw
    with transaction():
        agenda.mark_discussed(people.coordinator, item.id)
    with transaction():
        routing.request_return(people.env, part_of(scenario["t4"], "ENV").id, "return", "Not ours either.")
    with transaction():
        third = agenda.build(people.coordinator, period)
    db.session.refresh(item)
    assert third["refreshed"] == [] and item.evidence["disputes"] == 2
    # a lower threshold adds the other cluster, once
    monkeypatch.setitem(app.config, "AGENDA_MIN_ISSUES", 1)
    with transaction():
        fourth = agenda.build(people.coordinator, period)
    with transaction():
        fifth = agenda.build(people.coordinator, period)
    assert len(fourth["created"]) == 1 and fifth["created"] == [] and fifth["refreshed"] == fourth["created"]
    assert [i.category.code for i in agenda.items(people.coordinator, period)] == ["NOISE", "POTHOLE"]


def test_building_needs_a_valid_period_and_a_coordinator(scenario, people, admins):
    with pytest.raises(ValidationFailed) as error:
        agenda.build(people.coordinator, "2026-13")
    assert "period" in error.value.fields
    with pytest.raises(PermissionDenied):
        agenda.build(admins["own"], period_of(utcnow()))


# -- actions and their bad input ------------------------------------------------------------------


def audit_actions(db, item) -> list[str]:
    rows = db.session.scalars(
        select(AuditLog.action)
        .where(AuditLog.target_type == "AgendaItem", AuditLog.target_id == str(item.id))
        .order_by(AuditLog.id)
    )
    return list(rows)


def rule_of(db, code="NOISE"):
    category = db.session.scalar(select(Category).where(Category.code == code))
    db.session.refresh(category)
    return category.lead.code, sorted(d.code for d in category.co)


def test_the_meeting_discusses_decides_and_changes_the_catalog_with_audit(db, scenario, people, period):
    item = built(people, period)
    with transaction():
        agenda.mark_discussed(people.coordinator, item.id)
    with transaction():
        agenda.record_decision(people.coordinator, item.id, "  URBAN leads noise at night; TRANSPORT helps.  ")
    with transaction():
        agenda.apply_catalog_change(people.coordinator, item.id, "URBAN", ["TRANSPORT"])
    db.session.refresh(item)
    assert item.status == AgendaStatus.DECIDED
    assert item.decision == "URBAN leads noise at night; TRANSPORT helps."
    assert item.discussed_by_id == item.decided_by_id == item.catalog_changed_by_id == people.coordinator.id
    assert item.catalog_change == {
        "category": "NOISE",
        "before": {"lead": "ENV", "co": ["URBAN"]},
        "after": {"lead": "URBAN", "co": ["TRANSPORT"]},
    }
    assert rule_of(db) == ("URBAN", ["TRANSPORT"])
    assert audit_actions(db, item) == [
        "scoring.agenda.discussed",
        "scoring.agenda.decided",
        "scoring.agenda.catalog_changed",
    ]
    catalog_entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "catalog.category_departments_changed"))
    assert catalog_entry.actor_id == people.coordinator.id and catalog_entry.target_type == "Category"
    assert catalog_entry.payload["source"] == f"agenda:{item.id}"
    assert catalog_entry.payload["after"] == {"lead": "URBAN", "co": ["TRANSPORT"]}
    assert [h["action"] for h in agenda.history(item)] == audit_actions(db, item)
    with pytest.raises(Conflict):  # once per item
        agenda.apply_catalog_change(people.coordinator, item.id, "ENV", [])
    db.session.rollback()
    with pytest.raises(Conflict):
        agenda.dismiss(people.coordinator, item.id, "Too late.")
    db.session.rollback()


def test_dismissing_an_item(db, scenario, people, period):
    item = built(people, period)
    with transaction():
        agenda.dismiss(people.coordinator, item.id, "Seasonal; watch next month.")
    db.session.refresh(item)
    assert (item.status, item.dismiss_reason) == (AgendaStatus.DISMISSED, "Seasonal; watch next month.")
    assert audit_actions(db, item) == ["scoring.agenda.dismissed"]
    with pytest.raises(Conflict):
        agenda.mark_discussed(people.coordinator, item.id)
    db.session.rollback()


def _deactivate(db, code):
    with transaction():
        db.session.scalar(select(Department).where(Department.code == code)).active = False


@pytest.mark.parametrize(
    ("lead", "co", "field"),
    [
        ("NOPE", None, "lead"),  # unknown department
        (None, ["URBAN", "NOPE"], "co"),
        ("URBAN", ["URBAN"], "co"),  # the lead cannot co-handle
        (None, ["ENV"], "co"),  # ... ENV stays lead of NOISE
        ("URBAN", None, "lead"),  # ... URBAN stays co-handler
        ("DRC", None, "lead"),  # deactivated below
        (None, None, "lead"),  # nothing to change
        ("ENV", ["URBAN"], "lead"),  # the rule it already has
        (5, None, "lead"),
        (None, "URBAN", "co"),  # not a list
    ],
)
def test_bad_catalog_changes_store_nothing(db, scenario, people, period, lead, co, field):
    item = built(people, period)
    _deactivate(db, "DRC")
    with transaction():
        agenda.record_decision(people.coordinator, item.id, "Change who handles it.")
    before = audit_actions(db, item)
    with pytest.raises(ValidationFailed) as error:
        with transaction():
            agenda.apply_catalog_change(people.coordinator, item.id, lead, co)
    assert field in error.value.fields
    db.session.refresh(item)
    assert item.catalog_change is None and rule_of(db) == ("ENV", ["URBAN"])
    assert audit_actions(db, item) == before
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "catalog.category_departments_changed")) is None


def test_bad_decisions_and_unknown_items(db, scenario, people, period):
    item = built(people, period)
    for text, field in (("", "decision"), ("   ", "decision"), ("x" * 2001, "decision"), (None, "decision")):
        with pytest.raises(ValidationFailed) as error:
            with transaction():
                agenda.record_decision(people.coordinator, item.id, text)
        assert field in error.value.fields
    with pytest.raises(ValidationFailed):
        with transaction():
            agenda.dismiss(people.coordinator, item.id, "y" * 2001)
    with pytest.raises(Conflict):  # a catalog change carries out a decision
        with transaction():
            agenda.apply_catalog_change(people.coordinator, item.id, "URBAN", [])
    for action in (agenda.mark_discussed, agenda.get_item):
        with pytest.raises(NotFound):
            action(people.coordinator, 999_999)
    db.session.refresh(item)
    assert (item.status, item.decision, item.catalog_change) == (AgendaStatus.OPEN, "", None)
    assert audit_actions(db, item) == [] and rule_of(db) == ("ENV", ["URBAN"])


# -- the router follows the decision ----------------------------------------------------------------


def test_a_decisions_catalog_change_routes_the_next_items(app, db, client, scenario, people, period, monkeypatch):
    monkeypatch.setitem(app.config, "ROUTING_REFRESH_SECONDS", 3600)  # a process that cached the router
    engine.forget()
    text = {"text": "工地半夜施工噪音很大", "district": "EAST-HILL"}
    before = client.post("/api/v1/routing/suggest", json=text).get_json()
    assert (before["lead"], set(before["co"])) == ("ENV", {"URBAN", "OFFICE-EAST-HILL"})
    stamp = engine._stamp(engine.catalog_document())
    item = built(people, period)
    with transaction():
        agenda.record_decision(people.coordinator, item.id, "URBAN leads; TRANSPORT co-handles.")
    with transaction():
        agenda.apply_catalog_change(people.coordinator, item.id, "URBAN", ["TRANSPORT"])
    after = client.post("/api/v1/routing/suggest", json=text).get_json()
    assert after["categories"][0]["code"] == "NOISE"
    assert (after["lead"], set(after["co"])) == ("URBAN", {"TRANSPORT", "OFFICE-EAST-HILL"})
    assert engine._stamp(engine.catalog_document()) == stamp  # the text model needs no refit
    monkeypatch.setitem(app.config, "ROUTING_AUTO_DISPATCH", True)
    from participation.intake import services as intake

    with transaction():
        submission, _ = intake.submit(people.citizen, {"kind": "complaint", "category": "NOISE", **text})
    ticket = submission.ticket
    assert ticket.status == TicketStatus.DISPATCHED
    assert ticket.lead_department.code == "URBAN"
    assert {p.department.code: p.role.value for p in ticket.parts} == {
        "URBAN": "lead",
        "TRANSPORT": "co",
        "OFFICE-EAST-HILL": "co",
    }
    engine.forget()


def test_an_inactive_co_handler_is_left_out_of_routing(db, catalog):
    _deactivate(db, "URBAN")
    assert engine.departments_now(["NOISE"], "EAST-HILL") == ("ENV", ["OFFICE-EAST-HILL"])
    _deactivate(db, "ENV")
    assert engine.departments_now(["NOISE"], "EAST-HILL") == (None, [])  # no active lead: triage


# -- pages and API: permissions -------------------------------------------------------------------


@pytest.fixture
def on_agenda(db, scenario, people, period):
    return built(people, period)


def who(people, admins, name):
    return {
        "coordinator": people.coordinator,
        "admin_own": admins["own"],
        "admin_other": admins["other"],
        "staff": people.env,
        "citizen": people.citizen,
        "anonymous": None,
    }[name]


VIEW = {"coordinator": 200, "admin_own": 200, "admin_other": 403, "staff": 403, "citizen": 403, "anonymous": 401}
MANAGE = {"coordinator": 200, "admin_own": 403, "admin_other": 403, "staff": 403, "citizen": 403, "anonymous": 401}


@pytest.mark.parametrize("role", sorted(VIEW))
def test_api_permission_matrix(client, bearer, on_agenda, people, admins, period, role):
    user = who(people, admins, role)
    headers = bearer(user) if user is not None else {}
    listing = client.get(f"/api/v1/scorecards/agenda?period={period}", headers=headers)
    expected_list = {"admin_other": 200}.get(role, VIEW[role])
    assert listing.status_code == expected_list
    if expected_list == 200:
        visible = [i["id"] for i in listing.get_json()["items"]]
        assert visible == ([] if role == "admin_other" else [on_agenda.id])
    assert client.get(f"/api/v1/scorecards/agenda/{on_agenda.id}", headers=headers).status_code == VIEW[role]
    assert client.post(f"/api/v1/scorecards/agenda?period={period}", headers=headers).status_code == MANAGE[role]
    response = client.post(f"/api/v1/scorecards/agenda/{on_agenda.id}/discussed", headers=headers)
    assert response.status_code == MANAGE[role]
    if MANAGE[role] != 200:
        assert response.get_json()["error"]["code"] in ("forbidden", "not_authenticated")


@pytest.mark.parametrize("role", sorted(VIEW))
def test_page_permission_matrix(client, login, on_agenda, people, admins, period, role):
    user = who(people, admins, role)
    if user is not None:
        login(user)
    page = client.get(f"/scorecards/agenda?period={period}")
    detail = client.get(f"/scorecards/agenda/{on_agenda.id}")
    if user is None:  # to the log-in page (the API answers anonymous writes with 401)
        assert page.status_code == detail.status_code == 302
        return
    action = client.post(f"/scorecards/agenda/{on_agenda.id}/discussed")
    assert page.status_code == (200 if role.startswith("admin") or role == "coordinator" else 403)
    assert detail.status_code == VIEW[role]
    assert action.status_code == (302 if role == "coordinator" else 403)


def test_department_admins_read_the_evidences_tracking_codes_shortened(
    client, bearer, login, on_agenda, scenario, people, admins, period
):
    """The evidence names its tickets' tracking codes. Whoever holds a code answers the callback of a request
    sent without an account, so a department's admin (of a department the evidence judges) reads them
    shortened, as the departments read every code (routing.ticket.code); the coordinator reads them whole."""
    tickets = [scenario[k] for k in ("t1", "t2", "t3", "t4", "t5")] + scenario["potholes"]
    codes = [t.submission.tracking_code for t in tickets]
    t3 = scenario["t3"].submission.tracking_code
    headers = bearer(admins["own"])
    listing = client.get(f"/api/v1/scorecards/agenda?period={period}", headers=headers)
    detail = client.get(f"/api/v1/scorecards/agenda/{on_agenda.id}", headers=headers)
    assert listing.status_code == detail.status_code == 200 and listing.get_json()["items"]
    late = detail.get_json()["evidence"]["evidence"]["late"]
    assert [r["tracking_code"] for r in late] == [f"{t3[:5]}…{t3[-2:]}"]
    login(admins["own"])
    pages = [client.get(f"/scorecards/agenda?period={period}"), client.get(f"/scorecards/agenda/{on_agenda.id}")]
    for body in [listing, detail, *pages]:
        assert body.status_code == 200 and not [c for c in codes if c in body.get_data(as_text=True)]
    whole = client.get(f"/api/v1/scorecards/agenda/{on_agenda.id}", headers=bearer(people.coordinator)).get_json()
    assert [r["tracking_code"] for r in whole["evidence"]["evidence"]["late"]] == [t3]


def test_api_actions_and_their_errors(client, bearer, on_agenda, people, period):
    headers = bearer(people.coordinator)
    base = f"/api/v1/scorecards/agenda/{on_agenda.id}"
    empty = client.post(f"{base}/decision", json={"decision": "  "}, headers=headers)
    assert empty.status_code == 422 and "decision" in empty.get_json()["error"]["fields"]
    assert client.post(f"{base}/decision", data="decision=x", headers=headers).status_code == 415
    assert client.post(f"{base}/catalog-change", json={"lead": "URBAN"}, headers=headers).status_code == 409
    assert client.post(f"{base}/nonsense", json={}, headers=headers).status_code == 404
    assert client.post("/api/v1/scorecards/agenda/999999/discussed", headers=headers).status_code == 404
    assert client.get("/api/v1/scorecards/agenda?period=2026-13", headers=headers).status_code == 422
    assert client.post("/api/v1/scorecards/agenda?period=soon", headers=headers).status_code == 422
    decision = client.post(f"{base}/decision", json={"decision": "URBAN leads."}, headers=headers)
    assert decision.status_code == 200 and decision.get_json()["status"] == "decided"
    bad = client.post(f"{base}/catalog-change", json={"lead": "URBAN", "co": ["URBAN"]}, headers=headers)
    assert bad.status_code == 422 and "co" in bad.get_json()["error"]["fields"]
    wrong_type = client.post(f"{base}/catalog-change", json={"co": "ENV"}, headers=headers)
    assert wrong_type.status_code == 422 and "co" in wrong_type.get_json()["error"]["fields"]
    good = client.post(f"{base}/catalog-change", json={"lead": "URBAN", "co": []}, headers=headers)
    assert good.status_code == 200
    assert good.get_json()["catalog_change"]["after"] == {"lead": "URBAN", "co": []}
    detail = client.get(base, headers=headers).get_json()
    assert [h["action"] for h in detail["history"]] == ["scoring.agenda.decided", "scoring.agenda.catalog_changed"]
    built_again = client.post(f"/api/v1/scorecards/agenda?period={period}", headers=headers).get_json()
    assert built_again["created"] == [] and built_again["refreshed"] == []  # decided: left as the meeting saw it


# -- pages -----------------------------------------------------------------------------------------


def test_the_pages_show_evidence_links_and_forms(client, login, on_agenda, scenario, people, admins, period):
    t2, t3 = scenario["t2"], scenario["t3"]
    login(people.coordinator)
    html = client.get(f"/scorecards/agenda?period={period}").get_data(as_text=True)
    assert f'data-item="{on_agenda.id}"' in html and 'id="build-agenda"' in html
    assert f'href="/tickets/{t2.id}"' in html and f"/scorecards/agenda/{on_agenda.id}" in html
    detail = client.get(f"/scorecards/agenda/{on_agenda.id}").get_data(as_text=True)
    assert f'href="/tickets/{t3.id}"' in detail and t3.submission.tracking_code in detail
    assert 'id="form-discussed"' in detail and 'id="form-decision"' in detail and 'id="form-dismiss"' in detail
    assert 'id="form-catalog-change"' not in detail  # only once decided
    assert 'name="csrf_token"' in detail
    # the ranking and the network link to the agenda
    assert 'id="agenda-link"' in client.get(f"/scorecards/network?period={period}").get_data(as_text=True)
    # an empty decision is a form message, not a 500, and stores nothing
    bad = client.post(f"/scorecards/agenda/{on_agenda.id}/decision", data={"decision": " "})
    assert bad.status_code == 422 and 'data-field="decision"' in bad.get_data(as_text=True)
    assert (
        client.post(f"/scorecards/agenda/{on_agenda.id}/decision", data={"decision": "URBAN leads."}).status_code == 302
    )
    form = client.get(f"/scorecards/agenda/{on_agenda.id}").get_data(as_text=True)
    assert 'id="form-catalog-change"' in form and 'id="form-decision"' not in form
    lead_in_co = client.post(
        f"/scorecards/agenda/{on_agenda.id}/catalog-change", data={"lead": "URBAN", "co": ["URBAN", "TRANSPORT"]}
    )
    assert lead_in_co.status_code == 422 and 'data-field="co"' in lead_in_co.get_data(as_text=True)
    changed = client.post(f"/scorecards/agenda/{on_agenda.id}/catalog-change", data={"lead": "URBAN", "co": ["ENV"]})
    assert changed.status_code == 302
    final = client.get(f"/scorecards/agenda/{on_agenda.id}").get_data(as_text=True)
    assert 'id="catalog-change"' in final and 'data-action="scoring.agenda.catalog_changed"' in final
    assert client.post("/scorecards/agenda", data={"period": "2026-13"}).status_code == 422
    assert client.post("/scorecards/agenda", data={"period": period}).status_code == 302
    assert client.get("/scorecards/agenda?period=nonsense").status_code == 422
    client.post("/logout")
    login(admins["own"])
    own = client.get(f"/scorecards/agenda?period={period}").get_data(as_text=True)
    assert f'data-item="{on_agenda.id}"' in own and 'id="build-agenda"' not in own
    assert 'id="form-catalog-change"' not in client.get(f"/scorecards/agenda/{on_agenda.id}").get_data(as_text=True)
