"""``xrm serve``: the HTTP API (uvicorn); ``xrm keys create``: an API key for it."""

from __future__ import annotations

from pathlib import Path

import click

from xrm import DEFAULT_GRANTS, XRM, RolePolicy
from xrm.cli._common import CliState

__all__ = ["keys", "serve"]

KEYS_DEFAULT = "xrm-keys.json"

_keys_option = click.option(
    "--keys",
    "keys_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    default=KEYS_DEFAULT,
    show_default=True,
    envvar="XRM_KEYS",
    help="The API keys (SHA-256 hashes, JSON) [env XRM_KEYS].",
)


def _serving_app(state: CliState) -> XRM:
    """The application as the other commands build it, with the role-based policy:
    over HTTP every call is checked against the caller's roles."""
    return state.app(policy=RolePolicy())


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="The port."
)
@_keys_option
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, keys_file: Path, log_level: str) -> None:
    """Serve the HTTP API (docs/http.md) with uvicorn, every call checked by the
    role-based policy against the roles of the caller's API key (`xrm keys create`)."""
    try:
        import uvicorn

        from xrm.web import ApiKeys, create_app
    except ImportError as exc:  # pragma: no cover (the extra is missing)
        raise click.ClickException(
            f"xrm serve needs the web extra: pip install 'xrm[web]' ({exc})"
        ) from None
    state: CliState = ctx.find_object(CliState)  # type: ignore[assignment]
    api_keys = ApiKeys(keys_file)
    if not len(api_keys):
        click.echo(
            f"warning: {keys_file} holds no API key: every request will get 401; "
            "create one with `xrm keys create --actor NAME --role agent`",
            err=True,
        )
    app = _serving_app(state)
    try:
        api = create_app(app, api_keys)
        shown = "localhost" if host in ("0.0.0.0", "::") else host
        click.echo(
            f"xrm serve: http://{shown}:{port}/ui/ (the party page), "
            f"http://{shown}:{port}/docs (the API), keys in {keys_file}"
        )
        uvicorn.run(api, host=host, port=port, log_level=log_level)
    finally:
        app.dispose()


@click.group("keys")
def keys() -> None:
    """API keys of `xrm serve`."""


@keys.command("create")
@click.option("--actor", required=True, help="The name the journal writes for this key.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    help="A role (agent, marketer, manager, dpo, admin); repeat for several.",
)
@_keys_option
def create_key(actor: str, roles: tuple[str, ...], keys_file: Path) -> None:
    """Create an API key: printed once, only its hash is stored in FILE."""
    from xrm.web import ApiKeys

    unknown = sorted(set(roles) - set(DEFAULT_GRANTS))
    if unknown:
        click.echo(
            f"warning: {', '.join(unknown)}: not a role of the built-in policy "
            f"({', '.join(DEFAULT_GRANTS)}); only an application's own policy can grant it",
            err=True,
        )
    click.echo(ApiKeys(keys_file).create(actor, roles))
