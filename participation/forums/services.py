"""Forum operations: propose, publish, withdraw, support, and the official answer.

A proposal that gathers its category's threshold of supporters is sent to the router as a
submission of kind "proposal" through intake's own `submit`, so it becomes a jointly owned
ticket exactly as a request sent through the form would.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Select, func, or_, select

from participation.accounts.models import Role
from participation.catalog.models import Category, District
from participation.core.audit import audit
from participation.core.errors import Conflict, NotFound, PayloadTooLarge, PermissionDenied, ValidationFailed
from participation.core.models import utcnow
from participation.core.permissions import authorize, can
from participation.core.sockets import publish as publish_live
from participation.extensions import db
from participation.forums import spam
from participation.forums.blocks import ensure_not_blocked
from participation.forums.models import (
    PUBLIC_STATES,
    SUPPORTABLE_STATES,
    Proposal,
    ProposalPhoto,
    ProposalState,
    ProposalSupport,
    Verdict,
    comment_count_of,
)
from participation.forums.rooms import NAMESPACE, proposal_room

REASONS_MAX = 5000
SORTS = ("newest", "supported", "discussed")


# -- loading -------------------------------------------------------------------------------------


def get_proposal(actor: Any, proposal_id: int) -> Proposal:
    """A proposal the actor may see; others' drafts and hidden ones are simply not found."""
    proposal = db.session.get(Proposal, proposal_id)
    if proposal is None or not can(actor, "forums.proposal.view", proposal):
        raise NotFound(_("No such proposal."))
    authorize(actor, "forums.proposal.view", proposal)
    return proposal


def threshold_for(category: Category) -> int:
    """Supporters needed before a proposal of this category goes to the departments."""
    config = current_app.config
    return int(config["FORUM_THRESHOLDS"].get(category.code, config["FORUM_SUPPORT_THRESHOLD"]))


# -- proposing -----------------------------------------------------------------------------------


def _text_field(payload: dict, name: str, limit: int, errors: dict[str, list[str]]) -> str:
    value = payload.get(name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[name] = [_("Wrong type of value.")]
        return ""
    value = value.strip()
    if not value:
        errors[name] = [_("This field cannot be empty.")]
    elif len(value) > limit:
        errors[name] = [_("At most %(n)s characters.", n=limit)]
    return value


def _code(payload: dict, name: str, errors: dict[str, list[str]]) -> str | None:
    value = payload.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > 40:
        errors[name] = [_("Wrong type of value.")]
        return None
    return value.strip()


def create_proposal(
    actor: Any, payload: dict, publish: bool = True, files: list[tuple[str, Any]] | None = None
) -> Proposal:
    """A citizen's or an enterprise's proposal: published at once, or kept as a draft.

    `files` are (name, stream) photos, checked, re-encoded and stored by intake's upload code; a bad one
    refuses the whole proposal before anything is written."""
    from participation.intake import uploads

    authorize(actor, "forums.proposal.create")
    ensure_not_blocked(actor)
    config = current_app.config
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(payload) - {"title", "text", "category", "district", "publish"})
    for name in unknown:
        errors[name] = [_("Unknown field.")]
    title = _text_field(payload, "title", config["TITLE_MAX_CHARS"], errors)
    text = _text_field(payload, "text", config["SUBMISSION_MAX_CHARS"], errors)
    enterprise = actor.has_role(Role.ENTERPRISE)
    category = district = None
    category_code = _code(payload, "category", errors)
    if category_code is None and "category" not in errors:
        errors["category"] = [_("Choose a category.")]
    elif category_code is not None:
        category = db.session.scalar(select(Category).where(Category.code == category_code, Category.active))
        if category is None:
            errors["category"] = [_("Unknown category.")]
        elif category.enterprise_only and not enterprise:
            errors["category"] = [_("This category is for enterprise accounts.")]
    district_code = _code(payload, "district", errors)
    if district_code is not None:
        district = db.session.scalar(select(District).where(District.code == district_code))
        if district is None:
            errors["district"] = [_("Unknown district.")]
    files = files or []
    if len(files) > config["UPLOAD_MAX_FILES"]:
        errors["photos"] = [_("At most %(n)s photos.", n=config["UPLOAD_MAX_FILES"])]
    if errors:
        raise ValidationFailed(fields=errors)
    images = [uploads.check_image(name, stream) for name, stream in files]
    proposal = Proposal(
        title=title,
        text=text,
        category=category,
        district=district,
        author=actor,
        author_is_enterprise=enterprise,
        state=ProposalState.DRAFT,
    )
    for image in images:
        proposal.photos.append(ProposalPhoto(**uploads.keep(image)[0]))
    db.session.add(proposal)
    db.session.flush()
    audit(actor, "proposal.created", proposal, category=category.code, photos=len(images))
    if publish:
        _publish(actor, proposal)
    return proposal


