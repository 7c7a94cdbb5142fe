"""What a sink is: somewhere the relay publishes events, in order, and hears back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from xrm.relay._events import OutboundEvent

__all__ = ["Sink", "SinkFailure"]


class SinkFailure(Exception):
    """A sink could not publish every event it was given: the first ``acknowledged`` were
    acknowledged, the rest are retried (from the first one not acknowledged)."""

    def __init__(self, acknowledged: int, reason: str) -> None:
        super().__init__(reason)
        self.acknowledged = acknowledged
        self.reason = reason


@runtime_checkable
class Sink(Protocol):
    """Where the relay publishes events (:class:`~xrm.relay.NatsSink`,
    :class:`~xrm.relay.WebhookSink`, or your own).

    ``publish`` receives events in event id order and returns once every one of them is
    acknowledged (stored by the broker, accepted by the receiver); otherwise it raises
    :class:`SinkFailure` saying how many leading events were acknowledged (any other
    exception counts as none). It may have several events in flight at once only if
    their order cannot matter to a subscriber: never two events of the same party (see
    ``windows`` in ``xrm.relay._events``). Every message carries the event's
    idempotency key (``event.key``) so receivers drop a second copy."""

    #: how the logs name it
    name: str

    def publish(self, events: Sequence[OutboundEvent]) -> None: ...

    def close(self) -> None: ...
