"""JSON API for scorecards: the ranking of a period with every component and penalty term."""

from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from participation.core.api import bp
from participation.core.permissions import can
from participation.scoring import services


@bp.get("/scorecards")
def scorecards():
    """`?period=YYYY-MM` or `R30` (default: the rolling 30 days). Department admins see other departments in summary."""
    period = request.args.get("period", services.ROLLING)
    cards = services.scorecards(current_user, period)
    return jsonify(
        {
            "period": period,
            "scorecards": [services.card_json(c, full=can(current_user, "scoring.view_full", c)) for c in cards],
        }
    )
