"""The single view of a party as a server-rendered web page (``/ui``).

Plain HTML forms and one CSS file: no JavaScript, no build step. Every value reaches the
page through Jinja2's autoescaping. The pages read through the public services of the
caller's unit of work (``open_session``), so the caller's API key, roles and the
authorisation policy apply as they do to the JSON API.

``pages_router(open_session)`` is mounted under ``/ui`` by :func:`xrm.web.create_app`:

* ``GET /ui/login`` asks for an API key; ``POST /ui/login`` keeps it in the ``xrm_key``
  cookie (HttpOnly, SameSite=Strict); ``POST /ui/logout`` forgets it.
* ``GET /ui/?q=...`` finds parties from an email, a phone number or any spelling of a name.
* ``GET /ui/parties/{id}`` is the single view; ``?as_of=YYYY-MM-DD`` dates the
  relationships, ``?after=`` (with ``trail=``) pages the timeline.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from rapidfuzz import fuzz

from xrm import (
    Channel,
    Conflict,
    ConsentDecision,
    ConsentRecord,
    NotFound,
    Party,
    Purpose,
    Session,
    ValidationError,
    XRMError,
)

__all__ = ["COOKIE", "Catalogue", "ConsentRow", "OpenSession", "pages_router", "search_parties"]

#: the cookie holding the API key of a browser that logged in
COOKIE = "xrm_key"

#: opens the caller's unit of work; raises HTTPException(401) without a valid key
OpenSession = Callable[[Request], AbstractContextManager[Session]]

HERE = Path(__file__).resolve().parent
TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,  # every value, in every template, whatever its file name
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
CSS = HERE / "static" / "xrm.css"

#: timeline entries on one page unless ``?limit=`` says otherwise
TIMELINE_PAGE = 20
MAX_TIMELINE_PAGE = 200
#: at most this many hits on the search page
SEARCH_LIMIT = 25
#: a name hit needs at least this similarity (0-100, rapidfuzz's WRatio)
NAME_SCORE = 75.0
#: candidates read per fragment of a misspelled name
FRAGMENT_CANDIDATES = 60
#: at most this many fragments of a misspelled name are looked up
MAX_FRAGMENTS = 12
#: an API key fits in a cookie: printable ASCII without space, quote, comma,
#: semicolon or backslash (RFC 6265 cookie-octet)
_KEY = re.compile(r"[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]{1,512}")
_PHONE = re.compile(r"\+?[\d\s().\-/]{6,40}")
_WORD = re.compile(r"[^\W_]+")


class Catalogue(Protocol):
    """What the consent section lists: the registered purposes and channels
    (:attr:`xrm.XRM.registry` is one)."""

    @property
    def purposes(self) -> Mapping[str, Purpose]: ...

    @property
    def channels(self) -> Mapping[str, Channel]: ...


class _PageError(Exception):
    """Ends a request with an error page: ``status`` and what went wrong."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


def _is_forbidden(exc: BaseException) -> bool:
    """A refusal of the authorisation policy (``xrm.Forbidden``)."""
    return isinstance(exc, XRMError) and any(c.__name__ == "Forbidden" for c in type(exc).__mro__)