def _publish(actor: Any, proposal: Proposal) -> None:
    """Publish; a post the spam check suspects is published hidden, pending a moderator's review."""
    suspicion = spam.suspect(actor, proposal.title + "\n" + proposal.text, exclude_proposal=proposal.id)
    proposal.move_to(ProposalState.PUBLISHED)
    proposal.published_at = utcnow()
    audit(actor, "proposal.published", proposal)
    if suspicion:
        spam.hold(proposal, suspicion)


def publish(actor: Any, proposal_id: int) -> Proposal:
    """The author publishes a draft."""
    proposal = get_proposal(actor, proposal_id)
    authorize(actor, "forums.proposal.edit", proposal)
    ensure_not_blocked(actor)
    _publish(actor, proposal)
    return proposal


def withdraw(actor: Any, proposal_id: int) -> Proposal:
    """The author takes back a proposal that has not yet gone to the departments."""
    proposal = get_proposal(actor, proposal_id)
    authorize(actor, "forums.proposal.edit", proposal)
    if proposal.state not in (ProposalState.DRAFT, ProposalState.PUBLISHED):
        raise Conflict(_("This proposal has already been sent to the departments; it can no longer be withdrawn."))
    proposal.move_to(ProposalState.WITHDRAWN)
    audit(actor, "proposal.withdrawn", proposal)
    return proposal


# -- support -------------------------------------------------------------------------------------


def _support_row(proposal: Proposal, user_id: int) -> ProposalSupport | None:
    return db.session.scalar(
        select(ProposalSupport).where(ProposalSupport.proposal_id == proposal.id, ProposalSupport.user_id == user_id)
    )


def _recount(proposal: Proposal) -> None:
    db.session.flush()
    proposal.support_count = db.session.scalar(
        select(func.count())
        .select_from(ProposalSupport)
        .where(ProposalSupport.proposal_id == proposal.id, ProposalSupport.withdrawn_at.is_(None))
    )


def _announce_support(proposal: Proposal) -> None:
    """Tell the proposal's room its new support count and state, once the change is committed."""
    data = {
        "proposal_id": proposal.id,
        "support_count": proposal.support_count,
        "threshold": threshold_for(proposal.category),
        "state": proposal.state.value,
    }
    publish_live("proposal.support", data, [proposal_room(proposal.id)], NAMESPACE)


def support(actor: Any, proposal_id: int) -> Proposal:
    """Add the actor's support; at the category's threshold the proposal goes to the router."""
    proposal = get_proposal(actor, proposal_id)
    authorize(actor, "forums.proposal.support", proposal)
    ensure_not_blocked(actor)
    if proposal.state not in SUPPORTABLE_STATES:
        raise Conflict(_("Only published proposals can be supported."))
    if proposal.author_id == actor.id and not current_app.config["FORUM_ALLOW_SELF_SUPPORT"]:
        raise PermissionDenied(_("You cannot support your own proposal."))
    row = _support_row(proposal, actor.id)
    if row is not None and row.active:
        raise Conflict(_("You already support this proposal."))
    if row is None:
        db.session.add(ProposalSupport(proposal=proposal, user_id=actor.id))
    else:
        row.withdrawn_at = None
    _recount(proposal)
    audit(actor, "proposal.supported", proposal, count=proposal.support_count)
    if proposal.state == ProposalState.PUBLISHED and proposal.support_count >= threshold_for(proposal.category):
        _send_to_departments(proposal)
    _announce_support(proposal)
    return proposal


