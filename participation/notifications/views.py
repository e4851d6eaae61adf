"""Pages: the reader's notifications, their choices, the outbox for administrators; CLI commands."""

from __future__ import annotations

import json

import click
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from participation.core.errors import DomainError
from participation.core.uow import transaction
from participation.core.views import safe_next
from participation.notifications import services
from participation.notifications.kinds import KINDS

bp = Blueprint("notifications", __name__, cli_group="notifications")


@bp.app_context_processor
def _unread_badge():
    return {
        "notification_unread": lambda: services.unread_count(current_user, services.BADGE_CAP),
        "notification_badge_cap": services.BADGE_CAP,
    }


@bp.get("/notifications")
@login_required
def index():
    items = services.list_for(current_user, limit=100)
    # The list fetches itself again when a notification arrives or is read on another page (static/js/app.js).
    page = "notifications/_rows.html" if request.args.get("partial") == "1" else "notifications/index.html"
    return render_template(page, items=items, render=services.as_dict)


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def read(notification_id: int):
    """Mark one read, then go where it points (or back to the list)."""
    with transaction():
        notification = services.mark_read(current_user, notification_id)
    target = notification.link if request.form.get("open") else None
    return redirect(safe_next(target, url_for("notifications.index")))


@bp.post("/notifications/read-all")
@login_required
def read_all():
    with transaction():
        marked = services.mark_all_read(current_user)
    flash(_("Marked %(n)s notifications read.", n=marked), "info")
    return redirect(url_for("notifications.index"))


def _form_choices(form, kinds: list[str]) -> dict:
    return {code: {"in_app": f"{code}.in_app" in form, "email": f"{code}.email" in form} for code in kinds}


@bp.route("/account/notifications", methods=["GET", "POST"])
@login_required
def preferences():
    errors: dict = {}
    status = 200
    form: dict = {}
    if request.method == "POST":
        form = request.form
        try:
            with transaction():
                services.save_preferences(
                    current_user,
                    _form_choices(form, services.kinds_for(current_user)),
                    form.get("quiet_start", ""),
                    form.get("quiet_end", ""),
                )
            flash(_("Your notification choices are saved."), "success")
            return redirect(url_for("notifications.preferences"))
        except DomainError as error:
            if error.status in (401, 403, 404):
                raise
            errors, status = error.fields or {"_": [error.message]}, error.status
    current = services.preferences(current_user)
    if form:  # show what the person typed, with the messages
        current["kinds"] = _form_choices(form, list(current["kinds"]))
        current["quiet_start"], current["quiet_end"] = form.get("quiet_start", ""), form.get("quiet_end", "")
    return render_template("notifications/preferences.html", prefs=current, kinds=KINDS, errors=errors), status


@bp.get("/admin/outbox")
@login_required
def outbox():
    status = request.args.get("status", "failed")
    errors: dict = {}
    try:
        messages = services.outbox(current_user, status)
    except DomainError as error:
        if error.status in (401, 403, 404):
            raise
        messages, errors = [], error.fields or {"_": [error.message]}
    return render_template("notifications/outbox.html", messages=messages, status=status, errors=errors)


@bp.post("/admin/outbox/<int:message_id>/retry")
@login_required
def retry(message_id: int):
    try:
        with transaction():
            services.retry_failed(current_user, message_id)
        flash(_("The e-mail will be sent again."), "success")
    except DomainError as error:
        if error.status in (401, 403, 404):
            raise
        flash(error.message + " " + " ".join(m for ms in (error.fields or {}).values() for m in ms), "error")
    return redirect(url_for("notifications.outbox"))


@bp.cli.command("flush")
def flush_command() -> None:
    """Send the due e-mails of the outbox now, here (the beat job queues them for the worker instead)."""
    from participation.notifications.tasks import flush

    click.echo(json.dumps(flush()))


@bp.cli.command("failed")
@click.option("--limit", default=50, show_default=True)
def failed_command(limit: int) -> None:
    """List e-mails that could not be delivered."""
    from participation.core.permissions import SYSTEM

    for message in services.outbox(SYSTEM, "failed", limit):
        click.echo(
            f"{message.id}\t{message.created_at:%Y-%m-%d %H:%M}\t{message.recipient}\t"
            f"{message.attempts}\t{message.last_error}"
        )


@bp.cli.command("retry")
@click.argument("message_id", type=int)
def retry_command(message_id: int) -> None:
    """Give a failed e-mail another round of attempts."""
    from participation.core.permissions import SYSTEM

    with transaction():
        services.retry_failed(SYSTEM, message_id)
    click.echo("ok")
