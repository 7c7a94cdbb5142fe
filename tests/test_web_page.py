"""The single view as a web page (``/ui``): login, search, and every section of the party
page, read through FastAPI's TestClient and in a real headless Chromium.

``XRM_PAGE_SCREENSHOTS=1 pytest tests/test_web_page.py -k screenshots`` writes
docs/images/search.png and docs/images/party-page.png from the seeded data.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI, HTTPException, Request

from xrm import XRM, Email, Phone, PostalAddress, Session, XRMError
from xrm.web.pages import COOKIE, pages_router

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 and warns once, at import, when it finds httpx only
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

KEY = "page-test-key-7f3a"
ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
LAST_YEAR = dt.date.today().replace(month=1, day=1) - dt.timedelta(days=200)


class Seeded(NamedTuple):
    acme: int
    marie: int
    twin: int
    merged: int
    script: int
    old_employer: int


def seed(app: XRM) -> Seeded:
    """A small company's base, like the demo's: ACME, Marie Dupont who works there (and
    worked at Globex until last year), a likely duplicate of Marie, a record merged into
    her, consent given then withdrawn, and enough history to page."""
    with app.session(actor="seed") as s:
        acme = s.parties.create(
            "organization", "ACME Industries",
            contact_points=[Email("contact@acme.example"), Phone("+33 1 42 68 53 00"),
                            PostalAddress(lines=["12 rue de la Paix"], postcode="75002",
                                          city="Paris", country="FR")],
            identifiers={"fr.siren": "732 829 320"}, tags=["key-account"],
        ).id  # fmt: skip
        globex = s.parties.create("organization", "Globex").id
        marie = s.parties.create(
            "person", given_name="Marie", family_name="Dupont",
            birth_date=dt.date(1984, 3, 12),
            contact_points=[Email("Marie.Dupont@Example.com"), Phone("06 12 34 56 78"),
                            Phone("12 34", keep_invalid=True, label="from an old import")],
            tags=["newsletter"],
        ).id  # fmt: skip
        twin = s.parties.create(
            "person", given_name="Marie", family_name="Dupond",
            birth_date=dt.date(1984, 3, 12),
            contact_points=[Email("m.dupond@example.org"), Phone("+33 6 12 34 56 78")],
        ).id  # fmt: skip
        merged = s.parties.create(
            "person", given_name="M.", family_name="Dupont",
            contact_points=[Email("marie@old-isp.example")],
        ).id  # fmt: skip
        script = s.parties.create("organization", "<script>alert('x')</script> Ltd").id
        s.relationships.create("works_for", marie, globex, valid_from=dt.date(2015, 1, 1),
                               valid_to=LAST_YEAR + dt.timedelta(days=1))  # fmt: skip
        s.relationships.create("works_for", marie, acme, valid_from=dt.date.today())
        s.relationships.create("knows", marie, twin, valid_from=dt.date(2020, 5, 1))
        role = s.roles.assign(acme, "customer")
        s.roles.transition(role, "prospect", note="asked for a quote")
        s.roles.assign(marie, "customer")
        s.consents.grant(marie, "marketing", source="web_form", evidence="newsletter signup v2")
        s.consents.withdraw(marie, "marketing", source="unsubscribe_link")
        start = dt.datetime(2024, 1, 8, 9, 30, tzinfo=dt.UTC)
        for n in range(30):
            s.interactions.record(
                channel="phone", direction="inbound", touchpoint="support",
                occurred_at=start + dt.timedelta(days=7 * n),
                subject=f"Call number {n + 1}", participants=[(marie, "caller")],
            )  # fmt: skip
    with app.session(actor="seed") as s:
        s.identity.merge(marie, merged)
        s.segments.define("people at ACME", {"type": "related", "relationship": "works_for"})
        s.segments.define("organisations", {"type": "kind", "kind": "organization"})
        s.segments.freeze("people at ACME", as_name="ACME staff 2026")
    return Seeded(acme, marie, twin, merged, script, globex)


def open_session_for(xrm_app: XRM) -> Any:
    """The test's stand-in for the API's key check: one fixed key, in a header or the
    cookie, opens a unit of work as ``test``."""

    @contextmanager
    def open_session(request: Request) -> Iterator[Session]:
        key = request.headers.get("x-api-key") or request.cookies.get(COOKIE)
        if key != KEY:
            raise HTTPException(status_code=401)
        with xrm_app.session(actor="test") as s:
            yield s

    return open_session


def web_app(xrm_app: XRM) -> FastAPI:
    """The pages alone, under ``/ui``, behind the test's key."""
    web = FastAPI()
    web.include_router(
        pages_router(open_session_for(xrm_app), registry=xrm_app.registry), prefix="/ui"
    )
    return web