def withdraw_support(actor: Any, proposal_id: int) -> Proposal:
    """Take one's support back (a proposal already sent to the departments stays sent)."""
    proposal = get_proposal(actor, proposal_id)
    authorize(actor, "forums.proposal.support", proposal)
    row = _support_row(proposal, actor.id)
    if row is None or not row.active:
        raise Conflict(_("You do not support this proposal."))
    row.withdrawn_at = utcnow()
    _recount(proposal)
    audit(actor, "proposal.support_withdrawn", proposal, count=proposal.support_count)
    _announce_support(proposal)
    return proposal


def supports(actor: Any, proposal: Proposal) -> bool:
    """Whether the actor currently supports the proposal."""
    if not getattr(actor, "is_authenticated", False):
        return False
    row = _support_row(proposal, actor.id)
    return row is not None and row.active


def _send_to_departments(proposal: Proposal) -> None:
    """Submit the proposal on its author's behalf: intake makes the ticket and the router routes it."""
    from participation.intake import services as intake
    from participation.intake.models import Channel

    payload = {
        "kind": "proposal",
        "title": proposal.title,
        "text": proposal.text,
        "category": proposal.category.code if proposal.category.active else None,
        "district": proposal.district.code if proposal.district else None,
    }
    author = proposal.author
    if author is None or not author.is_active:
        from participation.core.permissions import SYSTEM

        author = SYSTEM
        payload["anonymous"] = True
    key = f"forum-proposal-{proposal.id}"
    with ExitStack() as stack:
        files = _photo_files(proposal, stack)
        try:
            submission, _created = intake.submit(author, payload, files, channel=Channel.FORUM, idempotency_key=key)
        except (ValidationFailed, PayloadTooLarge):
            if not files:
                raise
            # A photo no longer passes intake's checks (limits changed since): send the proposal without photos.
            logging.getLogger(__name__).warning("proposal %s sent without its photos", proposal.id, exc_info=True)
            submission, _created = intake.submit(author, payload, channel=Channel.FORUM, idempotency_key=key)
    proposal.move_to(ProposalState.THRESHOLD_REACHED)
    proposal.threshold_reached_at = utcnow()
    proposal.ticket = submission.ticket
    audit(None, "proposal.threshold_reached", proposal, count=proposal.support_count, ticket=submission.tracking_code)


def _photo_files(proposal: Proposal, stack: ExitStack) -> list[tuple[str, Any]]:
    """The proposal's stored photos as uploads for intake (which checks and stores its own copies)."""
    from participation.intake import uploads

    files: list[tuple[str, Any]] = []
    for photo in proposal.photos[: current_app.config["UPLOAD_MAX_FILES"]]:
        path = uploads.path_of(photo.stored_name)
        if not path.is_file():
            logging.getLogger(__name__).warning("photo %s of proposal %s is missing", photo.id, proposal.id)
            continue
        # intake matches the name to the content: keep the original name when its suffix fits, else the stored one
        extensions = next((ext for ct, ext in uploads.FORMATS.values() if ct == photo.content_type), set())
        name = photo.original_name if Path(photo.original_name).suffix.lower() in extensions else photo.stored_name
        files.append((name, stack.enter_context(path.open("rb"))))
    return files


def photo_for(actor: Any, proposal_id: int, photo_id: int) -> ProposalPhoto:
    """A photo of a proposal the actor may see; otherwise not found, like the proposal itself."""
    proposal = get_proposal(actor, proposal_id)
    photo = db.session.get(ProposalPhoto, photo_id)
    if photo is None or photo.proposal_id != proposal.id:
        raise NotFound()
    return photo


# -- the official answer -------------------------------------------------------------------------


