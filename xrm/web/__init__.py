"""``xrm serve``: the HTTP API (FastAPI) on the public API of xrm (docs/http.md).

>>> from xrm import XRM                                    # doctest: +SKIP
>>> from xrm.web import ApiKeys, create_app                # doctest: +SKIP
>>> keys = ApiKeys("keys.json")                            # doctest: +SKIP
>>> print(keys.create("alice", ["agent"]))                 # doctest: +SKIP
>>> api = create_app(XRM("sqlite:///xrm.db"), keys)        # doctest: +SKIP

FastAPI rather than Litestar: its dependencies carry the caller's unit of work to the
plugins' routers as to ours, it writes the OpenAPI 3.1 document from the pydantic models
xrm already uses for its input, and most Python web developers know it.
"""

from xrm.web.app import ReadSession, SessionDep, create_app, open_session, session
from xrm.web.auth import ApiKeys, Caller
from xrm.web.problems import FieldProblem, Problem

__all__ = [
    "ApiKeys",
    "Caller",
    "FieldProblem",
    "Problem",
    "ReadSession",
    "SessionDep",
    "create_app",
    "open_session",
    "session",
]
