"""Opening, moving and reading opportunities: every rule, one specification each."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest
import xrm_employees
import xrm_partners
import xrm_sales
from sales_support import T0, Cast, cast, sales_app
from xrm_sales import ContactIn, Pipeline, Stage, StageMove

from xrm import (
    XRM,
    ConfigurationError,
    NotFound,
    PluginError,
    Role,
    Session,
    ValidationError,
    hookimpl,
)
from xrm.testing import snapshot


@pytest.fixture
def app(xrm_factory: Callable[..., XRM]) -> XRM:
    return sales_app(xrm_factory)


@pytest.fixture
def people(app: XRM) -> Cast:
    with app.session() as s:
        return cast(s)


def test_the_plugin_is_named_sales_and_brings_its_tables_and_events(app: XRM) -> None:
    info = {p.name: p for p in app.plugin_info()}
    assert info["sales"].status == "loaded"
    assert set(app.registry.event_types) >= {
        "sales.opportunity_opened", "sales.stage_changed", "sales.opportunity_won",
        "sales.opportunity_lost", "sales.contact_added",
    }  # fmt: skip
    assert {"sales_opportunity", "sales_opportunity_contact", "sales_opportunity_stage"} <= set(
        snapshot(app)
    )


# -- opening -------------------------------------------------------------------------------


def test_an_opportunity_opens_in_the_first_stage_with_its_probability(
    app: XRM, people: Cast
) -> None:
    with app.session(actor="ann") as s:
        opened = xrm_sales.open_opportunity(
            s, people.acme, "ACME: 40 seats", amount=Decimal("12500.00"), currency="EUR",
            expected_close=dt.date(2026, 3, 31), owner=people.seller,
            contacts=[ContactIn(people.alice, "decision_maker"), ContactIn(people.bob, "user")],
            campaign="Spring fair", at=T0,
        )  # fmt: skip
    assert (opened.pipeline, opened.stage, opened.status, opened.probability) == (
        "default", "qualification", "open", 10,
    )  # fmt: skip
    assert opened.amount == Decimal("12500.00") and opened.currency == "EUR"
    assert opened.weighted_amount == Decimal("1250")
    assert [(c.party_id, c.role) for c in opened.contacts] == [
        (people.alice.id, "decision_maker"), (people.bob.id, "user"),
    ]  # fmt: skip
    with app.session() as s:
        assert xrm_sales.get(s, opened.id) == opened
        (step,) = xrm_sales.history(s, opened.id)
        assert (step.from_stage, step.to_stage, step.at, step.by) == (
            None, "qualification", T0, "ann",
        )  # fmt: skip


def test_the_owner_defaults_to_the_actor_as_a_user_id(app: XRM, people: Cast) -> None:
    with app.session(actor="ann") as s:
        opened = xrm_sales.open_opportunity(s, people.acme, "Deal", amount=1, currency="EUR")
    assert (opened.owner_party_id, opened.owner_user) == (None, "ann")


def test_a_person_may_be_the_account(app: XRM, people: Cast) -> None:
    with app.session() as s:
        opened = xrm_sales.open_opportunity(s, people.alice, "Kitchen", amount=1, currency="EUR")
    assert opened.account_id == people.alice.id


def test_bad_input_names_every_field_and_writes_nothing(app: XRM, people: Cast) -> None:
    before = snapshot(app)
    with pytest.raises(ValidationError) as err, app.session() as s:
        household = s.parties.create("household", "The Martins")
        xrm_sales.open_opportunity(
            s, household, " ", amount=12.5, currency="EURO",  # type: ignore[arg-type]
            owner=people.alice, partner=people.acme, campaign="Fair",
            contacts=[ContactIn(people.acme, "boss")], pipeline="default", stage="won",
        )  # fmt: skip
    assert set(err.value.fields) >= {
        "title", "amount", "currency", "owner", "partner", "contacts.0.role",
        "contacts.0.party", "stage", "account",
    }  # fmt: skip
    assert snapshot(app) == before


@pytest.mark.parametrize(
    ("amount", "currency", "reason"),
    [
        ("10.5", "JPY", "JPY has 0 decimals"),
        ("1.0001", "KWD", "KWD has 3 decimals"),
        ("-1", "EUR", "zero or more"),
        ("NaN", "EUR", "zero or more"),
        ("1e16", "EUR", "digits before the point"),
        ("ten", "EUR", "not a number"),
        ("10", "XYZ", "not an ISO 4217 currency"),
    ],
)
def test_amounts_are_exact_and_fit_their_currency(
    app: XRM, people: Cast, amount: str, currency: str, reason: str
) -> None:
    with pytest.raises(ValidationError, match=reason), app.session() as s:
        xrm_sales.open_opportunity(s, people.acme, "Deal", amount=amount, currency=currency)


def test_three_decimal_currencies_keep_their_thousandths(app: XRM, people: Cast) -> None:
    with app.session() as s:
        opened = xrm_sales.open_opportunity(s, people.acme, "D", amount="1.125", currency="kwd")
    assert (opened.amount, opened.currency) == (Decimal("1.125"), "KWD")


def test_the_owner_party_must_be_a_current_employee(app: XRM, people: Cast) -> None:
    with pytest.raises(ValidationError, match="no current employee role"), app.session() as s:
        xrm_sales.open_opportunity(s, people.acme, "D", amount=1, currency="EUR", owner=people.bob)


def test_a_referral_comes_from_a_current_partner(app: XRM, people: Cast) -> None:
    with app.session() as s:
        opened = xrm_sales.open_opportunity(
            s, people.acme, "D", amount=1, currency="EUR", partner=people.reseller
        )
        assert opened.source_partner_id == people.reseller.id
        with pytest.raises(ValidationError, match="no current partner role"):
            xrm_sales.open_opportunity(
                s, people.acme, "D", amount=1, currency="EUR", partner=people.acme
            )


def test_an_unknown_opportunity_is_not_found(app: XRM) -> None:
    with pytest.raises(NotFound), app.session() as s:
        xrm_sales.get(s, 999)


def test_a_contact_is_named_once(app: XRM, people: Cast) -> None:
    with app.session() as s:
        opened = xrm_sales.open_opportunity(s, people.acme, "D", amount=1, currency="EUR")
        updated = xrm_sales.add_contact(s, opened, people.alice, "influencer", "likes demos")
        assert [(c.party_id, c.role, c.note) for c in updated.contacts] == [
            (people.alice.id, "influencer", "likes demos")
        ]
        with pytest.raises(ValidationError, match="already a contact"):
            xrm_sales.add_contact(s, opened, people.alice, "user")


# -- moving --------------------------------------------------------------------------------


def _open(s: Session, people: Cast, **kw: object) -> xrm_sales.Opportunity:
    return xrm_sales.open_opportunity(
        s,
        people.acme,
        "ACME: 40 seats",
        amount="1000",
        currency="EUR",
        at=T0,
        **kw,  # type: ignore[arg-type]
    )


def test_a_move_is_dated_and_kept_in_the_history(app: XRM, people: Cast) -> None:
    with app.session(actor="ann") as s:
        opened = _open(s, people)
        xrm_sales.move(s, opened, "proposal", at=T0 + dt.timedelta(days=3))
        moved = xrm_sales.move(
            s, opened, "negotiation", at=T0 + dt.timedelta(days=9), probability=80
        )
        steps = xrm_sales.history(s, opened)
    assert (moved.stage, moved.probability) == ("negotiation", 80)
    assert [(h.from_stage, h.to_stage, h.probability, h.at.day) for h in steps] == [
        (None, "qualification", 10, 5),
        ("qualification", "proposal", 50, 8),
        ("proposal", "negotiation", 80, 14),
    ]


def test_a_move_never_goes_back_in_time_nor_to_the_future(app: XRM, people: Cast) -> None:
    with app.session() as s:
        opened = _open(s, people)
        with pytest.raises(ValidationError, match="before the previous step"):
            xrm_sales.move(s, opened, "proposal", at=T0 - dt.timedelta(days=1))
        with pytest.raises(ValidationError, match="in the future"):
            xrm_sales.move(s, opened, "proposal", at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        with pytest.raises(ValidationError, match="no stage 'signed'"):
            xrm_sales.move(s, opened, "signed")
        with pytest.raises(ValidationError, match="already in"):
            xrm_sales.move(s, opened, "qualification")


def test_a_lost_opportunity_needs_a_reason(app: XRM, people: Cast) -> None:
    with app.session() as s:
        opened = _open(s, people)
        with pytest.raises(ValidationError) as err:
            xrm_sales.move(s, opened, "lost")
        assert err.value.fields == ["lost_reason"]
        with pytest.raises(ValidationError, match="not a lost stage"):
            xrm_sales.move(s, opened, "proposal", lost_reason="price")
        lost = xrm_sales.move(s, opened, "lost", lost_reason="went with a competitor")
    assert (lost.status, lost.lost_reason, lost.probability) == (
        "lost",
        "went with a competitor",
        0,
    )
    assert lost.closed_at is not None
    with app.session() as s:
        types = [e.type for e in s.timeline(people.acme, types=["sales.opportunity_lost"])]
    assert types == ["sales.opportunity_lost"]


@pytest.mark.parametrize(
    ("role_before", "path"),
    [
        (None, [None]),
        ("lead", ["lead"]),
        ("prospect", ["prospect"]),
        ("lost", ["lead"]),  # lost -> lead -> customer
        ("inactive", ["customer", "inactive"]),  # inactive -> customer
        ("customer", [None]),
    ],
)
def test_a_won_opportunity_makes_the_account_a_customer(
    app: XRM, people: Cast, role_before: str | None, path: list[str | None]
) -> None:
    with app.session() as s:
        if role_before == "lost":
            s.roles.assign(people.acme, "customer", state="lead")
            s.roles.transition(s.roles.current(people.acme, "customer"), "lost")  # type: ignore[arg-type]
        elif role_before == "inactive":
            s.roles.assign(people.acme, "customer", state="customer")
            s.roles.transition(s.roles.current(people.acme, "customer"), "inactive")  # type: ignore[arg-type]
        elif role_before is not None:
            s.roles.assign(people.acme, "customer", state=role_before)
        opened = _open(s, people)
        won = xrm_sales.move(s, opened, "won")
        role = s.roles.current(people.acme, "customer")
    assert won.status == "won"
    assert role is not None and role.state == "customer"
    assert role.transitions[-1].to_state == "customer"


class NoNewCustomers:
    """A plugin of the application's that refuses to make anyone a customer."""

    @hookimpl
    def xrm_validate_role_transition(self, role: Role, to_state: str | None) -> None:
        if role.type == "customer" and to_state == "customer":
            raise ValidationError.single("role", "no new customers this year")


