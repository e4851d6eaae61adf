"""Accounts: registration, credit codes, log-in and its rate limit, profile, API tokens, user admin."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from participation.accounts import services
from participation.accounts.models import ApiToken, Organisation, Role, User
from participation.core.audit import AuditLog
from participation.core.errors import Conflict, PermissionDenied, ValidationFailed
from participation.core.uow import transaction
from tests.conftest import PASSWORD, VALID_CREDIT_CODE, csrf_token_from


def user_count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def test_register_citizen_by_email_and_by_mobile(db):
    a = services.register("Alice@Example.org", "long-enough-1", "Alice")
    b = services.register("138 0013 8000", "long-enough-1", "王先生", locale="zh")
    db.session.commit()
    assert a.email == "alice@example.org" and a.roles == {Role.CITIZEN}
    assert b.mobile == "+8613800138000" and b.email is None
    assert a.password_hash != "long-enough-1" and a.check_password("long-enough-1")
    assert services.authenticate("alice@example.org", "long-enough-1") == a
    assert services.authenticate("13800138000", "long-enough-1") == b
    assert services.authenticate("alice@example.org", "wrong") is None


def test_register_enterprise_checks_credit_code(db):
    user = services.register(
        "boss@corp.cn", "long-enough-1", "Boss", organisation_name="海城科技", credit_code=VALID_CREDIT_CODE
    )
    db.session.commit()
    assert user.roles == {Role.ENTERPRISE} and user.organisation.credit_code == VALID_CREDIT_CODE
    with pytest.raises(ValidationFailed) as caught:
        services.register(
            "x@corp.cn", "long-enough-1", "X", organisation_name="Y", credit_code=VALID_CREDIT_CODE[:-1] + "0"
        )
    assert "credit_code" in caught.value.fields
    with pytest.raises(Conflict):
        services.register("y@corp.cn", "long-enough-1", "Y", organisation_name="Z", credit_code=VALID_CREDIT_CODE)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Organisation)) == 1


@pytest.mark.parametrize(
    "login, password, name, field",
    [
        ("not-an-email@", "long-enough-1", "A", "login"),
        ("12345", "long-enough-1", "A", "login"),
        ("a@b.org", "short", "A", "password"),
        ("a@b.org", "long-enough-1", "   ", "display_name"),
    ],
)
def test_register_bad_input(db, login, password, name, field):
    with pytest.raises(ValidationFailed) as caught:
        services.register(login, password, name)
    assert field in caught.value.fields
    assert user_count(db) == 0


def test_duplicate_registration(db):
    services.register("a@b.org", "long-enough-1", "A")
    db.session.commit()
    with pytest.raises(Conflict):
        services.register("A@B.org", "long-enough-1", "A2")


def test_register_page_and_duplicate(client, db):
    response = client.post(
        "/register",
        data={"account_type": "citizen", "login": "new@b.org", "password": "long-enough-1", "display_name": "N"},
    )
    assert response.status_code == 302
    again = client.post(
        "/register",
        data={"account_type": "citizen", "login": "new@b.org", "password": "long-enough-1", "display_name": "N"},
    )
    assert again.status_code == 409
    bad = client.post(
        "/register",
        data={
            "account_type": "enterprise",
            "login": "e@b.org",
            "password": "long-enough-1",
            "display_name": "E",
            "organisation_name": "Co",
            "credit_code": "123",
        },
    )
    assert bad.status_code == 422 and 'data-field="credit_code"' in bad.get_data(as_text=True)
    assert user_count(db) == 1


def test_login_logout_and_wrong_password(client, make_user):
    user = make_user("citizen")
    assert client.post("/login", data={"login": user.email, "password": "nope"}).status_code == 401
    assert client.post("/login", data={"login": user.email, "password": PASSWORD}).status_code == 302
    assert client.get("/profile").status_code == 200
    assert client.post("/logout").status_code == 302
    assert client.get("/profile").status_code == 302


def test_login_rate_limited(client, make_user, app):
    user = make_user("citizen")
    limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])
    codes = [client.post("/login", data={"login": user.email, "password": "bad"}).status_code for _ in range(limit + 1)]
    assert codes[:limit] == [401] * limit and codes[-1] == 429
    api = client.post(
        "/login", data={"login": user.email, "password": PASSWORD}, headers={"Accept": "application/json"}
    )
    assert api.status_code == 429 and api.get_json()["error"]["code"] == "rate_limited"


def test_form_without_csrf_token_is_refused(client, app, make_user, db):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post("/register", data={"login": "c@b.org", "password": "long-enough-1", "display_name": "C"})
        assert response.status_code == 400
        assert user_count(db) == 0
        page = client.get("/register").get_data(as_text=True)
        ok = client.post(
            "/register",
            data={
                "csrf_token": csrf_token_from(page),
                "login": "c@b.org",
                "password": "long-enough-1",
                "display_name": "C",
            },
        )
        assert ok.status_code == 302
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_profile_language_and_password(client, make_user, login, db):
    user = make_user("citizen")
    login(user)
    response = client.post("/profile", data={"action": "profile", "display_name": "新名字", "locale": "en"})
    assert response.status_code == 200
    db.session.refresh(user)
    assert user.preferred_locale == "en" and user.display_name == "新名字"
    assert 'lang="en"' in client.get("/").get_data(as_text=True)
    bad = client.post(
        "/profile", data={"action": "password", "current_password": "wrong", "new_password": "another-one-2"}
    )
    assert bad.status_code == 422


def test_api_tokens_shown_once_hashed_and_revocable(client, make_user, db):
    user = make_user("citizen")
    token, raw = services.create_token(user, "my script")
    db.session.commit()
    assert raw.startswith("pt_") and token.token_hash != raw and raw not in token.token_hash
    stored = db.session.scalar(select(ApiToken))
    assert stored.prefix == raw[:10]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert me.status_code == 200 and me.get_json()["id"] == user.id
    assert "Set-Cookie" not in me.headers or "session=" not in me.headers.get("Set-Cookie", "")
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer pt_wrong"}).status_code == 401
    services.revoke_token(user, token.id)
    db.session.commit()
    revoked = client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert revoked.status_code == 401 and revoked.get_json()["error"]["code"] == "not_authenticated"


def test_someone_elses_token_cannot_be_revoked(db, make_user):
    owner, other = make_user("citizen"), make_user("citizen")
    token, _raw = services.create_token(owner, "t")
    with pytest.raises(PermissionDenied):
        services.revoke_token(other, token.id)


def test_admin_manages_roles_and_departments(db, make_user, catalog, client, login):
    admin, staff = make_user("admin"), make_user("citizen")
    from participation.catalog.models import Department

    env = db.session.scalar(select(Department).where(Department.code == "ENV"))
    services.admin_update_user(admin, staff.id, {"department_staff"}, {env.id}, True)
    db.session.commit()
    assert staff.roles == {Role.DEPARTMENT_STAFF} and staff.department_ids == {env.id}
    with pytest.raises(ValidationFailed):
        services.admin_update_user(admin, staff.id, {"department_staff"}, set(), True)
    with pytest.raises(ValidationFailed):
        services.admin_update_user(admin, staff.id, {"wizard"}, set(), True)
    with pytest.raises(ValidationFailed):
        services.admin_update_user(admin, admin.id, {"citizen"}, set(), True)
    with pytest.raises(PermissionDenied):
        services.admin_update_user(staff, admin.id, {"citizen"}, set(), True)
    assert (
        db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "account.admin_updated"))
        == 1
    )
    login(admin)
    assert client.get("/admin/users?q=example").status_code == 200
    response = client.post(f"/admin/users/{staff.id}", data={"roles": ["coordinator"], "active": "on"})
    assert response.status_code == 302
    db.session.refresh(staff)
    assert staff.roles == {Role.COORDINATOR}


def test_deactivated_user_cannot_log_in(db, make_user, client):
    user = make_user("citizen")
    user.active = False
    db.session.commit()
    assert client.post("/login", data={"login": user.email, "password": PASSWORD}).status_code == 401


def test_changing_the_password_ends_other_sessions(app, client, make_user, login):
    user = make_user("citizen")
    login(user)
    other = app.test_client()
    other.post("/login", data={"login": user.email, "password": PASSWORD})
    assert other.get("/profile").status_code == 200
    response = client.post(
        "/profile", data={"action": "password", "current_password": PASSWORD, "new_password": "a-new-secret-9"}
    )
    assert response.status_code == 200
    assert client.get("/profile").status_code == 200  # this browser stays in
    assert other.get("/profile").status_code == 302  # the other is logged out


def test_catalog_new_form_does_not_overwrite(client, catalog, make_user, login, db):
    login(make_user("admin"))
    response = client.post(
        "/admin/catalog/new/departments", data={"code": "ENV", "name_zh": "x", "name_en": "y", "active": "on"}
    )
    assert response.status_code == 422 and 'data-field="code"' in response.get_data(as_text=True)
    from participation.catalog.models import Department

    assert (
        db.session.scalar(select(Department.name_en).where(Department.code == "ENV"))
        == "Ecology and Environment Bureau"
    )


def test_the_register_page_says_what_to_do_when_the_login_or_the_organisation_is_taken(client, db, english):
    """A bare "already registered" leaves a person stuck: the page says what to do instead, at the field."""
    with transaction():
        services.register(
            "boss@corp.cn", "long-enough-1", "Boss", organisation_name="海城科技", credit_code=VALID_CREDIT_CODE
        )
    client.get("/register")
    form = {"login": "boss@corp.cn", "password": "long-enough-1", "display_name": "Boss", "locale": "en"}
    page = client.post("/register", data=form).get_data(as_text=True)
    assert re.search(r'data-field="login">[^<]*already exists[^<]*log in', page, re.IGNORECASE)
    form |= {"login": "clerk@corp.cn", "account_type": "enterprise", "organisation_name": "海城科技"}
    form["credit_code"] = VALID_CREDIT_CODE
    page = client.post("/register", data=form).get_data(as_text=True)
    assert re.search(r'data-field="credit_code">[^<]*administrator[^<]*add you', page)
