"""API keys: each maps to an actor (the name the journal writes) and the roles the
authorisation policy reads.

Keys are stored only as SHA-256 hashes, in a JSON file::

    {"keys": [{"sha256": "<hex>", "actor": "alice", "roles": ["agent"],
               "created_at": "2025-01-01T00:00:00+00:00"}]}

:meth:`ApiKeys.create` returns a new key once and stores its hash; the file is read again
when it changes, so a key created while ``xrm serve`` runs works at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import secrets
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from xrm.errors import ConfigurationError, ValidationError

__all__ = ["ApiKeys", "Caller", "hash_key"]

#: what a key starts with: easy to recognise in a log or a secret scanner
PREFIX = "xrm_"
_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,200}")
_ROLE = re.compile(r"[a-z][a-z0-9_]{0,39}")


@attrs.frozen
class Caller:
    """Who holds a key: the actor and its roles."""

    actor: str
    roles: tuple[str, ...]


def hash_key(key: str) -> str:
    """The SHA-256 of ``key``, in hex: what the file stores."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _caller(entry: Mapping[str, Any], where: str) -> tuple[str, Caller]:
    digest, actor, roles = entry.get("sha256"), entry.get("actor"), entry.get("roles", [])
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ConfigurationError(f"{where}: sha256 must be 64 hex digits")
    if not isinstance(actor, str) or not _NAME.fullmatch(actor):
        raise ConfigurationError(f"{where}: actor must be a name")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise ConfigurationError(f"{where}: roles must be a list of names")
    return digest, Caller(actor, tuple(roles))


class ApiKeys:
    """The API keys ``xrm serve`` accepts, kept in ``path`` (a JSON file), or in memory
    only when ``path`` is ``None`` (tests, an application building its own keys)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        self._by_hash: dict[str, Caller] = {}
        self._stamp: tuple[int, int] | None = None
        self._reload()

    def _reload(self) -> None:
        if self.path is None:
            return
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._entries, self._by_hash, self._stamp = [], {}, None
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeError, ValueError) as exc:
            raise ConfigurationError(f"{self.path}: cannot read the API keys: {exc}") from None
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ConfigurationError(f'{self.path}: expected {{"keys": [{{...}}, ...]}}')
        by_hash = dict(_caller(e, f"{self.path}: keys.{i}") for i, e in enumerate(entries))
        self._entries, self._by_hash, self._stamp = entries, by_hash, stamp

    def create(self, actor: str, roles: Iterable[str]) -> str:
        """A new key for ``actor`` holding ``roles``: returned once, only its hash kept
        (and written to the file)."""
        roles = list(dict.fromkeys(roles))
        if not isinstance(actor, str) or not _NAME.fullmatch(actor):
            raise ValidationError.single("actor", "a name of 1 to 200 printable characters")
        for i, role in enumerate(roles):
            if not isinstance(role, str) or not _ROLE.fullmatch(role):
                raise ValidationError.single(f"roles.{i}", "a lower-case name, such as 'agent'")
        key = PREFIX + secrets.token_urlsafe(32)
        entry: dict[str, Any] = {
            "sha256": hash_key(key),
            "actor": actor,
            "roles": roles,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        with self._lock:
            self._reload()
            self._entries.append(entry)
            self._by_hash[hash_key(key)] = Caller(actor, tuple(roles))
            self._write()
        return key

    def _write(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"keys": self._entries}, indent=2) + "\n"
        # written whole then renamed: a server reading it never sees half a file
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".keys-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        stat = self.path.stat()
        self._stamp = (stat.st_mtime_ns, stat.st_size)

    def lookup(self, key: str) -> Caller | None:
        """Who holds ``key``, or ``None`` for an unknown key."""
        if not key or len(key) > 200:
            return None
        with self._lock:
            self._reload()
            return self._by_hash.get(hash_key(key))

    def __len__(self) -> int:
        with self._lock:
            self._reload()
            return len(self._by_hash)
