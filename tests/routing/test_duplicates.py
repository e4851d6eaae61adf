"""Duplicates: suggested masters at intake, automatic and coordinator merges, followers' tracking pages."""

from __future__ import annotations

import re
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import func, select

from participation.accounts.services import create_token
from participation.core.audit import AuditLog
from participation.core.errors import Conflict, NotFound, ValidationFailed
from participation.core.models import utcnow
from participation.core.uow import transaction
from participation.routing import services
from participation.routing.duplicates import callback_recipients, find_candidates, similarities
from participation.routing.models import PartStatus, TicketEvent, TicketStatus
from tests.conftest import live_client
from tests.routing.conftest import part_of

NOISE_ZH = "东湖路工地每天半夜还在施工，噪音太大，吵得睡不着"
NOISE_ZH_AGAIN = "东湖路的工地每天晚上都施工到半夜，噪音很大，吵得人睡不着觉"
NOISE_ZH_OTHER = "幸福小区楼下的广场舞音响太响，每天晚上吵到十点"
NOISE_EN = "The construction site on Lake Road keeps drilling after midnight, the noise is unbearable"
NOISE_EN_AGAIN = "Construction site at Lake Road is drilling past midnight every night, unbearable noise"
NOISE_EN_OTHER = "Building work on Station Street starts at 6am on Sundays, very loud"
HERE = {"lat": 24.4800, "lng": 118.0900}
NEARBY = {"lat": 24.4809, "lng": 118.0900}  # about 100 m north
FAR = {"lat": 24.5000, "lng": 118.0900}  # about 2.2 km north


@pytest.fixture
def noise(submit):
    """Submit a noise complaint (the submitter chose the category)."""

    def do(text: str, **extra):
        return submit(text, category=extra.pop("category", "NOISE"), **extra)

    return do


def events_of(ticket, type_: str) -> list[TicketEvent]:
    return [e for e in ticket.events if e.type == type_]


def snapshot(ticket) -> tuple:
    return (ticket.status, ticket.master_id, ticket.merged_at, len(ticket.events), [p.status for p in ticket.parts])


# -- suggestions ---------------------------------------------------------------------------------


def test_texts_are_compared_in_chinese_and_english():
    same_zh, other_zh = similarities(NOISE_ZH, [NOISE_ZH_AGAIN, NOISE_ZH_OTHER])
    same_en, other_en = similarities(NOISE_EN, [NOISE_EN_AGAIN, NOISE_EN_OTHER])
    assert same_zh >= 0.35 > other_zh and same_en >= 0.35 > other_en
    assert similarities(NOISE_ZH, [NOISE_ZH + "！"])[0] > 0.9
    assert similarities("123", ["!!!"]) == [0.0] and similarities("x", []) == []


COMPARED = [
    NOISE_ZH,
    NOISE_ZH_AGAIN,
    NOISE_ZH_OTHER,
    NOISE_EN,
    NOISE_EN_AGAIN,
    NOISE_EN_OTHER,
    "东湖路 Lake Road 工地 drilling 半夜 midnight",
    "!!!",
    NOISE_ZH,
    "噪音噪音噪音噪音",
]


