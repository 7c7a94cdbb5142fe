"""Everything known about one party, as JSON-ready data: what ``xrm export`` writes.

The document is :meth:`xrm.core.gdpr.GdprService.export`'s (``s.gdpr.export``), which
validates against the published JSON Schema ``xrm/schemas/party-export.schema.json``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xrm.core.gdpr.service import EXPORT_FORMAT, GdprService

if TYPE_CHECKING:
    from xrm.app import Session

__all__ = ["EXPORT_FORMAT", "export_party"]


def export_party(session: Session, party_id: int, *, page: int = 500) -> dict[str, Any]:
    """The party, its roles (ended ones too), relationships (all dates), interactions,
    consent ledger, timeline, and each plugin's ``xrm_party_export`` contribution, read
    ``page`` rows at a time."""
    return GdprService(session._ctx, page_size=page).export(party_id)
