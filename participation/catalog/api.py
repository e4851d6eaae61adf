"""JSON API for the catalog: what clients need to build a request form."""

from __future__ import annotations

from flask import jsonify

from participation.catalog import services
from participation.core.api import bp


@bp.get("/catalog")
def catalog():
    """Active categories and the district tree, bilingual."""
    return jsonify(
        {
            "categories": [
                {
                    "code": c.code,
                    "name": {"zh": c.name_zh, "en": c.name_en},
                    "enterprise_only": c.enterprise_only,
                }
                for c in services.categories()
            ],
            "districts": [
                {
                    "code": d.code,
                    "name": {"zh": d.name_zh, "en": d.name_en},
                    "parent": d.parent.code if d.parent else None,
                }
                for d in services.district_tree()
            ],
        }
    )