def _reference(text: str, others: list[str]) -> list[float]:
    """scikit-learn's TF-IDF fitted on the texts compared, as the comparison was first written."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from participation.routing.duplicates import features

    matrix = TfidfVectorizer(analyzer=features, sublinear_tf=True).fit_transform([text, *others])
    return np.clip((matrix[1:] @ matrix[0].T).toarray().ravel(), 0.0, 1.0).tolist()


def test_similarities_are_those_of_a_tfidf_vectorizer_fitted_on_the_same_texts():
    for first in range(len(COMPARED) - 1):
        text, others = COMPARED[first], COMPARED[:first] + COMPARED[first + 1 :]
        assert similarities(text, others) == pytest.approx(_reference(text, others), abs=1e-9)


def test_similarities_stay_right_when_the_terms_are_numbered_afresh(monkeypatch):
    from participation.routing import duplicates

    similarities(NOISE_ZH, COMPARED[1:])  # these texts' counts are kept
    monkeypatch.setattr(duplicates, "MAX_TERMS", 5)  # the next call numbers the terms afresh
    fresh = ["西湖路夜里的打桩声吵得整栋楼睡不着", "Pile driving on West Lake Road all night"]
    for text, others in ((fresh[0], COMPARED + fresh[1:]), (NOISE_EN, fresh + COMPARED)):
        assert similarities(text, others) == pytest.approx(_reference(text, others), abs=1e-9)


def test_texts_are_cut_into_terms_outside_the_lock(monkeypatch):
    """Only the numbering of terms is shared: threads cutting new texts into words do not queue."""
    from participation.routing import duplicates

    seen: list[bool] = []
    real = duplicates.features

    def features(text: str):
        seen.append(duplicates._terms_lock.locked())
        return real(text)

    monkeypatch.setattr(duplicates, "features", features)
    fresh = ["东湖路口的井盖松了，车一过就哐当响", "The manhole cover at East Lake junction rattles"]
    assert similarities(fresh[0], fresh[1:] + COMPARED) == pytest.approx(_reference(fresh[0], fresh[1:] + COMPARED))
    assert seen and not any(seen)


@pytest.mark.parametrize(
    ("first", "second", "place"),
    [
        (NOISE_ZH, NOISE_ZH_AGAIN, (HERE, NEARBY)),  # Chinese, rephrased, 100 m apart
        (NOISE_EN, NOISE_EN_AGAIN, ({}, {})),  # English, rephrased, same sub-district
        (NOISE_ZH, NOISE_ZH_AGAIN, ({"district": "EAST"}, {})),  # the district above the sub-district
    ],
)
def test_near_duplicates_are_suggested_as_master(db, noise, first, second, place):
    master = noise(first, **place[0])
    ticket = noise(second, **place[1])
    assert [c["ticket_id"] for c in ticket.duplicate_candidates] == [master.id]
    score = ticket.duplicate_candidates[0]["score"]
    assert 0.35 <= score < 0.9
    (event,) = events_of(ticket, "duplicate.suggested")
    assert event.public is False and event.payload == {"candidates": ticket.duplicate_candidates}
    assert ticket.status == TicketStatus.TRIAGE and ticket.master_id is None  # only a suggestion
    assert master.duplicate_candidates == [] and not events_of(master, "duplicate.suggested")


def test_best_candidates_first(db, noise):
    loose = noise(NOISE_ZH_AGAIN)
    close = noise(NOISE_ZH + "，已经一个星期了")
    noise(NOISE_ZH_OTHER)
    ticket = noise(NOISE_ZH)
    assert [c["ticket_id"] for c in ticket.duplicate_candidates] == [close.id, loose.id]
    assert [t.id for t, _s in find_candidates(ticket, limit=1)] == [close.id]


def _reject(people, ticket):
    with transaction():
        services.reject(people.coordinator, ticket.id, "spam")


def _age(db, ticket):
    ticket.created_at = utcnow() - timedelta(days=15)
    db.session.commit()


@pytest.mark.parametrize(
    ("case", "first", "second"),
    [
        ("other category", {"category": "POTHOLE"}, {}),
        ("far away", FAR, HERE),
        ("older than 14 days", {}, {}),
        ("closed", {}, {}),
        ("place unknown and text only similar", {"district": None}, {"district": None}),
        ("different problem", {"text": NOISE_ZH_OTHER}, {}),
    ],
)
def test_not_suggested(db, people, noise, case, first, second):
    master = noise(first.pop("text", NOISE_ZH), **first)
    if case == "older than 14 days":
        _age(db, master)
    if case == "closed":
        _reject(people, master)
    ticket = noise(NOISE_ZH_AGAIN, **second)
    assert ticket.duplicate_candidates == [] and not events_of(ticket, "duplicate.suggested")


def test_without_a_place_only_a_very_similar_text_counts(db, noise):
    master = noise(NOISE_ZH, district=None)
    ticket = noise(NOISE_ZH + "！！", district=None)
    assert [c["ticket_id"] for c in ticket.duplicate_candidates] == [master.id]


def test_window_counts_from_now(db, noise):
    master = noise(NOISE_ZH)
    ticket = noise(NOISE_ZH_AGAIN)
    assert [t for t, _s in find_candidates(ticket, now=utcnow() + timedelta(days=13))] == [master]
    assert find_candidates(ticket, now=utcnow() + timedelta(days=15)) == []


def test_merged_tickets_are_not_suggested(db, people, noise):
    master = noise(NOISE_ZH)
    merged = noise(NOISE_ZH_AGAIN)
    with transaction():
        services.merge(people.coordinator, merged.id, master.id)
    ticket = noise(NOISE_ZH + "，东湖路")
    assert [c["ticket_id"] for c in ticket.duplicate_candidates] == [master.id]


def test_a_dispatched_master_is_matched_by_its_primary_category(db, people, noise, submit):
    master = submit(NOISE_ZH)  # no category chosen: dispatched as NOISE
    with transaction():
        services.dispatch(people.coordinator, master.id, ["NOISE"], "ENV", [])
    ticket = noise(NOISE_ZH_AGAIN)
    assert [c["ticket_id"] for c in ticket.duplicate_candidates] == [master.id]


def test_candidates_by_state_category_and_scan_limit(app, db, people, submit, noise, monkeypatch):
    """Tickets in triage are matched by the submitter's category, else the router's first guess;
    dispatched ones by their primary category only; the newest DUPLICATE_SCAN_LIMIT of both kinds."""

    def dispatched(ticket, *categories):
        with transaction():
            services.dispatch(people.coordinator, ticket.id, [categories[0]], "ENV", [])
            if len(categories) > 1 or categories[0] != categories[-1]:
                services.recategorise(people.coordinator, ticket.id, list(categories[1:]))
        return ticket

    def guessed(code):
        ticket = submit(NOISE_ZH)  # no category chosen: the router's first suggestion stands in
        ticket.suggestions = [{"code": code, "confidence": 0.2}]
        db.session.commit()
        return ticket

    chosen = noise(NOISE_ZH)  # in triage, the submitter chose NOISE
    filed = dispatched(noise(NOISE_ZH), "NOISE")
    guessed_noise = guessed("NOISE")
    secondary = dispatched(noise(NOISE_ZH), "NOISE", "POTHOLE", "NOISE")  # NOISE no longer primary
    guessed_pothole = guessed("POTHOLE")
    moved = dispatched(noise(NOISE_ZH, category="POTHOLE"), "POTHOLE", "NOISE")  # recategorised to NOISE
    pothole = dispatched(noise(NOISE_ZH, category="POTHOLE"), "POTHOLE")
    assert secondary.categories[0].code == "POTHOLE" and moved.categories[0].code == "NOISE"
    ticket = noise(NOISE_ZH)

    def candidates():
        return [t.id for t, _s in find_candidates(ticket, limit=10)]

    expected = [moved.id, guessed_noise.id, filed.id, chosen.id]  # same text: newest first
    assert candidates() == expected
    assert guessed_pothole.id not in expected and pothole.id not in expected
    # The scan limit counts the newest rows of both kinds together, before the router's guess is looked at.
    scanned = [moved, guessed_pothole, guessed_noise, filed, chosen]
    for scan in range(1, len(scanned) + 1):
        monkeypatch.setitem(app.config, "DUPLICATE_SCAN_LIMIT", scan)
        assert candidates() == [t.id for t in scanned[:scan] if t is not guessed_pothole]


# -- automatic merge -----------------------------------------------------------------------------


def test_router_merges_a_near_certain_duplicate(app, db, noise, monkeypatch):
    monkeypatch.setitem(app.config, "DUPLICATE_AUTO_MERGE", True)
    monkeypatch.setitem(app.config, "ROUTING_AUTO_DISPATCH", True)
    master = noise(NOISE_ZH, **HERE)
    close = noise(NOISE_ZH_AGAIN, **NEARBY)
    assert close.status != TicketStatus.DUPLICATE  # similar, but below the automatic threshold
    ticket = noise(NOISE_ZH + "！", **NEARBY)
    assert ticket.status == TicketStatus.DUPLICATE and ticket.master_id == master.id
    assert ticket.parts == []  # never dispatched: no department is bothered with it
    (event,) = events_of(ticket, "merged")
    assert event.public and event.actor_id is None and event.to_status == "duplicate"
    assert event.payload["master_id"] == master.id and event.payload["master_code"] == master.submission.tracking_code
    assert event.payload["automatic"] is True and event.payload["score"] >= 0.9
    assert [e.payload for e in events_of(master, "follower.added")] == [{"ticket_id": ticket.id}]
    assert ticket.submission.tracking_code != master.submission.tracking_code


def test_automatic_merge_can_be_switched_off(db, noise):
    noise(NOISE_ZH)
    ticket = noise(NOISE_ZH)
    assert ticket.duplicate_candidates[0]["score"] == 1.0 and ticket.status == TicketStatus.TRIAGE


# -- coordinator merge ---------------------------------------------------------------------------


def test_coordinator_merges_a_dispatched_duplicate(db, people, noise):
    master = noise(NOISE_ZH)
    ticket = noise(NOISE_ZH_AGAIN)
    with transaction():
        services.dispatch(people.coordinator, ticket.id, ["NOISE"], "ENV", ["URBAN"])
        services.request_return(people.urban, part_of(ticket, "URBAN").id, "return", "not ours")
    with transaction():
        merged = services.merge(people.coordinator, ticket.id, master.id, "same site")
    assert merged is ticket and ticket.status == TicketStatus.DUPLICATE and ticket.master is master
    assert ticket.merged_at is not None and master.followers == [ticket]
    assert {p.status for p in ticket.parts} == {PartStatus.ENDED}
    (event,) = events_of(ticket, "merged")
    assert event.public and event.actor_id == people.coordinator.id and event.from_status == "dispatched"
    assert event.payload == {
        "master_id": master.id,
        "master_code": master.submission.tracking_code,
        "reason": "same site",
    }
    (added,) = events_of(master, "follower.added")
    assert not added.public and added.payload == {"ticket_id": ticket.id}
    actions = set(db.session.scalars(select(AuditLog.action)))
    assert {"ticket.merged", "ticket.follower.added"} <= actions
    assert callback_recipients(master) == [master.submission, ticket.submission]
    assert callback_recipients(ticket) == [master.submission, ticket.submission]
    assert ticket.submission.tracking_code != master.submission.tracking_code


def test_a_master_that_was_merged_is_followed_to_its_root(db, people, noise):
    root = noise(NOISE_ZH)
    middle = noise(NOISE_ZH_AGAIN)
    ticket = noise(NOISE_ZH + "，东湖路")
    with transaction():
        services.merge(people.coordinator, middle.id, root.id)
    with transaction():
        services.merge(people.coordinator, ticket.id, middle.id)
    assert ticket.master is root and root.followers == [middle, ticket]


def test_followers_move_with_their_master(db, people, noise):
    root = noise(NOISE_ZH)
    middle = noise(NOISE_ZH_AGAIN)
    follower = noise(NOISE_ZH + "，东湖路")
    with transaction():
        services.merge(people.coordinator, follower.id, middle.id)
    with transaction():
        services.merge(people.coordinator, middle.id, root.id)
    assert follower.master is root and middle.followers == [] and set(root.followers) == {middle, follower}
    (changed,) = events_of(follower, "master.changed")
    assert changed.payload["master_id"] == root.id and changed.payload["previous"] == middle.id
    assert sorted(e.payload["ticket_id"] for e in events_of(root, "follower.added")) == [middle.id, follower.id]
    assert callback_recipients(follower) == [root.submission, follower.submission, middle.submission]  # merge order


def _in_progress(people, ticket):
    with transaction():
        services.dispatch(people.coordinator, ticket.id, ["NOISE"], "ENV", [])
    with transaction():
        services.accept(people.env, part_of(ticket, "ENV").id)


@pytest.mark.parametrize(
    ("case", "error", "field"),
    [
        ("itself", Conflict, "master_id"),
        ("closed master", Conflict, "master_id"),
        ("unknown master", ValidationFailed, "master_id"),
        ("huge id", ValidationFailed, "master_id"),
        ("not a coordinator", NotFound, None),  # staff not on the ticket do not learn that it exists
        ("ticket closed", Conflict, None),
        ("ticket in progress", Conflict, None),
        ("master of its own master", Conflict, "master_id"),
    ],
)
def test_bad_merges_change_nothing(db, people, noise, case, error, field):
    master = noise(NOISE_ZH)
    ticket = noise(NOISE_ZH_AGAIN)
    actor, target = people.coordinator, master.id
    if case == "itself":
        target = ticket.id
    elif case == "closed master":
        _reject(people, master)
    elif case == "unknown master":
        target = ticket.id + 100
    elif case == "huge id":
        target = 2**40
    elif case == "not a coordinator":
        actor = people.env
    elif case == "ticket closed":
        _reject(people, ticket)
    elif case == "ticket in progress":
        _in_progress(people, ticket)
    elif case == "master of its own master":
        with transaction():
            services.merge(people.coordinator, ticket.id, master.id)
        ticket, target = master, ticket.id
    db.session.expire_all()
    before, master_before = snapshot(ticket), snapshot(master)
    audits = db.session.scalar(select(func.count(AuditLog.id)))
    with pytest.raises(error) as raised:
        with transaction():
            services.merge(actor, ticket.id, target)
    assert (field in raised.value.fields) if field else True
    db.session.expire_all()
    assert snapshot(ticket) == before and snapshot(master) == master_before
    assert db.session.scalar(select(func.count(AuditLog.id))) == audits


# -- pages and API -------------------------------------------------------------------------------


def test_coordinator_merges_from_the_workspace_and_the_triage_queue(client, db, people, noise, login, english):
    master = noise(NOISE_ZH, **HERE)
    ticket = noise(NOISE_ZH_AGAIN, **NEARBY)
    login(people.coordinator)
    page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert f'data-master="{master.id}"' in page and master.submission.tracking_code in page
    assert f"{round(ticket.duplicate_candidates[0]['score'] * 100)}%" in page and "100 m" in page
    assert 'name="csrf_token"' in page and 'value="merge"' in page
    triage = client.get("/coordination/triage").get_data(as_text=True)
    assert f'data-master="{master.id}"' in triage
    bad = client.post(f"/tickets/{ticket.id}/act", data={"action": "merge", "master_id": "x"})
    assert bad.status_code == 422 and 'data-field="master_id"' in bad.get_data(as_text=True)
    itself = client.post(f"/tickets/{ticket.id}/act", data={"action": "merge", "master_id": str(ticket.id)})
    assert itself.status_code == 409 and ticket.status == TicketStatus.TRIAGE
    done = client.post(
        f"/tickets/{ticket.id}/act",
        data={"action": "merge", "master_id": str(master.id), "back": "/coordination/triage"},
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("/coordination/triage")
    assert ticket.status == TicketStatus.DUPLICATE and ticket.master_id == master.id
    master_page = client.get(f"/tickets/{master.id}").get_data(as_text=True)
    assert f'data-follower="{ticket.id}"' in master_page and ticket.submission.tracking_code in master_page
    assert f'href="/tickets/{master.id}"' in client.get(f"/tickets/{ticket.id}").get_data(as_text=True)


def test_merging_into_a_suggested_master_asks_for_a_second_step(client, db, people, noise, login, english):
    """A merge cannot be undone: a suggestion's merge button sits behind a first click that names the master,
    in the triage queue as in the workspace, and says what it does."""
    master = noise(NOISE_ZH, **HERE)
    ticket = noise(NOISE_ZH_AGAIN, **NEARBY)
    login(people.coordinator)
    for path in ("/coordination/triage", f"/tickets/{ticket.id}"):
        page = client.get(path).get_data(as_text=True)
        steps = re.findall(r"<details[^>]*>\s*<summary>(.*?)</summary>(.*?)</details>", page, re.S)
        merges = [(summary, body) for summary, body in steps if 'value="merge"' in body]
        assert len(merges) == 1, path
        summary, body = merges[0]
        assert f"#{master.id}" in summary and f'name="master_id" value="{master.id}"' in body
        assert "cannot be undone" in body and 'name="reason"' in body
        # no merge button outside such a step, bar the one where the number is typed in
        outside = re.sub(r"<details[^>]*>.*?</details>", "", page, flags=re.S)
        assert f'name="master_id" value="{master.id}"' not in outside, path


def test_staff_see_no_suggestions_and_cannot_merge(client, db, people, noise, login):
    master = noise(NOISE_ZH)
    ticket = noise(NOISE_ZH_AGAIN)
    with transaction():
        services.dispatch(people.coordinator, ticket.id, ["NOISE"], "ENV", [])
    login(people.env)
    page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert 'id="suggested-masters"' not in page and 'value="merge"' not in page
    denied = client.post(f"/tickets/{ticket.id}/act", data={"action": "merge", "master_id": str(master.id)})
    assert denied.status_code == 403 and ticket.status == TicketStatus.DISPATCHED


def test_merge_over_the_api(client, db, people, noise):
    master = noise(NOISE_ZH)
    ticket = noise(NOISE_ZH_AGAIN)
    _token, raw = create_token(people.coordinator, "api")
    _token, staff_raw = create_token(people.env, "api")
    db.session.commit()
    coordinator, staff = {"Authorization": f"Bearer {raw}"}, {"Authorization": f"Bearer {staff_raw}"}
    url = f"/api/v1/tickets/{ticket.id}/merge"
    wrong_type = client.post(url, json={"master_id": str(master.id)}, headers=coordinator)
    assert wrong_type.status_code == 422 and "master_id" in wrong_type.get_json()["error"]["fields"]
    assert client.post(url, json={}, headers=coordinator).status_code == 422
    itself = client.post(url, json={"master_id": ticket.id}, headers=coordinator)
    assert itself.status_code == 409
    error = itself.get_json()["error"]
    assert error["code"] == "conflict" and error["message"] and "master_id" in error["fields"]
    assert client.post(url, json={"master_id": master.id}, headers=staff).status_code == 404  # not theirs to find
    assert client.post(url, json={"master_id": 2**40}, headers=coordinator).status_code == 422
    assert ticket.status == TicketStatus.TRIAGE and not events_of(ticket, "merged")
    ok = client.post(url, json={"master_id": master.id, "reason": "同一工地"}, headers=coordinator)
    assert ok.status_code == 200
    body = ok.get_json()
    assert body["status"] == "duplicate" and body["master_id"] == master.id and body["merged_at"]
    assert body["code"] == ticket.submission.tracking_code
    master_body = client.get(f"/api/v1/tickets/{master.id}", headers=coordinator).get_json()
    assert master_body["followers"] == [{"id": ticket.id, "code": ticket.submission.tracking_code}]
    rejected = noise(NOISE_ZH + "，东湖路")
    _reject(people, rejected)
    closed = client.post(
        url.replace(str(ticket.id), str(rejected.id)), json={"master_id": master.id}, headers=coordinator
    )
    assert closed.status_code == 409 and rejected.status == TicketStatus.REJECTED


# -- what the followers see ----------------------------------------------------------------------


def test_a_follower_tracks_its_master_under_its_own_code(client, db, people, noise):
    master = noise(NOISE_ZH, title="东湖路工地扰民（王小明）")
    ticket = noise(NOISE_ZH_AGAIN)
    with transaction():
        services.merge(people.coordinator, ticket.id, master.id)
    _in_progress(people, master)
    with transaction():
        services.reply_public(people.env, master.id, "已责令夜间停工")
    code = ticket.submission.tracking_code
    view = client.get(f"/api/v1/submissions/{code}").get_json()
    assert view["code"] == code and view["status"] == "duplicate"
    merged = view["merged"]
    assert merged["status"] == "in_progress" and merged["reply"] == "已责令夜间停工"
    assert [d["code"] for d in merged["departments"]] == ["ENV"]
    assert {"dispatched", "reply"} <= {e["type"] for e in merged["timeline"]}
    assert "submitted" not in {e["type"] for e in merged["timeline"]}
    assert "merged" in {e["type"] for e in view["timeline"]}
    text = str(view)
    assert master.submission.tracking_code not in text and "王小明" not in text
    page = client.get(f"/track/{code}").get_data(as_text=True)
    assert 'id="master-status"' in page and 'data-status="in_progress"' in page and "已责令夜间停工" in page
    assert master.submission.tracking_code not in page and "王小明" not in page
    assert "merged" not in client.get(f"/api/v1/submissions/{master.submission.tracking_code}").get_json()


def statuses(socket) -> list[dict]:
    return [e["args"][0] for e in socket.get_received("/intake") if e["name"] == "submission.status"]


def test_a_follower_hears_its_master_live(app, db, people, noise):
    master = noise(NOISE_ZH)
    ticket = noise(NOISE_ZH_AGAIN)
    code = ticket.submission.tracking_code
    follower = live_client(app, "/intake")
    assert follower.emit("follow_code", {"code": code}, namespace="/intake", callback=True)["ok"] is True
    with transaction():
        services.merge(people.coordinator, ticket.id, master.id)
    assert statuses(follower) == [{"code": code, "status": "duplicate", "master_status": "triage"}]
    _in_progress(people, master)
    assert statuses(follower) == [
        {"code": code, "status": "duplicate", "master_status": "dispatched"},
        {"code": code, "status": "duplicate", "master_status": "in_progress"},
    ]
    with transaction():
        services.add_note(people.env, master.id, "内部")  # internal: nothing for the citizens
    assert statuses(follower) == []


def test_suggested_masters_are_shown_to_coordinators_only(client, db, people, noise):
    """A department on the ticket is not shown other tickets it could not find (the suggestion's candidates),
    in the ticket's JSON or its timeline; the coordinator is."""
    master = noise(NOISE_ZH)
    ticket = noise(NOISE_ZH_AGAIN)
    assert [c["ticket_id"] for c in ticket.duplicate_candidates] == [master.id]
    with transaction():
        services.dispatch(people.coordinator, ticket.id, ["NOISE"], "URBAN", [])
    _t, staff_raw = create_token(people.urban, "api")
    _t, coordinator_raw = create_token(people.coordinator, "api")
    db.session.commit()
    seen = {}
    for who, raw in (("staff", staff_raw), ("coordinator", coordinator_raw)):
        body = client.get(f"/api/v1/tickets/{ticket.id}", headers={"Authorization": f"Bearer {raw}"}).get_json()
        suggested = [e["payload"] for e in body["timeline"] if e["type"] == "duplicate.suggested"]
        seen[who] = (body["duplicate_candidates"], suggested)
    assert seen["staff"] == ([], [{}])
    assert [c["ticket_id"] for c in seen["coordinator"][0]] == [master.id] and seen["coordinator"][1][0]["candidates"]


def test_departments_read_the_masters_tracking_code_shortened(client, db, people, noise, bearer):
    """A merged ticket's history names its master's tracking code. Whoever holds a code answers the callback
    of a request sent without an account, so the departments on the follower (judged on the master's
    handling too, as a rule) read it shortened, as they read every code; the coordinator reads it whole."""
    master = noise(NOISE_ZH)
    ticket = noise(NOISE_ZH_AGAIN)
    with transaction():
        services.dispatch(people.coordinator, ticket.id, ["NOISE"], "ENV", [])
    with transaction():
        services.merge(people.coordinator, ticket.id, master.id)
    code = master.submission.tracking_code
    staff = client.get(f"/api/v1/tickets/{ticket.id}", headers=bearer(people.env))
    assert staff.status_code == 200 and code not in staff.get_data(as_text=True)
    (merged,) = [e for e in staff.get_json()["timeline"] if e["type"] == "merged"]
    assert merged["payload"]["master_code"] == f"{code[:5]}…{code[-2:]}"
    coordinator = client.get(f"/api/v1/tickets/{ticket.id}", headers=bearer(people.coordinator)).get_json()
    (merged,) = [e for e in coordinator["timeline"] if e["type"] == "merged"]
    assert merged["payload"]["master_code"] == code
