"""Identity: recognising a party (resolve), the duplicate search, merge and unmerge."""

from xrm.core.identity.service import IdentityService

__all__ = ["IdentityService"]