# -- search ------------------------------------------------------------------------------
def _fold(text: str) -> str:
    """Lower case, no accents, words separated by one space: how names are compared."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_WORD.findall(plain))


def _fragments(words: Sequence[str]) -> list[str]:
    """Three-letter pieces of each word (the whole word when shorter): a misspelled name
    still shares most of them with the right one."""
    pieces: dict[str, None] = {}
    for word in words:
        if len(word) <= 3:
            pieces[word] = None
        else:
            pieces.update((word[i : i + 3], None) for i in range(len(word) - 2))
    return list(pieces)[:MAX_FRAGMENTS]


def _looks_like_phone(query: str) -> bool:
    return bool(_PHONE.fullmatch(query)) and sum(ch.isdigit() for ch in query) >= 6


class Hit:
    """A party found by the search, and how."""

    def __init__(self, party: Party, matched: str, score: float) -> None:
        self.party = party
        self.matched = matched
        self.score = score


def search_parties(s: Session, query: str, *, limit: int = SEARCH_LIMIT) -> list[Hit]:
    """The parties a search box finds for ``query``: the holder of an email or a phone
    number (however written, merges followed), else the parties whose name is spelt
    like it (every word present, or a close spelling), best first.

    Raises :class:`~xrm.ValidationError` naming ``q`` for a query with nothing to search.
    """
    text = query.strip()
    if not text:
        raise ValidationError.single("q", "type a name, an email or a phone number")
    if "@" in text:
        return _by_key(s, text, email=text)
    if _looks_like_phone(text):
        return _by_key(s, text, phone=text)
    return _by_name(s, text, limit)


def _by_key(
    s: Session, text: str, *, email: str | None = None, phone: str | None = None
) -> list[Hit]:
    what = "email" if email is not None else "phone"
    try:
        party = s.identity.resolve(email=email, phone=phone)
    except ValidationError as exc:
        reasons = "; ".join(e.reason for e in exc.errors)
        raise ValidationError.single("q", f"not a valid {what}: {reasons}") from None
    except Conflict:  # held by parties not merged yet: list them all
        return [Hit(p, what, 100.0) for p in s.parties.find(email=email, phone=phone)]
    return [Hit(party, what, 100.0)] if party is not None else []


def _by_name(s: Session, text: str, limit: int) -> list[Hit]:
    wanted = _fold(text)
    if not wanted:
        raise ValidationError.single("q", "has no letter or digit to search for")
    words = wanted.split()
    found: dict[int, Party] = {}
    try:
        found.update((p.id, p) for p in s.parties.list(name=text, limit=limit))
    except ValidationError as exc:
        raise ValidationError.single("q", "; ".join(e.reason for e in exc.errors)) from None
    exact = set(found)
    if len(found) < limit:
        for piece in _fragments(words):
            found.update((p.id, p) for p in s.parties.list(name=piece, limit=FRAGMENT_CANDIDATES))
    hits = []
    for party in found.values():
        if party.id in exact:
            hits.append(Hit(party, "name", 100.0))
            continue
        score = fuzz.WRatio(wanted, _fold(party.display_name))
        if score >= NAME_SCORE:
            hits.append(Hit(party, "similar name", score))
    hits.sort(key=lambda h: (-h.score, h.party.display_name.casefold(), h.party.id))
    return hits[:limit]


# -- the single view ---------------------------------------------------------------------
def _as_of(raw: str | None) -> dt.date:
    if raw is None or not raw.strip():
        return dt.date.today()
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise _PageError(400, "Bad date", "as_of: must be a date written YYYY-MM-DD") from None


def _limit(raw: str | None) -> int:
    if raw is None or not raw.strip():
        return TIMELINE_PAGE
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_TIMELINE_PAGE:
        raise _PageError(
            400, "Bad page size", f"limit: must be a whole number from 1 to {MAX_TIMELINE_PAGE}"
        )
    return value


def _party_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise _PageError(404, "No such party", f"there is no party {raw!r}")
    return int(raw)


class ConsentRow:
    """One line of the consent section: a purpose, the channels that share one decision
    (the same answer, reason and deciding record), and that decision."""

    def __init__(self, purpose: Purpose, channel: Channel, decision: ConsentDecision) -> None:
        self.purpose = purpose
        self.channels = [channel]
        self.decision = decision

    def same(self, purpose: Purpose, decision: ConsentDecision) -> bool:
        mine = self.decision
        return (self.purpose.name, mine.allowed, mine.rule, mine.reason, mine.record) == (
            purpose.name, decision.allowed, decision.rule, decision.reason, decision.record
        )  # fmt: skip


def _consents(s: Session, party: Party, catalogue: Catalogue | None) -> list[ConsentRow]:
    """The decision for each registered purpose on each channel that reaches one of the
    party's kinds of contact point (every channel, when none does)."""
    if catalogue is None:
        return []
    kinds = {c.kind for c in party.contact_points}
    channels = [c for c in catalogue.channels.values() if c.contact_kind in kinds]
    channels = channels or list(catalogue.channels.values())
    rows: list[ConsentRow] = []
    for purpose in catalogue.purposes.values():
        for channel in channels:
            decision = s.consents.check(party, purpose.name, channel.name)
            if rows and rows[-1].same(purpose, decision):
                rows[-1].channels.append(channel)
            else:
                rows.append(ConsentRow(purpose, channel, decision))
    return rows


#: keys of event data that are for machines (a merge's undo record), never shown
_HIDDEN_DATA = frozenset({"undo"})


def _pieces(data: Mapping[str, Any], depth: int = 0) -> Iterator[str]:
    for key, value in data.items():
        if key in _HIDDEN_DATA or value in (None, "", [], {}, 0, False):
            continue
        if isinstance(value, Mapping):
            if depth == 0:
                yield from _pieces(value, depth + 1)
        elif isinstance(value, list | tuple) and any(isinstance(v, Mapping) for v in value):
            yield f"{key}: {len(value)}"
        elif isinstance(value, list | tuple):
            yield f"{key}: {', '.join(map(str, value))}"
        else:
            yield f"{key}: {value}"


