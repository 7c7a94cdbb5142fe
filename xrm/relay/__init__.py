"""Events out: the relay publishes the journal's events from the transactional outbox to
NATS JetStream and to signed HTTP webhooks, at least once, in order per party, each with
an idempotency key (docs/events-out.md).

>>> with Relay(app, [NatsSink("nats://127.0.0.1:4222")]) as relay:  # doctest: +SKIP
...     relay.run()
"""

from xrm.relay._events import OutboundEvent, default_source
from xrm.relay._nats import NatsSink
from xrm.relay._relay import Relay
from xrm.relay._sink import Sink, SinkFailure
from xrm.relay._webhook import WebhookSink, sign, verify_signature

__all__ = [
    "NatsSink",
    "OutboundEvent",
    "Relay",
    "Sink",
    "SinkFailure",
    "WebhookSink",
    "default_source",
    "sign",
    "verify_signature",
]