def test_a_refused_customer_role_undoes_the_win(xrm_factory: Callable[..., XRM]) -> None:
    app = xrm_factory(
        plugins=[xrm_sales, xrm_employees, xrm_partners, NoNewCustomers()], discover=False
    )
    with app.session() as s:
        acme = s.parties.create("organization", "ACME")
        opened = xrm_sales.open_opportunity(s, acme, "D", amount=1, currency="EUR")
    before = snapshot(app)
    with app.session() as s:
        with pytest.raises(PluginError, match="no new customers"):
            xrm_sales.move(s, opened, "won")
        # the unit of work goes on, the move undone
        assert xrm_sales.get(s, opened.id).stage == "qualification"
        assert len(xrm_sales.history(s, opened.id)) == 1
    assert snapshot(app) == before


def test_a_veto_refuses_a_move_and_nothing_stays(app: XRM, people: Cast) -> None:
    seen: list[StageMove] = []

    def no_discount_wins(session: Session, change: StageMove) -> None:
        seen.append(change)
        if change.outcome == "won" and xrm_sales.get(session, change.opportunity_id).amount < 100:
            raise ValidationError.single("stage", "deals under 100 are not worth winning")

    xrm_sales.configure(app, vetoes=[no_discount_wins])
    with app.session() as s:
        small = xrm_sales.open_opportunity(s, people.acme, "Tiny", amount=5, currency="EUR")
    before = snapshot(app)
    with app.session() as s:
        with pytest.raises(ValidationError, match="not worth winning"):
            xrm_sales.move(s, small, "won")
        assert s.roles.current(people.acme, "customer") is None
    assert snapshot(app) == before
    assert [(m.from_stage, m.to_stage, m.outcome) for m in seen] == [
        ("qualification", "won", "won")
    ]
    with app.session() as s:  # a move the veto accepts
        assert xrm_sales.move(s, small, "proposal").stage == "proposal"


