"""Segments: declarative criteria over parties, compiled to one SQL query, and saved,
dynamic or frozen segments (``s.segments``). The public face is :mod:`xrm.segments`."""
