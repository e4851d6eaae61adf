"""Research exports: requests and refusals, the bundle's files, de-identification, k-anonymity, jobs."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import zipfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyreadstat
import pytest
from sqlalchemy import func, select

from participation.catalog.models import Category, Department, District
from participation.core.audit import AuditLog
from participation.core.errors import NotFound, PermissionDenied, ValidationFailed
from participation.core.permissions import SYSTEM
from participation.core.uow import transaction
from participation.exports import deid, services
from participation.exports.models import ExportJob, ExportStatus, ResearchProject
from participation.extensions import db
from participation.routing.models import Ticket
from participation.surveys import services as survey_services
from participation.surveys.models import Answer, Response, ResponseStatus
from tests.surveys.test_files_api import definition

pytestmark = pytest.mark.usefixtures("english")  # tests read the messages' wording

PURPOSE = "Study of park satisfaction across districts (approved protocol 2026-17)."
PHONE, IDCARD, MAIL, PLATE = "13812345678", "11010519491231002X", "wang.li@example.cn", "粤B12345"


@pytest.fixture
def researcher(catalog, make_user):
    return make_user("researcher")


@pytest.fixture
def project(researcher):
    with transaction():
        return services.create_project(researcher, {"code": "PARKS-STUDY", "title": "Parks study"})


@pytest.fixture
def survey(catalog):
    with transaction():
        survey_services.save_definition(SYSTEM, definition("PARKS"), distribution="public", publish=True)
    return survey_services.get_survey("PARKS")


def ids(model) -> dict[str, int]:
    return {code: i for code, i in db.session.execute(select(model.code, model.id))}


def add_responses(survey, rows: list[dict]) -> list[int]:
    """Complete responses written directly (the answering services are tested elsewhere), so each test
    controls districts, departments and dates exactly."""
    version = survey.current_version_id
    made = []
    with transaction():
        for row in rows:
            response = Response(
                survey_id=survey.id,
                version_id=version,
                status=ResponseStatus.COMPLETE,
                channel="public",
                language=row.get("language", "zh"),
                district_id=row.get("district"),
                department_id=row.get("department"),
                category_id=row.get("category"),
                started_at=row["at"],
                completed_at=row["at"],
            )
            db.session.add(response)
            db.session.flush()
            for question, value in row.get("answers", {}).items():
                values = value if isinstance(value, list) else [value]
                for v in values:
                    if isinstance(v, str):
                        db.session.add(Answer(response_id=response.id, question=question, value_text=v))
                    else:
                        db.session.add(Answer(response_id=response.id, question=question, value_int=v))
            made.append(response.id)
    return made


AT = datetime(2026, 10, 14, 3, 0, tzinfo=UTC)


def request(researcher, **data):
    payload = {"dataset": "survey-responses", "survey": "PARKS", "project": "PARKS-STUDY", "purpose": PURPOSE}
    payload.update(data)
    with transaction():
        job = services.request_export(researcher, payload)
        job_id = job.id
    return db.session.get(ExportJob, job_id)


def bundle(job, tmp_path: Path) -> Path:
    assert job.status == ExportStatus.DONE, job.error
    folder = tmp_path / f"bundle-{job.id}"
    with zipfile.ZipFile(services.folder() / job.file_name) as archive:
        archive.extractall(folder)
    return folder


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# -- a whole bundle -------------------------------------------------------------------------------


def test_survey_bundle_files_labels_and_missing_codes(researcher, project, survey, tmp_path):
    district = ids(District)
    rows = [
        {"at": AT, "district": district["EAST-HILL"], "answers": {"visited": 1, "used": [1, 3], "clean": 4, "nps": 9}},
        {"at": AT, "district": district["EAST-HILL"], "answers": {"visited": 2, "why_not": "太远", "nps": 3}},
    ] * 3
    add_responses(survey, rows)
    job = request(researcher, columns=["district"])
    folder = bundle(job, tmp_path)
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(
        ["data.csv", "data_excel.csv", "data.sav", "data.dta", "datapackage.json", "codebook.md", "README.md",
         "SHA256SUMS"]
    )  # fmt: skip
    data = read_csv(folder / "data.csv")
    assert len(data) == 6
    visited, not_visited = data[0], data[1]
    assert visited["channel"] == "1"  # public
    assert visited["used_1"] == "1" and visited["used_2"] == "0" and visited["used_3"] == "1"
    assert not_visited["used_1"] == "-1"  # shown only to visitors: not applicable
    assert visited["rating"] == "-7"  # shown, optional, not answered
    assert visited["period"] == "202610" and visited["district"] == str(district["EAST-HILL"])
    assert "why_not" not in visited and "comment" not in visited  # no free text unless asked for
    assert (folder / "data_excel.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert not (folder / "data.csv").read_bytes().startswith(b"\xef\xbb\xbf")

    frame, meta = pyreadstat.read_sav(folder / "data.sav", user_missing=True)
    assert meta.number_rows == 6
    assert meta.column_names_to_labels["nps"] == "Would you recommend it?"
    assert meta.variable_value_labels["visited"][1.0] == "Yes"
    assert meta.variable_value_labels["visited"][-6.0] == "suppressed (small group)"
    assert {"lo": -9.0, "hi": -1.0} in meta.missing_ranges["rating"]
    assert list(frame["rating"]) == [-7.0] * 6
    frame, meta = pyreadstat.read_dta(folder / "data.dta", user_missing=True)
    assert meta.number_rows == 6 and list(frame["rating"]) == ["g"] * 6  # -7 is .g in Stata

    sums = dict(reversed(line.split("  ")) for line in (folder / "SHA256SUMS").read_text().splitlines())
    assert set(sums) == set(names) - {"SHA256SUMS"}
    assert all(deid.sha256_file(folder / name) == digest for name, digest in sums.items())
    readme = (folder / "README.md").read_text()
    assert PURPOSE in readme and "PARKS-STUDY" in readme and "k = 5" in readme
    codebook = (folder / "codebook.md").read_text()
    assert "## visited" in codebook and "| 1 | 去过 | Yes | 3 |" in codebook and "| 2 | 没去过 | No | 3 |" in codebook


def test_bundle_validates_as_a_data_package(researcher, project, survey, tmp_path):
    add_responses(survey, [{"at": AT, "answers": {"visited": 1, "nps": 7}}] * 5)
    folder = bundle(request(researcher), tmp_path)
    result = subprocess.run(
        [str(Path(sys.executable).with_name("frictionless")), "validate", "datapackage.json"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    package = json.loads((folder / "datapackage.json").read_text())
    fields = {f["name"]: f for f in package["resources"][0]["schema"]["fields"]}
    assert fields["visited"]["constraints"]["enum"] == [1, 2]
    assert package["resources"][0]["schema"]["missingValues"] == ["", "-9", "-8", "-7", "-6", "-1"]


# -- de-identification ----------------------------------------------------------------------------


def test_pseudonyms_stable_within_a_project_and_different_across(researcher, project, survey, tmp_path):
    made = add_responses(survey, [{"at": AT, "answers": {"visited": 1, "nps": 5}}] * 5)
    first = read_csv(bundle(request(researcher), tmp_path) / "data.csv")
    again = read_csv(bundle(request(researcher), tmp_path) / "data.csv")
    with transaction():
        services.create_project(researcher, {"code": "OTHER-STUDY", "title": "Another study"})
    other = read_csv(bundle(request(researcher, project="OTHER-STUDY"), tmp_path) / "data.csv")
    assert [r["resp"] for r in first] == [r["resp"] for r in again]
    assert len({r["resp"] for r in first}) == len(made)
    assert not {r["resp"] for r in first} & {r["resp"] for r in other}
    assert all(r["resp"].startswith("r_") and len(r["resp"]) == 18 for r in first)
    assert not any(str(i) == r["resp"] for i in made for r in first)


def test_free_text_only_when_asked_and_scrubbed(researcher, project, survey, tmp_path):
    text = f"电话{PHONE}，身份证{IDCARD}，邮件{MAIL}，车牌{PLATE}，公园太远"
    add_responses(survey, [{"at": AT, "answers": {"visited": 2, "why_not": text, "nps": 4}}] * 5)
    plain = bundle(request(researcher), tmp_path)
    assert not (plain / "text_answers.csv").exists()
    with_text = bundle(request(researcher, include_text=True), tmp_path)
    answers = read_csv(with_text / "text_answers.csv")
    assert len(answers) == 5 and answers[0]["question"] == "why_not"
    assert answers[0]["text"] == "电话[MOBILE]，身份证[ID]，邮件[EMAIL]，车牌[PLATE]，公园太远"
    for path in [*plain.iterdir(), *with_text.iterdir()]:
        content = path.read_bytes()
        for secret in (PHONE, IDCARD, MAIL, PLATE):
            assert secret.encode() not in content, (path.name, secret)


def test_no_contact_data_in_any_file(researcher, project, people, submit, tmp_path):
    """Callbacks of tickets whose senders left a name, phone and e-mail, answered with free text that
    repeats them: no file of the callbacks or the callback survey's responses holds any of it."""
    from participation.routing import services as routing
    from participation.surveys import callbacks
    from tests.routing.conftest import resolve_joint

    contact = {"name": "王小明", "phone": PHONE, "email": MAIL}
    for _ in range(5):
        ticket = submit(contact=contact, address="幸福路18号")
        with transaction():
            routing.dispatch(people.coordinator, ticket.id, ["NOISE"], "ENV", ["URBAN"])
        resolve_joint(ticket, people)
        answers = {"solved": 1, "satisfaction": 1, "rating": 5}
        text_question = next(
            (q["name"] for q in callbacks.callback_definition()["questions"] if q["type"] == "text"), None
        )
        if text_question:
            answers[text_question] = f"我是王小明，电话{PHONE}，邮箱{MAIL}"
        with transaction():
            callbacks.answer_by_tracking_code(people.citizen, ticket.submission.tracking_code, answers)
    callback_survey = callbacks.ensure_callback_survey()
    folders = [
        bundle(request(researcher, dataset="callbacks", survey=None, columns=["lead_department"]), tmp_path),
        bundle(request(researcher, survey=callback_survey.code, include_text=True, columns=[]), tmp_path),
    ]
    assert len(read_csv(folders[0] / "data.csv")) == 5 and len(read_csv(folders[1] / "data.csv")) == 5
    secrets = [PHONE, MAIL, "王小明", "幸福路", people.citizen.email, researcher.email]
    secrets += [str(t.submission.tracking_code) for t in db.session.scalars(select(Ticket))]
    for folder in folders:
        for path in folder.iterdir():
            content = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in content, (path.name, secret)


