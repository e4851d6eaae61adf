"""The staff pages: inbox, workspace forms, triage and dispute queues."""

from __future__ import annotations

import io

from sqlalchemy import select

from participation.core.uow import transaction
from participation.intake import services as intake
from participation.intake.models import Attachment
from participation.routing import services
from tests.conftest import image_bytes
from tests.routing.conftest import part_of


def test_inbox_workspace_and_forms(client, db, people, joint_ticket, login):
    login(people.env)
    inbox = client.get("/inbox")
    assert inbox.status_code == 200 and f'data-ticket="{joint_ticket.id}"' in inbox.get_data(as_text=True)
    assert (
        client.get("/inbox?status=pending&role=lead&category=NOISE&district=EAST-HILL&age=0&partial=1").status_code
        == 200
    )
    assert client.get("/inbox?status=bogus").status_code == 200  # shown as a field error, not a crash
    lead = part_of(joint_ticket, "ENV")
    response = client.post("/inbox/accept", data={"part_ids": [str(lead.id)]})
    assert response.status_code == 302
    assert part_of(joint_ticket, "ENV").status.value == "accepted"
    page = client.get(f"/tickets/{joint_ticket.id}").get_data(as_text=True)
    assert 'id="resolve"' in page and 'id="invite"' in page
    assert (
        client.post(f"/tickets/{joint_ticket.id}/act", data={"action": "invite", "department": "TRANSPORT"}).status_code
        == 302
    )
    bad = client.post(f"/tickets/{joint_ticket.id}/act", data={"action": "resolve", "reply": "done"})
    assert bad.status_code == 409 and "flash-error" in bad.get_data(as_text=True)
    empty = client.post(f"/tickets/{joint_ticket.id}/act", data={"action": "reply", "text": " "})
    assert empty.status_code == 422
    assert client.post(f"/tickets/{joint_ticket.id}/act", data={"action": "nonsense"}).status_code == 404
    assert client.post(f"/tickets/{joint_ticket.id}/act", data={"action": "accept", "part_id": "x"}).status_code == 422
    partial = client.get(f"/tickets/{joint_ticket.id}?partial=1").get_data(as_text=True)
    assert "<html" not in partial and "TRANSPORT" in partial


def test_other_departments_and_citizens_are_kept_out(client, db, people, joint_ticket, login):
    login(people.transport)  # never on it: the same answer as for a ticket that does not exist
    assert client.get(f"/tickets/{joint_ticket.id}").status_code == 404
    assert client.get(f"/tickets/{joint_ticket.id + 1000}").status_code == 404
    assert client.post(f"/tickets/{joint_ticket.id}/act", data={"action": "note", "text": "x"}).status_code == 404
    client.post("/logout")
    login(people.citizen)  # its sender knows it exists, and is refused the staff's page
    assert client.get(f"/tickets/{joint_ticket.id}").status_code == 403
    assert client.get("/coordination/triage").status_code == 403
    assert client.get("/inbox").status_code == 404


def test_citizen_sees_departments_and_reply_but_no_staff_or_notes(client, db, people, joint_ticket):
    with transaction():
        services.accept(people.env, part_of(joint_ticket, "ENV").id)
        services.add_note(people.env, joint_ticket.id, "内部：施工方是区重点工程")
        services.reply_public(people.env, joint_ticket.id, "已责令夜间停工")
    code = joint_ticket.submission.tracking_code
    page = client.get(f"/track/{code}").get_data(as_text=True)
    assert "已责令夜间停工" in page and "生态环境局" in page
    assert "内部" not in page and people.env.display_name not in page
    api = client.get(f"/api/v1/submissions/{code}").get_json()
    assert api["reply"] == "已责令夜间停工" and {d["code"] for d in api["departments"]} == {"ENV", "URBAN"}
    assert "note" not in {e["type"] for e in api["timeline"]}
    assert people.env.display_name not in str(api)


def test_coordinator_queues(client, db, people, submit, login):
    ticket = submit()
    login(people.coordinator)
    triage = client.get("/coordination/triage").get_data(as_text=True)
    assert f'data-ticket="{ticket.id}"' in triage
    response = client.post(
        f"/tickets/{ticket.id}/act",
        data={"action": "dispatch", "categories": ["NOISE"], "lead": "ENV", "co": ["URBAN"]},
    )
    assert response.status_code == 302 and ticket.status.value == "dispatched"
    with transaction():
        dispute = services.request_return(people.urban, part_of(ticket, "URBAN").id, "return", "不是城管的事")
    assert f'data-dispute="{dispute.id}"' in client.get("/coordination/disputes").get_data(as_text=True)
    assert client.post(f"/coordination/disputes/{dispute.id}/rule", data={"decision": "overruled"}).status_code == 302
    assert dispute.status.value == "overruled"