def answer(actor: Any, proposal_id: int, verdict: str, reasons: str) -> Proposal:
    """The lead department's official answer: accepted, under study or not feasible, with reasons."""
    proposal = get_proposal(actor, proposal_id)
    authorize(actor, "forums.proposal.answer", proposal)
    errors: dict[str, list[str]] = {}
    try:
        chosen = Verdict(verdict if isinstance(verdict, str) else "")
    except ValueError:
        errors["verdict"] = [_("Not one of the allowed values: %(v)s.", v=", ".join(v.value for v in Verdict))]
    reasons = reasons.strip() if isinstance(reasons, str) else ""
    if not reasons:
        errors["reasons"] = [_("Give the reasons.")]
    elif len(reasons) > REASONS_MAX:
        errors["reasons"] = [_("At most %(n)s characters.", n=REASONS_MAX)]
    if errors:
        raise ValidationFailed(fields=errors)
    if proposal.state != ProposalState.THRESHOLD_REACHED:
        raise Conflict(_("Only a proposal sent to the departments and not yet answered can be answered."))
    proposal.move_to(ProposalState.ANSWERED)
    proposal.verdict = chosen
    proposal.reasons = reasons
    proposal.answered_at = utcnow()
    proposal.answered_by_department_id = proposal.ticket.lead_department_id
    proposal.answered_by_user_id = actor.id
    audit(actor, "proposal.answered", proposal, verdict=chosen.value)
    return proposal


# -- listing -------------------------------------------------------------------------------------


@dataclass
class Page:
    items: list[Proposal]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(
    q: str = "",
    category: str | None = None,
    district: str | None = None,
    state: str | None = None,
    sort: str = "newest",
    page: int = 1,
    per_page: int | None = None,
) -> Page:
    """Public proposals matching the filters; withdrawn ones only when asked for by state."""
    per_page = per_page or current_app.config["FORUM_PAGE_SIZE"]
    stmt: Select = select(Proposal)
    if state:
        try:
            wanted = ProposalState(state)
        except ValueError:
            raise ValidationFailed(fields={"state": [_("Unknown state.")]}) from None
        if wanted not in PUBLIC_STATES:
            raise ValidationFailed(fields={"state": [_("Unknown state.")]})
        stmt = stmt.where(Proposal.state == wanted)
    else:
        stmt = stmt.where(Proposal.state.in_(sorted(PUBLIC_STATES - {ProposalState.WITHDRAWN})))
    q = (q or "").strip()[:200]
    if q:
        pattern = _like(q)
        stmt = stmt.where(or_(Proposal.title.ilike(pattern, escape="\\"), Proposal.text.ilike(pattern, escape="\\")))
    if category:
        stmt = stmt.join(Category, Proposal.category_id == Category.id).where(Category.code == category)
    if district:
        stmt = stmt.join(District, Proposal.district_id == District.id).where(District.code == district)
    if sort not in SORTS:
        raise ValidationFailed(fields={"sort": [_("Not one of the allowed values: %(v)s.", v=", ".join(SORTS))]})
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    if sort == "supported":
        stmt = stmt.order_by(Proposal.support_count.desc(), Proposal.id.desc())
    elif sort == "discussed":
        stmt = stmt.order_by(comment_count_of(Proposal).desc(), Proposal.id.desc())
    else:
        stmt = stmt.order_by(Proposal.id.desc())
    page = max(1, min(page, 10_000))
    items = list(db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, total=total, page=page, per_page=per_page)


def proposal_out(proposal: Proposal, actor: Any = None) -> dict:
    """The public JSON of a proposal: no author identity beyond a display name."""
    out = {
        "id": proposal.id,
        "title": proposal.title,
        "text": proposal.text,
        "category": proposal.category.code,
        "district": proposal.district.code if proposal.district else None,
        "state": proposal.state.value,
        "author": proposal.author.display_name if proposal.author else None,
        "author_is_enterprise": proposal.author_is_enterprise,
        "support_count": proposal.support_count,
        "threshold": threshold_for(proposal.category),
        "created_at": proposal.created_at.isoformat(),
        "published_at": proposal.published_at.isoformat() if proposal.published_at else None,
        "tracking_code": proposal.ticket.submission.tracking_code if proposal.ticket else None,
        "answer": None,
    }
    if proposal.verdict is not None and proposal.answered_at is not None:
        out["answer"] = {
            "verdict": proposal.verdict.value,
            "reasons": proposal.reasons,
            "answered_at": proposal.answered_at.isoformat(),
            "department": proposal.answered_by_department.code if proposal.answered_by_department else None,
        }
    if actor is not None:
        out["supported"] = supports(actor, proposal)
    if proposal.state == ProposalState.HIDDEN:  # only its author and moderators get this far
        out["moderation"] = {"reason": proposal.hidden_reason, "review_pending": proposal.review_pending}
    return out
