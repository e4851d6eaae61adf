"""Catalog operations: import (all or nothing, idempotent), export, and admin edits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from flask_babel import gettext as _
from pydantic import ValidationError
from sqlalchemy import select

from participation.catalog.models import Category, Department, District
from participation.catalog.schemas import CatalogFile, CategoryIn, DepartmentIn, DistrictIn
from participation.core.audit import audit
from participation.core.errors import NotFound, ValidationFailed
from participation.core.permissions import authorize
from participation.core.validation import errors_to_fields
from participation.extensions import db


def parse_catalog_text(text: str, filename: str = "") -> Any:
    """Parse JSON or YAML; a syntax error is reported with its line and column."""
    if filename.endswith((".yaml", ".yml")):
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
            raise ValidationFailed(
                _("The file is not valid YAML."), fields={where: [str(error).splitlines()[0]]}
            ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        if filename.endswith(".json"):
            raise ValidationFailed(
                _("The file is not valid JSON."), fields={f"line {error.lineno}, column {error.colno}": [error.msg]}
            ) from None
        return parse_catalog_text(text, filename + ".yaml")


def _duplicates(items: list, section: str, errors: dict[str, list[str]]) -> None:
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.code in seen:
            errors.setdefault(f"{section}[{index}].code", []).append(
                _(
                    "Duplicate code %(code)s (first at %(section)s[%(first)s]).",
                    code=item.code,
                    section=section,
                    first=seen[item.code],
                )
            )
        else:
            seen[item.code] = index


def _check(doc: CatalogFile) -> dict[str, list[str]]:
    """Every cross-reference and uniqueness problem, by its place in the file."""
    errors: dict[str, list[str]] = {}
    _duplicates(doc.departments, "departments", errors)
    _duplicates(doc.districts, "districts", errors)
    _duplicates(doc.categories, "categories", errors)

    departments = {d.code for d in doc.departments} | set(db.session.scalars(select(Department.code)))
    districts = {d.code for d in doc.districts} | set(db.session.scalars(select(District.code)))

    def need_department(code: str | None, place: str) -> None:
        if code is not None and code not in departments:
            errors.setdefault(place, []).append(_("Unknown department code %(code)s.", code=code))

    parents = {row.code: row.parent.code for row in db.session.scalars(select(District)) if row.parent}
    for index, district in enumerate(doc.districts):
        need_department(district.office, f"districts[{index}].office")
        if district.parent is not None:
            if district.parent not in districts:
                errors.setdefault(f"districts[{index}].parent", []).append(
                    _("Unknown district code %(code)s.", code=district.parent)
                )
            parents[district.code] = district.parent
        else:
            parents.pop(district.code, None)
    for index, district in enumerate(doc.districts):
        seen, node = {district.code}, parents.get(district.code)
        while node is not None:
            if node in seen:
                errors.setdefault(f"districts[{index}].parent", []).append(_("The district tree has a cycle here."))
                break
            seen.add(node)
            node = parents.get(node)

    for index, category in enumerate(doc.categories):
        need_department(category.lead, f"categories[{index}].lead")
        for j, co in enumerate(category.co):
            need_department(co, f"categories[{index}].co[{j}]")
            if co == category.lead:
                errors.setdefault(f"categories[{index}].co[{j}]", []).append(
                    _("The lead department cannot also co-handle.")
                )
    return errors


def _assign(obj: Any, values: dict[str, Any]) -> bool:
    """Set only the attributes that differ; report whether anything changed."""
    changed = False
    for key, value in values.items():
        current = getattr(obj, key)
        if key == "co":  # a set of departments: the database's order is its collation's, not ours
            if {d.id for d in current} != {d.id for d in value}:
                setattr(obj, key, value)
                changed = True
            continue
        if current != value:
            setattr(obj, key, value)
            changed = True
    return changed


def _upsert(model: type, code: str, values: dict[str, Any]) -> tuple[Any, str]:
    """Create or update the entry with this code; say which happened."""
    obj = db.session.scalar(select(model).where(model.code == code))
    if obj is None:
        obj = model(code=code, **values)
        db.session.add(obj)
        return obj, "created"
    return obj, "updated" if _assign(obj, values) else "unchanged"


def import_catalog(actor: Any, data: Any, source: str = "") -> dict[str, dict[str, int]]:
    """Create or update entries by code from a catalog document; any error rejects all of it."""
    authorize(actor, "catalog.manage")
    try:
        doc = CatalogFile.model_validate(data)
    except ValidationError as error:
        raise ValidationFailed(
            _("The catalog has errors; nothing was imported."), fields=errors_to_fields(error)
        ) from None
    errors = _check(doc)
    if errors:
        raise ValidationFailed(_("The catalog has errors; nothing was imported."), fields=errors)

    report = {name: {"created": 0, "updated": 0, "unchanged": 0} for name in ("departments", "districts", "categories")}
    for d in doc.departments:
        _obj, state = _upsert(Department, d.code, {"name_zh": d.name.zh, "name_en": d.name.en, "active": d.active})
        report["departments"][state] += 1
    db.session.flush()
    dept = {row.code: row for row in db.session.scalars(select(Department))}

    states = {}
    for d in doc.districts:
        office = dept.get(d.office) if d.office else None
        _obj, states[d.code] = _upsert(District, d.code, {"name_zh": d.name.zh, "name_en": d.name.en, "office": office})
    db.session.flush()
    dist = {row.code: row for row in db.session.scalars(select(District))}
    for d in doc.districts:
        if _assign(dist[d.code], {"parent": dist[d.parent] if d.parent else None}) and states[d.code] == "unchanged":
            states[d.code] = "updated"
        report["districts"][states[d.code]] += 1
    for c in doc.categories:
        _obj, state = _upsert(
            Category,
            c.code,
            {
                "name_zh": c.name.zh,
                "name_en": c.name.en,
                "description_zh": c.description.zh,
                "description_en": c.description.en,
                "lead": dept[c.lead],
                "co": [dept[code] for code in sorted(set(c.co))],
                "keywords": list(c.keywords),
                "examples": list(c.examples),
                "respond_hours": c.sla.respond_hours,
                "resolve_days": c.sla.resolve_days,
                "district_co": c.district_co,
                "enterprise_only": c.enterprise_only,
                "active": c.active,
            },
        )
        report["categories"][state] += 1
    db.session.flush()
    audit(actor, "catalog.imported", None, source=source, report=report)
    return report


def _district_out(d: District) -> dict:
    out: dict[str, Any] = {"code": d.code, "name": {"zh": d.name_zh, "en": d.name_en}}
    if d.parent is not None:
        out["parent"] = d.parent.code
    if d.office is not None:
        out["office"] = d.office.code
    return out


def category_out(c: Category) -> dict:
    return {
        "code": c.code,
        "name": {"zh": c.name_zh, "en": c.name_en},
        "description": {"zh": c.description_zh, "en": c.description_en},
        "lead": c.lead.code,
        "co": [d.code for d in c.co],
        "keywords": list(c.keywords),
        "examples": list(c.examples),
        "sla": {"respond_hours": c.respond_hours, "resolve_days": c.resolve_days},
        "district_co": c.district_co,
        "enterprise_only": c.enterprise_only,
        "active": c.active,
    }


def department_out(d: Department) -> dict:
    return {"code": d.code, "name": {"zh": d.name_zh, "en": d.name_en}, "active": d.active}


def export_catalog() -> dict:
    """The whole catalog in the import format, sorted by code (districts parents first)."""
    districts = list(db.session.scalars(select(District).order_by(District.code)))
    districts.sort(key=lambda d: (d.depth, d.code))
    return {
        "departments": [department_out(d) for d in db.session.scalars(select(Department).order_by(Department.code))],
        "districts": [_district_out(d) for d in districts],
        "categories": [category_out(c) for c in db.session.scalars(select(Category).order_by(Category.code))],
    }


def import_file(actor: Any, path: Path) -> dict[str, dict[str, int]]:
    """Import a catalog file from disk (JSON or YAML)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValidationFailed(_("The file cannot be read."), fields={str(path): [str(error)]}) from None
    return import_catalog(actor, parse_catalog_text(text, path.name), source=path.name)


