"""JSON API for notifications: the reader's list, and marking them read."""

from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from participation.core.api import bp
from participation.core.uow import transaction
from participation.core.validation import small_int
from participation.notifications import services


@bp.get("/notifications")
def list_notifications():
    """Newest first; `unread=1` for unread only, `before=<id>` and `limit` to page."""
    items = services.list_for(
        current_user,
        unread_only=request.args.get("unread") in ("1", "true"),
        limit=small_int(request.args.get("limit")) or 50,
        before=small_int(request.args.get("before")),
    )
    return jsonify(
        {"notifications": [services.as_dict(n) for n in items], "unread": services.unread_count(current_user)}
    )


@bp.post("/notifications/<int:notification_id>/read")
def read_notification(notification_id: int):
    with transaction():
        notification = services.mark_read(current_user, notification_id)
    return jsonify({**services.as_dict(notification), "unread": services.unread_count(current_user)})


@bp.post("/notifications/read-all")
def read_all_notifications():
    with transaction():
        marked = services.mark_all_read(current_user)
    return jsonify({"marked": marked, "unread": services.unread_count(current_user)})
