"""Catalog import: all or nothing, idempotent, every error named with its place; export round trip."""

from __future__ import annotations

import copy
import json

import pytest
from sqlalchemy import func, select

from participation.catalog import services
from participation.catalog.models import Category, Department, District
from participation.cli import DEMO_CATALOG
from participation.core.errors import PermissionDenied, ValidationFailed
from participation.core.permissions import SYSTEM
from tests.conftest import SMALL_CATALOG


def counts(db):
    return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (Department, District, Category))


def test_import_creates_everything(db):
    report = services.import_catalog(SYSTEM, SMALL_CATALOG)
    db.session.commit()
    assert report["departments"]["created"] == 6
    assert report["categories"]["created"] == 3
    noise = db.session.scalar(select(Category).where(Category.code == "NOISE"))
    assert noise.lead.code == "ENV" and [d.code for d in noise.co] == ["URBAN"]
    assert noise.district_co and noise.respond_hours == 24 and noise.resolve_days == 7
    hill = db.session.scalar(select(District).where(District.code == "EAST-HILL"))
    assert hill.parent.code == "EAST" and hill.office.code == "OFFICE-EAST-HILL"


def test_import_twice_changes_nothing(db):
    services.import_catalog(SYSTEM, SMALL_CATALOG)
    db.session.commit()
    stamps = {c.code: c.updated_at for c in db.session.scalars(select(Category))}
    report = services.import_catalog(SYSTEM, SMALL_CATALOG)
    db.session.commit()
    assert all(r["created"] == 0 and r["updated"] == 0 for r in report.values())
    assert {c.code: c.updated_at for c in db.session.scalars(select(Category))} == stamps


def test_changed_file_updates_by_code(db):
    services.import_catalog(SYSTEM, SMALL_CATALOG)
    changed = copy.deepcopy(SMALL_CATALOG)
    changed["categories"][0]["lead"] = "URBAN"
    changed["categories"][0]["co"] = ["ENV", "TRANSPORT"]
    changed["districts"][1]["parent"] = None
    report = services.import_catalog(SYSTEM, changed)
    db.session.commit()
    assert report["categories"] == {"created": 0, "updated": 1, "unchanged": 2}
    assert report["districts"]["updated"] == 1
    noise = db.session.scalar(select(Category).where(Category.code == "NOISE"))
    assert noise.lead.code == "URBAN" and [d.code for d in noise.co] == ["ENV", "TRANSPORT"]
    assert db.session.scalar(select(District).where(District.code == "EAST-HILL")).parent is None


def test_broken_file_rejected_whole_with_every_error_placed(db):
    broken = copy.deepcopy(SMALL_CATALOG)
    broken["departments"].append({"code": "ENV", "name": {"zh": "重复", "en": "Duplicate"}})
    broken["districts"][1]["parent"] = "NOWHERE"
    broken["categories"][0]["lead"] = "NO-SUCH-DEPT"
    broken["categories"][1]["sla"]["respond_hours"] = "twelve"
    del broken["categories"][2]["name"]
    broken["categories"][2]["co"] = ["GHOST"]
    with pytest.raises(ValidationFailed) as caught:
        services.import_catalog(SYSTEM, broken)
    fields = caught.value.fields
    # Structural errors come first; the file is rejected before any cross-reference is written.
    assert "categories[1].sla.respond_hours" in fields
    assert "categories[2].name" in fields
    db.session.rollback()
    assert counts(db) == (0, 0, 0)


def test_reference_errors_all_reported(db):
    broken = copy.deepcopy(SMALL_CATALOG)
    broken["departments"].append({"code": "ENV", "name": {"zh": "重复", "en": "Duplicate"}})
    broken["districts"][1]["parent"] = "NOWHERE"
    broken["categories"][0]["lead"] = "NO-SUCH-DEPT"
    broken["categories"][2]["co"] = ["GHOST", "DRC"]
    with pytest.raises(ValidationFailed) as caught:
        services.import_catalog(SYSTEM, broken)
    fields = caught.value.fields
    assert set(fields) == {
        "departments[6].code",
        "districts[1].parent",
        "categories[0].lead",
        "categories[2].co[0]",
        "categories[2].co[1]",
    }
    assert "NO-SUCH-DEPT" in fields["categories[0].lead"][0]
    db.session.rollback()
    assert counts(db) == (0, 0, 0)


def test_district_cycle_rejected(db):
    doc = {
        "departments": [],
        "districts": [
            {"code": "A", "name": {"zh": "甲", "en": "A"}, "parent": "B"},
            {"code": "B", "name": {"zh": "乙", "en": "B"}, "parent": "A"},
        ],
    }
    with pytest.raises(ValidationFailed) as caught:
        services.import_catalog(SYSTEM, doc)
    assert "districts[0].parent" in caught.value.fields


