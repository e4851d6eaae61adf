"""Live routing updates: department inboxes, ticket workspaces, the coordination queues."""

from __future__ import annotations

from flask_login import current_user
from flask_socketio import Namespace, emit

from participation.catalog.models import Department
from participation.core.errors import DomainError, NotFound
from participation.core.permissions import authorize
from participation.core.sockets import join
from participation.core.validation import record_id
from participation.extensions import db
from participation.routing import services
from participation.routing.rooms import department_room, queue_room, ticket_room


class RoutingNamespace(Namespace):
    def on_connect(self, auth=None):
        """Only logged-in people; what they may watch is checked per room, as over HTTP."""
        return bool(current_user and current_user.is_authenticated)

    def _join(self, check, room: str):
        try:
            check()
        except DomainError as error:
            emit("error", {"code": error.code, "message": error.message})
            return {"ok": False}
        join(room)
        return {"ok": True}

    def on_watch_inbox(self, data=None):
        department_id = (data or {}).get("department_id") if isinstance(data, dict) else None

        def check():
            department = db.session.get(Department, department_id) if record_id(department_id) else None
            if department is None:
                raise NotFound()
            authorize(current_user, "routing.inbox", department)

        return self._join(check, department_room(department_id))

    def on_watch_ticket(self, data=None):
        ticket_id = (data or {}).get("ticket_id") if isinstance(data, dict) else None

        def check():
            if record_id(ticket_id) is None:
                raise NotFound()
            authorize(current_user, "routing.ticket.view", services.get_ticket(ticket_id, current_user))

        return self._join(check, ticket_room(ticket_id))

    def on_watch_queue(self, _data=None):
        return self._join(lambda: authorize(current_user, "routing.triage.view"), queue_room())
