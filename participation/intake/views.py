"""Intake pages: the request form, its confirmation, tracking, and "my requests"."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from participation.accounts.models import Role
from participation.catalog import services as catalog
from participation.core.errors import DomainError
from participation.core.permissions import can
from participation.core.uow import transaction
from participation.deadlines import services as deadlines
from participation.extensions import limiter
from participation.intake import services, uploads
from participation.intake.models import Kind

bp = Blueprint("intake", __name__)


def submission_limit() -> str:
    return current_app.config["SUBMISSION_RATE_LIMIT"]


def _form_payload(form) -> dict:
    """Turn the HTML form into the same payload the JSON API takes."""
    payload: dict = {
        "kind": form.get("kind", ""),
        "title": form.get("title", ""),
        "text": form.get("text", ""),
        "category": form.get("category") or None,
        "district": form.get("district") or None,
        "address": form.get("address", ""),
        "anonymous": form.get("anonymous") == "on",
    }
    for axis in ("lat", "lng"):
        raw = (form.get(axis) or "").strip()
        if raw:
            try:
                payload[axis] = float(raw)
            except ValueError:
                payload[axis] = raw
    if not payload["anonymous"]:
        payload["contact"] = {
            "name": form.get("contact_name", ""),
            "phone": form.get("contact_phone", ""),
            "email": form.get("contact_email", ""),
        }
    return payload


def _render_form(errors: dict, form, status: int = 200):
    enterprise = current_user.is_authenticated and current_user.has_role(Role.ENTERPRISE)
    return render_template(
        "intake/submit.html",
        errors=errors,
        form=form,
        kinds=list(Kind),
        categories=catalog.categories(enterprise=enterprise),
        districts=catalog.district_tree(),
    ), status


@bp.route("/submit", methods=["GET", "POST"])
@limiter.shared_limit(submission_limit, scope="submission", methods=["POST"])
def submit():
    if request.method == "GET":
        return _render_form({}, {"kind": request.args.get("kind", "complaint")})
    files = [(f.filename or "photo", f.stream) for f in request.files.getlist("photos") if f and f.filename]
    try:
        with transaction():
            submission, _created = services.submit(current_user, _form_payload(request.form), files)
    except DomainError as error:
        return _render_form(error.fields or {"_": [error.message]}, request.form, error.status)
    return redirect(url_for("intake.submitted", code=submission.tracking_code))


@bp.get("/submitted/<code>")
def submitted(code: str):
    view = services.public_view(code)
    return render_template("intake/submitted.html", view=view)


@bp.get("/track")
def track_lookup():
    code = services.normal_code(request.args.get("code"))
    if code:
        return redirect(url_for("intake.track", code=code))
    return render_template("intake/track_lookup.html")


@bp.get("/track/<code>")
def track(code: str):
    try:
        view = services.public_view(code)
    except DomainError as error:
        return render_template("intake/track_lookup.html", error=error.message, code=code), error.status
    if request.args.get("partial") == "1":
        return render_template("intake/_track_panel.html", view=view)
    return render_template("intake/track.html", view=view)


@bp.app_template_global("may_add_information")
def may_add_information(code: str) -> bool:
    """Whether the reader may give what the departments wait for on this request (the sender)."""
    try:
        submission = services.get_by_code(code)
    except DomainError:
        return False
    return can(current_user, "intake.submission.add_information", submission)


@bp.app_template_global("waiting_for_sender")
def waiting_for_sender(ticket) -> bool:
    """Whether the departments wait for this request's sender ("my requests" says so beside it)."""
    return deadlines.waiting_for_citizen(ticket) is not None


@bp.app_template_global("information_refusal")
def information_refusal(code: str) -> dict:
    """Who answers instead, for a reader who may not, and whether signing in would let them."""
    try:
        submission = services.get_by_code(code)
    except DomainError:
        return {"message": "", "sign_in": False}
    sent_from_an_account = submission.user_id is not None or submission.organisation_id is not None
    if sent_from_an_account:
        message = _(
            "The sender of this request can answer here, signed in with the account that sent it, or by "
            "calling the city service hotline %(hotline)s.",
            hotline=current_app.config["HOTLINE"],
        )
    else:
        message = _(
            "This request was sent without an account: its sender answers here with the tracking code, or by "
            "phone through the city coordination centre."
        )
    return {"message": message, "sign_in": sent_from_an_account and not current_user.is_authenticated}


@bp.post("/track/<code>/information")
@limiter.shared_limit(submission_limit, scope="submission")
def add_information(code: str):
    text = request.form.get("information", "")
    files = [(f.filename or "photo", f.stream) for f in request.files.getlist("photos") if f and f.filename]
    try:
        with transaction():
            services.add_information(current_user, code, text, files)
    except DomainError as error:
        try:
            view = services.public_view(code)
        except DomainError:
            return render_template("intake/track_lookup.html", error=error.message, code=code), error.status
        errors = getattr(error, "fields", None) or {"information": [error.message]}
        return render_template(
            "intake/track.html", view=view, information=text, information_errors=errors
        ), error.status
    flash(_("Thank you. The departments have your information and go on with your request."), "info")
    return redirect(url_for("intake.track", code=services.normal_code(code)))


@bp.get("/track/<code>/information")
def add_information_page(code: str):
    """Reloading after a refused form, or switching the language there, leads back to the request."""
    return redirect(url_for("intake.track", code=services.normal_code(code)))


@bp.get("/my")
@login_required
def mine():
    submissions = services.visible_submissions(current_user)
    if request.args.get("partial") == "1":  # the table alone: the page adds a request sent elsewhere
        return render_template("intake/_my_rows.html", submissions=submissions)
    return render_template("intake/mine.html", submissions=submissions)


@bp.post("/my/<code>/withdraw")
@login_required
def withdraw(code: str):
    try:
        with transaction():
            services.withdraw(current_user, code, request.form.get("reason", ""))
        flash(_("Your request is withdrawn."), "info")
    except DomainError as error:
        flash(error.message, "error")
    return redirect(url_for("intake.mine"))


@bp.get("/attachments/<int:attachment_id>")
@login_required
def attachment(attachment_id: int):
    item = services.attachment_for(current_user, attachment_id)
    return send_file(uploads.path_of(item.stored_name), mimetype=item.content_type, max_age=0)