def test_an_application_registers_its_own_pipelines(app: XRM, people: Cast) -> None:
    renewals = Pipeline(
        "renewals",
        [Stage("due", 60), Stage("quoted", 80), Stage("renewed", 100, "won"),
         Stage("churned", 0, "lost")],
    )  # fmt: skip
    xrm_sales.configure(app, pipelines=[renewals])
    with app.session() as s:
        opened = xrm_sales.open_opportunity(
            s, people.acme, "Renewal", amount=10, currency="EUR", pipeline="renewals"
        )
        assert (opened.stage, opened.probability) == ("due", 60)
        assert xrm_sales.move(s, opened, "renewed").status == "won"
        with pytest.raises(ValidationError, match="unknown pipeline 'upsell'"):
            xrm_sales.open_opportunity(
                s, people.acme, "X", amount=1, currency="EUR", pipeline="upsell"
            )
    with pytest.raises(ConfigurationError, match="already registered"):
        xrm_sales.configure(app, pipelines=[renewals])


@pytest.mark.parametrize(
    "stages",
    [
        [],
        [Stage("won", 100, "won"), Stage("open", 10), Stage("lost", 0, "lost")],
        [Stage("a", 10), Stage("a", 20), Stage("won", 100, "won"), Stage("lost", 0, "lost")],
        [Stage("a", 10), Stage("won", 100, "won")],
    ],
)
def test_a_pipeline_needs_an_open_first_stage_a_won_and_a_lost_one(stages: list[Stage]) -> None:
    with pytest.raises(ConfigurationError):
        Pipeline("broken", stages)


