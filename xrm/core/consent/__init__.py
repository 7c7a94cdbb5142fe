"""Consent: the decision rules (``rules``), the service over the evidence ledger
(``service``), and the same rules as one SQL query over every party (``audience``)."""

from xrm.core.consent.audience import AudienceMember
from xrm.core.consent.rules import DECISIONS, consent_event, decide, record_from_row
from xrm.core.consent.service import ConsentService

__all__ = [
    "DECISIONS",
    "AudienceMember",
    "ConsentService",
    "consent_event",
    "decide",
    "record_from_row",
]
