"""Live status of submissions: a person follows their own, their organisation's, or one tracking code."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_login import current_user
from flask_socketio import Namespace, emit

from participation.core.errors import DomainError
from participation.core.sockets import join, organisation_room, tracking_room, user_room
from participation.intake import services


class IntakeNamespace(Namespace):
    def on_connect(self, auth=None):
        """Anyone may connect; what they may follow is checked per room."""
        return True

    def on_follow_mine(self, _data=None):
        if not current_user.is_authenticated:
            emit("error", {"code": "not_authenticated", "message": _("Please log in first.")})
            return {"ok": False}
        join(user_room(current_user.id))
        if current_user.organisation_id:
            join(organisation_room(current_user.organisation_id))
        return {"ok": True}

    def on_follow_code(self, data=None):
        code = data.get("code") if isinstance(data, dict) else None
        if not isinstance(code, str):
            emit("error", {"code": "invalid", "message": _("Give a tracking code.")})
            return {"ok": False}
        try:
            submission = services.get_by_code(code)
        except DomainError as error:
            emit("error", {"code": error.code, "message": error.message})
            return {"ok": False}
        join(tracking_room(submission.tracking_code))
        return {"ok": True, "status": submission.ticket.status.value}
