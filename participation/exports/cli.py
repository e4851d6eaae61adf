"""`flask --app participation export survey-responses|callbacks|scorecards ... --out FILE.zip`."""

from __future__ import annotations

import getpass
import shutil
import sys

import click


@click.command("export")
@click.argument("dataset", type=click.Choice(["survey-responses", "callbacks", "scorecards"]))
@click.option("--survey", default=None, help="Survey code (survey-responses).")
@click.option("--project", required=True, help="Research project code: the scope of the pseudonyms.")
@click.option("--purpose", required=True, help="Why the data is exported (kept in the audit trail and README).")
@click.option("--from", "date_from", default=None, help="First day, YYYY-MM-DD (city time).")
@click.option("--to", "date_to", default=None, help="Last day, YYYY-MM-DD (city time).")
@click.option("--district", default=None, help="District code.")
@click.option("--category", default=None, help="Category code.")
@click.option("--department", default=None, help="Department code.")
@click.option("--dates", "date_level", default="month", show_default=True, help="week, month, quarter or year.")
@click.option("--columns", default=None, help="Quasi-identifier columns to include, comma-separated (default all).")
@click.option("--k", default=5, show_default=True, type=int, help="k-anonymity over the quasi-identifiers.")
@click.option("--text", "include_text", is_flag=True, help="Include free-text answers, scrubbed.")
@click.option("--formats", default="csv,sav,dta", show_default=True, help="Any of csv, sav, dta.")
@click.option("--language", default="en", show_default=True, help="Labels inside .sav/.dta: zh or en.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Where to write the ZIP.")
def export_command(dataset, survey, project, purpose, date_from, date_to, district, category, department,
                   date_level, columns, k, include_text, formats, language, out):  # fmt: skip
    """Write a de-identified research export bundle (audited like any export)."""
    from sqlalchemy import select

    from participation.core.audit import audit
    from participation.core.errors import DomainError
    from participation.core.permissions import SYSTEM
    from participation.core.uow import transaction
    from participation.exports import services
    from participation.exports.models import ExportStatus, ResearchProject
    from participation.extensions import db

    filters = {"date_from": date_from, "date_to": date_to, "district": district, "category": category,
               "department": department}  # fmt: skip
    data = {
        "dataset": dataset,
        "project": project,
        "purpose": purpose,
        "filters": {key: value for key, value in filters.items() if value is not None},
        "date_level": date_level,
        "k": k,
        "include_text": include_text,
        "formats": [f.strip() for f in formats.split(",") if f.strip()],
        "language": language,
    }
    if survey:
        data["survey"] = survey
    if columns is not None:
        data["columns"] = [c.strip() for c in columns.split(",") if c.strip()]
    try:
        with transaction():
            if not db.session.scalar(select(ResearchProject.id).where(ResearchProject.code == project)):
                services.create_project(SYSTEM, {"code": project, "title": f"{project} (command line)"})
            job = services.request_export(SYSTEM, data, queue=False)
            audit(SYSTEM, "export.command_line", job, os_user=getpass.getuser(), project=project)
    except DomainError as error:
        click.echo(f"error: {error.message}", err=True)
        for field, messages in error.fields.items():
            click.echo(f"  {field}: {'; '.join(messages)}", err=True)
        sys.exit(2)
    job = services.run_job(job.id)
    if job.status != ExportStatus.DONE:
        click.echo(f"error: {job.error}", err=True)
        sys.exit(1)
    shutil.copyfile(services.folder() / job.file_name, out)
    summary = job.summary
    click.echo(
        f"{out}: {summary['rows']} rows, files {', '.join(summary['files'])}; sha256 {job.sha256}"
        + (f"; rows with suppressed quasi-identifiers {summary['anonymity']['rows_suppressed']}"
           if summary.get("anonymity") else "")
    )  # fmt: skip
