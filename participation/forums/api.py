"""JSON API for proposals (list, read, create, support) and their discussion (threads, comments, votes)."""

from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from participation.core.api import bp
from participation.core.errors import NotAuthenticated
from participation.core.uow import transaction
from participation.core.validation import json_body, small_int
from participation.forums import discussion, insight, moderation, services
from participation.forums.views import comment_rate_limit, list_filters, proposal_rate_limit, support_rate_limit


@bp.get("/proposals")
def list_proposals():
    """Public proposals with the list page's filters, sorting and pagination."""
    page = services.search(**list_filters(request.args))
    counts = discussion.comment_counts(proposals=[p.id for p in page.items])
    return jsonify(
        {
            "items": [{**services.proposal_out(p), "comment_count": counts.get(p.id, 0)} for p in page.items],
            "total": page.total,
            "page": page.page,
            "pages": page.pages,
            "per_page": page.per_page,
        }
    )


@bp.get("/proposals/<int:proposal_id>")
def get_proposal(proposal_id: int):
    """A proposal with its discussion: comments nested as `replies`, newest last at each level."""
    proposal = services.get_proposal(current_user, proposal_id)
    return jsonify({**services.proposal_out(proposal, current_user), **_comments(proposal)})


def _comments(proposal) -> dict:
    comments = discussion.proposal_comments_out(proposal, current_user)
    count = discussion.comment_counts(proposals=[proposal.id]).get(proposal.id, 0)
    return {"comments": comments, "comment_count": count}


@bp.post("/proposals")
@proposal_rate_limit
def create_proposal():
    """Create a proposal; `"publish": false` keeps it as a draft."""
    payload = json_body(request)
    publish = payload.get("publish", True) is not False
    with transaction():
        proposal = services.create_proposal(
            current_user, {k: v for k, v in payload.items() if k != "publish"}, publish=publish
        )
    response = jsonify(services.proposal_out(proposal, current_user))
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/proposals/{proposal.id}"
    return response


@bp.post("/proposals/<int:proposal_id>/support")
@support_rate_limit
def support(proposal_id: int):
    with transaction():
        proposal = services.support(current_user, proposal_id)
    return jsonify(services.proposal_out(proposal, current_user))


@bp.delete("/proposals/<int:proposal_id>/support")
@support_rate_limit
def withdraw_support(proposal_id: int):
    with transaction():
        proposal = services.withdraw_support(current_user, proposal_id)
    return jsonify(services.proposal_out(proposal, current_user))


# -- discussion ----------------------------------------------------------------------------------


def _created(comment):
    response = jsonify(discussion.comment_out(comment, {}, current_user))
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/comments/{comment.id}"
    return response


@bp.post("/proposals/<int:proposal_id>/comments")
@comment_rate_limit
def comment_proposal(proposal_id: int):
    """Comment: {"text", "stance": "for"|"against"|"neutral"|null, "parent": comment id or null}."""
    payload = json_body(request)
    with transaction():
        comment = discussion.comment_on_proposal(current_user, proposal_id, payload)
    return _created(comment)


@bp.get("/threads")
def list_threads():
    sort = request.args.get("sort") or "newest"
    page = discussion.list_threads(sort=sort, page=small_int(request.args.get("page")) or 1)
    return jsonify(
        {
            "items": [{**discussion.thread_out(t), "comment_count": page.counts.get(t.id, 0)} for t in page.items],
            "total": page.total,
            "page": page.page,
            "pages": page.pages,
            "per_page": page.per_page,
        }
    )


@bp.get("/threads/<int:thread_id>")
def get_thread(thread_id: int):
    thread = discussion.get_thread(current_user, thread_id)
    return jsonify(discussion.thread_out(thread, current_user, comments=True))


@bp.post("/threads")
def create_thread():
    """Open a thread (coordinators): {"title", "text", "category": code or null}."""
    with transaction():
        thread = discussion.create_thread(current_user, json_body(request))
    response = jsonify(discussion.thread_out(thread, current_user, comments=True))
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/threads/{thread.id}"
    return response


@bp.post("/threads/<int:thread_id>/comments")
@comment_rate_limit
def comment_thread(thread_id: int):
    payload = json_body(request)
    with transaction():
        comment = discussion.comment_on_thread(current_user, thread_id, payload)
    return _created(comment)


@bp.get("/comments/<int:comment_id>")
def get_comment(comment_id: int):
    comment = discussion.get_comment(current_user, comment_id)
    return jsonify(discussion.comment_out(comment, discussion.my_votes(current_user, [comment.id]), current_user))


@bp.post("/comments/<int:comment_id>/vote")
def vote_comment(comment_id: int):
    """{"value": 1 | -1 | 0}: up, down, or remove one's vote."""
    payload = json_body(request)
    with transaction():
        comment = discussion.vote(current_user, comment_id, payload.get("value"))
    return jsonify(discussion.comment_out(comment, discussion.my_votes(current_user, [comment.id]), current_user))


@bp.patch("/comments/<int:comment_id>")
def edit_comment(comment_id: int):
    """The author edits: {"text", "stance"?}; the previous text is kept as a revision."""
    with transaction():
        comment = discussion.edit_comment(current_user, comment_id, json_body(request))
    return jsonify(discussion.comment_out(comment, discussion.my_votes(current_user, [comment.id]), current_user))


# -- moderation ----------------------------------------------------------------------------------


def _flagged(kind: str, item_id: int):
    with transaction():
        moderation.flag(current_user, kind, item_id, json_body(request).get("reason"))
    return jsonify({"flagged": True}), 201


@bp.post("/proposals/<int:proposal_id>/flag")
def flag_proposal(proposal_id: int):
    """Report a proposal: {"reason"}; one report per account."""
    return _flagged("proposal", proposal_id)


@bp.post("/comments/<int:comment_id>/flag")
def flag_comment(comment_id: int):
    """Report a comment: {"reason"}; one report per account."""
    return _flagged("comment", comment_id)


@bp.get("/moderation/queue")
def moderation_queue():
    """Flagged, auto-hidden and held items (moderators)."""
    return jsonify({"items": [moderation.queue_out(e) for e in moderation.queue(current_user)]})


@bp.post("/moderation/<kind>/<int:target_id>")
def moderate(kind: str, target_id: int):
    """{"action": "hide"|"restore"|"edit"|"dismiss" (proposal, comment) or "block" (user), "reason", ...}."""
    payload = json_body(request)
    action = payload.pop("action", None)
    with transaction():
        done = moderation.moderate(current_user, kind, target_id, action if isinstance(action, str) else "", payload)
    return jsonify(moderation.action_out(done))


@bp.get("/moderation/mine")
def my_moderation():
    """What moderation did to my posts and my account, with the reasons."""
    if not current_user.is_authenticated:
        raise NotAuthenticated()
    return jsonify({"items": [moderation.action_out(a) for a in moderation.mine(current_user)]})


# -- insight -------------------------------------------------------------------------------------


@bp.get("/proposals/<int:proposal_id>/insight")
def proposal_insight(proposal_id: int):
    """Stance counts, mean sentiment per day and top keywords of a proposal's discussion."""
    return jsonify(insight.insight(services.get_proposal(current_user, proposal_id)))


@bp.get("/threads/<int:thread_id>/insight")
def thread_insight(thread_id: int):
    return jsonify(insight.insight(discussion.get_thread(current_user, thread_id)))
