"""``xrm db``: create, migrate and check the database schema; vacuum it."""

from __future__ import annotations

import click

from xrm.cli._common import CliState, json_option, print_json


@click.group()
def db() -> None:
    """Create, migrate and check the database schema; vacuum it."""


@db.command()
@click.pass_obj
def upgrade(state: CliState) -> None:
    """Create or migrate the schema to the latest revision (core and plugins)."""
    app = state.app(require_current=False)
    app.upgrade()
    click.echo(f"{state.display_url}: schema at {', '.join(sorted(_heads(state)))}")


@db.command()
@json_option
@click.pass_obj
def current(state: CliState, as_json: bool) -> None:
    """Show the schema revisions in the database and the latest ones known."""
    app = state.app(require_current=False)
    now = sorted(app.current_revisions())
    heads = sorted(_heads(state))
    ok = app.schema_is_current()
    if as_json:
        print_json({"database": state.display_url, "current": now, "heads": heads,
                    "up_to_date": ok})  # fmt: skip
        return
    click.echo(f"database:   {state.display_url}")
    click.echo(f"current:    {', '.join(now) or '(empty)'}")
    click.echo(f"latest:     {', '.join(heads)}")
    click.echo(f"up to date: {'yes' if ok else 'no: run `xrm db upgrade`'}")


@db.command()
@click.pass_obj
def check(state: CliState) -> None:
    """Exit 1 unless the schema is at the latest revision."""
    if not state.app(require_current=False).schema_is_current():
        raise click.ClickException("the database schema is not up to date: run `xrm db upgrade`")
    click.echo("schema is up to date")


@db.command()
@click.pass_obj
def vacuum(state: CliState) -> None:
    """Reclaim the space of deleted rows, so erased data leaves the database files.

    SQLite rewrites its file without the free pages (VACUUM); PostgreSQL runs VACUUM, so
    the dead row versions an erasure left behind can be overwritten. Backups and replicas
    keep their own copies: see docs/gdpr.md. Run it after erasures, at a quiet time: it
    takes a lock and a while on a large database.
    """
    state.app().vacuum()
    click.echo(f"{state.display_url}: vacuumed")


def _heads(state: CliState) -> set[str]:
    return state.app(require_current=False).head_revisions()
