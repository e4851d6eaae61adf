/* Light page behaviour: live status over Socket.IO, the request form's small helpers. */
(function () {
  "use strict";

  // A page that answers a form (a refused one shows what was sent, with its messages): a reload reads
  // the page again instead of asking to send the form a second time. Forms that post to the address
  // they are on keep posting there.
  (function settleReload() {
    var meta = document.querySelector('meta[name="reload-url"]');
    if (!meta || !window.history || !window.history.replaceState) { return; }
    var here = window.location.href;
    document.querySelectorAll("form").forEach(function (form) {
      if (form.method === "post" && !form.getAttribute("action")) { form.setAttribute("action", here); }
    });
    // The place on the page a form posted to (its action's #anchor: the callback, the answer to the
    // departments) is kept, so that the browser opens the page there, at the form's messages.
    var target = meta.content.indexOf("#") < 0 ? meta.content + window.location.hash : meta.content;
    try {
      window.history.replaceState(window.history.state, "", target);
    } catch (e) {
      // An address the browser will not put in the history: a reload then asks, as it always did.
    }
  })();

  function labels() {
    var node = document.getElementById("status-labels");
    return node ? JSON.parse(node.textContent) : {};
  }

  function cityNow() {
    // Now, as the server writes times: the city's time zone, "YYYY-MM-DD HH:mm".
    var zone = document.documentElement.dataset.tz || undefined;
    try {
      var parts = {};
      new Intl.DateTimeFormat("en-GB", {
        timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", hourCycle: "h23"
      }).formatToParts(new Date()).forEach(function (p) { parts[p.type] = p.value; });
      return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" + parts.minute;
    } catch (e) {
      return new Date().toISOString().slice(0, 16).replace("T", " ");
    }
  }

  function setStatus(code, status) {
    var names = labels();
    document.querySelectorAll('.live-status[data-code="' + code + '"]').forEach(function (cell) {
      cell.innerHTML = "";
      var badge = document.createElement("span");
      badge.className = "badge status-" + status + " flash-update";
      badge.dataset.status = status;
      badge.textContent = names[status] || status;
      cell.appendChild(badge);
    });
    var row = document.querySelector('tr[data-code="' + code + '"]');
    if (row && ["withdrawn", "closed", "rejected", "duplicate", "resolved"].indexOf(status) >= 0) {
      row.querySelectorAll("details.withdraw, form").forEach(function (f) { f.remove(); });
    }
    var timeline = document.getElementById("timeline");
    if (timeline && document.querySelector('[data-live="track"][data-code="' + code + '"]')) {
      var item = document.createElement("li");
      var stamp = document.createElement("time");
      stamp.textContent = cityNow();
      item.appendChild(stamp);
      item.appendChild(document.createTextNode(" " + (names[status] || status)));
      timeline.appendChild(item);
    }
  }

  /* "My requests" fetches its table again when one of its requests changes or a request it does not list
     yet appears; a withdrawal reason being typed is not wiped: the change waits for the next one. */
  function addMine(table) {
    if (unsent(table)) return;
    fetch(window.location.pathname + "?partial=1", { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null || unsent(table)) return;
        table.innerHTML = html;
        table.classList.remove("flash-update");
        void table.offsetWidth;
        table.classList.add("flash-update");
      })
      .catch(function () {});
  }

  function connectLive() {
    var live = document.querySelector("[data-live]");
    if (!live || typeof io === "undefined") return;
    var socket = io("/intake", { transports: ["websocket", "polling"] });
    socket.on("connect", function () {
      document.body.dataset.live = "connected";
      if (live.dataset.live === "mine") socket.emit("follow_mine", {});
    });
    socket.on("submission.status", function (msg) {
      if (!msg || !msg.code || !msg.status) return;
      var table = document.getElementById("my-requests-region");
      if (live.dataset.live === "mine" && table && !table.querySelector('tr[data-code="' + msg.code + '"]')) {
        addMine(table);  // sent from another tab, device or colleague of the organisation
        return;
      }
      setStatus(msg.code, msg.status);
      // The list also says which requests wait for an answer from their sender: fetched again as a whole.
      if (live.dataset.live === "mine" && table) addMine(table);
    });
  }

  /* Whether a region holds work the person has not sent: any field changed from what the server gave. */
  function unsent(region) {
    // Text given back by the server after a refused action is the person's work too, until sent or cleared;
    // so is a choice given back from a list that starts with a "choose" prompt (a department, a category).
    var kept = region.querySelectorAll("form[data-kept] textarea, form[data-kept] input:not([type=hidden]), form[data-kept] select");
    for (var n = 0; n < kept.length; n++) {
      if (kept[n].tagName === "SELECT") {
        if (kept[n].querySelector('option[value=""]') && kept[n].value) return true;
      } else if (kept[n].value.trim()) {
        return true;
      }
    }
    var fields = region.querySelectorAll("input, textarea, select");
    for (var i = 0; i < fields.length; i++) {
      var el = fields[i];
      if (el.type === "hidden" || el.type === "submit" || el.type === "button") continue;
      if (el.type === "checkbox" || el.type === "radio") {
        if (el.checked !== el.defaultChecked) return true;
      } else if (el.tagName === "SELECT") {
        // A drop-down with no option marked selected shows its first one.
        var marked = false;
        for (var k = 0; k < el.options.length; k++) marked = marked || el.options[k].defaultSelected;
        for (var j = 0; j < el.options.length; j++) {
          var given = el.options[j].defaultSelected || (!marked && !el.multiple && el.size <= 1 && j === 0);
          if (el.options[j].selected !== given) return true;
        }
      } else if (el.value !== el.defaultValue && !el.closest("form[data-kept]")) {
        return true;  // (a kept form's text counts while it is not empty, above)
      }
    }
    return false;
  }

  /* The note above a region that has changed on the server while the person was working in it. */
  function staleNotice(region, kind, refresh) {
    var note = region.previousElementSibling;
    var ours = note && note.classList.contains("stale-notice");
    if (!kind) {
      if (ours) note.remove();
      return;
    }
    var texts = document.getElementById("live-texts");
    if (!texts) return;
    if (!ours) {
      note = document.createElement("div");
      note.className = "flash flash-info stale-notice";
      note.setAttribute("role", "status");
      region.parentNode.insertBefore(note, region);
    }
    note.textContent = "";
    note.dataset.kind = kind;
    note.appendChild(document.createTextNode(kind === "gone" ? texts.dataset.gone : texts.dataset.changed));
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button small";
    button.textContent = kind === "gone" ? texts.dataset.reload : texts.dataset.apply;
    button.addEventListener("click", function () {
      if (kind === "gone") window.location.reload();
      else refresh(true);
    });
    note.appendChild(document.createTextNode(" "));
    note.appendChild(button);
  }

  /* Regions that the server re-renders when something changes: inboxes, tickets, queues, tracking. */
  function liveRegions() {
    if (typeof io === "undefined") return;
    document.querySelectorAll("[data-live-region]").forEach(function (region) {
      var socket = io(region.dataset.ns, { transports: ["websocket", "polling"] });
      var timer = null;
      var refresh = function (force) {
        clearTimeout(timer);
        timer = setTimeout(function () {
          // Work not yet sent (text typed, a box ticked, a choice changed) is never replaced under the
          // person's hands: the region waits, and says that it has changed.
          if (force !== true && unsent(region)) {
            region.dataset.stale = "1";
            staleNotice(region, "changed", refresh);
            return;
          }
          fetch(region.dataset.refresh, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
            .then(function (r) {
              if (r.status === 401 || r.status === 403 || r.status === 404) {
                // No longer ours to see (the department left the ticket, the session ended): say so
                // rather than keep showing forms that would be refused.
                region.dataset.stale = "1";
                staleNotice(region, "gone", refresh);
                return null;
              }
              if (!r.ok) {  // busy or failing for a moment: the next change, or leaving a field, tries again
                region.dataset.stale = "1";
                return null;
              }
              return r.text();
            })
            .then(function (html) {
              if (html === null) return;
              if (force !== true && unsent(region)) {  // typed into while the page was on its way
                region.dataset.stale = "1";
                staleNotice(region, "changed", refresh);
                return;
              }
              region.innerHTML = html;
              region.dataset.stale = "";
              staleNotice(region, null);
              region.classList.remove("flash-update");
              void region.offsetWidth;
              region.classList.add("flash-update");
              region.dispatchEvent(new CustomEvent("live:updated", { bubbles: true }));
            })
            .catch(function () { region.dataset.stale = "1"; });  // offline: tried again on the next change
        }, 150);
      };
      socket.on("connect", function () {
        var id = parseInt(region.dataset.watchId, 10);
        var joins = {
          inbox: ["watch_inbox", { department_id: id }],
          ticket: ["watch_ticket", { ticket_id: id }],
          queue: ["watch_queue", {}],
          code: ["follow_code", { code: region.dataset.watchId }],
          survey: ["watch_survey", { code: region.dataset.watchId }],
        };
        var ready = function () {
          region.dataset.connected = "1";
          document.body.dataset.live = "connected";
        };
        var join = joins[region.dataset.watch];
        // Connected only once the server has answered the join: events sent before it would be missed.
        if (join) socket.emit(join[0], join[1], ready);
        else ready();
      });
      socket.on("ticket.updated", refresh);
      socket.on("submission.status", refresh);
      socket.on("survey.updated", refresh);
      // Counts that time alone changes (a deadline passing, "due within 24 hours") are read again now and
      // then, while the page is in sight: data-refresh-every="seconds".
      var every = parseInt(region.dataset.refreshEvery, 10);
      if (every > 0) {
        setInterval(function () { if (!document.hidden) refresh(); }, every * 1000);
      }
      var recheck = function () {
        if (region.dataset.stale === "1" && !unsent(region)) refresh();
      };
      region.addEventListener("focusout", recheck);
      region.addEventListener("change", recheck);
      region.addEventListener("input", recheck);
    });
  }

  function formHelpers() {
    var anonymous = document.getElementById("anonymous");
    var contact = document.getElementById("contact");
    if (anonymous && contact) {
      var sync = function () { contact.hidden = anonymous.checked; };
      anonymous.addEventListener("change", sync);
      sync();
    }
    var locate = document.getElementById("locate");
    if (locate && navigator.geolocation) {
      locate.addEventListener("click", function () {
        navigator.geolocation.getCurrentPosition(function (pos) {
          document.querySelector('input[name="lat"]').value = pos.coords.latitude.toFixed(6);
          document.querySelector('input[name="lng"]').value = pos.coords.longitude.toFixed(6);
        });
      });
    } else if (locate) {
      locate.hidden = true;
    }
    var accountType = document.querySelectorAll('input[name="account_type"]');
    var enterprise = document.querySelector(".enterprise-fields");
    if (accountType.length && enterprise) {
      var syncType = function () {
        var checked = document.querySelector('input[name="account_type"]:checked');
        enterprise.hidden = !checked || checked.value !== "enterprise";
      };
      accountType.forEach(function (r) { r.addEventListener("change", syncType); });
      syncType();
    }
  }

  /* The unread-notification badge in the navigation, kept current over Socket.IO. */
  function notificationBadge() {
    var badge = document.getElementById("unread-count");
    if (!badge || typeof io === "undefined") return;
    var cap = parseInt(badge.dataset.cap, 10) || 100; // the server counts up to cap: "99+" from there
    var show = function (n) {
      if (typeof n !== "number") return;
      badge.textContent = n >= cap ? String(cap - 1) + "+" : String(n);
      badge.dataset.count = String(n);
      badge.hidden = n === 0;
    };
    // On the notifications page, the list follows too: a new one appears, one read elsewhere is shown read.
    var list = document.getElementById("notification-list");
    var refreshList = function () {
      if (!list || !list.dataset.refresh || !window.fetch) return;
      fetch(list.dataset.refresh, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) { list.innerHTML = html; } })
        .catch(function () {});
    };
    var socket = io("/notifications", { transports: ["websocket", "polling"] });
    socket.on("connect", function () {
      badge.dataset.connected = "1";
      socket.emit("unread", {}, function (r) { if (r) show(r.unread); });
    });
    socket.on("disconnect", function () { badge.dataset.connected = "0"; });
    socket.on("notification", function (msg) {
      if (!msg) return;
      show(msg.unread);
      badge.classList.remove("flash-update");
      void badge.offsetWidth;
      badge.classList.add("flash-update");
      refreshList();
    });
    socket.on("notifications.unread", function (msg) { if (msg) { show(msg.unread); refreshList(); } });
  }

  /* The dispatch form follows its categories: choosing the primary or further categories fills in the lead
     and co-handlers the catalog gives them (GET /api/v1/routing/departments), until the coordinator picks
     departments by hand. Delegated, so a workspace re-drawn live keeps it. */
  function dispatchFollowsCategories() {
    document.addEventListener("change", function (event) {
      var box = event.target.closest ? event.target.closest("[data-dispatch]") : null;
      if (!box) return;
      var name = event.target.name;
      if (name === "lead" || name === "co") {
        box.dataset.departmentsChosen = "1";
        return;
      }
      if ((name !== "primary" && name !== "categories") || box.dataset.departmentsChosen === "1") return;
      var primary = box.querySelector('select[name="primary"]').value;
      if (!primary) return;
      var chosen = [primary];
      var further = box.querySelector('select[name="categories"]').options;
      for (var i = 0; i < further.length; i++) {
        if (further[i].selected && chosen.indexOf(further[i].value) < 0) chosen.push(further[i].value);
      }
      var url = box.dataset.departmentsUrl + "?categories=" + encodeURIComponent(chosen.join(","));
      if (box.dataset.district) url += "&district=" + encodeURIComponent(box.dataset.district);
      // Only the answer for the latest choice counts: an earlier one may arrive after it.
      var asked = String(Number(box.dataset.asked || 0) + 1);
      box.dataset.asked = asked;
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (answer) {
          if (!answer || box.dataset.asked !== asked || box.dataset.departmentsChosen === "1") return;
          box.querySelector('select[name="lead"]').value = answer.lead || "";
          var co = box.querySelector('select[name="co"]').options;
          for (var j = 0; j < co.length; j++) co[j].selected = answer.co.indexOf(co[j].value) >= 0;
          box.dataset.followed = chosen.join(",");
          var hint = box.querySelector("[data-dispatch-hint]");
          if (hint) hint.textContent = box.dataset.followingHint;
        })
        .catch(function () {});
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    dispatchFollowsCategories();
    formHelpers();
    connectLive();
    liveRegions();
    notificationBadge();
  });
})();
