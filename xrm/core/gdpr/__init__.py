"""GDPR: the export document and its published schema, erasure, suppression."""

from xrm.core.gdpr._suppression import Suppressions
from xrm.core.gdpr.service import (
    ERASED,
    EXPORT_FORMAT,
    SCHEMA_ID,
    ErasureReport,
    GdprService,
    PartyExport,
    party_export_schema,
    published_schema,
    schema_text,
    suppressed_keys,
    write_schema,
)

__all__ = [
    "ERASED",
    "EXPORT_FORMAT",
    "SCHEMA_ID",
    "ErasureReport",
    "GdprService",
    "PartyExport",
    "Suppressions",
    "party_export_schema",
    "published_schema",
    "schema_text",
    "suppressed_keys",
    "write_schema",
]
