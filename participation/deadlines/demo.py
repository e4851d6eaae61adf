"""Demo calendar and SLA policies: the default calendar, city-wide policies and one category's own."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from participation.catalog.models import Category
from participation.deadlines import setup
from participation.deadlines.models import SlaPolicy
from participation.extensions import db

# (category code or None for the whole city, priority, targets in working hours). No city-wide normal
# row: normal tickets take the catalog's respond_hours and resolve_days of their category.
DEMO_POLICIES: list[tuple[str | None, str, dict[str, float]]] = [
    (None, "urgent", {"sign_for": 0.5, "first_contact": 2, "resolve": 24, "contribution": 12}),
    ("TRAFFIC-SIGNAL", "normal", {"sign_for": 1, "first_contact": 2, "resolve": 15, "contribution": 7.5}),
]


def load_demo_setup(actor: Any) -> None:
    """Create the default calendar and the demo policies that do not exist yet (an admin's edits stay)."""
    setup.ensure_default_calendar(actor)
    for code, priority, targets in DEMO_POLICIES:
        category = db.session.scalar(select(Category).where(Category.code == code)) if code else None
        if code and category is None:
            continue
        stmt = select(SlaPolicy.id).where(SlaPolicy.priority == priority)
        stmt = stmt.where(SlaPolicy.category_id == category.id if category else SlaPolicy.category_id.is_(None))
        if db.session.scalar(stmt) is None:
            setup.save_policy(actor, code, priority, targets)
