"""Errors as RFC 9457 problem details: one shape (``application/problem+json``) for
every error the HTTP API returns, whatever raised it.

=====================================  ======  ==============================================
error                                  status  why
=====================================  ======  ==============================================
no API key, or an unknown one          401     the caller is not authenticated
``xrm.Forbidden`` (the policy)         403     authenticated, not allowed that action
``xrm.NotFound``, an unknown route     404
``xrm.Conflict``                       409     a stale version, a taken identifier, a lock
``xrm.ConsentRequired``                409     the request is well formed, but the consent
                                               ledger (the party's state) forbids it now; it
                                               may succeed later, once the party agrees
``xrm.Undeliverable``                  409     likewise: no channel can carry the message, or
                                               the party's frequency cap is reached
``xrm.ValidationError``, a bad request  422     ``errors`` lists each field (dotted path) and
                                               the reason
any other ``xrm.XRMError``             400
anything else                          500     a bug: the detail never carries a traceback
=====================================  ======  ==============================================
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from xrm.errors import (
    Conflict,
    ConsentRequired,
    Forbidden,
    NotFound,
    PluginError,
    ReadOnly,
    Undeliverable,
    ValidationError,
    XRMError,
)

__all__ = [
    "MEDIA_TYPE",
    "PROBLEM_RESPONSES",
    "FieldProblem",
    "Problem",
    "install",
    "problem_response",
]

log = logging.getLogger("xrm.web")

MEDIA_TYPE = "application/problem+json"
#: the prefix of every problem type (a URN: stable, and names no web site)
TYPE_PREFIX = "urn:xrm:problem:"


class FieldProblem(BaseModel):
    """One field refused: ``path`` is dotted (``contact_points.1.value``; a query, path or
    header parameter is prefixed by where it was: ``query.limit``)."""

    path: str
    reason: str


class Problem(BaseModel):
    """An error, as RFC 9457 problem details."""

    type: str = Field(description="A URN naming the kind of problem: urn:xrm:problem:<name>")
    title: str = Field(description="The kind of problem, in words")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="What went wrong, this time")
    errors: list[FieldProblem] | None = Field(
        default=None, description="For validation problems: each field refused and why"
    )


#: status -> (problem name, title)
_KINDS: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Unauthenticated"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("too-large", "Request too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation", "Invalid input"),
    500: ("internal", "Internal error"),
    503: ("busy", "Service busy"),
}

_DESCRIPTIONS: dict[int, str] = {
    400: "A body that cannot be parsed, or a request the application cannot serve as it "
    "is configured (no message templates...)",
    401: "No API key, or an unknown one",
    403: "The caller's roles do not allow this action",
    404: "Not found",
    409: "A conflict with the stored state: a stale version, a taken identifier, "
    "no consent, no channel to deliver by",
    422: "Invalid input: `errors` names each field and the reason",
}

#: the problem responses every API endpoint documents (``responses=`` of a route)
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": description}
    for status, description in _DESCRIPTIONS.items()
}


def problem_response(
    status: int,
    detail: str,
    *,
    name: str | None = None,
    title: str | None = None,
    errors: Sequence[FieldProblem] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A problem-details response."""
    kind, default_title = _KINDS.get(status, ("error", "Error"))
    body = Problem(
        type=TYPE_PREFIX + (name or kind),
        title=title or default_title,
        status=status,
        detail=detail,
        errors=list(errors) if errors is not None else None,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=dict(headers) if headers else None,
    )


def _xrm_error(exc: XRMError) -> JSONResponse:
    if isinstance(exc, PluginError) and isinstance(exc.__cause__, XRMError):
        return _xrm_error(exc.__cause__)  # a plugin's veto is the caller's problem
    if isinstance(exc, ValidationError):
        errors = [FieldProblem(path=e.path, reason=e.reason) for e in exc.errors]
        return problem_response(422, str(exc), errors=errors)
    if isinstance(exc, NotFound):
        return problem_response(404, str(exc))
    if isinstance(exc, Forbidden):
        return problem_response(403, str(exc))
    if isinstance(exc, ConsentRequired):
        return problem_response(409, str(exc), name="consent-required", title="Consent required")
    if isinstance(exc, Undeliverable):
        return problem_response(409, str(exc), name="undeliverable", title="Undeliverable")
    if isinstance(exc, Conflict):
        fields = [FieldProblem(path=exc.field, reason=str(exc))] if exc.field else None
        return problem_response(409, str(exc), errors=fields)
    if isinstance(exc, ReadOnly | PluginError):
        log.error("xrm error", exc_info=exc)
        return problem_response(500, "the server failed to handle the request")
    return problem_response(400, str(exc))


def _location(loc: Iterable[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":  # the body's fields read as xrm's own paths
        parts = parts[1:]
    return ".".join(parts)


def _reason(error: Mapping[str, Any]) -> str:
    reason = str(error.get("msg", "invalid"))
    return reason if len(reason) <= 200 else reason[:199] + "…"


def install(api: FastAPI) -> None:
    """Make every error of ``api`` a problem-details response."""

    async def on_xrm_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, XRMError)
        return _xrm_error(exc)

    async def on_request_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [FieldProblem(path=_location(e["loc"]), reason=_reason(e)) for e in exc.errors()]
        detail = "; ".join(f"{e.path}: {e.reason}" if e.path else e.reason for e in errors)
        return problem_response(422, detail or "invalid input", errors=errors)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = (
            exc.detail
            if isinstance(exc.detail, str)
            else _KINDS.get(exc.status_code, ("", "Error"))[1]
        )
        return problem_response(exc.status_code, detail, headers=exc.headers)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(500, "the server failed to handle the request")

    api.add_exception_handler(XRMError, on_xrm_error)
    api.add_exception_handler(RequestValidationError, on_request_validation)
    api.add_exception_handler(StarletteHTTPException, on_http_error)

    async def on_pool_timeout(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(
            503, "every database connection is busy: try again", headers={"Retry-After": "1"}
        )

    api.add_exception_handler(sqlalchemy.exc.TimeoutError, on_pool_timeout)
    api.add_exception_handler(Exception, on_unexpected)
