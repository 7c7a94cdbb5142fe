"""Segments: who, among the parties, meets a criterion — the public face.

A criterion is a pydantic model, stored as JSON, compiled to one SQL condition::

    from xrm import segments as seg

    loyal = seg.HasRole(role="customer", states=["active"]) & seg.Interacted(
        within_days=90, at_least=3
    )
    with app.session() as s:
        s.segments.define("loyal customers", loyal & seg.Contactable(purpose="marketing"))
        s.segments.count("loyal customers")
        for party_id in s.segments.stream("loyal customers"):
            ...

Plugins add criteria by subclassing :class:`Criterion` (``type`` ``"<plugin>.<name>"``)
and returning the classes from the ``xrm_segment_criteria`` hook. See docs/segments.md.
"""

from xrm.core.segments.criteria import (
    All,
    Any,
    Attribute,
    Contactable,
    Context,
    Criterion,
    HasRole,
    InSegment,
    Interacted,
    Kind,
    Not,
    PartyId,
    Prefers,
    Related,
    Tagged,
)
from xrm.core.segments.service import Segment, Target

__all__ = [
    "All",
    "Any",
    "Attribute",
    "Contactable",
    "Context",
    "Criterion",
    "HasRole",
    "InSegment",
    "Interacted",
    "Kind",
    "Not",
    "PartyId",
    "Prefers",
    "Related",
    "Segment",
    "Tagged",
    "Target",
]
