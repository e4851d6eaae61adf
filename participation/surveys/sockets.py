"""Live survey analysis: analysts watch a survey's room and hear "survey.updated" after each response."""

from __future__ import annotations

from flask_login import current_user
from flask_socketio import Namespace, emit

from participation.core.errors import DomainError, NotFound
from participation.core.permissions import authorize
from participation.core.sockets import join
from participation.surveys.services import get_survey, survey_room


class SurveysNamespace(Namespace):
    def on_connect(self, auth=None):
        """Only logged-in people; which survey they may watch is checked per room, as over HTTP."""
        return bool(current_user and current_user.is_authenticated)

    def on_watch_survey(self, data=None):
        """Join a survey's room: {"code"}; answers {"ok": bool} and emits `error` when refused."""
        code = data.get("code") if isinstance(data, dict) else None
        try:
            if not isinstance(code, str) or not code:
                raise NotFound()
            survey = get_survey(code)
            authorize(current_user, "surveys.analyse", survey)
        except DomainError as error:
            emit("error", {"code": error.code, "message": error.message})
            return {"ok": False}
        join(survey_room(survey.id))
        return {"ok": True}
