"""xrm-sms-gateway: an SMS transport for a generic HTTP SMS gateway.

- :class:`GatewaySmsTransport` carries the ``sms`` channel: one JSON ``POST`` per message
  (``to``, ``from``, ``text``, ``reference``) with a bearer token and an
  ``Idempotency-Key``; 429, 5xx and network failures are transient, other refusals
  permanent. Standard library only.
- Hook ``xrm_transports``: one such transport when ``XRM_SMS_GATEWAY_URL`` is set
  (``XRM_SMS_GATEWAY_TOKEN``, ``XRM_SMS_GATEWAY_SENDER``), none otherwise, so that an
  installed but unconfigured plugin takes no channel from the application.

No tables, no migrations.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from xrm import Transport, hookimpl
from xrm_sms_gateway._transport import MAX_ID_LENGTH, GatewaySmsTransport

__all__ = [
    "MAX_ID_LENGTH",
    "SENDER_VARIABLE",
    "TOKEN_VARIABLE",
    "URL_VARIABLE",
    "GatewaySmsTransport",
    "from_environment",
]

#: the gateway's URL: without it the plugin registers no transport
URL_VARIABLE = "XRM_SMS_GATEWAY_URL"
#: the bearer token, if the gateway wants one
TOKEN_VARIABLE = "XRM_SMS_GATEWAY_TOKEN"
#: the ``from`` of every message, if not the gateway's default
SENDER_VARIABLE = "XRM_SMS_GATEWAY_SENDER"


def from_environment() -> GatewaySmsTransport | None:
    """The transport the environment configures, or ``None`` when ``XRM_SMS_GATEWAY_URL``
    is unset or blank; a variable set to a blank is taken as unset. A bad value raises
    ``ValueError``."""
    url = os.environ.get(URL_VARIABLE, "").strip()
    if not url:
        return None
    token = os.environ.get(TOKEN_VARIABLE, "").strip() or None
    sender = os.environ.get(SENDER_VARIABLE, "").strip() or None
    return GatewaySmsTransport(url, token=token, sender=sender)


@hookimpl
def xrm_transports() -> Iterable[Transport]:
    """The gateway's transport when ``XRM_SMS_GATEWAY_URL`` is set, else nothing: xrm
    allows one transport per channel, and this plugin is discovered by every application
    of the environment it is installed in."""
    transport = from_environment()
    return [] if transport is None else [transport]
