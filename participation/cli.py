"""Command-line interface: catalog import/export, demo data, and serving the embedded platform."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from participation.core.errors import DomainError
from participation.core.permissions import SYSTEM
from participation.core.uow import transaction
from participation.extensions import db, socketio

DEMO_CATALOG = Path(__file__).parent / "catalog" / "demo" / "catalog.json"
DEMO_PASSWORD = "demo-pass-2026"
DEMO_ACCOUNTS = [
    # login, name, roles, departments, organisation (name, credit code)
    ("admin@demo.city", "平台管理员 Admin", ["admin"], [], None),
    ("coordinator@demo.city", "协调中心 Coordinator", ["coordinator"], [], None),
    ("env.staff@demo.city", "生态环境局 Staff", ["department_staff"], ["ECO-ENV"], None),
    ("env.admin@demo.city", "生态环境局 Admin", ["department_staff", "department_admin"], ["ECO-ENV"], None),
    ("urban.staff@demo.city", "城管局 Staff", ["department_staff"], ["URBAN-MGMT"], None),
    ("moderator@demo.city", "论坛版主 Moderator", ["moderator"], [], None),
    ("researcher@demo.city", "研究员 Researcher", ["researcher"], [], None),
    ("citizen@demo.city", "市民 Citizen", ["citizen"], [], None),
    ("13800138000", "手机用户 Mobile citizen", ["citizen"], [], None),
    ("enterprise@demo.city", "企业用户 Enterprise", ["enterprise"], [], ("海城示范科技有限公司", "computed")),
]


def _fail(error: DomainError) -> None:
    click.echo(json.dumps({"error": error.message, "fields": error.fields}, ensure_ascii=False, indent=2), err=True)
    sys.exit(1)


catalog_cli = AppGroup("catalog", help="Import and export the department catalog.")


@catalog_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def catalog_import(file: Path) -> None:
    """Load departments, districts and categories from FILE (JSON or YAML); all or nothing."""
    from participation.catalog import services

    try:
        with transaction():
            report = services.import_file(SYSTEM, file)
    except DomainError as error:
        _fail(error)
    click.echo(json.dumps(report, indent=2))


@catalog_cli.command("export")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of standard output.")
def catalog_export(out: Path | None) -> None:
    """Write the catalog in the import format."""
    from participation.catalog import services

    text = json.dumps(services.export_catalog(), ensure_ascii=False, indent=2)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
    else:
        click.echo(text)


demo_cli = AppGroup("demo", help="Demo data for trying the platform.")


def _demo_credit_code() -> str:
    """A valid demo credit code (the check digit computed by python-stdnum)."""
    from stdnum.cn import uscc

    body = "91330100MA2A0DEM0"
    return body + uscc.calc_check_digit(body)


def load_demo() -> list[tuple[str, str]]:
    """Import the demo catalog, create the demo accounts, the calendar and demo SLA policies (idempotent)."""
    from participation.accounts.models import Organisation, Role, User
    from participation.accounts.services import normalise_login
    from participation.catalog import services as catalog
    from participation.catalog.models import Department

    with transaction():
        catalog.import_file(SYSTEM, DEMO_CATALOG)
    with transaction():
        for login, name, roles, departments, organisation in DEMO_ACCOUNTS:
            email, mobile = normalise_login(login)
            user = db.session.scalar(select(User).where(User.email == email if email else User.mobile == mobile))
            if user is None:
                user = User(email=email, mobile=mobile, display_name=name, preferred_locale="zh")
                user.set_password(DEMO_PASSWORD)
                db.session.add(user)
            user.set_roles({Role(r) for r in roles})
            ids = set(db.session.scalars(select(Department.id).where(Department.code.in_(departments))))
            user.set_departments(ids)
            if organisation:
                code = _demo_credit_code()
                org = db.session.scalar(select(Organisation).where(Organisation.credit_code == code))
                user.organisation = org or Organisation(name=organisation[0], credit_code=code)
    from participation.deadlines.demo import load_demo_setup

    with transaction():
        load_demo_setup(SYSTEM)
    from participation.exports.models import ResearchProject

    with transaction():  # the demo researcher's project, so the export builder can be tried at once
        researcher = db.session.scalar(select(User).where(User.email == "researcher@demo.city"))
        if researcher and not db.session.scalar(select(ResearchProject.id).where(ResearchProject.code == "DEMO-STUDY")):
            db.session.add(ResearchProject(code="DEMO-STUDY", title="示例研究 Demo study", owner_id=researcher.id))
    return [(login, DEMO_PASSWORD) for login, *_ in DEMO_ACCOUNTS]


@demo_cli.command("load")
def demo_load() -> None:
    """Load the demo catalog and demo accounts."""
    load_demo()
    click.echo("Demo catalog and accounts are loaded.")


@demo_cli.command("generate")
@click.option("--tickets", type=click.IntRange(1), required=True, help="How many submissions arrive.")
@click.option("--seed", type=int, required=True, help="The same seed gives the same data.")
@click.option("--months", type=click.IntRange(1, 120), default=6, show_default=True, help="Length of the period.")
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), help="The period ends at this day (default today).")
@click.option("--planted", type=click.IntRange(1, 5), default=1, show_default=True, help="Departments per gaming kind.")
@click.option("--manifest", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON manifest here.")
@click.option(
    "--bulk-base",
    type=click.IntRange(1),
    help="Carry only this many tickets through the services, then copy their history in the database up to --tickets.",
)
@click.option(
    "--spread-weeks",
    type=click.IntRange(1, 520),
    default=26,
    show_default=True,
    help="Bulk copies move back up to this many weeks.",
)
def demo_generate(
    tickets: int,
    seed: int,
    months: int,
    until,
    planted: int,
    manifest: Path | None,
    bulk_base: int | None,
    spread_weeks: int,
) -> None:
    """Months of synthetic tickets through the real services, with known gaming planted in a few departments."""
    from participation.demo_bulk import copy_history
    from participation.demo_data import Options, generate

    through_services = min(tickets, bulk_base) if bulk_base else tickets
    options = Options(
        tickets=through_services, seed=seed, months=months, until=until.date() if until else None, planted=planted
    )
    try:
        result = generate(options, echo=click.echo)
        if through_services < tickets:
            click.echo(f"Copying the history of {through_services} tickets up to {tickets} ...")
            result["bulk"] = copy_history(tickets, spread_weeks=spread_weeks, echo=click.echo)
            result["tickets"] = tickets
            click.echo(f"Copied in {result['bulk']['seconds']} s.")
    except DomainError as error:
        _fail(error)
    text = json.dumps(result, ensure_ascii=False, indent=2)
    if manifest:
        manifest.write_text(text + "\n", encoding="utf-8")
        click.echo(f"Manifest written to {manifest}.")
    else:
        click.echo(json.dumps({"planted": result["planted"], "period": result["period"]}, indent=2))


def _warm_up(app) -> None:
    from participation.routing.engine import current_router
    from participation.text import analyse

    analyse("预热 warm-up")
    with app.app_context():
        current_router().suggest("预热 warm-up")


@click.command("serve")
@click.option("--host", default=lambda: os.environ.get("HOST", "127.0.0.1"), show_default="127.0.0.1")
@click.option("--port", default=lambda: int(os.environ.get("PORT", "5000")), type=int, show_default="5000")
def serve(host: str, port: int) -> None:
    """Serve the platform with live updates (embedded mode; use gunicorn in production)."""
    import threading

    app = current_app._get_current_object()
    # Load the text models and the router now, not for the first person's submission.
    threading.Thread(target=_warm_up, args=(app,), daemon=True).start()
    url = f"http://{host}:{port}"
    click.echo("")
    click.echo(f"  Participation platform is running at {url}")
    click.echo(f"  Demo log-ins (password for all: {DEMO_PASSWORD}):")
    for login, _name, roles, _d, _o in DEMO_ACCOUNTS:
        click.echo(f"    {login:<24} {', '.join(roles)}")
    click.echo("")
    from participation.core.scheduler import start_embedded_beat
    from participation.intake.tasks import start_embedded_analyser
    from participation.notifications.tasks import start_embedded_mailer

    start_embedded_analyser(app)  # analysis and routing leave the request: the submitter is answered once stored
    start_embedded_mailer(app)  # so does e-mail
    start_embedded_beat(app)  # deadline sweep, outbox, items left unanalysed: no beat process here
    os.environ.pop("FLASK_RUN_FROM_CLI", None)  # this command is the server, not a wrapper around one
    socketio.run(current_app, host=host, port=port, allow_unsafe_werkzeug=True, use_reloader=False, log_output=False)


routing_cli = AppGroup("routing", help="The router: evaluate it on labelled cases, retrain it.")


def _load_json(path: Path, name: str):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        from participation.core.errors import ValidationFailed

        raise ValidationFailed(f"The {name} file cannot be read as JSON.", fields={str(path): [str(error)]}) from None


@routing_cli.command("evaluate")
@click.argument("cases_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--train",
    "train_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Labelled past tickets to learn from first (as if dispatchers had confirmed them).",
)
@click.option(
    "--catalog",
    "catalog_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Evaluate against this catalog file instead of the database's catalog.",
)
@click.option(
    "--predictions",
    "predictions_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write each case's decision here.",
)
def routing_evaluate(
    cases_file: Path, train_file: Path | None, catalog_file: Path | None, predictions_file: Path | None
):
    """Print primary/lead accuracy, co-handler P/R/F1, multi-issue recall, triage share and speed as JSON."""
    from participation.catalog.services import parse_catalog_text
    from participation.routing.engine import catalog_document
    from participation.routing.evaluate import check_codes, evaluate, parse_cases
    from participation.routing.router import CatalogView, Router

    try:
        if catalog_file:
            document = parse_catalog_text(catalog_file.read_text(encoding="utf-8"), catalog_file.name)
            if not isinstance(document, dict):
                from participation.core.errors import ValidationFailed

                raise ValidationFailed(
                    "The catalog file must be an object.", fields={str(catalog_file): ["not an object"]}
                )
        else:
            document = catalog_document()
        view = CatalogView.from_document(document)
        if not view.categories:
            from participation.core.errors import ValidationFailed

            raise ValidationFailed("The catalog has no categories: import one first or pass --catalog.")
        cases = parse_cases(_load_json(cases_file, "cases"), "cases")
        check_codes(cases, view, "cases")
        history = []
        if train_file:
            past = parse_cases(_load_json(train_file, "train"), "train")
            check_codes(past, view, "train")
            history = [(c.text, c.categories) for c in past]
        config = current_app.config
        router = Router(
            view,
            history,
            threshold=config["ROUTING_CONFIDENCE_THRESHOLD"],
            secondary_threshold=config["ROUTING_SECONDARY_THRESHOLD"],
            semantic=config["ROUTING_SEMANTIC"],
        )
        figures, predictions = evaluate(router, cases)
    except DomainError as error:
        _fail(error)
    if predictions_file:
        predictions_file.write_text(json.dumps(predictions, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    click.echo(json.dumps(figures, indent=2))


@routing_cli.command("export-cases")
@click.argument("out_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Submitted on or after this day (UTC).")
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), help="Submitted before this day (UTC).")
def routing_export_cases(out_file: Path, since, until) -> None:
    """Write the settled tickets (confirmed by a dispatcher, or resolved) as cases for `routing evaluate`.

    Train on older tickets and evaluate on newer ones: `export-cases past.json --until 2026-10-01`,
    `export-cases recent.json --since 2026-10-01`, then `evaluate recent.json --train past.json`. The
    texts are the senders' own words: keep the file as the tickets are kept."""
    from datetime import UTC

    from participation.routing.evaluate import confirmed_cases

    bounds = [d.replace(tzinfo=UTC) if d is not None else None for d in (since, until)]
    cases = confirmed_cases(*bounds)
    out_file.write_text(json.dumps(cases, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    click.echo(json.dumps({"cases": len(cases), "file": str(out_file)}))


@routing_cli.command("retrain")
def routing_retrain() -> None:
    """Fit the router on the catalog and every confirmed ticket now, and store it."""
    from participation.routing.engine import forget, retrain

    with transaction():
        model = retrain()
    forget()
    click.echo(json.dumps({"model": model.id, "examples": model.examples}))


def register_cli(app: Flask) -> None:
    app.cli.add_command(routing_cli)
    app.cli.add_command(catalog_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(serve)
    from participation.surveys.cli import surveys_cli

    app.cli.add_command(surveys_cli)
    from participation.scoring.cli import scoring_cli

    app.cli.add_command(scoring_cli)
    from participation.exports.cli import export_command

    app.cli.add_command(export_command)
