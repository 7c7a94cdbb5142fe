"""Relay throughput to NATS JetStream, beside a plain nats-py publish loop of the same
messages in the same run.

    .venv/bin/python -m bench.relay --events 50000

1. N people are created into a fresh SQLite file (``s.parties.create``, 1,000 per unit of
   work: one ``party.created`` event each, with its outbox row).
2. **Plain nats-py**: the same N messages (bodies, subjects and ``Nats-Msg-Id`` built
   beforehand, not timed) published to a stream of their own with ``publish_async``,
   every PubAck awaited: the floor under the relay's cost.
3. **Sequential nats-py**: the same, one ``publish`` awaited at a time (for scale).
4. **Relay**: ``Relay(app, [NatsSink(...)], batch=B).run_once()`` until the outbox is
   empty: the events read from the journal and their party links, serialised, published
   (up to 256 in flight, never two of one party), acknowledged, and their outbox rows
   deleted.

Needs a NATS server with JetStream (``--nats``, default nats://127.0.0.1:4222). The
streams are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nats

from xrm import XRM
from xrm.relay import NatsSink, Relay
from xrm.relay._events import pending_events


async def _plain(url: str, stream: str, prefix: str, messages: list[Any], pipelined: bool) -> float:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(name=stream, subjects=[f"{prefix}.>"])
    start = time.perf_counter()
    if pipelined:
        window = 256
        for at in range(0, len(messages), window):
            futures = [
                await js.publish_async(subject, body, headers={"Nats-Msg-Id": key})
                for subject, body, key in messages[at : at + window]
            ]
            await asyncio.gather(*futures)
    else:
        for subject, body, key in messages:
            await js.publish(subject, body, headers={"Nats-Msg-Id": key})
    elapsed = time.perf_counter() - start
    assert (await js.stream_info(stream)).state.messages == len(messages)
    await js.delete_stream(stream)
    await nc.close()
    return elapsed


async def _drop(url: str, stream: str) -> int:
    nc = await nats.connect(url)
    js = nc.jetstream()
    count = (await js.stream_info(stream)).state.messages
    await js.delete_stream(stream)
    await nc.close()
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    args = parser.parse_args(argv)
    tag = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as folder:
        app = XRM(f"sqlite:///{folder}/bench.db", builtins=False, discover=False)
        app.upgrade()
        start = time.perf_counter()
        for at in range(0, args.events, 1000):
            with app.session(actor="bench") as s:
                for i in range(at, min(args.events, at + 1000)):
                    s.parties.create("person", f"Person {i}")
        print(f"created {args.events:,} parties in {time.perf_counter() - start:.1f}s")
        relay = Relay(
            app,
            [NatsSink(args.nats, stream=f"BENCH_RELAY_{tag}", subject_prefix=f"bench{tag}.relay")],
            batch=args.batch,
        )
        events = relay.pending()
        sink = relay.sinks[0]
        assert isinstance(sink, NatsSink)
        with app.engine.connect() as conn:
            outbound = pending_events(conn, relay.source, events)
        messages = [(sink.subject(e), e.body(), e.key) for e in outbound]
        rows = [
            ("plain nats-py, publish_async, 256 in flight", True, "P"),
            ("plain nats-py, one publish awaited at a time", False, "S"),
        ]
        plain: dict[str, float] = {}
        for label, pipelined, letter in rows:
            prefix = f"bench{tag}.{letter.lower()}"
            plain[label] = asyncio.run(
                _plain(args.nats, f"BENCH_{letter}_{tag}", prefix, [
                    (f"{prefix}.{subject.split('.', 2)[2]}", body, key)
                    for subject, body, key in messages
                ], pipelined)
            )  # fmt: skip
        start = time.perf_counter()
        while relay.run_once():
            pass
        elapsed = time.perf_counter() - start
        left = relay.pending()
        relay.close()
        stored = asyncio.run(_drop(args.nats, f"BENCH_RELAY_{tag}"))
        app.dispose()
    assert left == 0, left
    assert stored == events, (stored, events)
    print(f"{events:,} events, batch {args.batch}")
    print(f"  relay (read, publish, ack, delete)   {events / elapsed:>9,.0f} events/s")
    for label, seconds in plain.items():
        ratio = (events / elapsed) / (events / seconds)
        print(f"  {label:<45} {events / seconds:>9,.0f} msg/s  (relay = {ratio:.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
