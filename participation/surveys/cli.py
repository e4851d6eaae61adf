"""`flask surveys import|export`: survey definitions as files (JSON or YAML), so cities can share and version them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from participation.core.errors import DomainError, ValidationFailed
from participation.core.permissions import SYSTEM
from participation.core.uow import transaction

surveys_cli = AppGroup("surveys", help="Import and export survey definitions.")


def _fail(error: DomainError) -> None:
    """Every problem with its place in the file, as JSON on standard error; exit code 1."""
    click.echo(json.dumps({"error": error.message, "fields": error.fields}, ensure_ascii=False, indent=2), err=True)
    sys.exit(1)


def read_definition(file: Path):
    """A definition file, JSON or YAML (by its name; JSON first, then YAML, for other names)."""
    from participation.catalog.services import parse_catalog_text

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValidationFailed(fields={str(file): [str(error)]}) from None
    return parse_catalog_text(text, file.name)


@surveys_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--publish", is_flag=True, help="Publish the definition as a new frozen version and open the survey.")
@click.option(
    "--distribution",
    type=click.Choice(["public", "invitation", "callback"]),
    help="How the survey is answered (a new survey is public unless told otherwise).",
)
def surveys_import(file: Path, publish: bool, distribution: str | None) -> None:
    """Create a survey from FILE, or replace its draft (the same code again); all or nothing."""
    from participation.surveys import services

    try:
        definition = read_definition(file)
        with transaction():
            survey, created = services.save_definition(SYSTEM, definition, distribution=distribution, publish=publish)
            report = {
                "code": survey.code,
                "created": created,
                "status": survey.status.value,
                "distribution": survey.distribution.value,
                "version": survey.current_version.number if survey.current_version else None,
                "draft_changed": survey.draft_changed,
            }
    except DomainError as error:
        _fail(error)
    click.echo(json.dumps(report, indent=2))


@surveys_cli.command("export")
@click.argument("code")
@click.option("--version", "version", type=click.IntRange(min=1), help="A published version instead of the draft.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of standard output.")
def surveys_export(code: str, version: int | None, out: Path | None) -> None:
    """Write a survey's draft (or a published version) in the import format."""
    from participation.surveys import services

    try:
        definition = services.export_definition(code, version)
    except DomainError as error:
        _fail(error)
    text = json.dumps(definition, ensure_ascii=False, indent=2)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
    else:
        click.echo(text)
