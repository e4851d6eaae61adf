"""Live notifications: each logged-in person hears about their own, in their own room."""

from __future__ import annotations

from flask_login import current_user
from flask_socketio import Namespace

from participation.core.sockets import join, user_room
from participation.notifications import services


class NotificationsNamespace(Namespace):
    def on_connect(self, auth=None):
        """Only logged-in people, each joined to their own room at once."""
        if not (current_user and current_user.is_authenticated):
            return False
        join(user_room(current_user.id))
        return True

    def on_unread(self, _data=None):
        """The current unread count (a page asks after reconnecting)."""
        return {"unread": services.unread_count(current_user, services.BADGE_CAP)}
