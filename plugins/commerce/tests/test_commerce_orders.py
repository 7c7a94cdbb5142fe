"""Products, orders, statuses, refunds and reviews: every rule, one specification each; the
timeline, the export, the erasure and the merge."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest
import xrm_commerce
from commerce_support import T0, Cast, cast, catalogue, commerce_app
from xrm_commerce import LineIn

from xrm import XRM, Conflict, NotFound, ValidationError
from xrm.testing import erasure_leftovers, snapshot


@pytest.fixture
def app(xrm_factory: Callable[..., XRM]) -> XRM:
    app = commerce_app(xrm_factory)
    with app.session() as s:
        catalogue(s)
    return app


@pytest.fixture
def people(app: XRM) -> Cast:
    with app.session() as s:
        return cast(s)


def _fields(exc: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return {e.path for e in exc.value.errors}


def test_the_plugin_is_named_commerce_and_brings_its_tables_events_and_criteria(
    app: XRM,
) -> None:
    info = {p.name: p for p in app.plugin_info()}
    assert info["commerce"].status == "loaded"
    assert set(app.registry.event_types) >= {
        "commerce.order_placed", "commerce.order_status_changed", "commerce.refund_recorded",
        "commerce.review_given",
    }  # fmt: skip
    assert {"commerce.rfm", "commerce.value"} <= set(app.registry.segment_criteria)
    assert {"commerce_product", "commerce_order", "commerce_order_line", "commerce_review"} <= set(
        snapshot(app)
    )


def test_a_product_keeps_its_price_and_cost_as_decimals_in_its_currency(app: XRM) -> None:
    with app.session() as s:
        kettle = xrm_commerce.product(s, "KETTLE")
        assert (kettle.price, kettle.cost, kettle.currency) == (
            Decimal("39.90"), Decimal("12.50"), "EUR"
        )  # fmt: skip
        changed = xrm_commerce.save_product(s, "KETTLE", "Kettle 2", price=41, cost="13",
                                            currency="eur")  # fmt: skip
        assert (changed.id, changed.name, changed.price) == (
            kettle.id,
            "Kettle 2",
            Decimal("41.00"),
        )
        with pytest.raises(ValidationError) as bad:
            xrm_commerce.save_product(s, "", "X", price=1.5, cost="-1", currency="EURO")  # type: ignore[arg-type]
        assert _fields(bad) == {"sku", "price", "cost", "currency"}
        with pytest.raises(ValidationError, match="JPY has 0 decimals"):
            xrm_commerce.save_product(s, "CUP", "Cup", price="1.50", cost="1", currency="JPY")
        with pytest.raises(NotFound):
            xrm_commerce.product(s, "NOPE")


def test_an_order_takes_the_products_prices_and_keeps_its_total_and_cost(
    app: XRM, people: Cast
) -> None:
    with app.session() as s:
        placed = xrm_commerce.place_order(
            s, people.marie,
            [LineIn("OVEN"), LineIn("KETTLE", quantity=2, discount="9.80")],
            currency="EUR", reference="W-1", ordered_at=T0, channel="web",
        )  # fmt: skip
    assert placed.total == Decimal("499.00") + 2 * Decimal("39.90") - Decimal("9.80")
    assert placed.cost == Decimal("320.00") + 2 * Decimal("12.50")
    assert placed.margin == placed.total - placed.cost
    assert (placed.status, placed.ordered_at, placed.reference) == ("placed", T0, "W-1")
    assert [(line.sku, line.quantity, line.amount) for line in placed.lines] == [
        ("OVEN", 1, Decimal("499.00")), ("KETTLE", 2, Decimal("70.00")),
    ]  # fmt: skip
    with app.session() as s:
        (entry,) = s.timeline(people.marie, types=["commerce.order_placed"]).items
        assert entry.occurred_at == T0
        assert entry.data["total"] == "569.00" and entry.data["reference"] == "W-1"
        unnamed = xrm_commerce.place_order(s, people.paul, [LineIn("DRILL")], currency="EUR")
        assert unnamed.reference == f"O-{unnamed.id}"


def test_a_bad_order_names_every_field_and_writes_nothing(app: XRM, people: Cast) -> None:
    before = snapshot(app)
    with app.session() as s:
        xrm_commerce.place_order(s, people.marie, [LineIn("OVEN")], currency="EUR", reference="W-1")
    before = snapshot(app)
    with app.session() as s, pytest.raises(ValidationError) as bad:
        xrm_commerce.place_order(
            s, 999_999,
            [LineIn("NOPE"), LineIn("OVEN", quantity=0), LineIn("KETTLE", discount="100"),
             LineIn("TEA")],
            currency="EUR", reference="W-1", status="lost",
        )  # fmt: skip
    assert _fields(bad) == {
        "party", "lines.0.sku", "lines.1.quantity", "lines.2.discount", "lines.3.unit_price",
        "lines.3.unit_cost", "reference", "status",
    }  # fmt: skip
    with app.session() as s, pytest.raises(ValidationError) as empty:
        tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
        xrm_commerce.place_order(s, people.marie, [], currency="EUR", ordered_at=tomorrow)
    assert _fields(empty) == {"lines", "ordered_at"}
    assert snapshot(app) == before


def test_a_line_in_another_currency_than_the_product_gives_its_own_prices(
    app: XRM, people: Cast
) -> None:
    with app.session() as s:
        placed = xrm_commerce.place_order(
            s, people.marie, [LineIn("TEA", quantity=3, unit_price="5.20", unit_cost="1.30")],
            currency="EUR",
        )  # fmt: skip
    assert (placed.total, placed.cost) == (Decimal("15.60"), Decimal("3.90"))


def test_an_order_moves_through_its_statuses_with_dates(app: XRM, people: Cast) -> None:
    with app.session() as s:
        placed = xrm_commerce.place_order(s, people.marie, [LineIn("OVEN")], currency="EUR",
                                          ordered_at=T0)  # fmt: skip
        paid = xrm_commerce.set_status(s, placed, "paid", at=T0 + dt.timedelta(hours=1))
        shipped = xrm_commerce.set_status(s, paid.reference, "shipped",
                                          at=T0 + dt.timedelta(days=1))  # fmt: skip
        assert (shipped.status, shipped.status_at) == ("shipped", T0 + dt.timedelta(days=1))
        with pytest.raises(Conflict, match="shipped: it may go to delivered, returned"):
            xrm_commerce.set_status(s, placed.id, "cancelled")
        with pytest.raises(ValidationError, match="before the order entered shipped"):
            xrm_commerce.set_status(s, placed.id, "delivered", at=T0)
        moves = [e.data for e in s.timeline(people.marie).items
                 if e.type == "commerce.order_status_changed"]  # fmt: skip
        assert [(m["from_status"], m["to_status"]) for m in reversed(moves)] == [
            ("placed", "paid"), ("paid", "shipped"),
        ]  # fmt: skip


def test_refunds_and_returns_lower_revenue_and_margin_and_never_exceed_the_order(
    app: XRM, people: Cast
) -> None:
    with app.session() as s:
        placed = xrm_commerce.place_order(
            s, people.marie, [LineIn("OVEN"), LineIn("KETTLE", quantity=2)], currency="EUR",
            status="delivered", ordered_at=T0,
        )  # fmt: skip
        back = xrm_commerce.refund(s, placed, "39.90", sku="KETTLE", quantity=1, reason="broken")
        assert back.refunded == Decimal("39.90")
        assert back.lines[1].returned == 1
        # the kettle that came back no longer costs the margin
        assert back.margin == Decimal("578.80") - Decimal("39.90") - (
            Decimal("345.00") - Decimal("12.50")
        )
        with pytest.raises(ValidationError) as bad:
            xrm_commerce.refund(s, placed, "1000", sku="KETTLE", quantity=2)
        assert _fields(bad) == {"amount", "quantity"}
        with pytest.raises(ValidationError, match="name the product"):
            xrm_commerce.refund(s, placed, "1", quantity=1)
        gesture = xrm_commerce.refund(s, placed, "10")  # a refund without a return
        assert (gesture.refunded, gesture.lines[0].returned) == (Decimal("49.90"), 0)
        cancelled = xrm_commerce.place_order(s, people.marie, [LineIn("DRILL")], currency="EUR")
        xrm_commerce.set_status(s, cancelled, "cancelled")
        with pytest.raises(ValidationError, match="was cancelled"):
            xrm_commerce.refund(s, cancelled, "1")


def test_a_party_has_one_review_per_product_the_latest(app: XRM, people: Cast) -> None:
    with app.session() as s:
        xrm_commerce.review(s, people.marie, "OVEN", 3, text="Heats unevenly", at=T0)
        latest = xrm_commerce.review(s, people.marie, "OVEN", 5, text="Fine after all",
                                     channel="email")  # fmt: skip
        assert [
            (r.sku, r.rating, r.text, r.channel) for r in xrm_commerce.reviews(s, people.marie)
        ] == [("OVEN", 5, "Fine after all", "email")]
        assert latest.rating == 5
        with pytest.raises(ValidationError) as bad:
            xrm_commerce.review(s, people.marie, "NOPE", 6, channel="")
        assert _fields(bad) == {"sku", "rating", "channel"}
        assert s.timeline(people.marie).items[0].type == "commerce.review_given"


def test_the_export_holds_what_the_party_bought_and_said(app: XRM, people: Cast) -> None:
    with app.session() as s:
        xrm_commerce.place_order(s, people.marie, [LineIn("OVEN")], currency="EUR", reference="W-9")
        xrm_commerce.review(s, people.marie, "OVEN", 4, text="Good oven")
        exported = s.gdpr.export(people.marie)
    mine = exported["plugins"]["commerce"]
    assert [o["reference"] for o in mine["orders"]] == ["W-9"]
    assert mine["orders"][0]["lines"][0]["sku"] == "OVEN"
    assert [r["text"] for r in mine["reviews"]] == ["Good oven"]


def test_erasure_deletes_reviews_keeps_orders_and_leaves_no_personal_data(
    app: XRM, people: Cast
) -> None:
    with app.session() as s:
        xrm_commerce.place_order(s, people.marie, [LineIn("OVEN")], currency="EUR",
                                 reference="W-7", status="delivered", ordered_at=T0)  # fmt: skip
        xrm_commerce.review(s, people.marie, "OVEN", 2, text="Marie Dupont is disappointed")
    assert erasure_leftovers(app, people.marie.id) == []
    with app.session() as s:
        assert xrm_commerce.reviews(s, people.marie) == []
        kept = xrm_commerce.get_order(s, "W-7")
        assert (kept.party_id, kept.total) == (people.marie.id, Decimal("499.00"))
        # an erased party is no longer valued nor profiled
        assert xrm_commerce.value(s, people.marie) == []
        assert xrm_commerce.top(s, currency="EUR") == []


def test_a_merge_moves_orders_and_reviews_and_an_unmerge_gives_them_back(
    app: XRM, people: Cast
) -> None:
    with app.session() as s:
        twin = s.parties.create("person", "Marie Dupont")
        mine = xrm_commerce.place_order(s, people.marie, [LineIn("OVEN")], currency="EUR")
        theirs = xrm_commerce.place_order(s, twin, [LineIn("KETTLE")], currency="EUR")
        xrm_commerce.review(s, people.marie, "OVEN", 5)
        xrm_commerce.review(s, twin, "OVEN", 1)  # the survivor's own review wins
        xrm_commerce.review(s, twin, "KETTLE", 4)
    before = {t: r for t, r in snapshot(app).items() if not t.startswith("journal")}
    with app.session() as s:
        s.identity.merge(people.marie, twin)
        assert {o.id for o in xrm_commerce.orders(s, people.marie)} == {mine.id, theirs.id}
        assert {(r.sku, r.rating) for r in xrm_commerce.reviews(s, people.marie)} == {
            ("OVEN", 5), ("KETTLE", 4),
        }  # fmt: skip
        assert xrm_commerce.value(s, people.marie)[0].orders == 2
    with app.session() as s:
        s.identity.unmerge(twin)
    after = {t: r for t, r in snapshot(app).items() if not t.startswith("journal")}
    assert after == before
