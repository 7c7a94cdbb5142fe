"""Hearing back (``s.inbound``): a raw email (a reply, or a delivery status notification
that reports a bounce), an SMS gateway's callback, a social network's direct message.
The sender is recognised by its address, the message recorded as an inbound interaction
threaded to the message it answers, and a bounce suppresses the address."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any, Literal

import attrs
import pydantic
from sqlalchemy import select

from xrm.core._args import checked_methods
from xrm.core.access import WRITE
from xrm.core.consent.service import ConsentService
from xrm.core.messaging.service import MessageService, suppress_holders
from xrm.core.models import ContactPointRow, MessageRow, PartyRow
from xrm.core.normalize import email_key, phone_key, social_key
from xrm.core.nouns.interactions import InteractionService
from xrm.core.nouns.parties import PartyService
from xrm.core.uow import UnitOfWork, validate_model
from xrm.errors import ValidationError

__all__ = ["Inbound", "InboundService", "SmsIn", "SocialIn"]

Kind = Literal["reply", "message", "bounce", "delay", "unknown_sender"]
#: the most of an inbound text kept as the interaction's content
MAX_CONTENT = 1_000_000
_MESSAGE_ID = re.compile(r"<([0-9a-f]{32})@[^>]*>")


@attrs.frozen
class Inbound:
    """What became of one inbound message."""

    kind: Kind
    #: the sender (a bounce: the party whose address bounced); ``None``: unknown
    party_id: int | None
    #: the inbound interaction recorded (``None`` for a bounce, a delay, an unknown sender)
    interaction_id: int | None
    #: the outbox message it answers or reports on, when it names one
    message_id: int | None
    #: the address it came from (a bounce: the address that bounced)
    address: str | None


class SmsIn(pydantic.BaseModel):
    """An SMS gateway's callback for an incoming SMS."""

    model_config = pydantic.ConfigDict(extra="ignore")
    sender: str = pydantic.Field(alias="from", min_length=3, max_length=40)
    text: str = pydantic.Field(max_length=10_000)
    id: str | None = pydantic.Field(default=None, max_length=200)
    #: the reference of the message it answers (the outbox's idempotency key)
    in_reply_to: str | None = pydantic.Field(default=None, max_length=200)


class SocialIn(pydantic.BaseModel):
    """A direct message on a social network, in this documented shape."""

    model_config = pydantic.ConfigDict(extra="ignore")
    network: str = pydantic.Field(min_length=1, max_length=40)
    sender: str = pydantic.Field(alias="from", min_length=1, max_length=200)
    text: str = pydantic.Field(max_length=10_000)
    id: str | None = pydantic.Field(default=None, max_length=200)
    in_reply_to: str | None = pydantic.Field(default=None, max_length=200)


