"""Forum pages: the list of proposals, the form for a new one, and a proposal with its answer."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from participation.accounts.models import Role
from participation.catalog import services as catalog
from participation.core.errors import DomainError
from participation.core.limits import account_limit
from participation.core.permissions import can
from participation.core.uow import transaction
from participation.core.validation import small_int
from participation.forums import discussion, insight, moderation, services
from participation.forums.models import PUBLIC_STATES, Comment, ProposalState, Stance, Verdict

bp = Blueprint("forums", __name__)


# One budget each for the HTML forms and the JSON API (per account; refused posts do not use it up):
# comments, and the flood limits on proposing and on supporting (or withdrawing support).
comment_rate_limit = account_limit("FORUM_COMMENT_RATE_LIMIT", "forum-comment")
proposal_rate_limit = account_limit("FORUM_PROPOSAL_RATE_LIMIT", "forum-proposal")
support_rate_limit = account_limit("FORUM_SUPPORT_RATE_LIMIT", "forum-support", ("POST", "DELETE"))


def list_filters(args) -> dict:
    """The list's filters from the query string, shared with the JSON API."""
    return {
        "q": args.get("q", ""),
        "category": args.get("category") or None,
        "district": args.get("district") or None,
        "state": args.get("state") or None,
        "sort": args.get("sort") or "newest",
        "page": small_int(args.get("page")) or 1,
    }


@bp.get("/proposals")
def index():
    filters = list_filters(request.args)
    errors: dict = {}
    try:
        page = services.search(**filters)
    except DomainError as error:
        errors = error.fields or {"_": [error.message]}
        page = services.search()
    return render_template(
        "forums/list.html",
        page=page,
        comment_counts=discussion.comment_counts(proposals=[p.id for p in page.items]),
        filters=filters,
        errors=errors,
        categories=catalog.categories(),
        districts=catalog.district_tree(),
        states=[s for s in ProposalState if s in PUBLIC_STATES],
    ), 200 if not errors else 422


def _render_form(errors: dict, form, status: int = 200):
    enterprise = current_user.is_authenticated and current_user.has_role(Role.ENTERPRISE)
    return render_template(
        "forums/new.html",
        errors=errors,
        form=form,
        categories=catalog.categories(enterprise=enterprise),
        districts=catalog.district_tree(),
    ), status


@bp.route("/proposals/new", methods=["GET", "POST"])
@login_required
@proposal_rate_limit
def new():
    if request.method == "GET":
        if not can(current_user, "forums.proposal.create"):
            flash(_("Only citizen and enterprise accounts can make proposals."), "error")
            return redirect(url_for("forums.index"))
        return _render_form({}, {})
    payload = {name: request.form.get(name, "") for name in ("title", "text", "category", "district")}
    files = [(f.filename or "photo", f.stream) for f in request.files.getlist("photos") if f and f.filename]
    try:
        with transaction():
            proposal = services.create_proposal(
                current_user, payload, publish=request.form.get("draft") != "on", files=files
            )
    except DomainError as error:
        return _render_form(error.fields or {"_": [error.message]}, request.form, error.status)
    flash(_("Your proposal is published."), "info")
    return redirect(url_for("forums.detail", proposal_id=proposal.id))


def _discussion(subject, comment_errors: dict | None, comment_form) -> dict:
    """What the comments section of a proposal or thread page needs."""
    tree = discussion.comment_tree(subject)
    comments = discussion.flatten(tree)
    reply = small_int(request.args.get("reply"))
    form = dict(comment_form or {})
    if reply and "parent" not in form and any(c.id == reply for c in comments):
        form["parent"] = str(reply)
    return {
        "tree": tree,
        "comment_total": len(comments),
        "my_votes": discussion.my_votes(current_user, [c.id for c in comments]),
        "stances": list(Stance),
        "comment_errors": comment_errors or {},
        "comment_form": form,
        "replying_to": next((c for c in comments if str(c.id) == str(form.get("parent", ""))), None),
        "see_hidden": {c.id for c in comments if c.hidden and discussion.may_see_hidden(current_user, c)},
        **_insight(subject),
    }


