"""Account pages: register, log in and out, profile and tokens, user administration."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from participation.accounts import services
from participation.accounts.models import Role
from participation.catalog import services as catalog
from participation.core.errors import DomainError
from participation.core.permissions import can
from participation.core.uow import transaction
from participation.core.validation import small_int
from participation.core.views import safe_next
from participation.extensions import limiter

bp = Blueprint("accounts", __name__)


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _register_limit() -> str:
    return current_app.config["REGISTER_RATE_LIMIT"]


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_register_limit, methods=["POST"])
def register():
    errors: dict = {}
    form = request.form
    if request.method == "POST":
        try:
            with transaction():
                enterprise = form.get("account_type") == "enterprise"
                user = services.register(
                    login=form.get("login", ""),
                    password=form.get("password", ""),
                    display_name=form.get("display_name", ""),
                    locale=form.get("locale", "zh"),
                    organisation_name=form.get("organisation_name") if enterprise else None,
                    credit_code=form.get("credit_code") if enterprise else None,
                    enterprise=enterprise,
                )
            login_user(user)
            session["locale"] = user.preferred_locale
            flash(_("Welcome! Your account is ready."), "success")
            return redirect(url_for("core.index"))
        except DomainError as error:
            errors = error.fields or {"_": [error.message]}
            return render_template("accounts/register.html", errors=errors, form=form), error.status
    return render_template("accounts/register.html", errors=errors, form=form)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if request.method == "POST":
        with transaction():
            user = services.authenticate(request.form.get("login", ""), request.form.get("password", ""))
        if user is None:
            return render_template("accounts/login.html", error=_("Wrong log-in or password."), form=request.form), 401
        login_user(user, remember=bool(request.form.get("remember")))
        session["locale"] = user.preferred_locale
        # Staff and coordinators start from what waits for them; everyone else from the front page.
        home = url_for("routing.work") if can(user, "routing.staff") else url_for("core.index")
        return redirect(safe_next(request.args.get("next"), home))
    return render_template("accounts/login.html", error=None, form={})


@bp.post("/logout")
def logout():
    logout_user()
    session.pop("locale", None)
    flash(_("You have logged out."), "info")
    return redirect(url_for("core.index"))


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    errors: dict = {}
    status = 200
    new_token = None
    if request.method == "POST":
        action = request.form.get("action")
        try:
            with transaction():
                if action == "profile":
                    services.update_profile(
                        current_user, request.form.get("display_name", ""), request.form.get("locale", "")
                    )
                    session["locale"] = current_user.preferred_locale
                    flash(_("Your profile is saved."), "success")
                elif action == "password":
                    services.change_password(
                        current_user, request.form.get("current_password", ""), request.form.get("new_password", "")
                    )
                    login_user(
                        current_user._get_current_object()
                    )  # this browser stays logged in with the new session token
                    flash(_("Your password is changed."), "success")
                elif action == "token":
                    _token, new_token = services.create_token(current_user, request.form.get("token_name", ""))
                elif action == "revoke":
                    services.revoke_token(current_user, small_int(request.form.get("token_id")) or 0)
                    flash(_("The token is revoked."), "info")
        except DomainError as error:
            errors, status = error.fields or {"_": [error.message]}, error.status
        except ValueError:
            errors, status = {"_": [_("Not found.")]}, 404
    return render_template(
        "accounts/profile.html", errors=errors, tokens=services.list_tokens(current_user), new_token=new_token
    ), status


@bp.get("/admin/users")
@login_required
def admin_users():
    page = min(small_int(request.args.get("page")) or 1, 100_000)
    query = request.args.get("q", "")
    users, total = services.search_users(current_user, query, page)
    return render_template("accounts/admin_users.html", users=users, total=total, page=page, q=query)


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@login_required
def admin_user(user_id: int):
    from participation.accounts.models import Organisation, User
    from participation.core.errors import NotFound
    from participation.core.permissions import authorize
    from participation.extensions import db

    authorize(current_user, "accounts.users.manage")
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    errors: dict = {}
    status = 200
    if request.method == "POST":
        try:
            org = request.form.get("organisation_id", "")
            with transaction():
                services.admin_update_user(
                    current_user,
                    user_id,
                    roles=set(request.form.getlist("roles")),
                    department_ids={small_int(d) or 0 for d in request.form.getlist("departments")},
                    active=request.form.get("active") == "on",
                    organisation_id=small_int(org),
                )
            flash(_("The user is saved."), "success")
            return redirect(url_for("accounts.admin_user", user_id=user_id))
        except DomainError as error:
            errors, status = error.fields or {"_": [error.message]}, error.status
    organisations = db.session.query(Organisation).order_by(Organisation.name).all()
    return render_template(
        "accounts/admin_user.html",
        user=user,
        roles=list(Role),
        departments=catalog.departments(),
        organisations=organisations,
        errors=errors,
    ), status