@checked_methods("inbound", {"email": WRITE, "sms": WRITE, "social": WRITE})
class InboundService:
    """``s.inbound``: emails, SMS and direct messages that come back."""

    def __init__(
        self,
        ctx: UnitOfWork,
        parties: PartyService,
        interactions: InteractionService,
        consents: ConsentService,
        messages: MessageService,
    ) -> None:
        self._ctx = ctx
        self._parties = parties
        self._interactions = interactions
        self._consents = consents
        self._messages = messages

    def email(self, raw: str, *, create_unknown: bool = False) -> Inbound:
        """One email as received (RFC 5322 text). A delivery status notification
        (``multipart/report``) whose recipient ``failed`` with a 5.x.x status is a bounce:
        the address is suppressed on every party holding it, with the status as the
        reason, and the message it reports on says ``bounced``; a 4.x.x is only a delay.
        Any other email is recorded as an inbound interaction from the party its ``From``
        address belongs to, threaded (``attributes.in_reply_to_message``) to the message
        its ``In-Reply-To`` or ``References`` names. An unknown sender becomes a party only
        with ``create_unknown=True``; otherwise nothing is written."""
        try:
            parsed = email.message_from_string(raw, policy=email.policy.default)
        except Exception as exc:  # the parser is lenient; this is a last resort
            raise ValidationError.single("raw", f"not an email: {exc}") from None
        assert isinstance(parsed, EmailMessage)
        if parsed.get_content_type() == "multipart/report":
            return self._report(parsed)
        sender = parsed.get("From")
        if sender is None or not getattr(sender, "addresses", ()):
            raise ValidationError.single("raw", "the email has no From address")
        address = sender.addresses[0]
        answered = self._answered(
            " ".join(str(parsed.get(h, "")) for h in ("In-Reply-To", "References"))
        )
        body = parsed.get_body(preferencelist=("plain", "html"))
        text = body.get_content() if body is not None else ""
        return self._record(
            "email", "email", email_key_or_none(address.addr_spec), address.addr_spec,
            address.display_name or address.addr_spec, answered, create_unknown,
            subject=str(parsed.get("Subject", "") or "")[:300] or None,
            content=str(text)[:MAX_CONTENT], external_ref=_clip(parsed.get("Message-ID")),
        )  # fmt: skip

    def sms(self, data: Mapping[str, Any], *, create_unknown: bool = False) -> Inbound:
        """An SMS gateway's callback (:class:`SmsIn`: ``from``, ``text``, ``id``,
        ``in_reply_to``), recorded as an inbound SMS from the party holding that number."""
        sms = validate_model(SmsIn, dict(data))
        try:
            key = phone_key(sms.sender, self._ctx.settings.default_region)
        except ValueError as exc:
            raise ValidationError.single("from", str(exc)) from None
        answered = self._answered(sms.in_reply_to or "", bare=True)
        return self._record(
            "sms", "phone", key, sms.sender, sms.sender, answered, create_unknown,
            subject=None, content=sms.text, external_ref=sms.id,
        )  # fmt: skip

    def social(self, data: Mapping[str, Any], *, create_unknown: bool = False) -> Inbound:
        """A direct message (:class:`SocialIn`: ``network``, ``from``, ``text``, ``id``,
        ``in_reply_to``), from the party holding that handle on that network."""
        dm = validate_model(SocialIn, dict(data))
        try:
            key = social_key(dm.sender, dm.network)
        except ValueError as exc:
            raise ValidationError.single("from", str(exc)) from None
        answered = self._answered(dm.in_reply_to or "", bare=True)
        return self._record(
            "social", "social", key, dm.sender, dm.sender, answered, create_unknown,
            subject=None, content=dm.text, external_ref=dm.id, network=dm.network,
        )  # fmt: skip

    # -- private -------------------------------------------------------------------------
    def _answered(self, text: str, *, bare: bool = False) -> MessageRow | None:
        """The outbox message a header (``<key@domain>``) or a bare reference names."""
        keys = _MESSAGE_ID.findall(text)
        if bare and re.fullmatch(r"[0-9a-f]{32}", text.strip()):
            keys.append(text.strip())
        for key in keys:
            found = self._ctx.db.scalar(select(MessageRow).where(MessageRow.idempotency_key == key))
            if found is not None:
                return found
        return None

    def _holder(self, kind: str, key: str | None) -> tuple[int, int] | None:
        """(party, contact point) of the live party holding the address."""
        if key is None:
            return None
        row = self._ctx.db.execute(
            select(ContactPointRow.party_id, ContactPointRow.id)
            .join(PartyRow, PartyRow.id == ContactPointRow.party_id)
            .where(
                ContactPointRow.kind == kind, ContactPointRow.key == key,
                PartyRow.merged_into_id.is_(None), PartyRow.erased_at.is_(None),
            )
            .order_by(ContactPointRow.id)
            .limit(1)
        ).first()  # fmt: skip
        return (int(row[0]), int(row[1])) if row is not None else None

    def _record(
        self, channel: str, kind: str, key: str | None, address: str, name: str,
        answered: MessageRow | None, create_unknown: bool, *, subject: str | None,
        content: str, external_ref: str | None, network: str | None = None,
    ) -> Inbound:  # fmt: skip
        ctx = self._ctx
        with ctx.atomic():
            # the address decides who wrote, never the message answered: anyone may reply
            holder = self._holder(kind, key)
            if holder is None:
                if not create_unknown:
                    return Inbound("unknown_sender", None, None, None, address)
                point: dict[str, Any] = {"kind": kind, "value": address}
                if network is not None:
                    point["network"] = network
                party = self._parties.create("person", name[:200], contact_points=[point])
                holder = (party.id, party.contact_points[0].id)
            attributes: dict[str, Any] = {}
            if answered is not None:
                attributes = {"in_reply_to_message": answered.id,
                              "in_reply_to_interaction": answered.interaction_id}  # fmt: skip
            interaction = self._interactions.record(
                channel=channel, direction="inbound",
                participants=[(holder[0], "sender", holder[1])],
                subject=subject, content=content, external_ref=external_ref,
                attributes=attributes,
            )  # fmt: skip
        return Inbound(
            "reply" if answered is not None else "message", holder[0], interaction.id,
            answered.id if answered is not None else None, address,
        )  # fmt: skip

    def _report(self, parsed: EmailMessage) -> Inbound:
        """A delivery status notification (RFC 3464)."""
        status_part = next(
            (p for p in parsed.walk() if p.get_content_type() == "message/delivery-status"), None
        )
        if status_part is None:
            raise ValidationError.single("raw", "a report without a delivery-status part")
        fields = _dsn_fields(status_part)
        recipient = fields.get("final-recipient", "").partition(";")[2].strip()
        action, status = fields.get("action", "").lower(), fields.get("status", "")
        original = None
        for part in parsed.walk():
            if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
                original = self._answered(_original_headers(part))
                if original is not None:
                    break
        if action != "failed" or not status.startswith("5"):
            late: int | None = original.party_id if original is not None else None
            return Inbound("delay", late, None, original.id if original else None, recipient)
        key = email_key_or_none(recipient)
        why = f"{status} {fields.get('diagnostic-code', '')}".strip()[:190]
        with self._ctx.atomic():
            holders = (
                suppress_holders(self._ctx, self._consents, "email", key, f"bounced: {why}")
                if key
                else []
            )
            if original is not None:  # marked bounced (and its own address suppressed)
                self._messages.bounced(original.id, reason=why)
        who: int | None = original.party_id if original is not None else None
        if who is None and holders:
            who = holders[0]
        return Inbound("bounce", who, None, original.id if original else None, recipient)


def email_key_or_none(address: str) -> str | None:
    try:
        return email_key(address)
    except ValueError:
        return None


def _dsn_fields(part: Any) -> dict[str, str]:
    """The per-message and first per-recipient fields of a delivery-status part."""
    found: dict[str, str] = {}
    payload = part.get_payload()
    blocks = payload if isinstance(payload, list) else []
    for block in blocks:
        for name, value in block.items():
            found.setdefault(name.lower(), str(value))
    if not blocks:  # some parsers keep the part as text
        for line in str(part.get_payload(decode=True) or b"", "utf-8", "replace").splitlines():
            name, sep, value = line.partition(":")
            if sep:
                found.setdefault(name.strip().lower(), value.strip())
    return found


def _original_headers(part: Any) -> str:
    payload = part.get_payload()
    if isinstance(payload, list) and payload:
        inner = payload[0]
        return " ".join(str(inner.get(h, "")) for h in ("Message-ID", "References"))
    return str(payload)


def _clip(value: Any) -> str | None:
    return None if value is None else str(value)[:200]
