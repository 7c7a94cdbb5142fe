"""What a plugin's commands share with xrm's own (the ``xrm_cli_commands`` hook).

::

    import click
    from xrm.commands import ID, json_option, print_json, print_table, session

    @click.command("cards")
    @click.argument("party", type=ID)
    @json_option
    @click.pass_context
    def cards(ctx, party, as_json):
        with session(ctx) as s:          # the database of `xrm --database ...`
            found = list_cards(s, party)
        if as_json:
            print_json(found)            # records, dates, decimals as JSON
        else:
            print_table(["number", "level"], [(c.number, c.level) for c in found])

Errors a command lets through become one ``Error:`` line (exit code 1) through the root
``xrm`` group, as for xrm's own commands (docs/cli.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import click

from xrm.app import XRM, Session
from xrm.cli._common import ID, cell, json_option, print_json, print_table, to_data

__all__ = [
    "ID",
    "application",
    "cell",
    "json_option",
    "print_json",
    "print_table",
    "session",
    "to_data",
]


def application(ctx: click.Context) -> XRM:
    """The application on the database the ``xrm`` command was given (``--database``,
    ``XRM_DATABASE_URL``), for a command that runs several units of work (a worker);
    outside the ``xrm`` command (a plugin's command run on its own), on
    ``XRM_DATABASE_URL``."""
    opener = getattr(ctx.find_root().obj, "app", None)  # the root command's state
    if callable(opener):
        app: XRM = opener()
        return app
    return XRM(os.environ.get("XRM_DATABASE_URL") or "sqlite:///xrm.db")


@contextmanager
def session(ctx: click.Context, actor: str = "cli", *, readonly: bool = False) -> Iterator[Session]:
    """A unit of work, as ``actor``, of :func:`application`."""
    with application(ctx).session(actor=actor, readonly=readonly) as s:
        yield s
