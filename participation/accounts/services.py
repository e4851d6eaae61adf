"""Account operations: registration, log-in, profile, API tokens, and user administration."""

from __future__ import annotations

import hashlib
import secrets

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError as StdnumError

from participation.accounts.models import ApiToken, Organisation, Role, User
from participation.core.audit import audit
from participation.core.errors import Conflict, NotFound, ValidationFailed
from participation.core.models import utcnow
from participation.core.permissions import authorize
from participation.extensions import db

PASSWORD_MIN = 8
TOKEN_PREFIX = "pt_"


def normalise_login(value: str) -> tuple[str | None, str | None]:
    """Split a log-in name into (email, mobile); raise ValidationFailed when it is neither."""
    value = (value or "").strip()
    if "@" in value:
        try:
            return validate_email(value, check_deliverability=False).normalized.lower(), None
        except EmailNotValidError:
            raise ValidationFailed(fields={"login": [_("Not a valid e-mail address.")]}) from None
    return None, normalise_mobile(value, field="login")


def normalise_mobile(value: str, field: str = "mobile") -> str:
    """A mainland (or international) mobile number in E.164 form."""
    try:
        number = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException:
        number = None
    if (
        number is None
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number)
        not in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        )
    ):
        message = (
            _("Enter an e-mail address or a mobile number.")
            if field == "login"
            else _("Enter a valid mobile number, such as 138 0013 8000.")
        )
        raise ValidationFailed(fields={field: [message]})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_credit_code(code: str) -> str:
    """Validate a unified social credit code, including its GB 32100-2015 check digit."""
    try:
        return uscc.validate(code)
    except StdnumError:
        raise ValidationFailed(
            fields={"credit_code": [_("Not a valid unified social credit code (18 characters, check digit).")]}
        ) from None


def find_by_login(login: str) -> User | None:
    try:
        email, mobile = normalise_login(login)
    except ValidationFailed:
        return None
    clause = User.email == email if email else User.mobile == mobile
    return db.session.scalar(select(User).where(clause))


def register(
    login: str,
    password: str,
    display_name: str,
    locale: str = "zh",
    organisation_name: str | None = None,
    credit_code: str | None = None,
    enterprise: bool | None = None,
) -> User:
    """Create a citizen account, or an enterprise member account with its organisation."""
    errors: dict[str, list[str]] = {}
    email = mobile = None
    try:
        email, mobile = normalise_login(login)
    except ValidationFailed as error:
        errors.update(error.fields)
    if len(password or "") < PASSWORD_MIN:
        errors.setdefault("password", []).append(_("At least %(n)s characters.", n=PASSWORD_MIN))
    display_name = (display_name or "").strip()
    if not display_name or len(display_name) > 80:
        errors.setdefault("display_name", []).append(_("Give a name of 1 to 80 characters."))
    if locale not in ("zh", "en"):
        errors.setdefault("locale", []).append(_("Choose Chinese or English."))
    if enterprise is None:
        enterprise = bool(credit_code or organisation_name)
    if enterprise:
        if not (organisation_name or "").strip() or len(organisation_name.strip()) > 200:
            errors.setdefault("organisation_name", []).append(_("Give a name of 1 to 200 characters."))
        try:
            credit_code = check_credit_code(credit_code or "")
        except ValidationFailed as error:
            errors.update(error.fields)
    if errors:
        raise ValidationFailed(fields=errors)
    if (email and db.session.scalar(select(User.id).where(User.email == email))) or (
        mobile and db.session.scalar(select(User.id).where(User.mobile == mobile))
    ):
        taken = _("An account with this log-in already exists: log in with it, or give another.")
        raise Conflict(taken, fields={"login": [taken]})

    user = User(email=email, mobile=mobile, display_name=display_name, preferred_locale=locale)
    user.set_password(password)
    if enterprise:
        if db.session.scalar(select(Organisation.id).where(Organisation.credit_code == credit_code)):
            taken = _("This organisation is already registered. Ask the platform administrator to add you to it.")
            raise Conflict(taken, fields={"credit_code": [taken]})
        user.organisation = Organisation(name=organisation_name.strip(), credit_code=credit_code)
        user.set_roles({Role.ENTERPRISE})
    else:
        user.set_roles({Role.CITIZEN})
    db.session.add(user)
    db.session.flush()
    audit(user, "account.registered", user, enterprise=enterprise)
    return user


def authenticate(login: str, password: str) -> User | None:
    """The active user with this log-in and password, or None (same answer for every failure)."""
    user = find_by_login(login)
    if user is None or not user.check_password(password or "") or not user.active:
        audit(None, "account.login_failed", None, login_hash=hashlib.sha256((login or "").encode()).hexdigest()[:16])
        return None
    user.last_login_at = utcnow()
    audit(user, "account.login", user)
    return user


