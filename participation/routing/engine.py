"""The router in use: built from the catalog and confirmed tickets, stored, shared by every process."""

from __future__ import annotations

import hashlib
import json
import pickle
import threading
import time

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.orm import selectinload

from participation.catalog.models import Category, District
from participation.catalog.services import category_out
from participation.core.uow import after_commit
from participation.extensions import db
from participation.routing.models import RouterModel, TrainingExample
from participation.routing.router import CatalogView, Router

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


def _stamp(doc: dict) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


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