def test_k_anonymity_suppresses_small_groups(researcher, project, survey, tmp_path):
    district = ids(District)
    big = [{"at": AT, "district": district["EAST-HILL"], "answers": {"visited": 1, "nps": 9}}] * 40
    small = [{"at": AT, "district": district["EAST"], "answers": {"visited": 1, "nps": 2}}] * 2
    add_responses(survey, big + small)
    job = request(researcher, columns=["district"])
    data = read_csv(bundle(job, tmp_path) / "data.csv")
    groups = Counter((r["period"], r["district"]) for r in data)
    assert min(groups.values()) >= 5, groups
    assert groups[("202610", str(district["EAST-HILL"]))] <= 40
    suppressed = [r for r in data if r["district"] == "-6"]
    assert len(suppressed) >= 5 and all(r["period"] == "-6" for r in suppressed)
    assert str(district["EAST"]) not in {r["district"] for r in data}
    assert job.summary["anonymity"]["rows_suppressed"] == len(suppressed)


def test_k_anonymity_coarsens_dates_before_suppressing(researcher, project, survey, tmp_path):
    """Weekly groups are all small; monthly ones are not: the month is used, nothing suppressed."""
    start = datetime(2026, 10, 5, 3, 0, tzinfo=UTC)  # four weeks of October, three responses each
    rows = [{"at": start + timedelta(days=7 * (i % 4)), "answers": {"visited": 1, "nps": 9}} for i in range(12)]
    add_responses(survey, rows)
    job = request(researcher, date_level="week", columns=[])
    data = read_csv(bundle(job, tmp_path) / "data.csv")
    assert job.summary["date_level"] == "month" and job.summary["anonymity"]["rows_suppressed"] == 0
    assert {r["period"] for r in data} == {"202610"} and len(data) == 12


