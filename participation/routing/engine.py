"""The router in use: built from the catalog and confirmed tickets, stored, shared by every process.

The fitted text model (which categories a text is about) is cached per process and stored for all of
them; it depends only on the categories' texts. Which departments handle the chosen categories (lead,
co-handlers, district office) is read from the database on every decision (`decide`), so that a change
to a category's departments applies to the very next routing decision in every process, with no refit.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import threading
import time

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.orm import selectinload

from participation.catalog.models import Category, Department, District, category_co
from participation.catalog.services import category_out
from participation.core.uow import after_commit
from participation.extensions import db
from participation.routing.models import RouterModel, TrainingExample
from participation.routing.router import CatalogView, CategoryInfo, Decision, Router, catalog_rule

_lock = threading.Lock()
_cache: dict = {"key": None, "router": None, "checked": 0.0}
KEEP_MODELS = 3


def catalog_document() -> dict:
    """The routing-relevant part of the catalog, in the file format."""
    stmt = (
        select(Category)
        .where(Category.active)
        .order_by(Category.code)
        .options(selectinload(Category.lead), selectinload(Category.co))
    )
    categories = [category_out(c) for c in db.session.scalars(stmt)]
    districts = []
    all_districts = list(
        db.session.scalars(select(District).order_by(District.code).options(selectinload(District.office)))
    )
    for d in all_districts:
        node, office = d, None
        while node is not None and office is None:  # a sub-district without an office uses its district's
            office = node.office.code if node.office else None
            node = node.parent
        districts.append({"code": d.code, "office": office})
    return {"categories": categories, "districts": districts}


# What the fitted model is made of; the departments (lead, co, district_co, offices) are read live.
_MODEL_FIELDS = ("code", "name", "description", "keywords", "examples", "enterprise_only", "active")


def _stamp(doc: dict) -> str:
    """A fingerprint of what the fitted model depends on: a change of departments needs no refit."""
    texts = [{k: c.get(k) for k in _MODEL_FIELDS} for c in doc.get("categories", [])]
    # The model's own make counts too: a router stored by an older version, or with the sentence
    # model switched off, is fitted again.
    make = {"version": Router.version, "semantic": bool(current_app.config["ROUTING_SEMANTIC"])}
    payload = json.dumps({"texts": texts, "model": make}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def _history() -> list[tuple[str, list[str]]]:
    rows = db.session.execute(select(TrainingExample.text, TrainingExample.categories).order_by(TrainingExample.id))
    return [(text, list(categories)) for text, categories in rows]


def _build(doc: dict) -> Router:
    config = current_app.config
    return Router(
        CatalogView.from_document(doc),
        _history(),
        threshold=config["ROUTING_CONFIDENCE_THRESHOLD"],
        secondary_threshold=config["ROUTING_SECONDARY_THRESHOLD"],
        semantic=config["ROUTING_SEMANTIC"],
    )


def retrain() -> RouterModel:
    """Fit a router on the catalog and every confirmed ticket, and store it for all processes."""
    doc = catalog_document()
    router = _build(doc)
    model = RouterModel(examples=len(router.history), catalog_stamp=_stamp(doc), blob=pickle.dumps(router))
    db.session.add(model)
    db.session.flush()
    old = select(RouterModel.id).order_by(RouterModel.id.desc()).offset(KEEP_MODELS)
    db.session.execute(delete(RouterModel).where(RouterModel.id.in_(old.scalar_subquery())))
    return model


def current_router() -> Router:
    """The latest stored router if it matches the catalog; otherwise one fitted here and now."""
    now = time.monotonic()
    ttl = current_app.config["ROUTING_REFRESH_SECONDS"]
    if _cache["router"] is not None and now - _cache["checked"] < ttl:
        return _cache["router"]
    doc = catalog_document()
    stamp = _stamp(doc)
    latest = db.session.execute(
        select(RouterModel.id, RouterModel.catalog_stamp).order_by(RouterModel.id.desc()).limit(1)
    ).first()
    stored_ok = latest is not None and latest.catalog_stamp == stamp
    key = (stamp, latest.id if stored_ok else None)
    with _lock:
        if _cache["key"] != key:
            if stored_ok:
                blob = db.session.scalar(select(RouterModel.blob).where(RouterModel.id == latest.id))
                router = pickle.loads(blob)
            else:
                router = _build(doc)
            router.threshold = current_app.config["ROUTING_CONFIDENCE_THRESHOLD"]
            router.secondary_threshold = current_app.config["ROUTING_SECONDARY_THRESHOLD"]
            _cache.update(key=key, router=router)
        _cache["checked"] = now
        return _cache["router"]


def _district_office(code: str) -> str | None:
    """The office of the district, or of the nearest district above it that has one."""
    node = db.session.scalar(select(District).where(District.code == code))
    seen: set[int] = set()
    while node is not None and node.id not in seen:
        if node.office is not None:
            return node.office.code
        seen.add(node.id)
        node = node.parent
    return None


def departments_now(categories: list[str], district: str | None) -> tuple[str | None, list[str]]:
    """Lead and co-handlers for these categories (primary first) by the catalog as stored right now.

    Never cached: two or three small queries per decision. A category or department no longer active is left
    out; without an active lead the item goes to triage."""
    if not categories:
        return None, []
    # Columns, not entities: this runs on every routing decision.
    rows = {
        row.code: row
        for row in db.session.execute(
            select(
                Category.id,
                Category.code,
                Category.district_co,
                Department.code.label("lead"),
                Department.active.label("lead_active"),
            )
            .join(Department, Department.id == Category.lead_id)
            .where(Category.code.in_(categories), Category.active)
        )
    }
    co_of: dict[int, list[str]] = {row.id: [] for row in rows.values()}
    if co_of:
        for category_id, code in db.session.execute(
            select(category_co.c.category_id, Department.code)
            .join(Department, Department.id == category_co.c.department_id)
            .where(category_co.c.category_id.in_(list(co_of)), Department.active)
            .order_by(Department.code)
        ):
            co_of[category_id].append(code)
    infos = [
        CategoryInfo(
            code=code,
            lead=rows[code].lead,
            co=tuple(co_of[rows[code].id]),
            texts=(),
            district_co=rows[code].district_co,
        )
        for code in dict.fromkeys(categories)
        if code in rows
    ]
    if not infos or not rows[infos[0].code].lead_active:
        return None, []
    office = _district_office(district) if district and any(i.district_co for i in infos) else None
    lead, co = catalog_rule(infos, office)
    if co:
        active = set(db.session.scalars(select(Department.code).where(Department.code.in_(co), Department.active)))
        co = [c for c in co if c in active]
    return lead, co


def decide(router: Router, text: str, district: str | None, category: str | None, enterprise: bool) -> Decision:
    """The router's categories for a text, with the departments the catalog gives them now."""
    decision = router.suggest(text, district, category, enterprise)
    decision.lead, decision.co = departments_now([c for c, _p in decision.categories], district)
    return decision


def forget() -> None:
    """Drop this process's cached router (tests, and after a catalog change)."""
    with _lock:
        _cache.update(key=None, router=None, checked=0.0)


def note_confirmation() -> None:
    """After a dispatcher's confirmation commits: retrain in the background once enough have gathered."""
    from participation.routing.tasks import maybe_retrain

    after_commit(maybe_retrain.delay)


def retrain_due() -> bool:
    latest = db.session.scalar(select(RouterModel.examples).order_by(RouterModel.id.desc()).limit(1)) or 0
    total = db.session.scalar(select(func.count()).select_from(TrainingExample))
    return total - latest >= current_app.config["ROUTING_RETRAIN_AFTER"]
