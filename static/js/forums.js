/* Forum pages: join the proposal's or thread's room and show new comments, edits, votes and support
   counts without a reload. Everything from the server is inserted with textContent, never as HTML. */
(function () {
  "use strict";
  var section = document.querySelector("[data-forum-live]");
  if (!section) return;
  var labels = {};
  try { labels = JSON.parse(document.getElementById("forum-labels").textContent); } catch (e) { labels = {}; }
  var kind = section.dataset.forumLive;
  var id = parseInt(section.dataset.watchId, 10);

  function departmentName(dept) {
    if (!dept) return "";
    return (labels.lang === "en" ? dept.name_en : dept.name_zh) || dept.name || dept.code;
  }

  function setVotes(msg) {
    var item = document.getElementById("comment-" + msg.comment_id);
    if (!item) return;
    var up = item.querySelector(":scope > .comment-actions [data-up]");
    var down = item.querySelector(":scope > .comment-actions [data-down]");
    if (up) up.textContent = String(msg.up);
    if (down) down.textContent = String(msg.down);
  }

  function setText(msg) {
    var item = document.getElementById("comment-" + msg.id);
    if (!item) return;
    item.querySelector(":scope > .comment-text").textContent = msg.text;
    var meta = item.querySelector(":scope > .meta");
    if (meta && !meta.querySelector(".edited")) {
      var edited = document.createElement("span");
      edited.className = "edited";
      edited.textContent = " (" + (labels.edited || "edited") + ")";
      meta.appendChild(edited);
    }
  }

  function addComment(msg) {
    if (document.getElementById("comment-" + msg.id)) return;
    var item = buildComment(msg);
    if (!item) return;
    var parent = msg.parent_id ? document.querySelector("#comment-" + msg.parent_id + " > .replies") : null;
    (parent || document.getElementById("comment-list")).appendChild(item);
    var empty = document.getElementById("no-comments");
    if (empty) empty.remove();
    var count = document.getElementById("comment-count");
    if (count) count.textContent = String(document.querySelectorAll("#comment-list li.comment").length);
  }

  /* A moderator hid a comment: keep its place (and its replies), show the page's placeholder instead. */
  function hideComment(msg) {
    var item = document.getElementById("comment-" + msg.comment_id);
    if (!item) return;
    Array.prototype.slice.call(item.children).forEach(function (child) {
      if (!child.classList.contains("replies")) child.remove();
    });
    var placeholder = document.createElement("p");
    placeholder.className = "hint moderation-placeholder";
    placeholder.textContent = (msg.review_pending ? labels.pending : labels.hidden) || "";
    item.insertBefore(placeholder, item.firstChild);
    item.classList.add("hidden-comment");
    item.dataset.hidden = "true";
  }

  /* A moderator restored a comment: rebuild it from the public JSON, keeping the replies already shown. */
  function restoreComment(msg) {
    var old = document.getElementById("comment-" + msg.id);
    if (!old) { addComment(msg); return; }
    var item = buildComment(msg);
    if (!item) return;
    var replies = old.querySelector(":scope > .replies");
    var target = item.querySelector(":scope > .replies");
    if (replies && target) {
      while (replies.firstChild) target.appendChild(replies.firstChild);
    }
    old.replaceWith(item);
  }

  /* A moderator hid the proposal: its discussion is closed, so the forms and controls go. */
  function closeDiscussion() {
    var form = document.getElementById("comment-form");
    if (form) form.remove();
    section.querySelectorAll("form.vote-form, .reply-link, .edit-link, details.flag").forEach(function (n) { n.remove(); });
    if (!document.getElementById("discussion-closed")) {
      var note = document.createElement("p");
      note.className = "hint";
      note.id = "discussion-closed";
      note.textContent = labels.closed || "";
      section.insertBefore(note, document.getElementById("comment-list"));
    }
  }

  function buildComment(msg) {
    var template = document.getElementById("comment-template");
    if (!template) return null;
    var item = template.content.firstElementChild.cloneNode(true);
    item.id = "comment-" + msg.id;
    item.dataset.comment = String(msg.id);
    item.dataset.depth = String(msg.depth);
    item.classList.add("depth-" + msg.depth, "flash-update");
    item.querySelector(".comment-author").textContent = msg.author || labels.former || "";
    if (msg.official) {
      var official = item.querySelector('[data-mark="official"]');
      official.textContent = (labels.official || "") + " · " + departmentName(msg.department);
      official.hidden = false;
    }
    if (msg.author_is_enterprise) item.querySelector('[data-mark="enterprise"]').hidden = false;
    if (msg.stance) {
      var stance = item.querySelector(".badge.stance");
      stance.dataset.stance = msg.stance;
      stance.textContent = (labels.stances || {})[msg.stance] || msg.stance;
      stance.hidden = false;
    }
    item.querySelector("time").textContent = (msg.created_at || "").slice(0, 16).replace("T", " ");
    if (msg.reply_to_id) {
      var replyTo = item.querySelector(".reply-to");
      var link = replyTo.querySelector("a");
      link.href = "#comment-" + msg.reply_to_id;
      link.textContent = msg.reply_to_author || labels.former || "";
      replyTo.hidden = false;
    }
    item.querySelector(".comment-text").textContent = msg.text;
    item.querySelector("[data-up]").textContent = String(msg.up || 0);
    item.querySelector("[data-down]").textContent = String(msg.down || 0);
    item.querySelectorAll("form.vote-form").forEach(function (form) {
      form.action = form.getAttribute("action").replace("/comments/0/", "/comments/" + msg.id + "/");
    });
    var reply = item.querySelector(".reply-link");
    if (reply) {
      reply.href = "?reply=" + msg.id + "#comment-form";
      reply.dataset.reply = String(msg.id);
      reply.dataset.replyAuthor = msg.author || "";
    }
    return item;
  }

  function setSupport(msg) {
    var node = document.getElementById("support-count");
    if (!node) return;
    node.dataset.count = String(msg.support_count);
    var format = node.dataset.format || "{n} / {m}";
    node.textContent = format.replace("{n}", String(msg.support_count)).replace("{m}", String(msg.threshold));
  }

  /* Reply links fill the form's hidden parent field instead of reloading the page. */
  section.addEventListener("click", function (event) {
    var link = event.target.closest(".reply-link");
    var form = document.getElementById("comment-form");
    if (link && form) {
      event.preventDefault();
      document.getElementById("comment-parent").value = link.dataset.reply;
      document.getElementById("replying-to-name").textContent = link.dataset.replyAuthor || "";
      document.getElementById("replying-to").hidden = false;
      form.querySelector("textarea").focus();
    }
    if (event.target.id === "cancel-reply") {
      event.preventDefault();
      document.getElementById("comment-parent").value = "";
      document.getElementById("replying-to").hidden = true;
    }
  });

  if (typeof io === "undefined" || !id) return;
  var socket = io("/forums", { transports: ["websocket", "polling"] });
  socket.on("connect", function () {
    var watching = function (answer) { if (answer && answer.ok) section.dataset.watching = "true"; };
    if (kind === "proposal") socket.emit("watch_proposal", { proposal_id: id }, watching);
    if (kind === "thread") socket.emit("watch_thread", { thread_id: id }, watching);
    section.dataset.live = "connected";
  });
  socket.on("disconnect", function () { delete section.dataset.watching; });
  /* What the discussion says (forum-insight.js) is read again when its comments change. */
  function commentsChanged(handler) {
    return function (msg) {
      handler(msg);
      document.dispatchEvent(new CustomEvent("forum:comments-changed"));
    };
  }
  socket.on("comment.hidden", commentsChanged(hideComment));
  socket.on("comment.restored", commentsChanged(restoreComment));
  socket.on("proposal.hidden", closeDiscussion);
  socket.on("proposal.restored", function () { window.location.reload(); });
  socket.on("comment.created", commentsChanged(addComment));
  socket.on("comment.edited", commentsChanged(setText));
  socket.on("comment.votes", setVotes);
  socket.on("proposal.support", setSupport);
  socket.on("thread.state", function (msg) {
    if (msg && msg.state === "locked") {
      var form = document.getElementById("comment-form");
      if (form) form.remove();
      section.querySelectorAll("form.vote-form, .reply-link").forEach(function (n) { n.remove(); });
    }
  });
})();