_SECTIONS = {"departments": DepartmentIn, "districts": DistrictIn, "categories": CategoryIn}


def save_entry(actor: Any, section: str, entry: dict) -> dict[str, dict[str, int]]:
    """Create or edit one entry from an admin form, with exactly the import's rules."""
    if section not in _SECTIONS:
        raise NotFound()
    try:
        return import_catalog(actor, {section: [entry]}, source="admin")
    except ValidationFailed as error:
        prefix = f"{section}[0]."
        raise ValidationFailed(
            error.message, fields={k.removeprefix(prefix): v for k, v in error.fields.items()}
        ) from None


def set_category_departments(
    actor: Any, code: str, lead: str | None = None, co: list[str] | None = None, *, source: str = ""
) -> dict[str, Any]:
    """Change who handles a category: its lead department, its co-handling departments, or both.

    None keeps that side as it is. Returns the category's code and its departments before and after.
    The router reads this rule on every decision, so the next item of the category follows it.
    """
    authorize(actor, "catalog.category.departments")
    category = by_code(Category, code) if isinstance(code, str) else None
    if category is None:
        raise ValidationFailed(fields={"category": [_("Unknown category %(code)s.", code=code)]})
    errors: dict[str, list[str]] = {}
    if lead is None and co is None:
        errors["lead"] = [_("Choose a lead department or the co-handling departments.")]
    if lead is not None and not isinstance(lead, str):
        errors["lead"] = [_("Wrong type of value.")]
    if co is not None and (not isinstance(co, list) or not all(isinstance(c, str) for c in co)):
        errors["co"] = [_("Give a list of codes.")]
    if errors:
        raise ValidationFailed(fields=errors)
    wanted = ([lead] if lead is not None else []) + list(co or [])
    found = {d.code: d for d in db.session.scalars(select(Department).where(Department.code.in_(wanted)))}

    def department(value: str, field: str) -> Department | None:
        found_one = found.get(value)
        if found_one is None:
            errors.setdefault(field, []).append(_("Unknown department code %(code)s.", code=value))
        elif not found_one.active:
            errors.setdefault(field, []).append(_("Department %(code)s is not active.", code=value))
        return found_one

    new_lead = department(lead, "lead") if lead is not None else category.lead
    new_co = [department(c, "co") for c in dict.fromkeys(co)] if co is not None else list(category.co)
    if errors:
        raise ValidationFailed(fields=errors)
    if any(d.id == new_lead.id for d in new_co):
        raise ValidationFailed(
            fields={"co" if co is not None else "lead": [_("The lead department cannot also co-handle.")]}
        )
    before = {"lead": category.lead.code, "co": sorted(d.code for d in category.co)}
    after = {"lead": new_lead.code, "co": sorted(d.code for d in new_co)}
    if before == after:
        raise ValidationFailed(fields={"lead": [_("The category already has these departments.")]})
    category.lead = new_lead
    category.co = sorted(new_co, key=lambda d: d.code)
    db.session.flush()
    audit(actor, "catalog.category_departments_changed", category, code=category.code, before=before, after=after,
          source=source)  # fmt: skip
    return {"category": category.code, "before": before, "after": after}


def departments() -> list[Department]:
    return list(db.session.scalars(select(Department).where(Department.active).order_by(Department.code)))


def categories(enterprise: bool = True) -> list[Category]:
    stmt = select(Category).where(Category.active).order_by(Category.code)
    if not enterprise:
        stmt = stmt.where(Category.enterprise_only.is_(False))
    return list(db.session.scalars(stmt))


def district_tree() -> list[District]:
    """Districts in tree order (each followed by its sub-districts)."""
    out: list[District] = []

    def walk(nodes: list[District]) -> None:
        for node in nodes:
            out.append(node)
            walk(node.children)

    walk(list(db.session.scalars(select(District).where(District.parent_id.is_(None)).order_by(District.code))))
    return out


def by_code(model: type, code: str | None) -> Any:
    return db.session.scalar(select(model).where(model.code == code)) if code else None
