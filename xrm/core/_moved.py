"""Module paths of the core that moved when it was grouped into feature packages keep
importing, with a :class:`DeprecationWarning` naming the new place."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

#: old module path -> where it lives now
MOVED = {
    "xrm.core.context": "xrm.core.uow",
    "xrm.core.parties": "xrm.core.nouns.parties",
    "xrm.core.roles": "xrm.core.nouns.roles",
    "xrm.core.relationships": "xrm.core.nouns.relationships",
    "xrm.core.interactions": "xrm.core.nouns.interactions",
    "xrm.core.journal": "xrm.core.nouns.journal",
    "xrm.core.dedupe": "xrm.core.identity.dedupe",
    "xrm.core.merge": "xrm.core.identity.merge",
    "xrm.core.importer": "xrm.core.imports.importer",
    "xrm.core.bulk": "xrm.core.imports.bulk",
    "xrm.core.export": "xrm.core.gdpr.export",
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old path and hands back the module at its new one."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new = MOVED[spec.name]
        warnings.warn(
            f"{spec.name} moved to {new}; import it from there (or from the public faces "
            "xrm and xrm.tables)",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module(new)

    def exec_module(self, module: ModuleType) -> None:
        """The module was run at its new place already."""


def install() -> None:
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.append(_Alias())
