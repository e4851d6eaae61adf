"""Live forum updates: a proposal's or a thread's page joins its room and hears new comments, votes and support."""

from __future__ import annotations

from flask_login import current_user
from flask_socketio import Namespace, emit

from participation.core.errors import DomainError, NotFound
from participation.core.sockets import join
from participation.forums.discussion import get_thread
from participation.forums.rooms import proposal_room, thread_room
from participation.forums.services import get_proposal


class ForumsNamespace(Namespace):
    def on_connect(self, auth=None):
        """Anyone may connect: the discussions are public; each room is checked as the page is."""
        return True

    def _join(self, data, key: str, load, room):
        value = data.get(key) if isinstance(data, dict) else None
        try:
            if not isinstance(value, int) or isinstance(value, bool):
                raise NotFound()
            load(current_user, value)
        except DomainError as error:
            emit("error", {"code": error.code, "message": error.message})
            return {"ok": False}
        join(room(value))
        return {"ok": True}

    def on_watch_proposal(self, data=None):
        """Join a proposal's room: {"proposal_id"}; refused (with `error`) when the proposal is not visible."""
        return self._join(data, "proposal_id", get_proposal, proposal_room)

    def on_watch_thread(self, data=None):
        """Join a thread's room: {"thread_id"}."""
        return self._join(data, "thread_id", get_thread, thread_room)
