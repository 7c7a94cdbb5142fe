"""The ``xrm`` command line: one module per command group.

Exit codes: 0 success; 1 a user error, printed as one line (``Error: ...``) with no
traceback, whatever the exception (:class:`~xrm.cli._common.XRMGroup`; ``XRM_DEBUG=1``
shows the traceback); 2 a usage error (click's own).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from xrm import XRM
from xrm.cli._common import CliState, XRMGroup
from xrm.cli.activities import activity
from xrm.cli.consent import consent
from xrm.cli.db import db
from xrm.cli.gdpr import erase
from xrm.cli.identity import dedupe, merge, unmerge
from xrm.cli.io import export_party, import_file
from xrm.cli.messages import inbound, message, worker
from xrm.cli.parties import party
from xrm.cli.plugins import plugins
from xrm.cli.records import interact, relate, relationships, role, timeline
from xrm.cli.relay import relay
from xrm.cli.scaffold import scaffold
from xrm.cli.segments import segment
from xrm.cli.serve import keys, serve

__all__ = ["cli", "main"]


@click.group(cls=XRMGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--database",
    "-d",
    metavar="URL",
    envvar="XRM_DATABASE_URL",
    help="Database URL [default: XRM_DATABASE_URL, else sqlite:///xrm.db].",
)
@click.option(
    "--region",
    metavar="CC",
    envvar="XRM_DEFAULT_REGION",
    help="Country (ISO 3166 alpha-2) for phone numbers written without a country code.",
)
@click.option(
    "--templates",
    metavar="DIR",
    envvar="XRM_TEMPLATES",
    help="Message templates: DIR/<name>/<channel>.<language>.txt|html|subject.",
)
@click.option(
    "--outbox",
    metavar="DIR",
    envvar="XRM_OUTBOX",
    help="Deliver email and SMS as files in DIR (the file transport; SMS only with --smtp).",
)
@click.option("--smtp", metavar="HOST:PORT", envvar="XRM_SMTP", help="Deliver email by SMTP.")
@click.option(
    "--sender",
    default="xrm@localhost",
    show_default=True,
    envvar="XRM_SENDER",
    help="The From address of email.",
)
@click.version_option(package_name="xrm", prog_name="xrm")
@click.pass_context
def cli(
    ctx: click.Context, database: str | None, region: str | None, templates: str | None,
    outbox: str | None, smtp: str | None, sender: str,
) -> None:  # fmt: skip
    """xrm: one view of every party, every contact remembered, contact only with
    permission.

    The database is --database, else XRM_DATABASE_URL, else the embedded
    sqlite:///xrm.db. Run `xrm db upgrade` once to create it.
    """
    ctx.obj = CliState(database, region, templates, outbox, smtp, sender)
    ctx.call_on_close(ctx.obj.close)


@cli.command("demo")
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Run the demo (a day at a small company) against the database."""
    from xrm import demo as demo_module  # an application on the public API, not the core

    demo_module.run(ctx.obj.url or "sqlite:///xrm.db", say=click.echo)


for command in (db, party, role, relate, relationships, interact, consent, timeline, plugins,
                import_file, export_party, erase, dedupe, merge, unmerge, scaffold, message,
                worker, inbound, serve, keys, relay, activity, segment):  # fmt: skip
    cli.add_command(command)


def main(argv: list[str] | None = None) -> Any:
    """The console script: the CLI plus every plugin's commands."""
    try:
        XRM.add_plugin_commands(cli)
    except Exception as exc:  # a plugin's command hook must not brick the CLI
        click.echo(f"warning: plugin commands not loaded: {exc}", err=True)
    return cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="xrm")
