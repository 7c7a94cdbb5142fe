"""``xrm dedupe``, ``xrm merge``, ``xrm unmerge``: find duplicates, merge them, undo a merge."""

from __future__ import annotations

import click

from xrm.cli._common import (
    ID,
    json_option,
    open_session,
    print_json,
    print_json_line,
    print_table,
    resolve_party,
)


@click.command("dedupe")
@click.option("--kind", "kinds", multiple=True, help="Only parties of this kind (repeatable).")
@click.option("--review", "review_threshold", type=float,
              help="Lowest score reported (for a person to review) [default: 8, one more "
                   "per doubling of the parties beyond 10,000].")  # fmt: skip
@click.option("--auto", "auto_threshold", type=float,
              help="Score from which a pair is a probable duplicate [default: 15, one more "
                   "per doubling of the parties beyond 10,000].")  # fmt: skip
@click.option("--limit", type=click.IntRange(1), help="At most this many pairs.")
@click.option(
    "--stream",
    is_flag=True,
    help="Write each pair as one line of JSON as soon as it is found, by party id and "
    "unsorted: memory does not grow with the pairs (for millions of them).",
)
@json_option
@click.pass_context
def dedupe(
    ctx: click.Context, kinds: tuple[str, ...], review_threshold: float | None,
    auto_threshold: float | None, limit: int | None, stream: bool, as_json: bool,
) -> None:  # fmt: skip
    """Report pairs of parties that may be the same, with their score, verdict and the
    fields that agreed or disagreed. Nothing is changed."""
    if stream:
        if limit is not None:
            raise click.UsageError("--stream writes every pair: it takes no --limit")
        with open_session(ctx, readonly=True) as s:  # writers go on meanwhile
            for pair in s.identity.iter_duplicates(
                kinds=kinds or None, review_threshold=review_threshold,
                auto_threshold=auto_threshold,
            ):  # fmt: skip
                print_json_line(pair)
        return
    with open_session(ctx, readonly=True) as s:
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


@click.command("merge")
@click.argument("survivor", metavar="SURVIVOR")
@click.argument("duplicate", metavar="DUPLICATE")
@click.option(
    "--prefer",
    type=click.Choice(["survivor", "duplicate"]),
    default="survivor",
    show_default=True,
    help="Whose names, attributes, primary contact points and current roles win where both "
    "have one (an empty field is always filled).",
)
@click.option("--dry-run", is_flag=True, help="Show what would move; change nothing.")
@click.option(
    "--force",
    is_flag=True,
    help="Merge even when they hold two values of one identifier scheme, or are two "
    "organisations of clearly different names.",
)
@json_option
@click.pass_context
def merge(
    ctx: click.Context,
    survivor: str,
    duplicate: str,
    prefer: str,
    dry_run: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Merge DUPLICATE into SURVIVOR (each an id, email, phone or scheme:value): contact
    points, identifiers, tags, roles, relationships, interactions, timeline and plugins'
    data move; consent is never widened. `xrm unmerge DUPLICATE` undoes it."""
    with open_session(ctx, actor="cli:merge") as s:
        plan = s.identity.merge(
            resolve_party(s, survivor), resolve_party(s, duplicate),
            prefer=prefer, dry_run=dry_run, force=force,  # type: ignore[arg-type]
        )  # fmt: skip
    if as_json:
        print_json(plan)
        return
    verb = "would merge" if plan.dry_run else "merged"
    click.echo(f"{verb} party {plan.duplicate_id} into party {plan.survivor_id}:")
    print_table(
        ["what", "moved"],
        [
            ("fields", ", ".join(sorted(plan.fields)) or "-"),
            ("contact points", len(plan.contact_points_moved)),
            ("contact points both had", len(plan.contact_points_shared)),
            ("identifiers", len(plan.identifiers_moved)),
            ("tags", ", ".join(plan.tags_added) or "-"),
            ("roles", f"{len(plan.roles_moved)} ({len(plan.roles_ended)} ended)"),
            ("relationships", f"{len(plan.relationships_moved)} "
                              f"({len(plan.relationships_kept)} kept)"),
            ("interactions", f"{len(plan.participations_moved)} "
                             f"({len(plan.participations_kept)} kept)"),
            ("consent records deciding", plan.consent_records),
            ("timeline events", plan.timeline_events),
        ],
    )  # fmt: skip
    for ident, why in plan.relationships_kept:
        click.echo(f"relationship {ident} stays with party {plan.duplicate_id}: {why}")
    for conflict in plan.conflicts:
        click.echo(f"conflict: {conflict} (a merge needs --force)")


@click.command("unmerge")
@click.argument("duplicate", type=ID, metavar="DUPLICATE_ID")
@json_option
@click.pass_context
def unmerge(ctx: click.Context, duplicate: int, as_json: bool) -> None:
    """Undo the last merge of party DUPLICATE_ID: what moved goes back, both parties are
    as they were (what was added to the survivor since stays with it)."""
    with open_session(ctx, actor="cli:unmerge") as s:
        result = s.identity.unmerge(duplicate)
    if as_json:
        print_json(result)
        return
    moved = ", ".join(f"{n} {what}(s)" for what, n in sorted(result.moved_back.items()))
    click.echo(
        f"party {result.duplicate_id} unmerged from party {result.survivor_id}: "
        f"{moved or 'nothing'} moved back"
    )
    if not result.fields_restored:
        click.echo(f"party {result.survivor_id} was edited after the merge: its fields stay")
    for what in result.gone:
        click.echo(f"{what} was deleted after the merge: it cannot come back")
