"""``xrm order import``, ``xrm value top|show|rfm``, ``xrm recommend PARTY [--build]``.
Added to the ``xrm`` command line by the plugin's ``xrm_cli_commands``.

The commands take the application of the ``xrm`` root command's options (``--database``)
from the click context (its ``app()``), so they run on the same database as the core's
commands; errors become one ``Error:`` line through the root group.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import attrs
import click
from sqlalchemy import select

from xrm.commands import application, json_option, print_json, print_table, session
from xrm.tables import PartyRow
from xrm_commerce._import import import_numbered, in_batches, read_orders
from xrm_commerce._recommend import build_model, recommend
from xrm_commerce._value import rfm_counts, top, value

__all__ = ["order", "recommend_command", "value_group"]

DAY = click.DateTime(formats=["%Y-%m-%d"])


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


def _rounded(row: Sequence[Any]) -> tuple[Any, ...]:
    """Scores and probabilities to three decimals, for a table."""
    return tuple(f"{v:.3f}" if isinstance(v, float) else v for v in row)


@click.group()
def order() -> None:
    """Orders: import them from files (the commerce plugin)."""


@order.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--batch", default=1000, show_default=True, type=click.IntRange(1, 100_000),
              help="Orders per transaction.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per order.")
@click.pass_context
def import_command(ctx: click.Context, path: Path, batch: int, as_json: bool) -> None:
    """Import orders from PATH (.csv: one order line per row; .jsonl: one order line, or
    one order with its lines, per line), recognising each buyer as `xrm import` does. Each
    batch of orders is one transaction; an order already there is skipped; a bad order is
    reported with its line and field, writes nothing, and makes the exit code 1."""
    app = application(ctx)
    counts = {"created": 0, "exists": 0, "refused": 0}
    for records in in_batches(read_orders(path), batch):
        with app.session(actor="cli") as s:
            results = import_numbered(s, records)
        for result in results:
            counts[result.outcome or "refused"] += 1
            if as_json:
                click.echo(json.dumps({
                    "line": result.line, "order": result.reference, "outcome": result.outcome,
                    "order_id": result.order_id, "party_id": result.party_id,
                    "error": None if result.error is None else str(result.error),
                }))  # fmt: skip
            elif result.error is not None:
                click.echo(f"line {result.line} (order {result.reference}): {result.error}",
                           err=True)  # fmt: skip
    if not as_json:
        click.echo(f"{counts['created']} created, {counts['exists']} already there, "
                   f"{counts['refused']} refused")  # fmt: skip
    if counts["refused"]:
        ctx.exit(1)


@click.group("value")
def value_group() -> None:
    """What customers are worth: top lists, a party's value, RFM segments."""


def _period(since: dt.datetime | None, until: dt.datetime | None) -> dict[str, Any]:
    return {"since": _utc(since), "until": _utc(until)}


@value_group.command("top")
@click.option("--currency", required=True, help="ISO 4217 code (EUR).")
@click.option("--by", type=click.Choice(["margin", "revenue", "orders"]), default="margin",
              show_default=True)  # fmt: skip
@click.option("--since", type=DAY, help="Orders from this day (UTC).")
@click.option("--until", type=DAY, help="Orders before this day (UTC).")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 10_000))
@json_option
@click.pass_context
def top_command(
    ctx: click.Context, currency: str, by: Literal["margin", "revenue", "orders"],
    since: dt.datetime | None, until: dt.datetime | None, limit: int, as_json: bool,
) -> None:  # fmt: skip
    """The most profitable customers (by margin, or revenue, or orders) over a period."""
    with session(ctx) as s:
        found = top(s, currency=currency, by=by, limit=limit, **_period(since, until))
        query = select(PartyRow.id, PartyRow.display_name).where(
            PartyRow.id.in_([v.party_id for v in found])
        )
        names = dict(s.db.execute(query).all())
    if as_json:
        print_json([{**v._asdict(), "name": names.get(v.party_id)} for v in found])
        return
    print_table(
        ["party", "name", "orders", "revenue", "margin", "last order"],
        [(v.party_id, names.get(v.party_id), v.orders, v.revenue, v.margin, v.last_order)
         for v in found],
    )  # fmt: skip


@value_group.command("show")
@click.argument("party", type=click.IntRange(1))
@json_option
@click.pass_context
def show_command(ctx: click.Context, party: int, as_json: bool) -> None:
    """A party's value per currency: orders, revenue, margin, first and last order."""
    with session(ctx) as s:
        found = value(s, s.parties.get(party))
    if as_json:
        print_json([v._asdict() for v in found])
        return
    print_table(
        ["currency", "orders", "revenue", "margin", "first order", "last order"],
        [(v.currency, v.orders, v.revenue, v.margin, v.first_order, v.last_order) for v in found],
    )


@value_group.command("rfm")
@click.option("--currency", required=True, help="ISO 4217 code (EUR).")
@click.option("--since", type=DAY, help="Orders from this day (UTC).")
@click.option("--until", type=DAY, help="Orders before this day (UTC).")
@json_option
@click.pass_context
def rfm_command(
    ctx: click.Context, currency: str, since: dt.datetime | None, until: dt.datetime | None,
    as_json: bool,
) -> None:  # fmt: skip
    """How many customers each RFM segment holds."""
    with session(ctx) as s:
        counts = rfm_counts(s, currency=currency, **_period(since, until))
    if as_json:
        print_json(counts)
        return
    print_table(["segment", "parties"], counts.items())


@click.command("recommend")
@click.argument("party", type=click.IntRange(1), required=False)
@click.option("--build", is_flag=True, help="Build the model from every purchase first.")
@click.option("--neighbours", default=50, show_default=True, type=click.IntRange(1, 1000),
              help="Similar products kept per product (with --build).")  # fmt: skip
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100))
@json_option
@click.pass_context
def recommend_command(
    ctx: click.Context, party: int | None, build: bool, neighbours: int, limit: int,
    as_json: bool,
) -> None:  # fmt: skip
    """Products to suggest to PARTY, with what similar customers thought of them; with
    --build, (re)build the model first (the commerce plugin)."""
    if party is None and not build:
        raise click.UsageError("give a PARTY, or --build")
    if build:
        with session(ctx) as s:
            info = build_model(s, neighbours=neighbours)
        if not as_json:
            click.echo(f"model built: {info.products} products, {info.parties} parties, "
                       f"{info.pairs} pairs in {info.seconds:.1f} s")  # fmt: skip
    if party is None:
        return
    with session(ctx) as s:
        found = recommend(s, s.parties.get(party), limit=limit)
    if as_json:
        print_json([attrs.asdict(item) for item in found])
        return
    print_table(
        ["sku", "name", "score", "rating", "ratings", "a review"],
        [_rounded((f.sku, f.name, f.score, None if f.rating is None else round(f.rating, 1),
                   f.ratings, next((r.text for r in f.reviews if r.text), None)))
         for f in found],
    )  # fmt: skip