def test_fewer_rows_than_k_are_withheld(researcher, project, survey, tmp_path):
    add_responses(survey, [{"at": AT, "answers": {"visited": 1, "nps": 9}}] * 3)
    job = request(researcher)
    folder = bundle(job, tmp_path)
    assert read_csv(folder / "data.csv") == []
    assert job.summary["anonymity"]["withheld"] and "none are released" in (folder / "README.md").read_text()


def test_filters_that_match_nothing_give_a_clear_empty_export(researcher, project, survey, tmp_path):
    add_responses(survey, [{"at": AT, "answers": {"visited": 1, "nps": 9}}] * 5)
    job = request(researcher, filters={"date_from": "2020-01-01", "date_to": "2020-01-31"})
    folder = bundle(job, tmp_path)
    assert job.summary["rows"] == 0 and read_csv(folder / "data.csv") == []
    frame, meta = pyreadstat.read_sav(folder / "data.sav")
    assert meta.number_rows == 0 and "nps" in meta.column_names


# -- bad requests -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"dataset": "tax-records"}, "dataset"),
        ({"survey": "NO-SUCH"}, "survey"),
        ({"project": "NOPE"}, "project"),
        ({"purpose": "x"}, "purpose"),
        ({"formats": ["xlsx"]}, "formats[0]"),
        ({"filters": {"district": "ATLANTIS"}}, "filters.district"),
        ({"filters": {"date_from": "2026-10-31", "date_to": "2026-10-01"}}, "filters.date_to"),
        ({"columns": ["shoe_size"]}, "columns"),
        ({"dataset": "callbacks", "include_text": True, "survey": None}, "include_text"),
    ],
)
def test_bad_requests_are_field_errors_and_store_nothing(researcher, project, survey, change, field):
    payload = {"dataset": "survey-responses", "survey": "PARKS", "project": "PARKS-STUDY", "purpose": PURPOSE}
    payload.update(change)
    payload = {k: v for k, v in payload.items() if v is not None}
    with pytest.raises(ValidationFailed) as error, transaction():
        services.request_export(researcher, payload)
    assert field in error.value.fields, error.value.fields
    assert db.session.scalar(select(func.count(ExportJob.id))) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"contact_phone": True}, "contact_phone"),
        ({"columns": ["email"]}, "columns[0]"),
        ({"date_level": "day"}, "date_level"),
        ({"k": 2}, "k"),
        ({"include_text": True, "scrub": False}, "scrub"),
    ],
)
def test_requests_for_personal_data_are_refused_with_the_reason(researcher, project, survey, change, field):
    payload = {"dataset": "survey-responses", "survey": "PARKS", "project": "PARKS-STUDY", "purpose": PURPOSE}
    with pytest.raises(services.PersonalDataRefused) as error, transaction():
        services.request_export(researcher, {**payload, **change})
    assert field in error.value.fields and "personal" in error.value.message.lower()
    assert db.session.scalar(select(func.count(ExportJob.id))) == 0