def _insight(subject) -> dict:
    data = insight.insight(subject)
    return {"insight": data, "insight_chart": insight.chart(data, _("Mean sentiment"))}


def _render_detail(
    proposal_id: int,
    errors: dict | None = None,
    form=None,
    status: int = 200,
    comment_errors: dict | None = None,
    comment_form=None,
):
    proposal = services.get_proposal(current_user, proposal_id)
    return render_template(
        "forums/detail.html",
        proposal=proposal,
        notices=moderation.notices(current_user, proposal),
        supported=services.supports(current_user, proposal),
        threshold=services.threshold_for(proposal.category),
        verdicts=list(Verdict),
        errors=errors or {},
        form=form or {},
        **_discussion(proposal, comment_errors, comment_form),
    ), status


@bp.get("/proposals/<int:proposal_id>")
def detail(proposal_id: int):
    if request.args.get("partial") == "insight":  # the page reads it again when a comment changes
        return render_template("forums/_insight.html", **_insight(services.get_proposal(current_user, proposal_id)))
    return _render_detail(proposal_id)


@bp.get("/proposals/<int:proposal_id>/photos/<int:photo_id>")
def photo(proposal_id: int, photo_id: int):
    """A proposal's photo, for whoever may see the proposal (others get 404, as for the page)."""
    from participation.intake import uploads

    item = services.photo_for(current_user, proposal_id, photo_id)
    return send_file(uploads.path_of(item.stored_name), mimetype=item.content_type, max_age=0)


def _act(proposal_id: int, operation, done: str):
    try:
        with transaction():
            operation(current_user, proposal_id)
        flash(done, "info")
    except DomainError as error:
        if error.status == 404:
            raise
        flash(error.message, "error")
    return redirect(url_for("forums.detail", proposal_id=proposal_id))


@bp.post("/proposals/<int:proposal_id>/support")
@login_required
@support_rate_limit
def support(proposal_id: int):
    return _act(proposal_id, services.support, _("Thank you for your support."))


@bp.post("/proposals/<int:proposal_id>/unsupport")
@login_required
@support_rate_limit
def unsupport(proposal_id: int):
    return _act(proposal_id, services.withdraw_support, _("Your support is withdrawn."))


@bp.post("/proposals/<int:proposal_id>/publish")
@login_required
def publish(proposal_id: int):
    return _act(proposal_id, services.publish, _("Your proposal is published."))


@bp.post("/proposals/<int:proposal_id>/withdraw")
@login_required
def withdraw(proposal_id: int):
    return _act(proposal_id, services.withdraw, _("Your proposal is withdrawn."))


@bp.post("/proposals/<int:proposal_id>/answer")
@login_required
def answer(proposal_id: int):
    try:
        with transaction():
            services.answer(current_user, proposal_id, request.form.get("verdict", ""), request.form.get("reasons", ""))
    except DomainError as error:
        if error.status in (401, 403, 404):
            raise
        return _render_detail(proposal_id, error.fields or {"_": [error.message]}, request.form, error.status)
    flash(_("The official answer is published."), "info")
    return redirect(url_for("forums.detail", proposal_id=proposal_id))


# -- discussion ----------------------------------------------------------------------------------


def _comment_payload() -> dict:
    payload = {name: request.form.get(name, "") for name in ("text", "stance")}
    if request.form.get("parent"):
        payload["parent"] = request.form["parent"]
    return payload


def _subject_url(comment: Comment) -> str:
    if comment.proposal_id is not None:
        return url_for("forums.detail", proposal_id=comment.proposal_id, _anchor=f"comment-{comment.id}")
    return url_for("forums.thread", thread_id=comment.thread_id, _anchor=f"comment-{comment.id}")


