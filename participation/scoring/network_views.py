"""Network diagnostics page (/scorecards/network) and GET /api/v1/scorecards/network."""

from __future__ import annotations

import json

from flask import Blueprint, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from participation.core.api import bp as api_bp
from participation.core.errors import ValidationFailed
from participation.core.i18n import current_language
from participation.core.permissions import authorize
from participation.scoring import network as diagnostics
from participation.scoring.services import ROLLING

bp = Blueprint("scoring_network", __name__)


@api_bp.get("/scorecards/network")
def network_api():
    """`?period=YYYY-MM` or `R30` (default): the co-handling graph and the ping-pong pairs."""
    return jsonify(diagnostics.network(current_user, request.args.get("period", ROLLING)))


def graph_data(result: dict, lang: str) -> dict:
    """What network.js draws: nodes on a circle, edges as wide as their joint tickets, coloured by on-time rate."""
    return {
        "nodes": [
            {"id": n["department"], "label": (n["name_en"] if lang == "en" else n["name_zh"]) or n["department"],
             "joint": n["joint_tickets"]}
            for n in result["nodes"]
        ],
        "edges": [
            {"a": e["a"], "b": e["b"], "joint": e["joint_tickets"], "onTime": e["on_time_rate"],
             "satisfaction": e["satisfaction_rate"]}
            for e in result["edges"]
        ],
        "labels": {
            "joint": _("Joint tickets"),
            "onTime": _("On-time rate"),
            "satisfaction": _("Satisfaction rate"),
            "none": _("No data"),
            "empty": _("No joint tickets in this period."),
        },
    }  # fmt: skip


@bp.get("/scorecards/network")
@login_required
def page():
    """The co-handling graph and table of pairs, and the ping-pong pairs, for a period."""
    authorize(current_user, "scoring.view")
    period = request.args.get("period", ROLLING)
    lang = current_language()
    errors: dict = {}
    try:
        result = diagnostics.network(current_user, period)
    except ValidationFailed as error:
        result, errors = None, error.fields or {"period": [error.message]}
    names = {}
    if result:
        names = {n["department"]: (n["name_en"] if lang == "en" else n["name_zh"]) or n["department"]
                 for n in result["nodes"]}  # fmt: skip
        for pair in result["ping_pong"]:
            for side in ("from", "to"):
                label = pair[f"{side}_name"]
                names.setdefault(pair[side], (label["en"] if lang == "en" else label["zh"]) or pair[side])
    context = {
        "period": period,
        "result": result,
        "errors": errors,
        "names": names,
        "graph": json.dumps(graph_data(result, lang), ensure_ascii=False) if result else None,
    }
    return render_template("scoring/network.html", **context), (422 if errors else 200)