def test_only_researchers_export_and_only_under_their_own_projects(researcher, project, survey, make_user):
    coordinator, other = make_user("coordinator"), make_user("researcher")
    payload = {"dataset": "scorecards", "project": "PARKS-STUDY", "purpose": PURPOSE}
    with pytest.raises(PermissionDenied), transaction():
        services.request_export(coordinator, payload)
    with pytest.raises(PermissionDenied), transaction():
        services.request_export(other, payload)


def test_download_only_by_its_researcher_and_audited(researcher, project, survey, make_user):
    add_responses(survey, [{"at": AT, "answers": {"visited": 1, "nps": 9}}] * 5)
    job = request(researcher)
    coordinator, other = make_user("coordinator"), make_user("researcher")
    assert services.get_job(coordinator, job.id) is job  # the city sees who exported what
    with pytest.raises(PermissionDenied):
        services.download(coordinator, job.id)
    with pytest.raises(PermissionDenied):
        services.get_job(other, job.id)
    with transaction():
        path, name = services.download(researcher, job.id)
    assert path.is_file() and name.endswith(".zip")
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.target_type == "ExportJob")).all()
    assert actions == ["export.requested", "export.completed", "export.downloaded"]
    requested = db.session.scalar(select(AuditLog).where(AuditLog.action == "export.requested"))
    assert requested.actor_id == researcher.id and requested.payload["purpose"] == PURPOSE