@bp.post("/proposals/<int:proposal_id>/comments")
@login_required
@comment_rate_limit
def comment_proposal(proposal_id: int):
    try:
        with transaction():
            comment = discussion.comment_on_proposal(current_user, proposal_id, _comment_payload())
    except DomainError as error:
        if error.status in (401, 403, 404):
            raise
        messages = error.fields or {"_": [error.message]}
        return _render_detail(proposal_id, messages, None, error.status, messages, request.form)
    return redirect(_subject_url(comment))


@bp.get("/threads")
def threads():
    sort = request.args.get("sort") or "newest"
    try:
        page = discussion.list_threads(sort=sort, page=small_int(request.args.get("page")) or 1)
    except DomainError:
        abort(422)
    return render_template("forums/threads.html", page=page, sort=sort)


def _render_thread_form(errors: dict, form, status: int = 200):
    return render_template("forums/thread_new.html", errors=errors, form=form, categories=catalog.categories()), status


@bp.route("/threads/new", methods=["GET", "POST"])
@login_required
def new_thread():
    if request.method == "GET":
        if not can(current_user, "forums.thread.create"):
            abort(403)
        return _render_thread_form({}, {})
    payload = {name: request.form.get(name, "") for name in ("title", "text", "category")}
    try:
        with transaction():
            thread = discussion.create_thread(current_user, payload)
    except DomainError as error:
        if error.status in (401, 403):
            raise
        return _render_thread_form(error.fields or {"_": [error.message]}, request.form, error.status)
    flash(_("The thread is open for discussion."), "info")
    return redirect(url_for("forums.thread", thread_id=thread.id))


def _render_thread(thread_id: int, errors: dict | None = None, form=None, status: int = 200):
    thread = discussion.get_thread(current_user, thread_id)
    return render_template(
        "forums/thread.html",
        thread=thread,
        errors=errors or {},
        **_discussion(thread, errors, form),
    ), status


@bp.get("/threads/<int:thread_id>")
def thread(thread_id: int):
    if request.args.get("partial") == "insight":
        return render_template("forums/_insight.html", **_insight(discussion.get_thread(current_user, thread_id)))
    return _render_thread(thread_id)


@bp.post("/threads/<int:thread_id>/comments")
@login_required
@comment_rate_limit
def comment_thread(thread_id: int):
    try:
        with transaction():
            comment = discussion.comment_on_thread(current_user, thread_id, _comment_payload())
    except DomainError as error:
        if error.status in (401, 403, 404):
            raise
        return _render_thread(thread_id, error.fields or {"_": [error.message]}, request.form, error.status)
    return redirect(_subject_url(comment))


def _lock(thread_id: int, locked: bool):
    try:
        with transaction():
            discussion.set_thread_locked(current_user, thread_id, locked)
        flash(_("The thread is locked.") if locked else _("The thread is open again."), "info")
    except DomainError as error:
        if error.status in (401, 403, 404):
            raise
        flash(error.message, "error")
    return redirect(url_for("forums.thread", thread_id=thread_id))


@bp.post("/threads/<int:thread_id>/lock")
@login_required
def lock_thread(thread_id: int):
    return _lock(thread_id, True)


@bp.post("/threads/<int:thread_id>/unlock")
@login_required
def unlock_thread(thread_id: int):
    return _lock(thread_id, False)


@bp.post("/comments/<int:comment_id>/vote")
@login_required
def vote(comment_id: int):
    value = {"1": 1, "-1": -1, "0": 0}.get(request.form.get("value", ""), request.form.get("value"))
    comment = discussion.get_comment(current_user, comment_id)
    try:
        with transaction():
            discussion.vote(current_user, comment_id, value)
    except DomainError as error:
        if error.status in (401, 404):
            raise
        flash(error.message if not error.fields else " ".join(sum(error.fields.values(), [])), "error")
    return redirect(_subject_url(comment))


