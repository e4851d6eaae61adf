"""Permission rules for notifications: each person reads and manages only their own."""

from participation.accounts.models import Role
from participation.core.permissions import rule


@rule("notifications.list_own")
def _list_own(actor, _obj):
    return actor is not None


@rule("notifications.read")
def _read(actor, notification):
    """Only the person a notification was written for may read it or mark it read."""
    return actor is not None and notification is not None and notification.user_id == actor.id


@rule("notifications.preferences.edit")
def _preferences(actor, owner):
    return actor is not None and owner is not None and owner.id == actor.id


@rule("notifications.outbox.view")
def _outbox(actor, _obj):
    """Administrators see e-mails that could not be delivered."""
    return actor is not None and actor.has_role(Role.ADMIN)