@pytest.fixture
def seeded(app: XRM) -> Seeded:
    return seed(app)


@pytest.fixture
def client(app: XRM, seeded: Seeded) -> TestClient:
    web = TestClient(web_app(app), follow_redirects=False)
    web.cookies.set(COOKIE, KEY)
    return web


def sections(html: str) -> set[str]:
    return set(re.findall(r'<section class="card[^"]*" id="([a-z-]+)"', html))


def text_of(html: str) -> str:
    """The page's text, tags dropped and entities read: what a reader sees."""
    import html as html_lib

    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", html)).split())


# -- login -------------------------------------------------------------------------------
def test_a_page_without_a_key_redirects_to_the_login_page(app: XRM, seeded: Seeded) -> None:
    anonymous = TestClient(web_app(app), follow_redirects=False)
    answer = anonymous.get(f"/ui/parties/{seeded.marie}?as_of=2024-01-01")
    assert answer.status_code == 303
    target = urlsplit(answer.headers["location"])
    assert target.path == "/ui/login"
    assert parse_qs(target.query)["next"] == [f"/ui/parties/{seeded.marie}?as_of=2024-01-01"]
    assert anonymous.get("/ui/").headers["location"].startswith("/ui/login")
    assert "API key" in anonymous.get("/ui/login").text


def test_logging_in_keeps_the_key_in_a_strict_http_only_cookie(app: XRM, seeded: Seeded) -> None:
    browser = TestClient(web_app(app), follow_redirects=False)
    answer = browser.post("/ui/login", data={"key": KEY, "next": f"/ui/parties/{seeded.acme}"})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/ui/parties/{seeded.acme}"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={KEY};")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert browser.get(f"/ui/parties/{seeded.acme}").status_code == 200
    out = browser.post("/ui/logout")
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    assert f'{COOKIE}=""' in out.headers["set-cookie"] and "Max-Age=0" in out.headers["set-cookie"]
    browser.cookies.clear()
    assert browser.get(f"/ui/parties/{seeded.acme}").status_code == 303


def test_a_wrong_key_is_refused_on_the_login_page(app: XRM, seeded: Seeded) -> None:
    browser = TestClient(web_app(app), follow_redirects=False)
    wrong = browser.post("/ui/login", data={"key": "not-the-key"})
    assert wrong.status_code == 401
    assert "key: this is not an API key of this server" in wrong.text
    assert "set-cookie" not in wrong.headers
    assert browser.post("/ui/login", data={"key": "a key; with=junk"}).status_code == 401
    empty = browser.post("/ui/login", data={"key": "  "})
    assert empty.status_code == 400 and "key: type the API key" in empty.text


def test_login_returns_only_to_a_page_of_the_site(app: XRM, seeded: Seeded) -> None:
    browser = TestClient(web_app(app), follow_redirects=False)
    for elsewhere in ("https://evil.example/", "//evil.example/ui/", "/elsewhere"):
        answer = browser.post("/ui/login", data={"key": KEY, "next": elsewhere})
        assert answer.headers["location"] == "/ui/", elsewhere


# -- search ------------------------------------------------------------------------------
def hit_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'class="hit" href="/ui/parties/(\d+)"', html)]