@bp.route("/comments/<int:comment_id>/edit", methods=["GET", "POST"])
@login_required
def edit_comment(comment_id: int):
    comment = discussion.get_comment(current_user, comment_id)
    if not can(current_user, "forums.comment.edit", comment):
        abort(403)
    errors: dict = {}
    form: dict = {"text": comment.text, "stance": comment.stance.value if comment.stance else ""}
    status = 200
    if request.method == "POST":
        try:
            with transaction():
                comment = discussion.edit_comment(
                    current_user, comment_id, {name: request.form.get(name, "") for name in ("text", "stance")}
                )
        except DomainError as error:
            if error.status in (401, 403, 404):
                raise
            errors, form, status = error.fields or {"_": [error.message]}, request.form, error.status
        else:
            flash(_("Your comment is updated."), "info")
            return redirect(_subject_url(comment))
    return render_template(
        "forums/comment_edit.html", comment=comment, errors=errors, form=form, stances=list(Stance)
    ), status


# -- moderation ----------------------------------------------------------------------------------


def _flag(kind: str, item_id: int, back: str):
    """A report refused (no reason, reported already, a block) is said on the item's page, where the person
    was; there is nothing typed to keep but the reason, which was empty or is no longer needed."""
    try:
        with transaction():
            moderation.flag(current_user, kind, item_id, request.form.get("reason", ""))
    except DomainError as error:
        if error.status in (401, 404):
            raise
        flash(" ".join(error.fields.get("reason") or [error.message]), "error")
        return redirect(back)
    flash(_("Thank you: the moderators will look at it."), "info")
    return redirect(back)


@bp.post("/proposals/<int:proposal_id>/flag")
@login_required
def flag_proposal(proposal_id: int):
    return _flag("proposal", proposal_id, url_for("forums.detail", proposal_id=proposal_id))


@bp.post("/comments/<int:comment_id>/flag")
@login_required
def flag_comment(comment_id: int):
    comment = discussion.get_comment(current_user, comment_id)
    return _flag("comment", comment_id, _subject_url(comment))


def _render_queue(errors: dict | None = None, status: int = 200):
    return render_template(
        "forums/moderation.html", entries=moderation.queue(current_user), errors=errors or {}
    ), status


@bp.get("/moderation")
@login_required
def moderation_queue():
    return _render_queue()


@bp.post("/moderation/<kind>/<int:target_id>")
@login_required
def moderate(kind: str, target_id: int):
    payload = {name: request.form[name] for name in ("reason", "text", "title", "days") if name in request.form}
    try:
        with transaction():
            moderation.moderate(current_user, kind, target_id, request.form.get("action", ""), payload)
    except DomainError as error:
        if error.status in (401, 403, 404):
            raise
        return _render_queue({f"{kind}-{target_id}": error.fields or {"_": [error.message]}}, error.status)
    flash(_("Done."), "info")
    return redirect(url_for("forums.moderation_queue"))


# -- addresses a refused form leaves in the browser ------------------------------------------------
# A refused form is shown again at the address it was sent to (and signing in from a form leads back
# there): reloading it, or switching the language there, which loads the same address, leads to the page
# the form is on.


@bp.get("/proposals/<int:proposal_id>/<any(support, unsupport, publish, withdraw, answer, comments, flag):_form>")
def proposal_form_address(proposal_id: int, _form: str):
    return redirect(url_for("forums.detail", proposal_id=proposal_id))


@bp.get("/threads/<int:thread_id>/<any(comments, lock, unlock):_form>")
def thread_form_address(thread_id: int, _form: str):
    return redirect(url_for("forums.thread", thread_id=thread_id))


@bp.get("/comments/<int:comment_id>/<any(vote, flag):_form>")
def comment_form_address(comment_id: int, _form: str):
    return redirect(_subject_url(discussion.get_comment(current_user, comment_id)))


@bp.get("/moderation/<kind>/<int:target_id>")
def moderation_form_address(kind: str, target_id: int):
    return redirect(url_for("forums.moderation_queue"))