@pytest.mark.parametrize(("name", "probability"), [("Bad Name", 10), ("ok", 101), ("ok", -1)])
def test_a_stage_has_a_name_and_a_probability_in_percent(name: str, probability: int) -> None:
    with pytest.raises(ConfigurationError):
        Stage(name, probability)


# -- the timeline --------------------------------------------------------------------------


def test_events_are_on_the_timelines_of_the_account_and_the_contacts(
    app: XRM, people: Cast
) -> None:
    with app.session() as s:
        opened = _open(s, people, contacts=[ContactIn(people.alice, "decision_maker")])
        xrm_sales.move(s, opened, "won")
    with app.session() as s:
        for party in (people.acme, people.alice):
            types = [e.type for e in s.timeline(party) if e.type.startswith("sales.")]
            assert types == [
                "sales.opportunity_won",
                "sales.stage_changed",
                "sales.contact_added",
                "sales.opportunity_opened",
            ]
        assert not [e for e in s.timeline(people.bob) if e.type.startswith("sales.")]


def test_lists_filter_by_account_owner_and_status_a_page_at_a_time(app: XRM, people: Cast) -> None:
    with app.session() as s:
        other = s.parties.create("organization", "Globex")
        a = _open(s, people, owner=people.seller)
        b = xrm_sales.open_opportunity(s, other, "Globex", amount=1, currency="USD")
        c = _open(s, people)
        xrm_sales.move(s, c, "lost", lost_reason="budget")
        assert [o.id for o in xrm_sales.opportunities(s)] == [a.id, b.id]
        assert [o.id for o in xrm_sales.opportunities(s, account=people.acme)] == [a.id]
        assert [o.id for o in xrm_sales.opportunities(s, owner=people.seller)] == [a.id]
        assert [o.id for o in xrm_sales.opportunities(s, status="lost")] == [c.id]
        assert [o.id for o in xrm_sales.opportunities(s, status=None, limit=2)] == [a.id, b.id]
        assert [o.id for o in xrm_sales.opportunities(s, status=None, after=b.id)] == [c.id]
        with pytest.raises(ValidationError, match="limit"):
            xrm_sales.opportunities(s, limit=0)