def test_search_finds_a_party_from_any_spelling_of_its_name(
    client: TestClient, seeded: Seeded
) -> None:
    assert hit_ids(client.get("/ui/", params={"q": "dupont marie"}).text)[0] == seeded.marie
    misspelt = hit_ids(client.get("/ui/", params={"q": "Mary Dupomt"}).text)
    assert misspelt[0] == seeded.marie
    assert seeded.acme in hit_ids(client.get("/ui/", params={"q": "Akme Industrys"}).text)
    assert seeded.merged not in misspelt  # merged parties are found through their survivor
    assert hit_ids(client.get("/ui/", params={"q": "Zygmunt"}).text) == []


def test_search_finds_a_party_from_its_email_or_phone_however_written(
    client: TestClient, seeded: Seeded
) -> None:
    assert hit_ids(client.get("/ui/", params={"q": "MARIE.DUPONT@example.com"}).text) == [
        seeded.marie
    ]
    # the merged record's address leads to the survivor
    assert hit_ids(client.get("/ui/", params={"q": "marie@old-isp.example"}).text) == [seeded.marie]
    assert hit_ids(client.get("/ui/", params={"q": "01 42 68 53 00"}).text) == [seeded.acme]
    # a number two parties hold (not merged yet) lists both
    shared = client.get("/ui/", params={"q": "+33 6 12 34 56 78"}).text
    assert sorted(hit_ids(shared)) == sorted([seeded.marie, seeded.twin])


def test_search_explains_a_query_it_cannot_read(client: TestClient, seeded: Seeded) -> None:
    answer = client.get("/ui/", params={"q": "someone@"})
    assert answer.status_code == 400
    assert "q: not a valid email" in text_of(answer.text)
    punctuation = client.get("/ui/", params={"q": "?!"})
    assert punctuation.status_code == 400
    assert "q: has no letter or digit to search for" in text_of(punctuation.text)
    assert client.get("/ui/").status_code == 200


# -- the single view ---------------------------------------------------------------------
def test_the_party_page_shows_every_section(client: TestClient, seeded: Seeded) -> None:
    answer = client.get(f"/ui/parties/{seeded.marie}")
    assert answer.status_code == 200
    assert sections(answer.text) == {
        "identity", "contact-points", "roles", "activities", "segments", "relationships",
        "consent", "duplicates", "timeline",
    }  # fmt: skip
    seen = text_of(answer.text)
    # the saved segments she is in, dynamic or frozen (not the organisations)
    segments = text_of(answer.text.split('id="segments"')[1].split("</section>")[0])
    assert "people at ACME now" in segments and "ACME staff 2026 frozen" in segments
    assert "organisations" not in segments
    assert "Marie Dupont" in seen and "person" in seen and "newsletter" in seen
    # contact points: the primary one marked, the invalid phone marked, the merged one kept
    assert "Marie.Dupont@Example.com primary" in seen
    assert "12 34 from an old import invalid" in seen
    assert "marie@old-isp.example" in seen
    assert "customer lead" in seen  # role and state
    # relationships as of today: the current employer and the symmetric link, not Globex
    assert "works for ACME Industries" in seen and "knows Marie Dupond" in seen
    assert "Globex" not in seen
    # consent per purpose and channel, with the deciding record
    assert re.search(r"Marketing communications consent Email, Phone call, SMS, Fax refused "
                     r".*withdrawn \(every channel\) · by unsubscribe_link", seen)  # fmt: skip
    assert "repair notices contract Email, Phone call, SMS, Fax allowed contract" in seen
    assert "newsletter signup v2" in seen  # the ledger
    # the duplicate with its evidence, field by field
    duplicates = text_of(answer.text.split('id="duplicates"')[1].split("</section>")[0])
    assert "Marie Dupond" in duplicates and "definite" in duplicates
    assert "phone same_phone +33612345678 +33612345678 1.00 +0.0 agree" in duplicates
    assert "family_name family_name dupont dupond" in duplicates
    assert "birth_date birth_date 1984-03-12 1984-03-12 1.00 +11.0 agree" in duplicates


def test_the_twin_sees_the_evidence_from_its_own_side(client: TestClient, seeded: Seeded) -> None:
    page = text_of(client.get(f"/ui/parties/{seeded.twin}").text)
    assert "family_name family_name dupond dupont" in page


