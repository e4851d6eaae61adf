"""A researcher's export journey in the browser, against a real gunicorn process.

Six responses to the PARKS survey are on file. The researcher creates a research project on the exports
page, fills the builder (PARKS, a district filter, CSV and SPSS, monthly dates, k = 5), and lands on the job
page, which has connected to the /exports namespace and shows the export done at 100 % with its checksum
and summary; the download link gives a ZIP with data.csv. Back on the list the job is there, done, and the
builder shows only the fields of the chosen dataset.

The embedded web process runs the job eagerly inside the POST, so the bar is complete when the page loads;
the live events themselves are tested with the Socket.IO test client in tests/exports/test_views.py.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile

import pytest
from playwright.sync_api import Page, expect

from participation.catalog.models import District
from tests.browser.conftest import log_in
from tests.exports import test_exports as export_tests
from tests.exports.test_exports import AT, PURPOSE, add_responses, ids

# The export tests' fixtures: a researcher and the published PARKS survey.
researcher, survey = export_tests.researcher, export_tests.survey

pytestmark = pytest.mark.browser

SCREENSHOTS = ("/tmp/export-builder.png", "/tmp/export-job.png", "/tmp/export-list.png")


@pytest.fixture
def parks_responses(survey):
    district = ids(District)["EAST-HILL"]
    rows = [{"at": AT, "district": district, "answers": {"visited": 1, "clean": 4, "nps": 9}}] * 4
    rows += [{"at": AT, "district": district, "answers": {"visited": 2, "nps": 6}}] * 3
    return add_responses(survey, rows)


def no_error(page: Page) -> None:
    expect(page.locator(".flash-error")).to_have_count(0)
    expect(page.locator(".field-error")).to_have_count(0)


def test_researcher_builds_an_export_and_downloads_the_bundle(
    researcher, parks_responses, live_server, new_context, tmp_path, monkeypatch
):
    monkeypatch.setenv("PARTICIPATION_EXPORT_FOLDER", str(tmp_path / "exports"))
    monkeypatch.setenv("PARTICIPATION_EXPORT_BATCH_ROWS", "2")  # several pages of progress
    monkeypatch.setenv("PARTICIPATION_EXPORT_PROGRESS_SECONDS", "0")
    base = live_server()
    page = new_context(viewport={"width": 1280, "height": 900}).new_page()
    log_in(page, base, researcher)

    # The navigation leads to the exports page; in English (profiles may default to Chinese).
    with page.expect_navigation():
        page.locator("#nav-exports").click()
    if page.locator("#lang-en").count():
        with page.expect_navigation():
            page.locator("#lang-en").click()
    expect(page).to_have_url(re.compile(r"/exports$"))
    expect(page.locator("h1")).to_have_text("Research exports")
    expect(page.locator("#export-jobs")).to_contain_text("No exports yet")

    # A research project first.
    project_form = page.locator("#project-form")
    project_form.locator('input[name="code"]').fill("PARKS-STUDY")
    project_form.locator('input[name="title"]').fill("Satisfaction with parks")
    with page.expect_navigation():
        project_form.locator('button[type="submit"]').click()
    no_error(page)
    expect(page.locator(".flash-success")).to_contain_text("PARKS-STUDY")
    expect(page.locator('#research-projects tr[data-project="PARKS-STUDY"]')).to_be_visible()

    # The builder: fields that do not apply to the chosen dataset are hidden.
    builder = page.locator("#export-form")
    expect(builder.locator('select[name="project"]')).to_have_value("PARKS-STUDY")
    survey_select = builder.locator('select[name="survey"]')
    builder.locator('select[name="dataset"]').select_option("scorecards")
    expect(survey_select).to_be_hidden()
    expect(builder.locator('select[name="district"]')).to_be_hidden()
    builder.locator('select[name="dataset"]').select_option("survey-responses")
    expect(survey_select).to_be_visible()
    expect(builder.locator('input[name="columns-callbacks"]').first).to_be_hidden()
    expect(builder.locator('input[name="columns-survey-responses"]:checked')).to_have_count(4)

    survey_select.select_option("PARKS")
    builder.locator('textarea[name="purpose"]').fill(PURPOSE)
    builder.locator('input[name="date_from"]').fill("2026-10-01")
    builder.locator('input[name="date_to"]').fill("2026-10-31")
    builder.locator('select[name="district"]').select_option("EAST-HILL")
    builder.locator('select[name="date_level"]').select_option("month")
    builder.locator('input[name="columns-survey-responses"][value="language"]').uncheck()
    builder.locator('input[name="format_dta"]').uncheck()
    expect(builder.locator('input[name="k"]')).to_have_value("5")
    page.screenshot(path=SCREENSHOTS[0], full_page=True)
    with page.expect_navigation():
        builder.locator("#export-submit").click()

    # The job page: done, 100 %, the file's checksum and the summary; it is watching its job live.
    no_error(page)
    expect(page).to_have_url(re.compile(r"/exports/\d+$"))
    job_id = int(page.url.rsplit("/", 1)[1])
    job = page.locator("#export-job")
    expect(job).to_have_attribute("data-status", "done")
    expect(job.locator('[data-export-status="done"]')).to_have_text("Done")
    expect(job.locator("progress[data-export-progress]")).to_have_attribute("value", "100")
    expect(job.locator("[data-export-progress-text]")).to_have_text("100 % · 7 of 7 rows")
    expect(page.locator("body")).to_have_attribute("data-exports-live", "watching")
    expect(page.locator('#export-summary [data-summary="rows"]')).to_have_text("7")
    expect(page.locator("#export-files")).to_contain_text("data.sav")
    expect(page.locator("#export-files li", has_text="data.dta")).to_have_count(0)
    sha256 = page.locator("#export-sha256").inner_text()
    assert re.fullmatch(r"[0-9a-f]{64}", sha256)
    expect(page.locator("#export-request")).to_contain_text(PURPOSE)
    page.screenshot(path=SCREENSHOTS[1], full_page=True)

    # The download link gives the ZIP, with the de-identified rows.
    with page.expect_download() as info:
        page.locator("#download-link").click()
    download = info.value
    assert download.suggested_filename == f"survey-responses-PARKS-STUDY-{job_id}.zip"
    with zipfile.ZipFile(download.path()) as bundle:
        names = set(bundle.namelist())
        rows = list(csv.DictReader(io.StringIO(bundle.read("data.csv").decode("utf-8"))))
        sums = bundle.read("SHA256SUMS").decode()
    assert {"data.csv", "data.sav", "codebook.md", "README.md"} <= names and "data.dta" not in names
    assert len(rows) == 7 and "language" not in rows[0] and {r["period"] for r in rows} == {"202610"}
    assert "data.csv" in sums

    # Back on the list, the job is there, done, with its own download link.
    with page.expect_navigation():
        page.locator("#export-job a", has_text="All your exports").click()
    row = page.locator(f'#export-jobs tr[data-export-job="{job_id}"]')
    expect(row).to_have_attribute("data-status", "done")
    expect(row.locator("[data-export-download]")).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-exports-live", "connected")
    page.locator("#export-jobs").screenshot(path=SCREENSHOTS[2])
