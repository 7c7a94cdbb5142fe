"""Hostile input against every public method of a session's services.

Each public method is called once with valid arguments, then once per argument per
hostile value (wrong types, out-of-range ids, NUL, lone surrogates, huge and deeply nested
values, search wildcards...). Whatever happens:

- the only exceptions are :mod:`xrm.errors` ones, with a message quoting at most a short
  piece of the value;
- the unit of work is still usable afterwards (the seeded party reads back);
- what a call accepted reads back and exports as valid UTF-8 JSON (nothing corrupted).

The methods are discovered from the session, so a new public method fails
:func:`test_every_public_method_is_attacked` until it has its line in :data:`CALLS`.
"""

from __future__ import annotations

import datetime as dt
import inspect
import io
import itertools
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from xrm import XRM, Email, FileTransport, Phone, Session, Template, TemplateSet
from xrm.core._args import plan_of
from xrm.core.events import PartyTagged
from xrm.core.gdpr._suppression import database_secret
from xrm.core.messaging.service import unsubscribe_token
from xrm.core.models import MessageRow
from xrm.errors import XRMError
from xrm.hookspecs import hookspec
from xrm.plugin import hookimpl

from .conftest import TEST_TYPES, make_app


class _Rollback(Exception):
    """Undoes one attack's savepoint so the next attack starts from the same data."""


def _deep_dict(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def _deep_list(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


LONG = "x" * 200_000
NIR = "2 84 05 75 056 004 12"
HOSTILE: dict[str, Any] = {
    "None": None,
    "True": True,
    "0": 0,
    "-1": -1,
    "2**63": 2**63,
    "-2**63-1": -(2**63) - 1,
    "10**400": 10**400,
    "1.5": 1.5,
    "nan": float("nan"),
    "inf": float("inf"),
    "empty": "",
    "blank": "   ",
    "NUL": "a\x00b",
    "lone surrogate": "a\ud800b",
    "%": "%",
    "_": "_",
    "*": "*",
    "200k chars": LONG,
    "1000 words": " ".join(["mot"] * 1000),
    "escape codes": "\x1b[31mred\x1b[0m",
    "digits": "12345",
    "bytes": b"abc",
    "list": ["a"],
    "dict": {"a": 1},
    "set": {"a"},
    "nested 5000 dict": _deep_dict(5000),
    "nested 5000 list": _deep_list(5000),
    "object": object(),
    "type": str,
    "naive datetime": dt.datetime(2020, 1, 1),
    "year 1": dt.datetime(1, 1, 1, tzinfo=dt.UTC),
    "year 9999": dt.datetime.max.replace(tzinfo=dt.UTC),
    "date": dt.date(2020, 1, 1),
    "timedelta": dt.timedelta(days=1),
    "aware +14h": dt.datetime(2020, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=14))),
}


@attrs.define
class Seeds:
    """What the valid calls act on: one of each record, made in the unit of work."""

    p: Any
    o: Any
    dup: Any
    gone: Any
    point: Any
    role: Any
    rel: Any
    inter: Any
    consent: Any
    message: Any = None
    token: Any = None
    role_type: Any = None
    rel_type: Any = None
    activity: Any = None


def seed(s: Session) -> Seeds:
    p = s.parties.create(
        "person",
        "Marie Dupont",
        contact_points=[Email("marie@example.com"), Phone("06 12 34 56 78")],
        identifiers={"fr.nir": NIR},
        tags=["vip"],
    )
    o = s.parties.create("organization", "ACME")
    dup = s.parties.create("person", "Marie Dupond", contact_points=[Email("m.d@example.org")])
    role = s.roles.assign(p, "customer")
    rel = s.relationships.create("knows", p, dup, valid_from=dt.date(2020, 1, 1))
    consent = s.consents.grant(p, "marketing", source="web form", channel="email")
    inter = s.interactions.record(
        channel="email",
        direction="outbound",
        purpose="marketing",
        participants=[(p, "recipient")],
        subject="Hello",
    )
    gone = s.parties.create("person", "Marie D.", contact_points=[Email("md@example.org")])
    s.identity.merge(dup, gone)
    message = s.messages.send(p, "notice", purpose="marketing", data={"n": 1})
    row = s._uow.db.get(MessageRow, message.id)
    token = unsubscribe_token(database_secret(s._uow), row)
    activity = s.activities.plan(
        "call", "Call back about the quote", due=NOW, parties=[p], assignee=o,
        about=("party", p.id),
    )  # fmt: skip
    s.segments.define("vips", {"type": "tag", "tag": "vip"})
    return Seeds(p, o, dup, gone, p.contact_points[0], role, rel, inter, consent, message.id,
                 token, activity=activity.id)  # fmt: skip


