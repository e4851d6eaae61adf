"""Permission rules for accounts."""

from participation.accounts.models import Role
from participation.core.permissions import rule


@rule("accounts.profile.edit")
def _edit_profile(actor, user):
    return actor is not None and user is not None and actor.id == user.id


@rule("accounts.token.create")
def _create_token(actor, user):
    return actor is not None and user is not None and actor.id == user.id


@rule("accounts.token.revoke")
def _revoke_token(actor, token):
    return actor is not None and (token.user_id == actor.id or actor.has_role(Role.ADMIN))


@rule("accounts.users.manage")
def _manage_users(actor, _obj):
    return actor is not None and actor.has_role(Role.ADMIN)
