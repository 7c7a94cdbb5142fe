"""Plugins that ship inside xrm (loaded unless ``XRM(builtins=False)``)."""
