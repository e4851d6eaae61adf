"""`flask --app participation scoring recompute|show`."""

from __future__ import annotations

import json

import click

from participation.core.uow import transaction


@click.group("scoring")
def scoring_cli() -> None:
    """Department collaboration scorecards."""


@scoring_cli.command("recompute")
@click.option("--period", default=None, help="YYYY-MM, or R30; default: every month with activity and R30.")
def recompute_command(period: str | None) -> None:
    """Recompute scorecards in full (frozen months stay as they are)."""
    from participation.scoring import services

    if period:
        services.period_bounds(period)  # a clear error for a malformed period
        with transaction():
            count = services.recompute(period)
        click.echo(f"{period}: {count} scorecards" + ("" if count else " (frozen)"))
        return
    periods = [*services.periods_with_activity(), services.ROLLING]
    with transaction():
        count = services.recompute_all(periods)
    click.echo(f"{', '.join(periods)}: {count} scorecards (frozen months left as they were)")


@scoring_cli.command("show")
@click.option("--period", default="R30", show_default=True, help="YYYY-MM or R30.")
@click.option("--json", "as_json", is_flag=True, help="Every component and penalty term as JSON.")
def show_command(period: str, as_json: bool) -> None:
    """Print the scorecards of a period, best first."""
    from participation.core.permissions import SYSTEM
    from participation.scoring import services

    with transaction():
        cards = services.scorecards(SYSTEM, period)
        rows = [services.card_json(c) for c in cards]
    if as_json:
        click.echo(json.dumps({"period": period, "scorecards": rows}, ensure_ascii=False, indent=2))
        return
    for row in rows:
        click.echo(f"{row['score']:6.2f}  {row['role']:<4}  {row['department']:<24} penalties {row['penalty_points']}")