# -- jobs ---------------------------------------------------------------------------------------------


def test_a_failing_job_is_marked_failed_and_offers_no_file(researcher, project, survey, monkeypatch):
    from participation.exports import bundle as bundle_module

    add_responses(survey, [{"at": AT, "answers": {"visited": 1, "nps": 9}}] * 5)

    class Interrupted(RuntimeError):
        pass

    def broken_stats(self, batch):
        raise Interrupted("the worker was stopped")

    monkeypatch.setattr(bundle_module._Stats, "add", broken_stats)
    job = request(researcher)
    assert job.status == ExportStatus.FAILED and job.file_name is None and "no file" in job.error
    assert list(services.folder().glob(f"export-{job.id}-*")) == []
    assert not list(services.folder().glob(".work-*"))
    with pytest.raises(NotFound):
        services.download(researcher, job.id)


def test_sweep_fails_dead_jobs_and_expires_old_bundles(researcher, project, survey, app):
    add_responses(survey, [{"at": AT, "answers": {"visited": 1, "nps": 9}}] * 5)
    done = request(researcher)
    path = services.folder() / done.file_name
    with transaction():
        dead = ExportJob(
            user_id=researcher.id, project_id=done.project_id, dataset="scorecards", purpose=PURPOSE,
            status=ExportStatus.RUNNING, heartbeat_at=datetime.now(UTC) - timedelta(hours=1),
        )  # fmt: skip
        db.session.add(dead)
    later = done.expires_at + timedelta(seconds=1)
    with transaction():
        assert services.sweep(later) == {"expired": 1, "failed": 1}
    assert done.status == ExportStatus.EXPIRED and not path.exists()
    assert dead.status == ExportStatus.FAILED and "interrupted" in dead.error
    with pytest.raises(NotFound):
        services.download(researcher, done.id)


def test_callbacks_and_scorecards_datasets(researcher, project, people, joint_ticket, tmp_path):
    """A resolved joint ticket's callback, and the month's scorecards."""
    from participation.scoring.services import period_of, recompute
    from participation.surveys import callbacks
    from tests.routing.conftest import resolve_joint

    resolve_joint(joint_ticket, people)
    with transaction():
        callbacks.answer_by_tracking_code(
            people.citizen, joint_ticket.submission.tracking_code, {"solved": 1, "satisfaction": 1, "rating": 5}
        )
    with transaction():
        recompute(period_of(datetime.now(UTC)))
    job = request(researcher, dataset="callbacks", survey=None, k=5)
    rows = read_csv(bundle(job, tmp_path) / "data.csv")
    assert job.summary["rows_total"] == 1 and job.summary["anonymity"]["withheld"]  # one callback < k
    assert rows == []
    cards = request(researcher, dataset="scorecards", survey=None)
    rows = read_csv(bundle(cards, tmp_path) / "data.csv")
    departments = ids(Department)
    assert {int(r["department"]) for r in rows} >= {departments["ENV"], departments["URBAN"]}
    assert all(r["period"].isdigit() and len(r["period"]) == 6 for r in rows)
    assert cards.summary["anonymity"] is None


def test_callbacks_rows_with_enough_people(researcher, project, people, submit, tmp_path):
    from participation.routing import services as routing
    from participation.surveys import callbacks
    from tests.routing.conftest import resolve_joint

    for _ in range(5):
        ticket = submit()
        with transaction():
            routing.dispatch(people.coordinator, ticket.id, ["NOISE"], "ENV", ["URBAN"])
        resolve_joint(ticket, people)
        with transaction():
            callbacks.answer_by_tracking_code(
                people.citizen, ticket.submission.tracking_code, {"solved": 1, "satisfaction": 2, "rating": 4}
            )
    job = request(researcher, dataset="callbacks", survey=None, columns=["lead_department"])
    rows = read_csv(bundle(job, tmp_path) / "data.csv")
    assert len(rows) == 5
    assert {r["satisfaction"] for r in rows} == {"2"} and {r["rating"] for r in rows} == {"4"}
    assert {r["lead_department"] for r in rows} == {str(ids(Department)["ENV"])}
    assert all(r["co_departments"] == "1" and float(r["hours_to_resolution"]) >= 0 for r in rows)
    assert "district" not in rows[0]