Call = Callable[[Seeds], tuple[tuple[Any, ...], dict[str, Any]]]


def a(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return args, kwargs


NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

#: a valid call of each public method; every argument of it is then attacked
CALLS: dict[str, Call] = {
    "atomic": lambda x: a(),
    "hook": lambda x: a("xrm_hostile_echo", value="hello"),
    "panels": lambda x: a(x.p),
    "record_event": lambda x: a("shop.order", parties=[x.p], data={"n": 1}, entity_id=1),
    "journal": lambda x: a(PartyTagged(entity_id=x.p.id, parties=(x.p.id,), tags=["a"])),
    "timeline": lambda x: a(x.p, limit=10, after=None, types=["party.created"]),
    # parties
    "parties.create": lambda x: a(
        "person",
        "Jean Martin",
        given_name="Jean",
        family_name="Martin",
        birth_date=dt.date(1980, 1, 2),
        attributes={"segment": "b2c"},
        contact_points=[Email("jean@example.com")],
        identifiers={"fr.siren": "732829320"},
        tags=["new"],
        if_exists="create",
    ),
    "parties.resolve_or_create": lambda x: a({"kind": "person", "emails": ["marie@example.com"]}),
    "parties.get": lambda x: a(x.p, follow_merges=True),
    "parties.list": lambda x: a(
        kind="person",
        tag="vip",
        role="customer",
        role_state="lead",
        name="Marie",
        segment="vips",
        limit=5,
    ),
    "parties.find": lambda x: a(email="marie@example.com", phone="0612345678", region="FR"),
    "parties.find_ids": lambda x: a(
        email="marie@example.com", identifier=("fr.nir", "2 84 05 75 056 004 12")
    ),
    "parties.holders": lambda x: a("marie@example.com", "0612345678", "FR", None),
    "parties.count": lambda x: a(kind="person", segment={"type": "kind", "kind": "person"}),
    "parties.update": lambda x: a(
        x.p,
        version=x.p.version,
        display_name="Marie D.",
        given_name="Marie",
        family_name="Dupont",
        birth_date=dt.date(1984, 5, 1),
        attributes={"note": "ok"},
    ),
    "parties.add_contact_point": lambda x: a(x.p, Email("marie.d@example.net")),
    "parties.remove_contact_point": lambda x: a(x.p, x.point),
    "parties.set_primary": lambda x: a(x.p, x.point),
    "parties.add_identifier": lambda x: a(x.o, "fr.siren", "732829320"),
    "parties.tag": lambda x: a(x.p, "gold"),
    "parties.untag": lambda x: a(x.p, "vip"),
    "parties.import_many": lambda x: a([{"kind": "person", "display_name": "A"}], first_line=1),
    "imports.import_many": lambda x: a([{"kind": "person", "display_name": "A"}], first_line=1),
    "imports.import_one": lambda x: a({"kind": "person", "display_name": "B"}),
    # roles
    "roles.assign": lambda x: a(x.dup, "customer", state="lead", attributes={}, at=NOW, note="n"),
    "roles.transition": lambda x: a(x.role, "prospect", at=None, note="n", version=x.role.version),
    "roles.update": lambda x: a(x.role, {"source": "fair"}, version=x.role.version),
    "roles.end": lambda x: a(x.role, at=None, note="n", version=x.role.version),
    "roles.get": lambda x: a(x.role),
    "roles.current": lambda x: a(x.p, "customer"),
    "roles.of": lambda x: a(x.p, type="customer", include_ended=True),
    "roles.role_type": lambda x: a("customer"),
    "roles.check_attributes": lambda x: a(x.role_type, {"a": 1}),
    "roles.initial_attributes": lambda x: a(x.role_type, x.p.id, {"a": 1}),
    # relationships
    "relationships.create": lambda x: a(
        "knows", x.p, x.o, valid_from=dt.date(2021, 1, 1), valid_to=None, attributes={"a": 1}
    ),
    "relationships.end": lambda x: a(x.rel, on=dt.date(2030, 1, 1)),
    "relationships.get": lambda x: a(x.rel),
    "relationships.of": lambda x: a(
        x.p, type="knows", as_of=dt.date(2025, 1, 1), direction="both", all_dates=False
    ),
    "relationships.check_duplicates_and_caps": lambda x: a(
        x.rel_type, x.p.id, x.o.id, dt.date(2021, 1, 1), None
    ),
    # interactions
    "interactions.record": lambda x: a(
        channel="phone",
        direction="inbound",
        participants=[(x.p, "caller")],
        touchpoint="support",
        purpose="service",
        occurred_at=NOW,
        subject="Printer",
        content="It jams",
        outcome="fixed",
        external_ref="T-1",
        attributes={"a": 1},
        historical=False,
    ),
    "interactions.get": lambda x: a(x.inter),
    "interactions.of": lambda x: a(x.p, channel="email", touchpoint=None, limit=5, after=None),
    # consent
    "consents.grant": lambda x: a(
        x.p,
        "surveys",
        source="web",
        channel="email",
        contact_point=None,
        evidence="form 12",
        captured_at=NOW,
        effective_from=NOW,
        expires_at=None,
        confirmed_at=None,
    ),
    "consents.refuse": lambda x: a(x.p, "surveys", source="phone", channel="sms"),
    "consents.withdraw": lambda x: a(x.p, "marketing", source="link", channel="email"),
    "consents.object": lambda x: a(x.p, "marketing", source="letter"),
    "consents.record": lambda x: a(x.p, "surveys", "granted", source="web", channel="email"),
    "consents.confirm": lambda x: a(x.consent, at=NOW, evidence="clicked"),
    "consents.check_record": lambda x: a("marketing", "granted", "email", "web", NOW),
    "consents.history": lambda x: a(x.p, purpose="marketing", merged=True),
    "consents.suppress": lambda x: a(x.p, x.point, reason="bounced"),
    "consents.unsuppress": lambda x: a(x.p, x.point, reason="fixed"),
    "consents.check": lambda x: a(x.p, "marketing", "email", contact_point=None, at=NOW),
    "consents.contactable": lambda x: a("marketing", "email", NOW),
    "consents.audience": lambda x: a("marketing", "email", NOW, batch=10),
    "consents.ledgers": lambda x: a(x.p.id, "email", "marie@example.com"),
    "consents.require": lambda x: a(x.p.id, "service", "email", None, NOW),
    # identity
    "identity.resolve": lambda x: a(
        email="marie@example.com", phone="0612345678", region="FR", external_ref=None
    ),
    "identity.duplicates": lambda x: a(
        kinds=["person"], rules=None, review_threshold=5.0, auto_threshold=15.0, limit=10
    ),
    "identity.iter_duplicates": lambda x: a(kinds=["person"], review_threshold=5.0),
    "identity.merge": lambda x: a(x.p, x.dup, prefer="survivor", dry_run=False),
    "identity.unmerge": lambda x: a(x.gone),
    # GDPR
    "gdpr.export": lambda x: a(x.p),
    "gdpr.write_export": lambda x: a(x.p, io.StringIO()),
    "gdpr.erase": lambda x: a(x.dup, reason="asked by letter"),
    "gdpr.is_erased": lambda x: a(x.p),
    "gdpr.paged": lambda x: a(10),
    "gdpr.suppressed": lambda x: a(email="marie@example.com", phone=None, region="FR"),
    "inbound.email": lambda x: a(
        "From: Marie <marie@example.com>\r\nSubject: Re\r\n\r\nThanks\r\n", create_unknown=False
    ),
    "inbound.sms": lambda x: a({"from": "+33612345678", "text": "OK"}, create_unknown=True),
    "inbound.social": lambda x: a(
        {"network": "mastodon", "from": "@someone", "text": "Hi"}, create_unknown=True
    ),
    "messages.send_many": lambda x: a(
        [x.p, x.o, x.p], "notice", purpose="service", data={"n": 4}, channel=None
    ),
    "messages.send": lambda x: a(x.p, "notice", purpose="service", data={"n": 2}, channel="email"),
    "messages.preview": lambda x: a(x.p, "notice", purpose="service", data={"n": 3}, channel=None),
    "messages.get": lambda x: a(x.message),
    "messages.bounced": lambda x: a(x.message, reason="gateway: 30003 unreachable"),
    "messages.of": lambda x: a(x.p, limit=5),
    "messages.unsubscribe": lambda x: a(x.token, source="one-click"),
    "activities.plan": lambda x: a(
        "meeting",
        "Demo",
        due=NOW,
        time_zone="Europe/Paris",
        parties=[x.p],
        assignee=x.o,
        user="ann",
        about=("sales.opportunity", 1),
        notes="bring the brochure",
    ),
    "activities.get": lambda x: a(x.activity),
    "activities.update": lambda x: a(
        x.activity,
        subject="Call back",
        due=NOW,
        time_zone="UTC",
        assignee=x.o,
        user="bob",
        notes="n",
    ),
    "activities.complete": lambda x: a(
        x.activity,
        outcome="agreed",
        record=False,
        channel=None,
        direction="outbound",
        purpose=None,
        touchpoint=None,
        at=NOW,
    ),
    "activities.cancel": lambda x: a(x.activity, reason="no longer needed"),
    "activities.list": lambda x: a(
        assignee=x.o,
        user=None,
        party=x.p,
        about=("party", 1),
        status="open",
        due_before=NOW,
        due_after=NOW,
        limit=5,
        after=None,
    ),
    "activities.mine": lambda x: a("ann", limit=5, after=None),
    "activities.overdue": lambda x: a(assignee=None, user="ann", party=x.p, now=NOW, limit=5),
    "activities.due_this_week": lambda x: a(
        assignee=None, user=None, party=x.p, time_zone="Europe/Paris", now=NOW, limit=5
    ),
    "activities.history": lambda x: a(x.activity),
    "segments.criteria": lambda x: a(),
    "segments.parse": lambda x: a({"type": "tag", "tag": "vip"}),
    "segments.define": lambda x: a(
        "new one", {"type": "all", "of": [{"type": "tag", "tag": "vip"}]}, description="d"
    ),
    "segments.update": lambda x: a(
        "vips", criterion={"type": "kind", "kind": "person"}, description="x", version=1
    ),
    "segments.delete": lambda x: a("vips"),
    "segments.freeze": lambda x: a("vips", as_name="vips then"),
    "segments.get": lambda x: a("vips"),
    "segments.list": lambda x: a(),
    "segments.count": lambda x: a("vips", at=NOW),
    "segments.preview": lambda x: a("vips", limit=5, at=NOW),
    "segments.stream": lambda x: a("vips", at=NOW, batch=10),
    "segments.contains": lambda x: a("vips", x.p, at=NOW),
    "segments.select": lambda x: a("vips", at=NOW),
    "preferences.get": lambda x: a(x.p),
    "preferences.set": lambda x: a(
        x.p,
        language="fr",
        time_zone="Europe/Paris",
        quiet_hours="21:00-08:00",
        channels={"service": "sms"},
        caps={"marketing": "2/7d"},
    ),
}

#: not attacked: ``db`` is the raw SQLAlchemy session (the documented escape hatch)
#: nor ``registry``: the application's registry (``app.registry``), read at start-up
NOT_ATTACKED = {"db", "registry"}


def public_methods(s: Session) -> set[str]:
    found = set()
    for name in dir(s):
        if name.startswith("_") or name in NOT_ATTACKED:
            continue
        value = getattr(s, name)
        if inspect.ismethod(value):
            found.add(name)
            continue
        for method in dir(value):
            if not method.startswith("_") and inspect.ismethod(getattr(value, method)):
                found.add(f"{name}.{method}")
    return found


def test_every_public_method_is_attacked(app: XRM) -> None:
    with app.session() as s:
        assert public_methods(s) == set(CALLS)


def resolve(s: Session, name: str) -> Callable[..., Any]:
    target: Any = s
    for part in name.split("."):
        target = getattr(target, part)
    return target  # type: ignore[no-any-return]


def consume(result: Any, s: Session) -> None:
    """Run what a call returns: iterators are iterated, statements executed."""
    if isinstance(result, Iterator):
        list(itertools.islice(result, 50))
    elif type(result).__name__ == "Select":
        s.db.execute(result.limit(5)).all()
    elif type(result).__name__ == "_GeneratorContextManager":
        with result:
            pass


def attacks(call: Call, x: Seeds) -> Iterator[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    args, kwargs = call(x)
    yield "valid", args, kwargs
    for i in range(len(args)):
        for label, value in HOSTILE.items():
            hostile = (*args[:i], value, *args[i + 1 :])
            yield f"arg {i} = {label}", hostile, kwargs
    for key in kwargs:
        for label, value in HOSTILE.items():
            yield f"{key} = {label}", args, {**kwargs, key: value}


def check_readable(s: Session, x: Seeds) -> None:
    """What is stored reads back and exports as valid UTF-8 JSON."""
    for party in (x.p, x.o):
        exported = s.gdpr.export(party)
        json.dumps(exported, ensure_ascii=False, default=str).encode("utf-8")
    for party in s.parties.list(limit=100).items:
        s.parties.get(party)
    s.timeline(x.p, limit=100)


def _text(exc: BaseException) -> str:
    try:
        return str(exc)[:160]
    except Exception:  # str() of a driver error quoting a lone surrogate
        return "<no message>"


def assert_clipped(exc: BaseException) -> None:
    message = str(exc)
    assert "x" * 100 not in message, "the message quotes a long value in full"
    assert "mot " * 25 not in message, "the message quotes a long value in full"
    assert len(message) < 2_000


class HostileSpecs:
    @staticmethod
    @hookspec
    def xrm_hostile_echo(session: Session, value: Any) -> Any:
        """Answers what it is given."""


class Hostile:
    """Declares a hook of its own (``session.hook``) and implements it."""

    @hookimpl
    def xrm_hookspecs(self) -> list[object]:
        return [HostileSpecs]

    @hookimpl
    def xrm_hostile_echo(self, value: Any) -> Any:
        return value


@pytest.fixture
def app(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[XRM]:
    """The suite's ``app``, with a template and a transport so that messages are made, and
    a plugin declaring a hook."""
    notice = Template("notice", "email", "en", subject="Notice", body="Number {{ data.n }}")
    xrm_app = make_app(
        request, backend, tmp_path, default_region="FR", builtins=False, discover=False,
        templates=TemplateSet([notice]), transports=[FileTransport(tmp_path / "outbox")],
        plugins=[Hostile()],
    )  # fmt: skip
    xrm_app.register(*TEST_TYPES, source="tests")
    yield xrm_app
    xrm_app.dispose()


@pytest.mark.parametrize("method", sorted(CALLS))
def test_hostile_arguments_raise_only_xrm_errors_and_leave_the_session_usable(
    app: XRM, method: str
) -> None:
    with app.session() as s:
        x = seed(s)
        x.role_type = s.roles.role_type("customer")
        x.rel_type = app.registry.relationship_types["knows"]
    failures: list[str] = []
    with app.session() as s:
        fn = resolve(s, method)
        for label, args, kwargs in attacks(CALLS[method], x):
            try:
                with s.atomic():
                    try:
                        consume(fn(*args, **kwargs), s)
                    except XRMError as exc:
                        if label == "valid":
                            failures.append(f"the valid call failed: {exc}")
                        assert_clipped(exc)
                    else:
                        check_readable(s, x)
                    raise _Rollback
            except _Rollback:
                pass
            except AssertionError as exc:
                failures.append(f"{label}: {exc}")
            except Exception as exc:  # the point of the test
                failures.append(f"{label}: {type(exc).__name__}: {_text(exc)}")
            try:
                s.parties.get(x.p)
            except Exception as exc:
                failures.append(f"{label}: unit of work unusable after: {type(exc).__name__}")
                break
    if failures and os.environ.get("XRM_HOSTILE_REPORT"):
        with open(os.environ["XRM_HOSTILE_REPORT"], "a", encoding="utf-8") as report:
            report.writelines(f"{method}\t{f!r}\n" for f in failures)
    assert not failures, "\n".join(failures)


def test_every_public_method_checks_its_arguments_by_its_annotations(app: XRM) -> None:
    with app.session() as s:
        for name in sorted(public_methods(s)):
            method = resolve(s, name)
            assert hasattr(method, "__xrm_checked__"), f"{name} is not @checked"
            plan_of(method)  # an annotation without a check would raise TypeError here
