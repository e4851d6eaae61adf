"""The router learns from dispatchers: confirmations are stored, retraining runs once enough arrive."""

from __future__ import annotations

from sqlalchemy import func, select

from participation.core.uow import transaction
from participation.routing import engine, services
from participation.routing.models import RouterModel, TrainingExample


def test_confirmations_trigger_a_stored_retrain_every_process_uses(app, db, people, submit, monkeypatch):
    monkeypatch.setitem(app.config, "ROUTING_RETRAIN_AFTER", 2)
    engine.forget()
    first = submit("这条路上的坑越来越多，电动车经常摔")
    with transaction():
        services.dispatch(people.coordinator, first.id, ["POTHOLE"], "TRANSPORT", [])
    assert db.session.scalar(select(func.count()).select_from(RouterModel)) == 0  # one confirmation: not yet
    second = submit("工地晚上施工太吵")
    with transaction():
        services.dispatch(people.coordinator, second.id, ["NOISE"], "ENV", [])
    model = db.session.scalar(select(RouterModel))
    assert model is not None and model.examples == 2  # retrained (in-process here; a worker in production)
    router = engine.current_router()
    assert [text for text, _ in router.history] == [e.text for e in db.session.scalars(select(TrainingExample))]
    assert router.suggest("路面坑洼，电动车摔倒").categories[0][0] == "POTHOLE"


def test_catalog_change_is_followed_without_a_restart(app, db, people, catalog):
    from participation.catalog.services import import_catalog
    from participation.core.permissions import SYSTEM

    engine.forget()
    assert "PARKS" not in engine.current_router().catalog.categories
    with transaction():
        import_catalog(
            SYSTEM,
            {
                "categories": [
                    {
                        "code": "PARKS",
                        "name": {"zh": "公园绿地", "en": "Parks"},
                        "lead": "URBAN",
                        "keywords": ["公园", "park"],
                        "examples": ["公园里的长椅坏了"],
                        "sla": {"respond_hours": 24, "resolve_days": 10},
                    }
                ]
            },
        )
    assert "PARKS" in engine.current_router().catalog.categories  # ROUTING_REFRESH_SECONDS is 0 in tests


def test_coordinator_corrections_become_training_data(client, db, people, joint_ticket, login):
    login(people.coordinator)
    response = client.post(
        f"/tickets/{joint_ticket.id}/act", data={"action": "categories", "categories": ["POTHOLE", "NOISE"]}
    )
    assert response.status_code == 302
    assert [c.code for c in joint_ticket.categories] == ["POTHOLE", "NOISE"]
    correction = db.session.scalar(select(TrainingExample).where(TrainingExample.source == "correction"))
    assert correction.categories == ["POTHOLE", "NOISE"]
    assert joint_ticket.lead_department.code == "ENV"  # departments are changed separately
    bad = client.post(f"/tickets/{joint_ticket.id}/act", data={"action": "categories", "categories": ["NOPE"]})
    assert bad.status_code == 422
    client.post("/logout")
    login(people.env)
    assert (
        client.post(
            f"/tickets/{joint_ticket.id}/act", data={"action": "categories", "categories": ["NOISE"]}
        ).status_code
        == 403
    )


def test_a_change_of_departments_applies_to_the_next_decision_without_a_refit(app, db, people, catalog, monkeypatch):
    """Lead and co-handlers are read from the catalog on every decision, even by a process whose router is cached."""
    from participation.catalog.models import Department
    from participation.catalog.services import set_category_departments

    monkeypatch.setitem(app.config, "ROUTING_REFRESH_SECONDS", 3600)
    engine.forget()
    engine.current_router()
    stamp = engine._stamp(engine.catalog_document())
    text = "工地半夜施工噪音很大"
    before = services.suggest(None, text, "EAST-HILL")
    assert (before["lead"], before["co"]) == ("ENV", ["OFFICE-EAST-HILL", "URBAN"])
    with transaction():
        set_category_departments(people.coordinator, "NOISE", "URBAN", ["TRANSPORT"], source="test")
    assert engine._stamp(engine.catalog_document()) == stamp  # no refit: the text model ignores departments
    after = services.suggest(None, text, "EAST-HILL")
    assert (after["lead"], after["co"]) == ("URBAN", ["OFFICE-EAST-HILL", "TRANSPORT"])
    with transaction():
        db.session.scalar(select(Department).where(Department.code == "TRANSPORT")).active = False
    assert services.suggest(None, text, "EAST-HILL")["co"] == ["OFFICE-EAST-HILL"]  # inactive: left out
    engine.forget()


def test_settled_tickets_export_as_cases_a_city_can_evaluate_on(app, db, people, submit, tmp_path):
    """A city's own settled tickets, older ones to train on and newer ones to evaluate, in evaluate's format:
    each ticket in one period only (by when it was submitted), with its categories as they stand."""
    import json
    from datetime import timedelta

    from participation.core.models import utcnow
    from participation.routing.models import Ticket
    from tests.routing.conftest import resolve_joint

    old = submit("这条路上的坑越来越多，电动车经常摔")
    with transaction():
        services.dispatch(people.coordinator, old.id, ["POTHOLE"], "TRANSPORT", [])
    with transaction():
        db.session.execute(
            Ticket.__table__.update().where(Ticket.id == old.id).values(created_at=utcnow() - timedelta(days=40))
        )
    with transaction():  # corrected after the cut: still the old period's, with the corrected categories
        services.recategorise(people.coordinator, old.id, ["POTHOLE", "NOISE"])
    new = submit()
    with transaction():
        services.dispatch(people.coordinator, new.id, ["NOISE"], "ENV", ["URBAN"])
    db.session.execute(TrainingExample.__table__.delete().where(TrainingExample.ticket_id == new.id))
    db.session.commit()
    unsettled = submit("路灯不亮了")  # waiting in triage: not a settled decision
    resolve_joint(new, people)  # resolved without a dispatcher's confirmation: settled where it went
    runner = app.test_cli_runner()
    cut = (utcnow() - timedelta(days=10)).strftime("%Y-%m-%d")
    past, recent = tmp_path / "past.json", tmp_path / "recent.json"
    for path, bound in ((past, "--until"), (recent, "--since")):
        result = runner.invoke(args=["routing", "export-cases", str(path), bound, cut])
        assert result.exit_code == 0, result.output
    (p,) = json.loads(past.read_text(encoding="utf-8"))
    (r,) = json.loads(recent.read_text(encoding="utf-8"))
    assert p == {
        "id": f"ticket-{old.id}",
        "text": "这条路上的坑越来越多，电动车经常摔",
        "categories": ["POTHOLE", "NOISE"],
        "district": "EAST-HILL",
        "enterprise": False,
        "lead": "TRANSPORT",
        "co": [],
    }
    assert r["id"] == f"ticket-{new.id}" and r["categories"] == ["NOISE"] and r["co"] == ["URBAN"]
    assert f"ticket-{unsettled.id}" not in past.read_text() + recent.read_text()
    evaluated = runner.invoke(args=["routing", "evaluate", str(recent), "--train", str(past)])
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.output)["cases"] == 1
    bad = runner.invoke(args=["routing", "export-cases", str(recent), "--since", "yesterday"])
    assert bad.exit_code != 0 and "yesterday" in bad.output
