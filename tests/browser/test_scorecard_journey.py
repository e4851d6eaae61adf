"""A coordinator's scorecard journey in the browser, against a real gunicorn process.

Three joint noise tickets (ENV leads, URBAN co-handles) are resolved through the services; one was late,
two callbacks are unhappy, so the pair qualifies for the joint-meeting agenda at the default thresholds.
The coordinator reads the ranking and its chart, drills down from a number to the tickets behind it and
opens one, looks at the co-handling network, builds the month's agenda, records the meeting's decision
and moves the category's lead to URBAN; the router then names URBAN for the next noise complaint.
"""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from participation.core.models import utcnow
from participation.core.uow import transaction
from participation.routing import services as routing
from participation.scoring.services import period_of
from tests.browser.conftest import log_in
from tests.routing.conftest import late_joint_ticket, resolve_joint
from tests.scoring.test_agenda import callback

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/scorecards.png"
NOISE_TEXT = "工地半夜施工噪音很大"


@pytest.fixture
def joint_month(joint_ticket, people, submit):
    """Three resolved ENV + URBAN noise tickets: one satisfied; one dissatisfied; one late and "not solved"."""
    second = submit()
    with transaction():
        routing.dispatch(people.coordinator, second.id, ["NOISE"], "ENV", ["URBAN"])
    tickets = [resolve_joint(t, people) for t in (joint_ticket, second, late_joint_ticket(people))]
    callback(tickets[0], 1)
    callback(tickets[1], 3)
    callback(tickets[2], 2, solved=2)
    return tickets


def no_error(page: Page) -> None:
    expect(page.locator(".flash-error")).to_have_count(0)
    expect(page.locator(".field-error")).to_have_count(0)


def submit_form(page: Page, form) -> None:
    """Post a form, wait for the page the server answers with, and check it shows no error."""
    with page.expect_navigation():
        form.locator('button[type="submit"]').click()
    no_error(page)


def has_size(page: Page, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    assert box is not None and box["width"] > 0 and box["height"] > 0, f"{selector} has no size: {box}"


def suggest(base: str, text: str) -> dict:
    """The router's answer from the live process (anonymous: no session, so no CSRF token is needed)."""
    body = json.dumps({"text": text, "district": "EAST-HILL"}).encode()
    request = urllib.request.Request(
        base + "/api/v1/routing/suggest", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def test_coordinator_reads_the_scorecards_and_carries_out_a_meeting_decision(
    joint_month, people, live_server, new_context
):
    ids = {t.id for t in joint_month}
    month = period_of(utcnow())
    base = live_server()
    page = new_context(viewport={"width": 1280, "height": 900}).new_page()
    log_in(page, base, people.coordinator)

    # The ranking of the last 30 days, in English (staff profiles default to Chinese), its chart drawn by Chart.js.
    page.goto(base + "/scorecards")
    with page.expect_navigation():
        page.locator("#lang-en").click()
    expect(page).to_have_url(re.compile(r"/scorecards\??$"))
    expect(page.locator("h1")).to_have_text("Department scorecards")
    no_error(page)
    env_row = page.locator('#ranking tr[data-department="ENV"]')
    expect(env_row).to_have_attribute("data-full", "1")
    expect(page.locator("#ranking tbody tr")).to_have_count(6)  # every department of the catalog
    bars = 'canvas[data-chart-kind="bars"]'
    expect(page.locator(bars)).to_be_visible()
    has_size(page, bars)
    has_size(page, 'canvas[data-chart-kind="trend"]')
    assert page.evaluate("s => !!Chart.getChart(document.querySelector(s))", bars), "Chart.js drew no chart"
    page.screenshot(path=SCREENSHOT, full_page=True)

    # A number opens the tickets behind it; a ticket opens its workspace.
    with page.expect_navigation():
        env_row.locator('td[data-component="resolution"] a').click()
    expect(page).to_have_url(re.compile(r"/scorecards/ENV/R30/lead/resolution$"))
    expect(page.locator("#formula")).to_be_visible()
    listed = page.locator("#drill-tickets li[data-ticket]")
    expect(listed).to_have_count(3)
    assert {int(x) for x in listed.evaluate_all("items => items.map(i => i.dataset.ticket)")} == ids
    first = min(ids)
    with page.expect_navigation():
        page.locator(f'#drill-tickets li[data-ticket="{first}"] a').click()
    expect(page).to_have_url(re.compile(rf"/tickets/{first}$"))
    expect(page.locator("#ticket-status .badge")).to_be_visible()

    # The co-handling network: the graph and the pair's row.
    page.goto(base + "/scorecards/network")
    no_error(page)
    expect(page.locator("#network-graph")).to_be_visible()
    has_size(page, "#network-graph")
    pair = page.locator('#network-pairs tr[data-pair="ENV-URBAN"]')
    expect(pair.locator("td[data-value]").first).to_have_text("3")
    expect(pair.locator("a[href^='/tickets/']")).to_have_count(3)

    # The month's agenda: build it, open the item, record the decision and change the catalog.
    page.goto(f"{base}/scorecards/agenda?period={month}")
    no_error(page)
    expect(page.locator("#agenda-items")).to_have_count(0)
    submit_form(page, page.locator("#build-agenda"))
    item = page.locator('#agenda-items tr[data-category="NOISE"]')
    expect(item).to_have_count(1)
    expect(item.locator('td[data-count="low_satisfaction"] summary')).to_have_text("2")
    expect(item.locator('td[data-count="late"] summary')).to_have_text("1")
    with page.expect_navigation():
        item.locator('td[data-figure="severity"] a').click()
    expect(page.locator("#item-status")).to_have_attribute("data-status", "open")
    expect(page.locator('ul[data-evidence="joint_tickets"] a[data-ticket]')).to_have_count(3)
    decision = page.locator("#form-decision")
    decision.locator('textarea[name="decision"]').fill("URBAN leads night-time noise; TRANSPORT co-handles.")
    submit_form(page, decision)
    expect(page.locator("#item-status")).to_have_attribute("data-status", "decided")
    change = page.locator("#form-catalog-change")
    change.locator('select[name="lead"]').select_option("URBAN")
    change.locator('select[name="co"]').select_option(["TRANSPORT"])
    submit_form(page, change)
    after = page.locator("#catalog-change tbody tr").nth(1)
    expect(after.locator("td").nth(0)).to_have_text("URBAN")
    expect(after.locator("td").nth(1)).to_have_text("TRANSPORT")
    expect(page.locator('#history tr[data-action="scoring.agenda.catalog_changed"]')).to_have_count(1)

    # The router of the live process names the new lead for the next noise complaint.
    routed = suggest(base, NOISE_TEXT)
    assert routed["categories"][0]["code"] == "NOISE", routed
    assert routed["lead"] == "URBAN" and "TRANSPORT" in routed["co"] and "URBAN" not in routed["co"], routed
