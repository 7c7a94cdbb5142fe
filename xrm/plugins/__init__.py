"""Plugins that ship inside xrm: the essential ``xrm`` plugin (:mod:`xrm.plugins.core`, the
core's defaults; always registered first) and ``customers`` (left out by
``XRM(builtins=False)``)."""
