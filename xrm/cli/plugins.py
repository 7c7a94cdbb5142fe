"""``xrm plugins``: what is installed and loaded."""

from __future__ import annotations

import click

from xrm.cli._common import CliState, json_option, print_json, print_table


@click.command("plugins")
@json_option
@click.pass_obj
def plugins(state: CliState, as_json: bool) -> None:
    """List plugins: name, version, hooks, status (loaded, broken, disabled)."""
    infos = state.app(require_current=False).plugin_info()
    if as_json:
        print_json(infos)
        return
    print_table(
        ["name", "version", "status", "hooks"],
        [(i.name, i.version, i.status if not i.error else f"{i.status}: {i.error}",
          len(i.hooks)) for i in infos],
    )  # fmt: skip