def test_relationships_are_shown_as_of_the_chosen_date(client: TestClient, seeded: Seeded) -> None:
    then = LAST_YEAR - dt.timedelta(days=30)
    seen = text_of(client.get(f"/ui/parties/{seeded.marie}", params={"as_of": then}).text)
    assert "works for Globex" in seen and "ACME Industries" not in seen
    assert (
        f'value="{then.isoformat()}"'
        in client.get(f"/ui/parties/{seeded.marie}", params={"as_of": then}).text
    )
    # from the other end
    globex = text_of(client.get(f"/ui/parties/{seeded.old_employer}",
                                params={"as_of": then}).text)  # fmt: skip
    assert "employs Marie Dupont" in globex
    answer = client.get(f"/ui/parties/{seeded.marie}", params={"as_of": "last tuesday"})
    assert answer.status_code == 400
    assert "as_of: must be a date written YYYY-MM-DD" in answer.text


def timeline_subjects(html: str) -> list[str]:
    return re.findall(r"Call number (\d+)", html.split('id="timeline"')[1])


def link(html: str, rel: str) -> str | None:
    found = re.search(rf'<a rel="{rel}" href="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_the_timeline_pages_forward_and_back(app: XRM, client: TestClient, seeded: Seeded) -> None:
    # what the library says, ten entries a page: today's events, then the 30 calls
    with app.session() as s:
        history = [e.data.get("subject") for e in s.timeline(seeded.marie, limit=100)]
    expected = [
        [subject.split()[-1] for subject in history[n : n + 10] if subject]
        for n in range(0, len(history), 10)
    ]
    assert len(history) == 39 and len(expected) == 4
    first = client.get(f"/ui/parties/{seeded.marie}", params={"limit": 10}).text
    assert timeline_subjects(first) == expected[0] == ["30"]
    assert link(first, "prev") is None
    second = client.get(link(first, "next") or "").text
    assert timeline_subjects(second) == expected[1] and "page 2, newest first" in second
    third = client.get(link(second, "next") or "").text
    assert timeline_subjects(third) == expected[2]
    last = client.get(link(third, "next") or "").text
    assert timeline_subjects(last) == expected[3] == [str(n) for n in range(9, 0, -1)]
    assert link(last, "next") is None and "page 4, newest first" in last
    back = client.get(link(last, "prev") or "").text
    assert timeline_subjects(back) == expected[2]
    back = client.get(link(back, "prev") or "").text
    back = client.get(link(back, "prev") or "").text
    assert timeline_subjects(back) == expected[0] and link(back, "prev") is None
    assert 'name="limit"' not in back and "limit=10" in (link(back, "next") or "")


def test_bad_paging_input_is_named(client: TestClient, seeded: Seeded) -> None:
    for params, says in (
        ({"after": "not-a-cursor"}, "after: is not a cursor of this timeline"),
        ({"after": "WzFd"}, "after: is not a cursor of this timeline"),  # [1]: another list's
        ({"limit": "0"}, "limit: must be a whole number from 1 to 200"),
        ({"limit": "ten"}, "limit: must be a whole number from 1 to 200"),
    ):
        answer = client.get(f"/ui/parties/{seeded.marie}", params=params)
        assert answer.status_code == 400, params
        assert says in answer.text, params


def test_every_value_is_escaped(client: TestClient, seeded: Seeded) -> None:
    page = client.get(f"/ui/parties/{seeded.script}").text
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Ltd" in page
    found = client.get("/ui/", params={"q": "<script>alert"}).text
    assert "<script>" not in found and "&lt;script&gt;" in found


def test_an_unknown_party_is_a_404_page(client: TestClient, seeded: Seeded) -> None:
    for ident in ("999999", "abc", "-1"):
        answer = client.get(f"/ui/parties/{ident}")
        assert answer.status_code == 404, ident
        assert "No such party" in answer.text


def test_a_merged_party_redirects_to_its_survivor(client: TestClient, seeded: Seeded) -> None:
    answer = client.get(f"/ui/parties/{seeded.merged}", params={"as_of": "2024-02-01"})
    assert answer.status_code == 302
    assert answer.headers["location"] == f"/ui/parties/{seeded.marie}?as_of=2024-02-01"


def test_a_refusal_of_the_policy_is_a_403_page(app: XRM, seeded: Seeded) -> None:
    class Forbidden(XRMError):
        """What the core's policy raises (xrm.Forbidden)."""

    @contextmanager
    def refusing(request: Request) -> Iterator[Session]:
        raise Forbidden("actor 'intern' may not read parties")
        yield  # pragma: no cover

    web = FastAPI()
    web.include_router(pages_router(refusing), prefix="/ui")
    browser = TestClient(web, follow_redirects=False)
    answer = browser.get(f"/ui/parties/{seeded.marie}")
    assert answer.status_code == 403
    assert "actor &#39;intern&#39; may not read parties" in answer.text
    login = browser.post("/ui/login", data={"key": KEY})
    assert login.status_code == 403 and "key: this key may not read parties" in login.text


def test_without_the_registry_the_consent_section_shows_the_ledger(
    app: XRM, seeded: Seeded
) -> None:
    web = FastAPI()
    web.include_router(pages_router(open_session_for(app)), prefix="/ui")
    browser = TestClient(web)
    browser.cookies.set(COOKIE, KEY)
    consent = browser.get(f"/ui/parties/{seeded.marie}").text.split('id="consent"')[1]
    assert "newsletter signup v2" in consent and "Decision</th><th>Why" not in consent


# -- a real browser ----------------------------------------------------------------------
def browser_or_skip() -> Any:
    """Playwright's sync API, or a skip (a failure where CI is set: CI installs both)."""
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "the playwright package is not installed"
    if missing is None and not Path(CHROMIUM).exists():
        missing = f"{CHROMIUM} is missing (apt-get install chromium)"
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    return sync_playwright


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(web: FastAPI) -> Iterator[str]:
    """``web`` served by a real uvicorn on a free local port, in a background thread."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(web, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def real_app(xrm_app: XRM) -> tuple[FastAPI, str]:
    """``xrm serve``'s application (``create_app``) and a key of an agent."""
    from xrm.web import ApiKeys, create_app

    keys = ApiKeys(None)
    return create_app(xrm_app, keys), keys.create("page-tester", ["agent"])


@contextmanager
def chromium_page(base: str) -> Iterator[Any]:
    sync_playwright = browser_or_skip()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


def test_in_chromium_log_in_search_open_page_and_change_date(app: XRM, seeded: Seeded) -> None:
    web, key = real_app(app)
    with served(web) as base, chromium_page(base) as page:
        page.goto(f"{base}/ui/parties/{seeded.marie}")
        assert page.url.startswith(f"{base}/ui/login")
        page.fill("#key", key)
        page.click("button:has-text('Log in')")
        page.wait_for_url(f"{base}/ui/parties/{seeded.marie}")
        assert page.inner_text("h1") == "Marie Dupont"
        cookie = next(c for c in page.context.cookies() if c["name"] == COOKIE)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        # search a misspelled name from the search page
        page.goto(f"{base}/ui/")
        page.fill("#q", "Mary Dupomt")
        page.press("#q", "Enter")
        page.wait_for_selector("#hits")
        names = page.locator("a.hit").all_inner_texts()
        assert names[0] == "Marie Dupont"
        page.click("a.hit:text-is('Marie Dupont')")
        page.wait_for_url(f"**/ui/parties/{seeded.marie}")
        assert "primary" in page.inner_text("#contact-points")
        assert "invalid" in page.inner_text("#contact-points")
        assert "definite" in page.inner_text("#duplicates")
        # page the timeline: 20 a page, the oldest calls on the second
        assert "Call number 30" in page.inner_text("#timeline")
        page.click("a[rel=next]")
        page.wait_for_selector("text=page 2, newest first")
        timeline = page.inner_text("#timeline")
        assert "Call number 10" in timeline and "Call number 30" not in timeline
        page.click("a[rel=prev]")
        page.wait_for_selector("text=page 1, newest first")
        assert "Call number 30" in page.inner_text("#timeline")
        # change the as-of date: last year Marie worked for Globex
        relationships = page.inner_text("#relationships")
        assert "ACME Industries" in relationships and "Globex" not in relationships
        page.fill("#as_of", (LAST_YEAR - dt.timedelta(days=30)).isoformat())
        page.click("#relationships button")
        page.wait_for_url(re.compile(r".*as_of=.*"))
        relationships = page.inner_text("#relationships")
        assert "works for\tGlobex" in relationships and "ACME" not in relationships
        # a party named like a script tag is text, and no script ran
        page.goto(f"{base}/ui/parties/{seeded.script}")
        assert page.inner_text("h1") == "<script>alert('x')</script> Ltd"
        assert page.evaluate("document.scripts.length") == 0
        # log out: the next page asks for the key again
        page.click("button:has-text('Log out')")
        page.wait_for_url(f"{base}/ui/login")
        page.goto(f"{base}/ui/parties/{seeded.marie}")
        assert page.url.startswith(f"{base}/ui/login")


@pytest.mark.skipif(
    not os.environ.get("XRM_PAGE_SCREENSHOTS"), reason="set XRM_PAGE_SCREENSHOTS=1 to write them"
)
def test_screenshots(app: XRM, seeded: Seeded) -> None:
    """docs/images/search.png and docs/images/party-page.png, from the seeded data."""
    images = ROOT / "docs" / "images"
    images.mkdir(parents=True, exist_ok=True)
    with served(web_app(app)) as base, chromium_page(base) as page:
        page.goto(f"{base}/ui/login")
        page.fill("#key", KEY)
        page.click("button:has-text('Log in')")
        page.goto(f"{base}/ui/?q=Mary+Dupomt")
        page.screenshot(path=str(images / "search.png"), full_page=True)
        page.goto(f"{base}/ui/parties/{seeded.marie}?limit=8")
        page.screenshot(path=str(images / "party-page.png"), full_page=True)
    for name in ("search.png", "party-page.png"):
        assert (images / name).stat().st_size > 10_000, name


def test_the_served_page_shows_the_decision_per_purpose_and_channel(
    app: XRM, seeded: Seeded
) -> None:
    """``xrm serve``'s application gives the page the registry: every purpose is listed
    with the decision for it, the deciding record beside it."""
    web, key = real_app(app)
    client = TestClient(web)
    page = client.get(f"/ui/parties/{seeded.marie}", headers={"X-API-Key": key})
    assert page.status_code == 200
    consent = page.text.split('id="consent"', 1)[1].split("</section>", 1)[0]
    assert "<th>Deciding record</th>" in consent
    assert "marketing" in consent and "refused" in consent


def test_the_page_lists_the_open_activities_overdue_marked(app: XRM, seeded: Seeded) -> None:
    web, key = real_app(app)
    with app.session(actor="ann") as s:
        s.activities.plan("call", "Call back about <b>the quote</b>", parties=[seeded.marie],
                          due=dt.datetime(2020, 1, 6, 9, 0), user="ann")  # fmt: skip
        s.activities.plan("task", "Send the contract", parties=[seeded.marie],
                          due=dt.datetime(2099, 1, 6, 9, 0), time_zone="Europe/Paris")  # fmt: skip
        done = s.activities.plan("email", "Already done", parties=[seeded.marie],
                                 due=dt.datetime(2020, 1, 1))  # fmt: skip
        s.activities.complete(done)
    page = TestClient(web).get(f"/ui/parties/{seeded.marie}", headers={"X-API-Key": key})
    section = page.text.split('id="activities"', 1)[1].split("</section>", 1)[0]
    assert "Call back about &lt;b&gt;the quote&lt;/b&gt;" in section  # escaped
    assert section.count("overdue") == 1 and "2099-01-06 09:00 CET" in section
    assert "Already done" not in section