def update_profile(actor: User, display_name: str, locale: str) -> User:
    """Change one's own name and preferred language."""
    authorize(actor, "accounts.profile.edit", actor)
    errors: dict[str, list[str]] = {}
    display_name = (display_name or "").strip()
    if not display_name or len(display_name) > 80:
        errors["display_name"] = [_("Give a name of 1 to 80 characters.")]
    if locale not in ("zh", "en"):
        errors["locale"] = [_("Choose Chinese or English.")]
    if errors:
        raise ValidationFailed(fields=errors)
    actor.display_name, actor.preferred_locale = display_name, locale
    audit(actor, "account.profile_updated", actor, locale=locale)
    return actor


def change_password(actor: User, current: str, new: str) -> None:
    authorize(actor, "accounts.profile.edit", actor)
    if not actor.check_password(current or ""):
        raise ValidationFailed(fields={"current_password": [_("The current password is wrong.")]})
    if len(new or "") < PASSWORD_MIN:
        raise ValidationFailed(fields={"new_password": [_("At least %(n)s characters.", n=PASSWORD_MIN)]})
    actor.set_password(new)
    actor.end_sessions()
    audit(actor, "account.password_changed", actor)


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(actor: User, name: str) -> tuple[ApiToken, str]:
    """Issue a personal API token; the raw value is returned once and never stored."""
    authorize(actor, "accounts.token.create", actor)
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ValidationFailed(fields={"name": [_("Give the token a name of 1 to 80 characters.")]})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=actor, name=name, prefix=raw[:10], token_hash=_hash_token(raw))
    db.session.add(token)
    db.session.flush()
    audit(actor, "account.token_created", token, name=name)
    return token, raw


def revoke_token(actor: User, token_id: int) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound()
    authorize(actor, "accounts.token.revoke", token)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit(actor, "account.token_revoked", token)
    return token


def user_for_token(raw: str) -> User | None:
    """The active user owning this unrevoked token (and note its use)."""
    if not raw or not raw.startswith(TOKEN_PREFIX):
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(raw)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    token.last_used_at = utcnow()
    return token.user


def list_tokens(actor: User) -> list[ApiToken]:
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == actor.id).order_by(ApiToken.id.desc())))


def search_users(actor: User, query: str = "", page: int = 1, per_page: int = 25):
    """Users for the admin page, filtered by log-in or name."""
    authorize(actor, "accounts.users.manage")
    stmt = select(User).order_by(User.id)
    if query:
        like = f"%{query.strip()}%"
        stmt = stmt.where(or_(User.email.ilike(like), User.mobile.ilike(like), User.display_name.ilike(like)))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    users = list(db.session.scalars(stmt.limit(per_page).offset((max(page, 1) - 1) * per_page)))
    return users, total


def admin_update_user(
    actor: User,
    user_id: int,
    roles: set[str],
    department_ids: set[int],
    active: bool,
    organisation_id: int | None = None,
) -> User:
    """Set a user's roles, department memberships, organisation and whether the account is active."""
    from participation.catalog.models import Department

    authorize(actor, "accounts.users.manage")
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    errors: dict[str, list[str]] = {}
    try:
        parsed = {Role(r) for r in roles}
    except ValueError:
        errors["roles"] = [_("Unknown role.")]
        parsed = set()
    known = set(db.session.scalars(select(Department.id).where(Department.id.in_(department_ids or {0}))))
    if known != set(department_ids):
        errors["departments"] = [_("Unknown department.")]
    if parsed & {Role.DEPARTMENT_STAFF, Role.DEPARTMENT_ADMIN} and not department_ids:
        errors.setdefault("departments", []).append(_("Department staff must belong to a department."))
    if organisation_id is not None and db.session.get(Organisation, organisation_id) is None:
        errors["organisation"] = [_("Unknown organisation.")]
    if user.id == actor.id and (Role.ADMIN not in parsed or not active):
        errors.setdefault("roles", []).append(_("You cannot remove your own administrator access."))
    if errors:
        raise ValidationFailed(fields=errors)
    before = {"roles": sorted(user.roles), "departments": sorted(user.department_ids), "active": user.active}
    user.set_roles(parsed)
    user.set_departments(set(department_ids))
    if user.active and not active:
        user.end_sessions()
    user.active = active
    user.organisation_id = organisation_id
    audit(
        actor,
        "account.admin_updated",
        user,
        before=before,
        after={"roles": sorted(parsed), "departments": sorted(department_ids), "active": active},
    )
    return user
