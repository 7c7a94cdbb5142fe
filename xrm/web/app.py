"""The ASGI application of ``xrm serve``: the API, its keys, its errors, the plugins'
routers and (when installed) the party page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any

import anyio
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, APIRouter
from starlette.concurrency import run_in_threadpool

import xrm
from xrm import XRM, Session
from xrm.errors import PluginError
from xrm.web.auth import ApiKeys, Caller
from xrm.web.pages import pages_router
from xrm.web.problems import MEDIA_TYPE, install

__all__ = [
    "ReadSession",
    "SessionDep",
    "caller",
    "create_app",
    "open_session",
    "session",
]

#: where a key may come from, in this order
COOKIE = "xrm_key"
KEY_HEADER = "X-API-Key"


def _key_of(request: Request) -> str | None:
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    return request.headers.get(KEY_HEADER) or request.cookies.get(COOKIE) or None


def _unauthenticated(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": 'Bearer realm="xrm"'})


def caller(request: Request) -> Caller:
    """The holder of the request's API key (``Authorization: Bearer <key>``, the
    ``X-API-Key`` header or the ``xrm_key`` cookie); 401 without a valid one."""
    key = _key_of(request)
    if key is None:
        raise _unauthenticated(
            "an API key is required: Authorization: Bearer <key>, X-API-Key or the xrm_key cookie"
        )
    keys: ApiKeys = request.app.state.xrm_keys
    found = keys.lookup(key)
    if found is None:
        raise _unauthenticated("unknown API key")
    return found


def _xrm(request: Request) -> XRM:
    app: XRM = request.app.state.xrm
    return app


@contextmanager
def open_session(request: Request, *, readonly: bool = False) -> Iterator[Session]:
    """A unit of work for the request's caller (its actor and roles), committed when the
    block ends; ``fastapi.HTTPException(401)`` when the request has no valid key. What
    the party page's router (``pages_router(open_session, registry=...)``) opens."""
    who = caller(request)
    with _xrm(request).session(actor=who.actor, roles=who.roles, readonly=readonly) as s:
        yield s


@asynccontextmanager
async def _unit_of_work(request: Request, who: Caller, *, readonly: bool) -> AsyncIterator[Session]:
    """The caller's unit of work, opened and ended in a worker thread, at most as many
    at once as the engine's pool has connections: a request waiting for a connection
    waits here, on the event loop, never holding a worker thread that the requests
    holding the connections need to end theirs."""
    limiter: anyio.CapacityLimiter = request.app.state.xrm_sessions
    # borrowed for this request, not for a task: the dependency may end in another task
    borrower = object()
    await limiter.acquire_on_behalf_of(borrower)
    try:
        unit = _xrm(request).session(actor=who.actor, roles=who.roles, readonly=readonly)
        s = await run_in_threadpool(unit.__enter__)
        try:
            yield s
        except BaseException as exc:
            if not await run_in_threadpool(unit.__exit__, type(exc), exc, exc.__traceback__):
                raise
        else:
            await run_in_threadpool(unit.__exit__, None, None, None)
    finally:
        limiter.release_on_behalf_of(borrower)


async def session(
    request: Request, who: Annotated[Caller, Depends(caller)]
) -> AsyncIterator[Session]:
    """The FastAPI dependency of an endpoint that reads or writes: the caller's unit of
    work, committed after the endpoint returns (before the response is sent: a conflict
    at commit is the response). Plugins' endpoints take it too::

        @router.get("/orders/{party_id}")
        def orders(party_id: int, s: Annotated[Session, Depends(session)]) -> ...:
    """
    async with _unit_of_work(request, who, readonly=False) as s:
        yield s


async def read_session(
    request: Request, who: Annotated[Caller, Depends(caller)]
) -> AsyncIterator[Session]:
    """The caller's read-only unit of work (it never waits for a writer)."""
    async with _unit_of_work(request, who, readonly=True) as s:
        yield s


def _pool_capacity(app: XRM) -> int:
    """How many connections the engine's pool gives at most (its size and overflow)."""
    pool: Any = app.engine.pool
    size = pool.size() if callable(getattr(pool, "size", None)) else 1
    overflow = getattr(pool, "_max_overflow", 0)
    return max(1, int(size) + max(0, int(overflow)))


#: ``s: SessionDep`` in an endpoint: the caller's unit of work
SessionDep = Annotated[Session, Depends(session, scope="function")]
#: ``s: ReadSession``: the caller's read-only unit of work
ReadSession = Annotated[Session, Depends(read_session, scope="function")]


def _end_before_response(dependant: Dependant) -> None:
    """A plugin's ``Depends(session)`` commits before the response is sent, as the core's
    endpoints do, whatever scope the plugin gave it."""
    for sub in dependant.dependencies:
        if sub.call in (session, read_session):
            sub.scope = "function"
        _end_before_response(sub)


def _plugin_routers(app: XRM) -> list[tuple[str, APIRouter]]:
    found: list[tuple[str, Any]] = app.plugins.web_routers()
    for name, router in found:
        if not isinstance(router, APIRouter):
            raise PluginError(
                name, "xrm_web_routers", TypeError(f"{router!r} is not a fastapi.APIRouter")
            )
    return found


def _openapi(api: FastAPI) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            schema = get_openapi(
                title=api.title,
                version=api.version,
                openapi_version=api.openapi_version,
                description=api.description,
                routes=api.routes,
            )
            # errors are problem details: say so in each error response's media type
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    for status, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if status[:1] in "45" and "application/json" in content:
                            content[MEDIA_TYPE] = content.pop("application/json")
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": KEY_HEADER},
                "cookie": {"type": "apiKey", "in": "cookie", "name": COOKIE},
            }
            schema["security"] = [{"bearer": []}, {"apiKey": []}, {"cookie": []}]
            api.openapi_schema = schema
        return api.openapi_schema

    return openapi


def create_app(
    app: XRM, keys: ApiKeys, *, title: str = "xrm", max_sessions: int | None = None
) -> FastAPI:
    """The FastAPI application serving ``app`` to the holders of ``keys``.

    Every endpoint needs an API key; its actor is written on the journal and its roles
    are what the application's authorisation policy reads. Each installed plugin's
    routers (``xrm_web_routers``) are mounted under ``/plugins/<plugin name>``; the party
    page under ``/ui`` when ``xrm.web.pages`` is there.

    At most ``max_sessions`` units of work are open at once (default: the connections
    of the engine's pool); the other requests wait for their turn.
    """
    from xrm.web.api import router

    api = FastAPI(
        title=title,
        version=xrm.__version__,
        description="The HTTP API of xrm: parties, roles, relationships, interactions, "
        "consent, timeline, identity, import, GDPR, preferences and messages. Errors are "
        "RFC 9457 problem details (application/problem+json). See docs/http.md.",
    )
    api.state.xrm = app
    api.state.xrm_keys = keys
    api.state.xrm_sessions = anyio.CapacityLimiter(max_sessions or _pool_capacity(app))
    install(api)
    api.include_router(router)
    for name, plugin_router in _plugin_routers(app):
        api.include_router(plugin_router, prefix=f"/plugins/{name}", tags=[f"plugin {name}"])
    for route in api.routes:
        if isinstance(route, APIRoute) and route.path.startswith("/plugins/"):
            _end_before_response(route.dependant)
    # the party page; its consent section lists every registered purpose and channel
    api.include_router(
        pages_router(open_session, registry=app.registry), prefix="/ui", include_in_schema=False
    )
    api.openapi = _openapi(api)  # type: ignore[method-assign]
    return api
