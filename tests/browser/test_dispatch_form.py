"""The coordinator's dispatch form follows the categories chosen, until departments are picked by hand."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


def chosen(page, name: str) -> list[str]:
    return page.eval_on_selector(
        f'[data-dispatch] select[name="{name}"]', "s => [...s.selectedOptions].map(o => o.value)"
    )


@pytest.fixture
def dispatching(db, people, submit, new_context, live_server):
    """A coordinator's page of a ticket in triage at Hillside (EAST-HILL), with its dispatch form."""
    waiting = submit("小区门口的路灯坏了一个月了，晚上很黑")
    people.coordinator.preferred_locale = "en"
    db.session.commit()
    base = live_server()
    page = new_context().new_page()
    log_in(page, base, people.coordinator)
    page.goto(f"{base}/tickets/{waiting.id}")
    form = page.locator("[data-dispatch]")
    expect(form).to_be_visible()
    return page, form


def test_the_dispatch_form_fills_in_the_catalogs_departments_for_the_categories(dispatching):
    page, form = dispatching

    form.locator('select[name="primary"]').select_option("POTHOLE")
    expect(form.locator('select[name="lead"]')).to_have_value("TRANSPORT")
    expect(form).to_have_attribute("data-followed", "POTHOLE")
    assert chosen(page, "co") == []
    expect(form.locator("[data-dispatch-hint]")).to_contain_text("the catalog gives the chosen categories")

    # Construction noise asks for the district office too; a further category adds its lead.
    form.locator('select[name="primary"]').select_option("NOISE")
    expect(form.locator('select[name="lead"]')).to_have_value("ENV")
    expect(form).to_have_attribute("data-followed", "NOISE")
    assert sorted(chosen(page, "co")) == ["OFFICE-EAST-HILL", "URBAN"]
    form.locator('select[name="categories"]').select_option(["POTHOLE"])
    expect(form).to_have_attribute("data-followed", "NOISE,POTHOLE")
    assert sorted(chosen(page, "co")) == ["OFFICE-EAST-HILL", "TRANSPORT", "URBAN"]

    # A lead picked by hand stays, whatever category is chosen after.
    form.locator('select[name="lead"]').select_option("DRC")
    form.locator('select[name="primary"]').select_option("POTHOLE")
    page.wait_for_timeout(500)
    expect(form.locator('select[name="lead"]')).to_have_value("DRC")
    expect(form).to_have_attribute("data-followed", "NOISE,POTHOLE")


def test_the_dispatch_form_keeps_the_departments_of_the_last_category_chosen(dispatching):
    """Two categories chosen in a moment: the catalog's answer for the first, arriving after the second's,
    does not put back the first category's departments."""
    page, form = dispatching
    held = []

    def hold_the_first(route):
        if "POTHOLE" in route.request.url and not held:
            held.append(route)  # answered later, after the second category's
        else:
            route.continue_()

    page.route("**/api/v1/routing/departments*", hold_the_first)
    form.locator('select[name="primary"]').select_option("POTHOLE")
    form.locator('select[name="primary"]').select_option("NOISE")
    expect(form.locator('select[name="lead"]')).to_have_value("ENV")
    expect(form).to_have_attribute("data-followed", "NOISE")
    assert held, "the first category's request was sent"
    with page.expect_response(lambda r: "POTHOLE" in r.url):
        held[0].continue_()
    page.wait_for_timeout(300)
    expect(form.locator('select[name="lead"]')).to_have_value("ENV")
    expect(form).to_have_attribute("data-followed", "NOISE")
    assert sorted(chosen(page, "co")) == ["OFFICE-EAST-HILL", "URBAN"]
