"""The core of xrm, grouped by feature: ``nouns`` (parties, roles, relationships,
interactions, the journal), ``consent``, ``identity``, ``imports`` and ``gdpr``, over the
shared pieces (``models``, ``records``, ``inputs``, ``registry``, ``uow``).

Applications and plugins use the public faces (``xrm``, ``xrm.tables``, ``xrm.hookspecs``,
``xrm.testing``); docs/architecture.md says what may import what.
"""

from xrm.core import _moved

_moved.install()