def test_project_codes_are_unique_and_checked(researcher, project):
    with pytest.raises(ValidationFailed) as error, transaction():
        services.create_project(researcher, {"code": "PARKS-STUDY", "title": "Again"})
    assert "code" in error.value.fields
    with pytest.raises(ValidationFailed), transaction():
        services.create_project(researcher, {"code": "bad code!", "title": "x"})
    assert db.session.scalar(select(func.count(ResearchProject.id))) == 1


def test_unused_catalog_rows_do_not_matter(researcher, project, survey, tmp_path):
    assert ids(Category)  # the catalog's codes label the category column even when no row uses them
    add_responses(survey, [{"at": AT, "answers": {"visited": 1, "nps": 9}}] * 5)
    package = json.loads((bundle(request(researcher), tmp_path) / "datapackage.json").read_text())
    category = next(f for f in package["resources"][0]["schema"]["fields"] if f["name"] == "category")
    assert set(category["constraints"]["enum"]) == set(ids(Category).values())


def test_csv_reads_back_as_codes(researcher, project, survey, tmp_path):
    add_responses(survey, [{"at": AT, "answers": {"visited": 1, "used": [2], "nps": 10}}] * 5)
    folder = bundle(request(researcher), tmp_path)
    text = (folder / "data_excel.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["nps"] == "10" and rows[0]["used_2"] == "1" and rows[0]["used_1"] == "0"


def test_callbacks_code_every_kind_of_submission():
    """A kind without a code would be exported as "not applicable"."""
    from participation.exports.datasets import KIND_CODES
    from participation.intake.models import Kind

    assert set(KIND_CODES) == {kind.value for kind in Kind}


def test_survey_responses_code_every_channel():
    """A channel without a code would be exported as "not applicable"."""
    from participation.exports.datasets import CHANNEL_CODES
    from participation.surveys.models import Distribution

    assert set(CHANNEL_CODES) == {channel.value for channel in Distribution}


def test_grouped_k_anonymity_counts_equal_the_row_by_row_pass(researcher, project, survey):
    """PostgreSQL counts the quasi-identifier groups per city-time day; the result must be what reading
    every row gives, at every date level, including moments whose city day, ISO week or year differ from UTC's."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the grouped pass runs on PostgreSQL")
    from participation.exports import bundle as bundle_module
    from participation.exports.datasets import DATASETS

    district, department = ids(District), ids(Department)
    edges = [
        datetime(2026, 10, 31, 16, 30, tzinfo=UTC),  # 1 November 00:30 in the city: another month
        datetime(2026, 12, 31, 17, 0, tzinfo=UTC),  # 2027 in the city: another year and quarter
        datetime(2026, 10, 4, 15, 59, tzinfo=UTC),  # Sunday 23:59 in the city: the ISO week still ends
        datetime(2026, 10, 4, 16, 1, tzinfo=UTC),  # Monday 00:01 in the city: the next ISO week
        AT,
    ]
    rows = [
        {
            "at": edges[i % len(edges)],
            "district": [district["EAST"], district["EAST-HILL"], None][i % 3],
            "department": [None, department["ENV"]][i % 2],
            "language": ["zh", "en"][i % 2],
        }
        for i in range(30)
    ]
    add_responses(survey, rows)
    job = request(researcher, date_level="week", columns=["district", "department", "language"])
    spec = services.spec_for(job)
    dataset = DATASETS[spec.dataset]
    last = db.session.execute(select(func.max(Response.id))).scalar()
    levels = deid.LEVELS
    grouped = bundle_module._qi_counts(dataset, spec, last, levels, grouped=True)
    by_rows = bundle_module._qi_counts(dataset, spec, last, levels, grouped=False)
    assert grouped == by_rows
    assert sum(grouped["week"].values()) == 30 and len(grouped["year"]) > 1
    monthly = deid.LEVELS[1:]  # no weeks asked for: PostgreSQL groups by month alone
    assert bundle_module._qi_counts(dataset, spec, last, monthly, grouped=True) == bundle_module._qi_counts(
        dataset, spec, last, monthly, grouped=False
    )


def test_questions_of_another_version_and_conditions_on_a_multiple_choice(researcher, project, survey, tmp_path):
    """Version 2 adds a question shown when a multiple-choice answer includes a code: not asked (-9) in
    version 1, not applicable (-1) when the code was not chosen, the answer or refused (-7) when it was."""
    first = survey.current_version_id
    add_responses(survey, [{"at": AT, "answers": {"visited": 1, "used": [2], "nps": 8}}] * 5)
    second = definition("PARKS")
    second["questions"].insert(
        3,
        {
            "name": "toilets_ok",
            "type": "single",
            "label": {"zh": "厕所干净吗？", "en": "Were the toilets clean?"},
            "choices": [
                {"code": 1, "label": {"zh": "干净", "en": "Yes"}},
                {"code": 2, "label": {"zh": "不", "en": "No"}},
            ],
            "required": False,
            "show_if": {"question": "used", "in": [2, 3]},
        },
    )
    with transaction():
        survey_services.save_definition(SYSTEM, second, distribution="public", publish=True)
    survey = survey_services.get_survey("PARKS")
    assert survey.current_version_id != first
    add_responses(
        survey,
        [{"at": AT, "answers": {"visited": 1, "used": [3], "toilets_ok": 2, "nps": 8}}] * 5
        + [{"at": AT, "answers": {"visited": 1, "used": [1], "nps": 8}}] * 5
        + [{"at": AT, "answers": {"visited": 1, "used": [2], "nps": 8}}] * 5
        + [{"at": AT, "answers": {"visited": 2, "nps": 8}}] * 5,
    )
    data = read_csv(bundle(request(researcher, columns=[]), tmp_path) / "data.csv")
    assert [r["toilets_ok"] for r in data] == ["-9"] * 5 + ["2"] * 5 + ["-1"] * 5 + ["-7"] * 5 + ["-1"] * 5
    assert [r["version"] for r in data] == ["1"] * 5 + ["2"] * 15 + ["2"] * 5
    assert [r["used_3"] for r in data] == ["0"] * 5 + ["1"] * 5 + ["0"] * 10 + ["-1"] * 5


def test_driver_rows_give_the_same_files_as_sqlalchemy_rows(researcher, project, survey):
    """On PostgreSQL survey responses are read as the driver's plain tuples; transformed, they must equal
    what SQLAlchemy's rows give (enumerations, moments, blanks and all)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the driver's rows are read on PostgreSQL")
    from participation.exports import bundle as bundle_module
    from participation.exports.datasets import DATASETS

    district = ids(District)
    add_responses(
        survey,
        [
            {
                "at": AT + timedelta(hours=i),
                "district": [district["EAST"], None][i % 2],
                "language": ["zh", "en"][i % 2],
                "answers": {"visited": 1 + i % 2, "used": [1, 2][: i % 3], "clean": i % 5 + 1, "nps": i % 11},
            }
            for i in range(25)
        ],
    )
    with transaction():
        db.session.execute(
            Response.__table__.update().where(Response.id % 3 == 0).values(channel="INVITATION")
        )  # stored by name, as SQLAlchemy stores the enumeration
    job = request(researcher, columns=["district", "language"])
    spec = services.spec_for(job)
    dataset = DATASETS[spec.dataset]
    last = db.session.execute(select(func.max(Response.id))).scalar()
    transform = dataset.transformer(spec.ctx, "month", set())

    def rows(raw: bool) -> list[tuple]:
        by_page = lambda ids: dataset.select(spec.ctx, ids=ids)  # noqa: E731
        return [transform(r) for chunk in bundle_module.pages(dataset, by_page, last, 7, raw=raw) for r in chunk]

    plain, driver = rows(False), rows(True)
    assert len(plain) == 25 and plain == driver
    assert {r[3] for r in plain} == {1, 2}  # public and invitation channels both coded
