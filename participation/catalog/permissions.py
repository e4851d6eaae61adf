"""Permission rules for the catalog."""

from participation.accounts.models import Role
from participation.core.permissions import rule


@rule("catalog.manage")
def _manage(actor, _obj):
    return actor is not None and actor.has_role(Role.ADMIN)


@rule("catalog.category.departments")
def _departments(actor, _category):
    """Which departments handle a category: admins, and coordinators (the joint meeting's decisions)."""
    return actor is not None and actor.has_role(Role.ADMIN, Role.COORDINATOR)