def test_triage_page_shows_the_oldest_waiting_and_how_many_wait(app, client, db, people, submit, login, monkeypatch):
    monkeypatch.setitem(app.config, "TRIAGE_PAGE_SIZE", 2)
    tickets = [submit(f"工地半夜施工，噪音太大，第{n}次反映") for n in range(3)]
    login(people.coordinator)
    page = client.get("/coordination/triage").get_data(as_text=True)
    assert [f'data-ticket="{t.id}"' in page for t in tickets] == [True, True, False]  # oldest first
    assert "显示最早的 2 条，共 3 条待分拨" in page
    client.get("/lang/en")
    english = client.get("/coordination/triage?partial=1").get_data(as_text=True)
    assert "Showing the 2 oldest of 3 waiting" in english  # the live refresh keeps the note
    assert "<th>Waiting for</th>" in english and "Waiting since" not in english  # a duration: "11 hours"
    with transaction():
        services.dispatch(people.coordinator, tickets[0].id, ["NOISE"], "ENV", [])
    page = client.get("/coordination/triage").get_data(as_text=True)
    assert [f'data-ticket="{t.id}"' in page for t in tickets] == [False, True, True]
    assert 'id="triage-more"' not in page  # all that wait are shown
    assert len(services.triage_queue(people.coordinator)) == 2 == services.triage_waiting(people.coordinator)


def test_the_tracking_page_gives_times_in_the_city_time_zone_as_staff_pages_do(client, db, people, joint_ticket, login):
    """Stored in UTC; shown to the citizen, as to staff, in the city's time (Asia/Shanghai, UTC+8)."""
    from zoneinfo import ZoneInfo

    from participation.routing.models import TicketEvent

    event = db.session.scalar(
        select(TicketEvent).where(TicketEvent.ticket_id == joint_ticket.id).order_by(TicketEvent.id.desc()).limit(1)
    )
    at = event.at if event.at.tzinfo else event.at.replace(tzinfo=ZoneInfo("UTC"))
    city = at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    utc = at.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M")
    track = client.get(f"/track/{joint_ticket.submission.tracking_code}").get_data(as_text=True)
    assert f"<time>{city}</time>" in track and f"<time>{utc}</time>" not in track
    login(people.env)
    assert f"<time>{city}</time>" in client.get(f"/tickets/{joint_ticket.id}").get_data(as_text=True)


