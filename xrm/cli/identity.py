"""``xrm dedupe``: report candidate duplicates."""

from __future__ import annotations

import click

from xrm.cli._common import json_option, open_session, print_json, print_table


@click.command("dedupe")
@click.option("--kind", "kinds", multiple=True, help="Only parties of this kind (repeatable).")
@click.option("--review", "review_threshold", type=float,
              help="Lowest score reported (for a person to review).")  # fmt: skip
@click.option("--auto", "auto_threshold", type=float,
              help="Score from which a pair is a probable duplicate.")  # fmt: skip
@click.option("--limit", type=click.IntRange(1), help="At most this many pairs.")
@json_option
@click.pass_context
def dedupe(
    ctx: click.Context, kinds: tuple[str, ...], review_threshold: float | None,
    auto_threshold: float | None, limit: int | None, as_json: bool,
) -> None:  # fmt: skip
    """Report pairs of parties that may be the same, with their score, verdict and the
    fields that agreed or disagreed. Nothing is changed."""
    with open_session(ctx) as s:
        pairs = s.identity.duplicates(
            kinds=kinds or None, review_threshold=review_threshold,
            auto_threshold=auto_threshold, limit=limit,
        )  # fmt: skip
    if as_json:
        print_json(pairs)
        return
    print_table(
        ["left", "right", "score", "verdict", "agreed", "disagreed"],
        [(p.left, p.right, f"{p.score:.1f}", p.verdict, ", ".join(f.field for f in p.agreed),
          ", ".join(f.field for f in p.disagreed)) for p in pairs],
    )  # fmt: skip
