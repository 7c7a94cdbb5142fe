"""``xrm relay``: publish the journal's events to NATS JetStream and signed webhooks."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import click

from xrm.cli._common import CliState, clip
from xrm.relay import NatsSink, Relay, Sink, WebhookSink


@click.command("relay")
@click.option("--nats", "nats_url", metavar="URL", envvar="XRM_NATS_URL",
              help="Publish to NATS JetStream at URL (nats://127.0.0.1:4222).")  # fmt: skip
@click.option("--stream", default="XRM", show_default=True, help="The JetStream stream.")
@click.option("--subject-prefix", default="xrm.events", show_default=True,
              help="Subjects are PREFIX.<event type>.")  # fmt: skip
@click.option("--webhook", "webhooks", metavar="URL", multiple=True,
              help="POST each event to URL, signed (repeatable).")  # fmt: skip
@click.option("--secret", envvar="XRM_WEBHOOK_SECRET",
              help="The webhooks' HMAC-SHA256 secret [default: XRM_WEBHOOK_SECRET].")  # fmt: skip
@click.option("--source", help="The name in idempotency keys (xrm-SOURCE-<event id>) "
              "[default: a hash of the database's host, port and name].")  # fmt: skip
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 100_000),
              help="Events read per round.")  # fmt: skip
@click.option("--poll", default=0.5, show_default=True, type=click.FloatRange(0.01, 3600),
              help="Seconds to wait after a round that found nothing.")  # fmt: skip
@click.option("--once", is_flag=True, help="One round, then stop.")
@click.option("--verbose", "-v", is_flag=True, help="Log every retry and failure to stderr.")
@click.pass_context
def relay(
    ctx: click.Context, nats_url: str | None, stream: str, subject_prefix: str,
    webhooks: tuple[str, ...], secret: str | None, source: str | None, batch: int,
    poll: float, once: bool, verbose: bool,
) -> None:  # fmt: skip
    """Publish the journal's events, at least once and in order per party, to NATS
    JetStream (--nats) and to webhooks (--webhook, signed with --secret), deleting each
    from the outbox once every sink has it. Runs until interrupted (Ctrl-C, SIGTERM), or
    one round with --once (docs/events-out.md)."""
    if nats_url is None and not webhooks:
        raise click.UsageError("give --nats URL or --webhook URL (or both)")
    if webhooks and not secret:
        raise click.BadParameter(
            "a webhook needs a secret: --secret or XRM_WEBHOOK_SECRET", param_hint="--secret"
        )
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    state: CliState = ctx.find_object(CliState)  # type: ignore[assignment]
    app = state.app()
    sinks: list[Sink] = []
    if nats_url is not None:
        sinks.append(NatsSink(nats_url, stream=stream, subject_prefix=subject_prefix))
    sinks.extend(WebhookSink(url, secret or "") for url in webhooks)
    with Relay(app, sinks, batch=batch, source=source, poll=poll) as publisher:
        if once:
            done = publisher.run_once()
            click.echo(f"{done} published, {publisher.pending()} pending")
            return
        stop = threading.Event()

        def _stop(_signum: int, _frame: FrameType | None) -> None:
            stop.set()

        previous = signal.signal(signal.SIGTERM, _stop)
        try:
            publisher.run(stop)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
        click.echo(clip(f"stopped; {publisher.pending()} pending"))
