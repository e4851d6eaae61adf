"""Permission rules for research exports: researchers export; coordinators and admins see who exported what."""

from participation.accounts.models import Role
from participation.core.permissions import rule


def _researcher(actor) -> bool:
    return actor is not None and actor.has_role(Role.RESEARCHER)


@rule("exports.request")
def _request(actor, _obj):
    """Ask for an export, and keep research projects (the scope of pseudonyms)."""
    return _researcher(actor)


@rule("exports.project.use")
def _project_use(actor, project):
    """A project's pseudonyms are its owner's: only the owner exports under it."""
    return _researcher(actor) and project is not None and project.owner_id == actor.id


@rule("exports.view")
def _view(actor, job):
    """A job's status and summary: its researcher, and coordinators and admins (the audit of exports)."""
    if actor is None:
        return False
    if actor.has_role(Role.COORDINATOR, Role.ADMIN):
        return True
    return _researcher(actor) and job is not None and job.user_id == actor.id


@rule("exports.download")
def _download(actor, job):
    """The data itself: only the researcher who asked for it."""
    return _researcher(actor) and job is not None and job.user_id == actor.id


@rule("exports.audit")
def _audit(actor, _obj):
    """The list of every export (who, what, why, when)."""
    return actor is not None and actor.has_role(Role.COORDINATOR, Role.ADMIN)