class DealDesk:
    """Another plugin: vetoes, through the hook the sales plugin declares, any win of a
    deal under 100."""

    @hookimpl
    def xrm_sales_validate_stage_move(self, session: Session, change: StageMove) -> None:
        if change.outcome == "won" and xrm_sales.get(session, change.opportunity_id).amount < 100:
            raise ValidationError.single("stage", "deals under 100 go through the deal desk")


def test_another_plugin_vetoes_a_move_through_the_declared_hook(
    xrm_factory: Callable[..., XRM],
) -> None:
    app = xrm_factory(plugins=[DealDesk(), xrm_sales, xrm_employees, xrm_partners], discover=False)
    with app.session() as s:
        acme = s.parties.create("organization", "ACME").id
        small = xrm_sales.open_opportunity(s, acme, "Tiny", amount=5, currency="EUR")
        big = xrm_sales.open_opportunity(s, acme, "Big", amount=5000, currency="EUR")
    before = snapshot(app)
    with app.session() as s, pytest.raises(PluginError) as refused:
        xrm_sales.move(s, small, "won")
    assert refused.value.plugin == "DealDesk"
    assert refused.value.hook == "xrm_sales_validate_stage_move"
    assert snapshot(app) == before
    with app.session() as s:
        assert xrm_sales.move(s, big, "won").stage == "won"
        assert s.roles.current(acme, "customer").state == "customer"


def test_the_single_view_shows_the_accounts_opportunities(app: XRM, people: Cast) -> None:
    import warnings

    from xrm.web import ApiKeys, create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    with app.session() as s:
        deal = xrm_sales.open_opportunity(s, people.acme, "40 <seats>", amount=900, currency="EUR")
        xrm_sales.move(s, deal, "won")
        xrm_sales.open_opportunity(s, people.acme, "Renewal", amount=100, currency="EUR")
        [panel] = s.panels(people.acme)
        assert (panel.plugin, panel.title) == ("sales", "Opportunities")
        assert [row[:2] for row in panel.rows] == [
            ("Renewal", "qualification"),
            ("40 <seats>", "won"),
        ]
        assert s.panels(people.alice)[0].rows == ()
    keys = ApiKeys(None)
    key = keys.create("seller", ["agent"])
    page = TestClient(create_app(app, keys)).get(
        f"/ui/parties/{people.acme.id}", headers={"X-API-Key": key}
    )
    assert page.status_code == 200
    assert "Opportunities" in page.text and "40 &lt;seats&gt;" in page.text


def test_the_opportunities_over_http(app: XRM, people: Cast) -> None:
    import warnings

    from xrm.web import ApiKeys, create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    keys = ApiKeys(None)
    headers = {"X-API-Key": keys.create("seller", ["agent"])}
    client = TestClient(create_app(app, keys))
    body = {
        "account": people.acme.id, "title": "40 seats", "amount": "12500.50", "currency": "EUR",
        "contacts": [{"party": people.alice.id, "role": "user"}],
    }  # fmt: skip
    opened = client.post("/plugins/sales/opportunities", json=body, headers=headers)
    assert opened.status_code == 201, opened.text
    deal = opened.json()
    assert deal["amount"] == "12500.50" and deal["contacts"][0]["role"] == "user"
    moved = client.post(f"/plugins/sales/opportunities/{deal['id']}/move",
                        json={"stage": "won"}, headers=headers)  # fmt: skip
    assert moved.status_code == 200 and moved.json()["status"] == "won"
    lines = client.get("/plugins/sales/pipeline", headers=headers).json()
    assert [(x["stage"], x["opportunities"]) for x in lines if x["opportunities"]] == [("won", 1)]
    lost = client.post(f"/plugins/sales/opportunities/{deal['id']}/move",
                       json={"stage": "lost"}, headers=headers)  # fmt: skip
    assert lost.status_code == 422 and lost.json()["errors"][0]["path"] == "lost_reason"
    bad = client.post("/plugins/sales/opportunities", json={**body, "currency": "EUX"},
                      headers=headers)  # fmt: skip
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert client.get("/plugins/sales/opportunities/999999", headers=headers).status_code == 404
    assert client.get("/plugins/sales/stale", headers=headers).status_code == 200
    assert client.get("/plugins/sales/opportunities").status_code == 401