@pytest.mark.parametrize(
    "doc, place",
    [
        ([], "_"),
        ({"departments": [{"code": "X"}]}, "departments[0].name"),
        ({"departments": [{"code": "bad code!", "name": {"zh": "a", "en": "b"}}]}, "departments[0].code"),
        ({"departments": [{"code": "X", "name": {"zh": "", "en": "b"}}]}, "departments[0].name.zh"),
        ({"unknown": []}, "unknown"),
        (
            {
                "categories": [
                    {
                        "code": "C",
                        "name": {"zh": "a", "en": "b"},
                        "lead": "X",
                        "sla": {"respond_hours": 0, "resolve_days": 1},
                    }
                ]
            },
            "categories[0].sla.respond_hours",
        ),
        (
            {
                "categories": [
                    {
                        "code": "C",
                        "name": {"zh": "a", "en": "b"},
                        "lead": "X",
                        "sla": {"respond_hours": 1, "resolve_days": 1},
                        "district_co": "yes",
                    }
                ]
            },
            "categories[0].district_co",
        ),
    ],
)
def test_bad_shapes_named(db, doc, place):
    with pytest.raises(ValidationFailed) as caught:
        services.import_catalog(SYSTEM, doc)
    assert place in caught.value.fields


def test_only_admin_may_import(db, make_user):
    with pytest.raises(PermissionDenied):
        services.import_catalog(make_user("coordinator"), SMALL_CATALOG)


def test_demo_catalog_is_rich_and_round_trips(db):
    data = json.loads(DEMO_CATALOG.read_text(encoding="utf-8"))
    services.import_catalog(SYSTEM, data)
    db.session.commit()
    departments, districts, categories = counts(db)
    assert departments >= 15 and categories >= 30
    assert db.session.scalar(select(func.count()).select_from(District).where(District.parent_id.is_not(None))) > 0
    exported = services.export_catalog()
    again = services.import_catalog(SYSTEM, exported)
    assert all(r["created"] == 0 and r["updated"] == 0 for r in again.values())
    assert {c["code"] for c in exported["categories"]} == {c["code"] for c in data["categories"]}


def test_yaml_and_syntax_errors(db, tmp_path):
    import yaml

    path = tmp_path / "city.yaml"
    path.write_text(yaml.safe_dump(SMALL_CATALOG, allow_unicode=True), encoding="utf-8")
    report = services.import_file(SYSTEM, path)
    assert report["categories"]["created"] == 3
    bad = tmp_path / "bad.json"
    bad.write_text('{"departments": [,]}', encoding="utf-8")
    with pytest.raises(ValidationFailed) as caught:
        services.import_file(SYSTEM, bad)
    assert any(k.startswith("line 1, column") for k in caught.value.fields)


def test_cli_import_and_export(runner, tmp_path):
    source = tmp_path / "catalog.json"
    source.write_text(json.dumps(SMALL_CATALOG, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(args=["catalog", "import", str(source)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["categories"]["created"] == 3
    result = runner.invoke(args=["catalog", "import", str(source)])
    assert json.loads(result.output)["categories"] == {"created": 0, "updated": 0, "unchanged": 3}
    out = tmp_path / "out.json"
    assert runner.invoke(args=["catalog", "export", "--out", str(out)]).exit_code == 0
    exported = json.loads(out.read_text(encoding="utf-8"))
    assert exported["categories"][0]["code"] == "BIZ-ENV"
    broken = copy.deepcopy(SMALL_CATALOG)
    broken["categories"][0]["lead"] = "NOPE"
    source.write_text(json.dumps(broken), encoding="utf-8")
    result = runner.invoke(args=["catalog", "import", str(source)])
    assert result.exit_code == 1
    assert "categories[0].lead" in result.output


def test_admin_pages_edit_a_category(client, catalog, make_user, login):
    login(make_user("admin"))
    assert client.get("/admin/catalog/").status_code == 200
    page = client.get("/admin/catalog/categories/NOISE")
    assert "施工噪音" in page.get_data(as_text=True)
    response = client.post(
        "/admin/catalog/categories/NOISE",
        data={
            "name_zh": "夜间施工噪音",
            "name_en": "Night construction noise",
            "lead": "ENV",
            "co": ["URBAN", "TRANSPORT"],
            "keywords": "噪音, noise",
            "examples": "a\nb",
            "respond_hours": "6",
            "resolve_days": "3",
            "active": "on",
        },
    )
    assert response.status_code == 302
    from participation.extensions import db

    noise = db.session.scalar(select(Category).where(Category.code == "NOISE"))
    db.session.refresh(noise)
    assert (
        noise.name_zh == "夜间施工噪音"
        and noise.respond_hours == 6
        and [d.code for d in noise.co] == ["TRANSPORT", "URBAN"]
    )
    bad = client.post(
        "/admin/catalog/categories/NOISE",
        data={"name_zh": "x", "name_en": "y", "lead": "ENV", "respond_hours": "-1", "resolve_days": "3"},
    )
    assert bad.status_code == 422
    assert 'data-field="sla.respond_hours"' in bad.get_data(as_text=True)


def test_admin_import_page_reports_errors(client, catalog, make_user, login):
    import io

    login(make_user("admin"))
    broken = json.dumps(
        {
            "categories": [
                {
                    "code": "Z",
                    "name": {"zh": "z", "en": "z"},
                    "lead": "NOPE",
                    "sla": {"respond_hours": 1, "resolve_days": 1},
                }
            ]
        }
    )
    response = client.post(
        "/admin/catalog/import",
        data={"file": (io.BytesIO(broken.encode()), "c.json")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "categories[0].lead" in response.get_data(as_text=True)


def test_catalog_pages_need_admin(client, catalog, make_user, login):
    assert client.get("/admin/catalog/").status_code == 302  # to log-in
    login(make_user("citizen"))
    assert client.get("/admin/catalog/").status_code == 403
