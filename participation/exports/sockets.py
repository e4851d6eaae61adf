"""Live export progress: a researcher's page watches its jobs' rooms and hears "export.progress"."""

from __future__ import annotations

from flask_login import current_user
from flask_socketio import Namespace, emit

from participation.core.errors import DomainError, NotFound
from participation.core.sockets import join, user_room
from participation.core.validation import record_id
from participation.exports.services import get_job, job_room


class ExportsNamespace(Namespace):
    def on_connect(self, auth=None):
        """Only logged-in people, who hear about their own jobs; other jobs' rooms are checked as over HTTP."""
        if not (current_user and current_user.is_authenticated):
            return False
        join(user_room(current_user.id))
        return True

    def on_watch_job(self, data=None):
        """Join a job's room: {"id"}; answers {"ok": bool} and emits `error` when refused."""
        job_id = data.get("id") if isinstance(data, dict) else None
        try:
            if record_id(job_id) is None:
                raise NotFound()
            job = get_job(current_user, job_id)
        except DomainError as error:
            emit("error", {"code": error.code, "message": error.message})
            return {"ok": False}
        join(job_room(job.id))
        return {"ok": True}