def test_the_dispatch_form_starts_from_the_routers_suggestion_and_takes_any_primary(client, db, people, submit, login):
    ticket = submit()
    assert ticket.status.value == "triage" and ticket.suggestions[0]["code"] == "NOISE"
    login(people.coordinator)
    page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    # The suggestions by name; the lead and co-handlers the catalog gives the first (with the district office).
    badge = page[page.index('data-code="NOISE"') :]
    assert badge[badge.index(">") + 1 :].startswith("施工噪音 ")
    assert '<option value="ENV" selected>' in page
    assert '<option value="URBAN" selected>' in page and '<option value="OFFICE-EAST-HILL" selected>' in page
    assert 'name="back" value="/coordination/triage"' in page  # after dispatching, on to the next waiting
    # The primary is chosen on its own, whatever the codes' order in the list of further categories.
    response = client.post(
        f"/tickets/{ticket.id}/act",
        data={
            "action": "dispatch",
            "primary": "POTHOLE",
            "categories": ["NOISE"],
            "lead": "TRANSPORT",
            "back": "/coordination/triage",
        },
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/coordination/triage")
    assert f"#{ticket.id}" in client.get("/coordination/triage").get_data(as_text=True)  # "was dispatched"
    assert [c.code for c in ticket.categories] == ["POTHOLE", "NOISE"]
    client.post(
        f"/tickets/{ticket.id}/act", data={"action": "categories", "primary": "NOISE", "categories": ["POTHOLE"]}
    )
    assert [c.code for c in ticket.categories] == ["NOISE", "POTHOLE"]


def test_a_refused_action_keeps_what_was_typed_says_why_once_and_leaves_a_reloadable_address(
    client, db, people, joint_ticket, login
):
    with transaction():
        services.accept(people.env, part_of(joint_ticket, "ENV").id)
    login(people.env)
    refused = client.post(
        f"/tickets/{joint_ticket.id}/act", data={"action": "resolve", "reply": "已处理完毕，<b>谢谢</b>"}
    )
    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    assert '<textarea name="reply" rows="3" required>已处理完毕，&lt;b&gt;谢谢&lt;/b&gt;</textarea>' in page
    assert page.count('role="alert"') == 1  # the message once, at the top
    # The note form, which was not the one sent, stays empty.
    assert '<input name="text" value="" placeholder' in page
    again = client.get(f"/tickets/{joint_ticket.id}/act")
    assert again.status_code == 302 and again.headers["Location"].endswith(f"/tickets/{joint_ticket.id}")


def test_the_citizen_sees_the_departments_change_live_and_not_the_waived(app, client, db, people, joint_ticket):
    from tests.conftest import live_client

    code = joint_ticket.submission.tracking_code
    watcher = live_client(app, "/intake")
    assert watcher.emit("follow_code", {"code": code}, namespace="/intake", callback=True)["ok"] is True
    with transaction():
        services.invite(people.coordinator, joint_ticket.id, "TRANSPORT")
    heard = [e for e in watcher.get_received("/intake") if e["name"] == "submission.status"]
    assert heard and heard[-1]["args"][0]["code"] == code  # the tracking page refreshes its departments
    assert "交通运输局" in client.get(f"/track/{code}").get_data(as_text=True)
    with transaction():
        services.waive(people.coordinator, part_of(joint_ticket, "TRANSPORT").id, "无需协办")
    assert [e for e in watcher.get_received("/intake") if e["name"] == "submission.status"]
    assert "交通运输局" not in client.get(f"/track/{code}").get_data(as_text=True)


def test_departments_see_the_tracking_code_shortened_and_cannot_answer_the_callback(
    client, db, people, joint_ticket, login, bearer
):
    """The code lets its holder judge the handling of a request sent without an account: the departments
    being judged see it shortened; the coordination centre (the hotline) whole."""
    code = joint_ticket.submission.tracking_code
    short = f"{code[:5]}…{code[-2:]}"
    login(people.env)
    page = client.get(f"/tickets/{joint_ticket.id}").get_data(as_text=True)
    assert short in page and code not in page
    assert client.get(f"/api/v1/tickets/{joint_ticket.id}", headers=bearer(people.env)).get_json()["code"] == short
    whole = client.get(f"/api/v1/tickets/{joint_ticket.id}", headers=bearer(people.coordinator)).get_json()
    assert whole["code"] == code
    # Even holding the code of a request sent without an account, a department does not answer for the citizen.
    from participation.surveys.permissions import _answer_callback

    joint_ticket.submission.user_id = None
    assert not _answer_callback(people.env, joint_ticket.submission)
    assert _answer_callback(None, joint_ticket.submission)
    db.session.rollback()


def test_a_refused_dispatch_keeps_every_choice_and_says_each_problem_once(client, db, people, submit, login):
    ticket = submit()
    login(people.coordinator)
    refused = client.post(
        f"/tickets/{ticket.id}/act",
        data={
            "action": "dispatch",
            "primary": "POTHOLE",
            "categories": ["NOISE"],
            "lead": "NOPE",
            "co": ["TRANSPORT", "DRC"],
        },
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert '<option value="TRANSPORT" selected>' in page and '<option value="DRC" selected>' in page
    assert '<option value="URBAN" selected>' not in page  # the router's proposal gave way to the choice
    assert '<option value="POTHOLE" selected>' in page and '<option value="NOISE" selected>' in page
    assert page.count('data-field="lead"') == 1 and "form" in page and "data-kept" in page
    assert ticket.status.value == "triage"


def test_a_refused_return_or_transfer_keeps_the_kind_the_reason_and_the_department(
    client, db, people, joint_ticket, login, english
):
    login(people.urban)
    co = part_of(joint_ticket, "URBAN")
    refused = client.post(
        f"/tickets/{joint_ticket.id}/act",
        data={"action": "return", "part_id": str(co.id), "kind": "transfer", "reason": "属交通局职责", "suggested": ""},
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert '<option value="transfer" selected>' in page and '<option value="return" selected>' not in page
    assert 'value="属交通局职责"' in page and "<details open>" in page
    assert page.count("Name the department to transfer to.") == 1
    assert page.index('name="suggested"') < page.index('data-field="suggested"')  # at its field
    refused = client.post(
        f"/tickets/{joint_ticket.id}/act",
        data={"action": "return", "part_id": str(co.id), "kind": "transfer", "reason": " ", "suggested": "TRANSPORT"},
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and '<option value="TRANSPORT" selected>' in page
    assert '<option value="transfer" selected>' in page and page.count('data-field="reason"') == 1
    assert co.status.value == "pending"


def test_a_refused_lead_swap_keeps_the_department_chosen_and_none_is_chosen_before(
    client, db, people, joint_ticket, login
):
    login(people.coordinator)
    page = client.get(f"/tickets/{joint_ticket.id}").get_data(as_text=True)
    swap = page[page.index('value="lead"') : page.index("</form>", page.index('value="lead"'))]
    assert 'name="department" required><option value="">' in swap and " selected" not in swap
    assert 'value="ENV"' not in swap  # the lead already
    refused = client.post(
        f"/tickets/{joint_ticket.id}/act", data={"action": "lead", "department": "TRANSPORT", "reason": ""}
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    swap = page[page.index('value="lead"') : page.index("</form>", page.index('value="lead"'))]
    assert '<option value="TRANSPORT" selected>' in swap and page.count('<option value="TRANSPORT" selected>') == 1
    assert page.count('data-field="reason"') == 1 and 'data-field="reason"' in swap
    assert joint_ticket.lead_department.code == "ENV"


def test_a_refused_ruling_keeps_the_department_and_note_in_that_disputes_form(client, db, people, joint_ticket, login):
    with transaction():
        dispute = services.request_return(people.env, part_of(joint_ticket, "ENV").id, "return", "不是环保的事")
        other = services.request_return(people.urban, part_of(joint_ticket, "URBAN").id, "return", "不是城管的事")
    login(people.coordinator)
    listed = client.get("/coordination/disputes").get_data(as_text=True)
    row = listed[listed.index(f'data-dispute="{dispute.id}"') : listed.index(f'data-dispute="{other.id}"')]
    assert '<option value="ENV"' not in row and '<option value="TRANSPORT"' in row  # not the one returning it
    refused = client.post(
        f"/coordination/disputes/{dispute.id}/rule",
        data={"decision": "", "department": "TRANSPORT", "note": "由交通局牵头"},
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    row = page[page.index(f'data-dispute="{dispute.id}"') : page.index(f'data-dispute="{other.id}"')]
    assert '<option value="TRANSPORT" selected>' in row and 'value="由交通局牵头"' in row and "data-kept" in row
    assert 'data-field="decision"' in row and page.count('role="alert"') == 1
    rest = page[page.index(f'data-dispute="{other.id}"') :]
    assert " selected>" not in rest and "由交通局牵头" not in rest
    assert dispute.status.value == "open"
    again = client.get(f"/coordination/disputes/{dispute.id}/rule")
    assert again.status_code == 302 and again.headers["Location"].endswith("/coordination/disputes")
    done = client.post(
        f"/coordination/disputes/{dispute.id}/rule", data={"decision": "upheld", "department": "TRANSPORT"}
    )
    assert done.status_code == 302 and dispute.status.value == "upheld"


def test_the_merge_forms_problems_are_shown_only_for_a_merge(client, db, people, submit, login):
    ticket = submit()
    login(people.coordinator)
    refused = client.post(f"/tickets/{ticket.id}/act", data={"action": "reject", "reason": " "})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert page.count('data-field="reason"') == 1  # once (not again under the merge form)
    refused = client.post(f"/tickets/{ticket.id}/act", data={"action": "merge", "master_id": str(ticket.id)})
    page = refused.get_data(as_text=True)
    assert page.count('data-field="master_id"') == 1 and f'name="master_id" value="{ticket.id}"' in page


def test_the_triage_queue_names_categories_and_shows_the_citizens_choice(client, db, people, submit, login):
    ticket = submit("路面有个大坑，车开过去很危险", category="POTHOLE")
    login(people.coordinator)
    triage = client.get("/coordination/triage").get_data(as_text=True)
    row = triage[triage.index(f'data-ticket="{ticket.id}"') :]
    row = row[: row.index("</tr>")]
    assert "市民选择的类别" in row and ">道路坑洼</span>" in row
    names = {"NOISE": "施工噪音", "POTHOLE": "道路坑洼", "BIZ-ENV": "营商环境"}
    for suggestion in ticket.suggestions:  # by name, in the reader's language, not by code
        badge = row[row.index(f'data-code="{suggestion["code"]}"') :]
        assert badge[badge.index(">") + 1 :].startswith(f"{names[suggestion['code']]} ")
    client.get("/lang/en")
    english = client.get("/coordination/triage?partial=1").get_data(as_text=True)
    assert "Category the citizen chose" in english and ">Potholes</span>" in english
    assert f">{ticket.suggestions[0]['code']} " not in english
    if len(ticket.suggestions) > 1:  # the first is the router's choice, whatever the percentages say
        assert english.replace("&#39;", "'").count("router's choice") == 1


def test_the_dispatch_form_preselects_the_citizens_choice_else_only_a_sure_suggestion(
    app, client, db, people, submit, login, monkeypatch
):
    chosen = submit("工地半夜施工，噪音太大", category="POTHOLE")  # the citizen's choice, even against the router
    login(people.coordinator)
    page = client.get(f"/tickets/{chosen.id}").get_data(as_text=True)
    dispatch = page[page.index('value="dispatch"') : page.index("</form>", page.index('value="dispatch"'))]
    assert '<option value="POTHOLE" selected>' in dispatch and '<option value="TRANSPORT" selected>' in dispatch
    assert 'id="citizen-category"' in page
    # A suggestion less sure than the router must be to dispatch alone is not preselected: nothing is.
    monkeypatch.setitem(app.config, "ROUTING_CONFIDENCE_THRESHOLD", 0.99)
    weak = submit("工地半夜施工，噪音太大")
    assert weak.submission.category is None and weak.suggestions[0]["confidence"] < 0.99
    page = client.get(f"/tickets/{weak.id}").get_data(as_text=True)
    dispatch = page[page.index('value="dispatch"') : page.index("</form>", page.index('value="dispatch"'))]
    assert " selected>" not in dispatch and "选择…" in dispatch
    assert 'id="citizen-category"' not in page
    refused = client.post(f"/tickets/{weak.id}/act", data={"action": "dispatch", "primary": "NOISE", "lead": ""})
    assert refused.status_code == 422 and weak.status.value == "triage"


def test_after_a_lead_swap_the_former_lead_shows_as_such(client, db, people, joint_ticket, login, english):
    with transaction():
        services.accept(people.env, part_of(joint_ticket, "ENV").id)
        services.swap_lead(people.coordinator, joint_ticket.id, "URBAN", "城管牵头更合适")
    login(people.coordinator)
    page = client.get(f"/tickets/{joint_ticket.id}").get_data(as_text=True)
    assert page.count('data-role="lead"') == 1 and page.count('data-role="former_lead"') == 1
    env_row = page[page.index(f'data-part="{part_of(joint_ticket, "ENV").id}"') :]
    env_row = env_row[: env_row.index("</tr>")]
    assert "Former lead department" in env_row and "Left the ticket" in env_row
    urban_row = page[page.index(f'data-part="{part_of(joint_ticket, "URBAN").id}"') :]
    assert 'data-role="lead"' in urban_row[: urban_row.index("</tr>")]


def test_a_transfer_is_worded_as_a_transfer_and_a_return_as_a_return(client, db, people, joint_ticket, login, english):
    with transaction():
        transfer = services.request_return(
            people.urban, part_of(joint_ticket, "URBAN").id, "transfer", "属交通局职责", "TRANSPORT"
        )
        services.request_return(people.env, part_of(joint_ticket, "ENV").id, "return", "不是环保的事")
    login(people.coordinator)
    page = client.get(f"/tickets/{joint_ticket.id}").get_data(as_text=True)
    urban_row = page[page.index(f'data-part="{part_of(joint_ticket, "URBAN").id}"') :]
    assert "Transfer requested" in urban_row[: urban_row.index("</tr>")]
    env_row = page[page.index(f'data-part="{part_of(joint_ticket, "ENV").id}"') :]
    assert "Return requested" in env_row[: env_row.index("</tr>")]
    assert "A department asked to transfer its part to Transport Bureau." in page
    assert "A department asked to return its part: not its responsibility." in page
    assert "return or transfer its part" not in page
    with transaction():
        services.rule(people.coordinator, transfer.id, "upheld")
    page = client.get(f"/tickets/{joint_ticket.id}").get_data(as_text=True)
    assert "The coordinator approved a transfer." in page and "upheld a return" not in page


def test_the_coordinator_removes_a_co_handler_in_a_second_step_with_a_reason(client, db, people, joint_ticket, login):
    co = part_of(joint_ticket, "URBAN")
    login(people.env)
    assert "remove-part" not in client.get(f"/tickets/{joint_ticket.id}").get_data(as_text=True)
    client.post("/logout")
    login(people.coordinator)
    page = client.get(f"/tickets/{joint_ticket.id}").get_data(as_text=True)
    assert page.count('<details class="withdraw remove-part">') == 1  # the co-handler's row, not the lead's
    assert "<summary>移出…</summary>" in page and "将此协办单位移出工单" in page
    row = page[page.index(f'data-part="{co.id}"') :]
    assert 'value="remove"' in row[: row.index("</tr>")]
    refused = client.post(
        f"/tickets/{joint_ticket.id}/act", data={"action": "remove", "part_id": str(co.id), "reason": " "}
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert '<details class="withdraw remove-part" open>' in page and page.count('data-field="reason"') == 1
    assert co.status.value == "pending"
    done = client.post(
        f"/tickets/{joint_ticket.id}/act", data={"action": "remove", "part_id": str(co.id), "reason": "无需城管协办"}
    )
    assert done.status_code == 302
    assert co.status.value == "ended" and co.departed
    page = client.get(f"/tickets/{joint_ticket.id}").get_data(as_text=True)
    assert "remove-part" not in page and "无需城管协办" in page


def test_signing_for_a_part_a_colleague_signed_for_goes_back_to_the_ticket_with_who_did(
    client, db, people, joint_ticket, login, make_user, bearer, english
):
    colleague = make_user("department_staff", departments=("ENV",))
    lead = part_of(joint_ticket, "ENV")
    with transaction():
        services.accept(colleague, lead.id)
    login(people.env)
    response = client.post(f"/tickets/{joint_ticket.id}/act", data={"action": "accept", "part_id": str(lead.id)})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/tickets/{joint_ticket.id}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Already signed for by {colleague.display_name} of your department." in page
    client.post("/logout")
    login(colleague)  # a second click
    response = client.post(f"/tickets/{joint_ticket.id}/act", data={"action": "accept", "part_id": str(lead.id)})
    assert response.status_code == 302
    assert "You had already signed for this part." in client.get(response.headers["Location"]).get_data(as_text=True)
    # The API still says it is a conflict.
    api = client.post(f"/api/v1/parts/{lead.id}/accept", headers=bearer(people.env))
    assert api.status_code == 409
    # Another refusal of a sign-for is shown as before.
    client.post("/logout")
    login(people.urban)
    with transaction():
        services.request_return(people.urban, part_of(joint_ticket, "URBAN").id, "return", "不是城管的事")
    refused = client.post(
        f"/tickets/{joint_ticket.id}/act", data={"action": "accept", "part_id": str(part_of(joint_ticket, "URBAN").id)}
    )
    assert refused.status_code == 409


def test_no_department_is_chosen_before_the_person_chooses_one(client, db, people, joint_ticket, login):
    """Adding or inviting a department: one click must not add whichever comes first."""
    with transaction():
        services.accept(people.env, part_of(joint_ticket, "ENV").id)
    for person in (people.coordinator, people.env):
        login(person)
        page = client.get(f"/tickets/{joint_ticket.id}").get_data(as_text=True)
        start = page.index('value="invite"')
        form = page[start : page.index("</form>", start)]
        assert 'name="department" required><option value="">' in form and " selected" not in form
        assert 'value="URBAN"' not in form and 'value="ENV"' not in form  # already on the ticket
        client.post("/logout")


def test_a_labels_colon_is_full_width_in_chinese(client, db, people, joint_ticket):
    code = joint_ticket.submission.tracking_code
    chinese = client.get(f"/track/{code}").get_data(as_text=True)
    assert "状态：" in chinese and "状态: " not in chinese
    client.get("/lang/en")
    assert "Status: " in client.get(f"/track/{code}").get_data(as_text=True)


def test_an_inbox_longer_than_a_page_says_how_many_there_are(
    app, client, db, people, submit, login, bearer, monkeypatch
):
    monkeypatch.setitem(app.config, "INBOX_PAGE_SIZE", 2)
    tickets = [submit(f"工地半夜施工，噪音太大，第{n}次反映") for n in range(3)]
    with transaction():
        for t in tickets:
            services.dispatch(people.coordinator, t.id, ["NOISE"], "ENV", [])
    login(people.env)
    page = client.get("/inbox").get_data(as_text=True)
    assert [f'data-ticket="{t.id}"' in page for t in tickets] == [False, True, True]  # newest first
    assert 'id="inbox-more"' in page and "显示最新的 2 件，共 3 件" in page
    client.get("/lang/en")
    partial = client.get("/inbox?partial=1").get_data(as_text=True)
    assert "Showing the 2 newest of 3" in partial  # the live refresh keeps the note
    oldest = client.get("/inbox?sort=oldest").get_data(as_text=True)
    assert [f'data-ticket="{t.id}"' in oldest for t in tickets] == [True, True, False]
    assert "Showing the 2 oldest of 3" in oldest
    assert "Showing the 2 with the nearest deadlines of 3" in client.get("/inbox?sort=deadline").get_data(as_text=True)
    assert 'id="inbox-more"' not in client.get("/inbox?role=co").get_data(as_text=True)  # none hidden
    body = client.get("/api/v1/tickets?department=ENV", headers=bearer(people.env)).get_json()
    assert len(body["parts"]) == 2 and body["total"] == 3
    filtered = client.get("/api/v1/tickets?department=ENV&status=pending", headers=bearer(people.env)).get_json()
    assert filtered["total"] == 3
    ordered = client.get("/api/v1/tickets?department=ENV&sort=oldest", headers=bearer(people.env)).get_json()
    assert [p["ticket"]["id"] for p in ordered["parts"]] == [tickets[0].id, tickets[1].id] and ordered["total"] == 3


def test_chinese_pages_write_a_departments_role_and_a_list_of_categories_as_chinese_does(
    client, db, people, submit, login
):
    ticket = submit()
    with transaction():
        services.dispatch(people.coordinator, ticket.id, ["NOISE", "POTHOLE"], "ENV", [])
        services.request_return(people.env, part_of(ticket, "ENV").id, "return", "不归我们管", "TRANSPORT")
    login(people.env)
    inbox = client.get("/inbox").get_data(as_text=True)
    assert "施工噪音、道路坑洼" in inbox
    client.post("/logout")
    login(people.coordinator)
    disputes = client.get("/coordination/disputes").get_data(as_text=True)
    assert "生态环境局（主办单位）" in disputes and " (主办单位)" not in disputes
    track = client.get(f"/track/{ticket.submission.tracking_code}").get_data(as_text=True)
    assert "生态环境局（主办）" in track and " (主办)" not in track
    client.get("/lang/en")
    assert "Ecology and Environment Bureau (Lead department)" in client.get("/coordination/disputes").get_data(
        as_text=True
    )


def test_parts_that_end_with_a_withdrawn_ticket_are_not_said_to_have_left_it(client, db, people, joint_ticket, login):
    with transaction():
        intake.withdraw(people.citizen, joint_ticket.submission.tracking_code, "已自行解决")
    login(people.env)
    page = client.get(f"/tickets/{joint_ticket.id}").get_data(as_text=True)
    assert page.count("随工单结束") == 2 and "已退出工单" not in page
    client.get("/lang/en")
    assert "Ended with the ticket" in client.get(f"/tickets/{joint_ticket.id}").get_data(as_text=True)


def test_an_inbox_filters_problem_is_said_at_that_filter(client, db, people, joint_ticket, login):
    login(people.env)
    page = client.get("/inbox?age=abc").get_data(as_text=True)
    age = page[page.index('name="age"') :].split("</label>")[0]  # the age filter's own label
    assert 'data-field="age"' in age and "0 到 36500" in age
    assert page.count('class="field-error"') == 1
    status = client.get("/inbox?status=bogus").get_data(as_text=True)
    assert 'data-field="status"' in status[status.index('name="status"') :].split("</label>")[0]


def test_the_inbox_offers_to_sign_for_selected_only_when_a_part_waits_to_be_signed_for(
    client, db, people, joint_ticket, login
):
    login(people.env)
    assert 'id="bulk-accept"' in client.get("/inbox").get_data(as_text=True)
    with transaction():
        services.accept(people.env, part_of(joint_ticket, "ENV").id)
    page = client.get("/inbox").get_data(as_text=True)
    assert f'data-ticket="{joint_ticket.id}"' in page and 'id="bulk-accept"' not in page


def test_a_request_without_contact_details_says_so_rather_than_leave_the_line_blank(
    client, db, people, joint_ticket, login
):
    login(people.env)
    page = client.get(f"/tickets/{joint_ticket.id}").get_data(as_text=True)
    assert "联系方式：未提供" in page  # the sender, signed in, gave no name, phone or e-mail


def test_a_ruling_without_a_suggested_department_does_not_offer_the_suggestion(client, db, people, joint_ticket, login):
    with transaction():
        services.request_return(people.urban, part_of(joint_ticket, "URBAN").id, "return", "不归我们管")
        services.request_return(people.env, part_of(joint_ticket, "ENV").id, "return", "不归我们管")
    login(people.coordinator)
    client.get("/lang/en")
    page = client.get("/coordination/disputes").get_data(as_text=True)
    rows = {r.split('"')[0]: r for r in page.split('<tr data-dispute="')[1:]}
    lead, co = (
        rows[str(d.id)]
        for d in sorted(services.open_disputes(people.coordinator), key=lambda d: d.part.role.value == "co")
    )
    assert "Choose the new lead…" in lead and "(suggested)" not in lead
    assert "(none: the part ends)" in co and "(suggested)" not in co


def test_a_ticket_in_triage_says_no_department_handles_it_yet(client, db, people, submit, login, english):
    ticket = submit("路灯坏了三天，晚上很黑")
    login(people.coordinator)
    page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert 'id="no-parts"' in page and "No department yet: the request waits to be dispatched." in page
    assert "路灯坏了三天，晚上很黑" in client.get("/coordination/triage").get_data(as_text=True)
    submit("工地半夜施工，" * 20)
    assert "…" in client.get("/coordination/triage").get_data(as_text=True)  # a long text is cut where it says so


def test_a_requests_photos_are_shown_to_the_departments_on_its_ticket_only(client, db, people, login):
    """Photo numbers of other departments' tickets are not found (as numbers never given out), and a
    department that has left the ticket no longer opens its photos."""
    login(people.citizen)
    sent = client.post(
        "/submit",
        data={
            "kind": "complaint",
            "text": "工地半夜施工，噪音太大",
            "district": "EAST-HILL",
            "photos": (io.BytesIO(image_bytes()), "site.png"),
        },
        content_type="multipart/form-data",
    )
    assert sent.status_code == 302
    photo = db.session.scalar(select(Attachment))
    ticket = photo.submission.ticket
    with transaction():
        services.dispatch(people.coordinator, ticket.id, ["NOISE"], "ENV", ["URBAN"])
    seen = {}
    for name in ("env", "urban", "transport", "coordinator"):
        client.post("/logout")
        login(getattr(people, name))
        seen[name] = client.get(f"/attachments/{photo.id}").status_code
    assert seen == {"env": 200, "urban": 200, "transport": 404, "coordinator": 200}
    assert client.get(f"/attachments/{photo.id + 1000}").status_code == 404
    with transaction():
        services.remove_part(people.coordinator, part_of(ticket, "URBAN").id, "交通局已另行处理")
    client.post("/logout")
    login(people.urban)
    assert client.get(f"/attachments/{photo.id}").status_code == 404


def test_a_settled_ticket_shows_the_coordinator_no_empty_coordination_card(client, db, people, submit, login, english):
    """Nothing is left to coordinate on a merged or rejected ticket: no card with a heading and nothing under it."""
    master, merged, rejected = submit(), submit("工地夜里还在施工"), submit("广告广告广告")
    with transaction():
        services.merge(people.coordinator, merged.id, master.id)
        services.reject(people.coordinator, rejected.id, "Advertising.")
    login(people.coordinator)
    for settled in (merged, rejected):
        assert "<h2>Coordination</h2>" not in client.get(f"/tickets/{settled.id}").get_data(as_text=True)
    assert "<h2>Coordination</h2>" in client.get(f"/tickets/{master.id}").get_data(as_text=True)


def test_the_coordinators_actions_say_what_was_done_where_they_lead_back_to(
    client, db, people, joint_ticket, submit, login, english
):
    """From the escalation or triage queue a coordinator's action leads back to the queue, where the row may
    simply be gone: a word says what was done, to which ticket."""
    master, duplicate = submit("工地夜里施工，噪音很大"), submit("工地夜里施工，噪音太大了")
    login(people.coordinator)
    tid = joint_ticket.id
    urban = part_of(joint_ticket, "URBAN").id
    for data, said in [
        ({"action": "invite", "department": "TRANSPORT"}, f"A co-handling department is added to ticket #{tid}."),
        ({"action": "lead", "department": "DRC", "reason": "DRC leads"}, f"Ticket #{tid} has a new lead department."),
        ({"action": "waive", "part_id": urban, "reason": "not needed"}, "The co-handling part is waived."),
        (
            {"action": "remove", "part_id": urban, "reason": "not needed"},
            f"A co-handling department left ticket #{tid}.",
        ),
        ({"action": "categories", "primary": "POTHOLE"}, f"The categories of ticket #{tid} are saved."),
    ]:
        done = client.post(f"/tickets/{tid}/act", data={**data, "back": "/coordination/escalations"})
        assert done.status_code == 302 and done.headers["Location"].endswith("/coordination/escalations"), data
        assert said in client.get("/coordination/escalations").get_data(as_text=True), data
    merged = client.post(
        f"/tickets/{duplicate.id}/act",
        data={"action": "merge", "master_id": master.id, "back": "/coordination/triage"},
    )
    assert merged.status_code == 302
    said = f"Ticket #{duplicate.id} was merged into ticket #{master.id}."
    assert said in client.get("/coordination/triage").get_data(as_text=True)
    client.post(f"/tickets/{master.id}/act", data={"action": "reject", "reason": "Advertising."})
    assert f"Ticket #{master.id} was rejected." in client.get(f"/tickets/{master.id}").get_data(as_text=True)