def _summary(data: Mapping[str, Any]) -> str:
    """An event's data on one line: its values, not the structure behind them."""
    text = " · ".join(_pieces(data))
    return text if len(text) <= 160 else text[:159] + "…"


def _when(value: dt.datetime | dt.date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


TEMPLATES.filters["when"] = _when
TEMPLATES.filters["summary"] = _summary


def _record_line(record: ConsentRecord | None) -> str:
    if record is None:
        return ""
    scope = record.channel or record.contact_key or "every channel"
    parts = [f"{record.decision} ({scope})", f"by {record.source}", _when(record.effective_from)]
    if record.evidence:
        parts.append(f"evidence: {record.evidence}")
    return " · ".join(parts)


TEMPLATES.filters["record_line"] = _record_line


def _single_view(
    s: Session,
    party: Party,
    *,
    as_of: dt.date,
    limit: int,
    after: str | None,
    catalogue: Catalogue | None,
) -> dict[str, Any]:
    links = s.relationships.of(party, as_of=as_of)
    others = {ident: s.parties.get(ident) for ident in {link.other_id for link in links}}
    try:
        timeline = s.timeline(party, limit=limit, after=after)
    except ValidationError:
        raise _PageError(400, "Bad cursor", "after: is not a cursor of this timeline") from None
    except (ValueError, TypeError):  # a cursor of another list
        raise _PageError(400, "Bad cursor", "after: is not a cursor of this timeline") from None
    pairs = [p for p in s.identity.duplicates(kinds=[party.kind]) if party.id in (p.left, p.right)]
    suggested = [
        (pair, s.parties.get(pair.right if pair.left == party.id else pair.left)) for pair in pairs
    ]
    return {
        "party": party,
        "roles": s.roles.of(party, include_ended=True),
        "links": [(link, others[link.other_id]) for link in links],
        "consents": _consents(s, party, catalogue),
        "ledger": s.consents.history(party),
        "timeline": timeline,
        "duplicates": suggested,
        "activities": s.activities.list(party=party, limit=20),
        "segments": _segments_of(s, party.id),
        "panels": s.panels(party),
        "now": dt.datetime.now(dt.UTC),
    }


#: how many saved segments the page tests the party against
SEGMENTS_SHOWN = 50


def _segments_of(s: Session, party_id: int) -> list[tuple[str, str]]:
    """The saved segments the party is a member of, with how (dynamic, or the date of a
    frozen list); one membership test each, for the first :data:`SEGMENTS_SHOWN`."""
    found = []
    for saved in s.segments.list()[:SEGMENTS_SHOWN]:
        try:
            member = s.segments.contains(saved.name, party_id)
        except ValidationError:  # a plugin's criterion no longer registered
            continue
        if member:
            when = saved.frozen_at.strftime("frozen %Y-%m-%d") if saved.frozen_at else "now"
            found.append((saved.name, when))
    return found


# -- the router --------------------------------------------------------------------------
def pages_router(open_session: OpenSession, *, registry: Catalogue | None = None) -> APIRouter:
    """The web pages, to mount under ``/ui``: login, search and the single view.

    ``open_session(request)`` opens the caller's unit of work (API key from a header or
    the ``xrm_key`` cookie) and raises ``HTTPException(401)`` without a valid key.
    ``registry`` (``app.registry``) lists the purposes and channels of the consent section;
    without it the section shows the consent ledger only.
    """
    router = APIRouter(include_in_schema=False)

    def url(
        request: Request, name: str, query: Mapping[str, Any] | None = None, **path: Any
    ) -> str:
        where = request.url_for(name, **{k: str(v) for k, v in path.items()}).path
        return f"{where}?{urlencode(query, doseq=True)}" if query else where

    def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        html = TEMPLATES.get_template(template).render(
            url=lambda name, query=None, **path: url(request, name, query, **path),
            request=request,
            **values,
        )
        return HTMLResponse(html, status_code=status)

    def error(request: Request, exc: _PageError) -> HTMLResponse:
        return render(request, "error.html", exc.status, title=exc.title, detail=exc.detail)

    def to_login(request: Request) -> RedirectResponse:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(url(request, "login", {"next": here}), status_code=303)

    @contextmanager
    def reading(request: Request) -> Iterator[Session]:
        """The caller's unit of work; a refusal of the policy becomes a 403 page."""
        try:
            with open_session(request) as s:
                yield s
        except XRMError as exc:
            if _is_forbidden(exc):
                raise _PageError(403, "Not allowed", str(exc)) from None
            raise

    def guarded(request: Request, build: Callable[[], Response]) -> Response:
        try:
            return build()
        except HTTPException as exc:
            if exc.status_code == 401:
                return to_login(request)
            raise
        except _PageError as exc:
            return error(request, exc)

    @router.get("/static/xrm.css", name="css")
    def css() -> FileResponse:
        return FileResponse(CSS, media_type="text/css")

    # -- login ---------------------------------------------------------------------------
    def _next(request: Request, raw: str | None) -> str:
        """Where to go after logging in: a page of this site only (no open redirect)."""
        home = url(request, "search")
        if raw and raw.startswith(home) and not raw.startswith("//") and "\\" not in raw:
            return raw
        return home

    @router.get("/login", name="login", response_class=HTMLResponse)
    def login_form(request: Request, next: str | None = None) -> HTMLResponse:
        return render(request, "login.html", next=_next(request, next), problem=None)

    @router.post("/login", name="login_post", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        form = await request.form()
        key = str(form.get("key") or "").strip()
        target = _next(request, str(form.get("next") or ""))

        def refuse(status: int, problem: str) -> HTMLResponse:
            return render(request, "login.html", status, next=target, problem=problem)

        if not key:
            return refuse(400, "key: type the API key you were given")
        if not _KEY.fullmatch(key):
            return refuse(401, "key: this is not an API key of this server")
        probe = _with_key(request, key)
        try:
            with open_session(probe):
                pass
        except HTTPException as exc:
            if exc.status_code != 401:
                raise
            return refuse(401, "key: this is not an API key of this server")
        except XRMError as exc:
            if not _is_forbidden(exc):
                raise
            return refuse(403, f"key: this key may not read parties ({exc})")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE, key, httponly=True, samesite="strict", path="/",
            secure=request.url.scheme == "https",
        )  # fmt: skip
        return response

    @router.post("/logout", name="logout")
    def logout(request: Request) -> RedirectResponse:
        response = RedirectResponse(url(request, "login"), status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    # -- search --------------------------------------------------------------------------
    @router.get("/", name="search", response_class=HTMLResponse)
    def search(request: Request, q: str | None = None) -> Response:
        def build() -> Response:
            with reading(request) as s:
                if q is None or not q.strip():
                    return render(request, "search.html", q="", hits=None, problem=None)
                try:
                    hits = search_parties(s, q)
                except ValidationError as exc:
                    return render(request, "search.html", 400, q=q, hits=None, problem=str(exc))
            return render(request, "search.html", q=q, hits=hits, problem=None)

        return guarded(request, build)

    # -- the single view -----------------------------------------------------------------
    @router.get("/parties/{ident}", name="party", response_class=HTMLResponse)
    def party_page(request: Request, ident: str) -> Response:
        params = request.query_params

        def build() -> Response:
            as_of = _as_of(params.get("as_of"))
            limit = _limit(params.get("limit"))
            after = params.get("after") or None
            trail = params.getlist("trail")
            wanted = _party_id(ident)
            with reading(request) as s:
                try:
                    party = s.parties.get(wanted)
                except NotFound:
                    raise _PageError(404, "No such party", f"there is no party {wanted}") from None
                if party.id != wanted:  # merged: its survivor holds its history now
                    query = urlencode(list(params.multi_items()))
                    target = url(request, "party", ident=party.id)
                    return RedirectResponse(f"{target}?{query}" if query else target, 302)
                view = _single_view(
                    s, party, as_of=as_of, limit=limit, after=after, catalogue=registry
                )
            base = {"as_of": as_of.isoformat(), **({"limit": limit} if "limit" in params else {})}
            page = view["timeline"]
            newer = None
            if after is not None:
                back = trail[:-1]
                newer = {**base, **({"after": trail[-1]} if trail and trail[-1] else {})}
                newer["trail"] = back
            older = None
            if page.next_cursor is not None:
                older = {**base, "after": page.next_cursor, "trail": [*trail, after or ""]}
            return render(
                request, "party.html", **view, as_of=as_of.isoformat(), newer=newer, older=older,
                registry=registry, page_number=len(trail) + 1,
            )  # fmt: skip

        return guarded(request, build)

    return router


def _with_key(request: Request, key: str) -> Request:
    """``request`` as if it carried only ``key``, in the cookie: what the next page will
    send, to check the key before keeping it."""
    headers = [
        (name, value)
        for name, value in request.scope["headers"]
        if name not in (b"cookie", b"authorization", b"x-api-key")
    ]
    headers.append((b"cookie", f"{COOKIE}={key}".encode("ascii")))
    return Request({**request.scope, "headers": headers})
