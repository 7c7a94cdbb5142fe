"""Everything known about one party, as JSON-ready data: what ``xrm export`` writes.

The document is :meth:`xrm.core.gdpr.GdprService.export`'s (``s.gdpr.export``), which
validates against the published JSON Schema ``xrm/schemas/party-export.schema.json``.
"""

from __future__ import annotations

from typing import Any, Protocol

from xrm.core.gdpr.service import EXPORT_FORMAT, GdprService

__all__ = ["EXPORT_FORMAT", "export_party"]


class _Session(Protocol):
    @property
    def gdpr(self) -> GdprService: ...


def export_party(session: _Session, party_id: int, *, page: int = 500) -> dict[str, Any]:
    """The party, its roles (ended ones too), relationships (all dates), interactions,
    consent ledger, timeline, and each plugin's ``xrm_party_export`` contribution, read
    ``page`` rows at a time."""
    return session.gdpr.paged(page).export(party_id)
