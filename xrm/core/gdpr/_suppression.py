"""Suppression entries: keyed hashes of erased parties' addresses (see docs/gdpr.md)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from xrm.core.models import (
    SuppressionKeyRow,
    SuppressionRow,
    utcnow,
)
from xrm.core.normalize import DEFAULT_EMAIL_RULES, EmailRules, email_key
from xrm.core.uow import UnitOfWork

#: contact kinds whose addresses get suppression entries
SUPPRESSIBLE = ("email", "phone")


# -- suppression --------------------------------------------------------------------------
class _Point(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def key(self) -> str: ...

    @property
    def value(self) -> str: ...


def _read_secret(ctx: UnitOfWork) -> bytes | None:
    found = ctx.db.scalar(select(SuppressionKeyRow.secret).where(SuppressionKeyRow.id == 1))
    return bytes.fromhex(found) if found else None


def _make_secret(ctx: UnitOfWork) -> bytes:
    """The database's suppression key, made on first use: a concurrent first erasure
    that wins the race is read back rather than overwritten."""
    found = _read_secret(ctx)
    if found is not None:
        return found
    value = secrets.token_hex(32)
    try:
        with ctx.db.begin_nested():
            ctx.db.add(SuppressionKeyRow(id=1, secret=value, created_at=utcnow()))
            ctx.db.flush()
    except IntegrityError:
        winner = _read_secret(ctx)
        assert winner is not None
        return winner
    return bytes.fromhex(value)


def database_secret(ctx: UnitOfWork) -> bytes:
    """The database's secret (32 random bytes, made on first use), for keyed hashes and
    signed tokens; each use keys its own domain (``unsubscribe:``...)."""
    return _make_secret(ctx)


def _keyed_hash(secret: bytes, kind: str, key: str) -> str:
    return hmac.new(secret, f"{kind}:{key}".encode(), hashlib.sha256).hexdigest()


#: what mail providers deliver to one mailbox: a ``+tag`` anywhere, dots at Gmail
_MAILBOX_RULES = EmailRules(
    strip_plus_tags=True, dotless_domains=frozenset({"gmail.com", "googlemail.com"})
)


def mailbox_key(value: str) -> str:
    """The mailbox an email address reaches, whatever the match-key rules: without its
    ``+tag``, and at Gmail without dots and with ``googlemail.com`` read as ``gmail.com``.

    >>> mailbox_key("Marie.Dupont+promo@GoogleMail.com")
    'mariedupont@gmail.com'
    """
    local, _, domain = email_key(value, _MAILBOX_RULES).rpartition("@")
    return f"{local}@{'gmail.com' if domain == 'googlemail.com' else domain}"


def _variants(ctx: UnitOfWork, kind: str, key: str, value: str) -> set[str]:
    """The match keys an address may have: the stored key, and for an email the key
    under the default rules and under the configured ones, so that suppression survives a
    change of ``email_rules``, and the mailbox it reaches (:func:`mailbox_key`), so that
    an erased address given again with a ``+tag`` or, at Gmail, without its dots is
    suppressed too."""
    keys = {key}
    if kind == "email":
        for rules in (DEFAULT_EMAIL_RULES, ctx.settings.email_rules):
            try:
                keys.add(email_key(value, rules))
            except ValueError:
                continue
        with contextlib.suppress(ValueError):  # not an address a mailbox is read from
            keys.add(mailbox_key(value))
    return keys


def suppressed_keys(ctx: UnitOfWork, points: Iterable[_Point]) -> set[tuple[str, str]]:
    """The ``(kind, key)`` of the ``points`` whose address has a suppression entry.

    Two indexed queries at most, whatever the number of points; none when the database
    never erased anyone.
    """
    wanted = [(p.kind, p.key, p.value) for p in points if p.kind in SUPPRESSIBLE]
    if not wanted:
        return set()
    secret = _read_secret(ctx)
    if secret is None:
        return set()
    by_hash: dict[str, dict[str, set[tuple[str, str]]]] = {}
    for kind, key, value in wanted:
        for variant in _variants(ctx, kind, key, value):
            digest = _keyed_hash(secret, kind, variant)
            by_hash.setdefault(kind, {}).setdefault(digest, set()).add((kind, key))
    found: set[tuple[str, str]] = set()
    for kind, hashes in by_hash.items():
        digests = sorted(hashes)
        for start in range(0, len(digests), 500):
            query = select(SuppressionRow.keyed_hash).where(
                SuppressionRow.kind == kind,
                SuppressionRow.keyed_hash.in_(digests[start : start + 500]),
            )
            for digest in ctx.db.scalars(query):
                found |= hashes[digest]
    return found


class Suppressions:
    """The suppression list as the rest of the core asks it (the party service, when an
    address is given again): injected, so that the nouns do not depend on GDPR."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def blocked(self, points: Iterable[_Point]) -> set[tuple[str, str]]:
        """The ``(kind, key)`` of the ``points`` whose address an erasure suppressed."""
        return suppressed_keys(self._uow, points)
