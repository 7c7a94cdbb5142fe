"""Bulk import of orders: the buyer recognised as ``xrm import`` recognises a party, each
order all or nothing, an order already there skipped; from CSV and JSON Lines, through the
``xrm order import`` command."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
import xrm_commerce
from click.testing import CliRunner
from commerce_support import Root, cast, catalogue, commerce_app

from xrm import XRM, Email, ValidationError
from xrm.testing import snapshot


@pytest.fixture
def app(xrm_factory: Callable[..., XRM]) -> XRM:
    app = commerce_app(xrm_factory)
    with app.session() as s:
        catalogue(s)
    return app


def test_buyers_are_recognised_by_email_phone_or_identifier_and_others_created(app: XRM) -> None:
    with app.session() as s:
        marie = cast(s).marie
        known = s.parties.create("organization", "ACME", identifiers={"fr.siren": "732829320"})
    records = [
        {"order": "W-1", "ordered_at": "2026-01-05T10:00:00+01:00", "currency": "EUR",
         "email": "MARIE@example.com", "sku": "OVEN"},
        {"order": "W-1", "email": "marie@example.com", "sku": "KETTLE", "quantity": "2",
         "discount": "5.00"},
        {"order": "W-2", "ordered_at": "2026-01-06", "currency": "EUR", "status": "paid",
         "identifier": "fr.siren:732829320", "sku": "DRILL"},
        {"order": "W-3", "ordered_at": "2026-01-07", "currency": "EUR",
         "email": "new@example.com", "name": "New Buyer", "sku": "TOASTER", "channel": "store"},
    ]  # fmt: skip
    with app.session() as s:
        results = xrm_commerce.import_orders(s, records)
    assert [(r.line, r.reference, r.outcome) for r in results] == [
        (1, "W-1", "created"), (3, "W-2", "created"), (4, "W-3", "created"),
    ]  # fmt: skip
    with app.session() as s:
        first = xrm_commerce.get_order(s, "W-1")
        assert (first.party_id, first.total, len(first.lines)) == (
            marie.id, Decimal("573.80"), 2,
        )  # fmt: skip
        assert first.ordered_at.hour == 9  # 10:00 in Paris
        assert xrm_commerce.get_order(s, "W-2").party_id == known.id
        assert xrm_commerce.get_order(s, "W-2").status == "paid"
        created = s.parties.get(results[2].party_id)
        assert (created.display_name, created.primary("email").value) == (
            "New Buyer", "new@example.com",
        )  # fmt: skip
        (entry,) = s.timeline(marie, types=["commerce.order_placed"]).items
        assert entry.data["lines"] == 2


def test_a_bad_order_is_reported_with_its_field_and_writes_nothing_not_even_its_buyer(
    app: XRM,
) -> None:
    with app.session() as s:
        marie = cast(s).marie
    before = snapshot(app)
    records = [
        {"order": "B-1", "ordered_at": "2026-01-05", "currency": "EUR", "email": "x@example.com",
         "name": "X", "sku": "OVEN"},
        {"order": "B-1", "sku": "NOPE"},
        {"order": "B-2", "ordered_at": "yesterday", "currency": "EUR", "party_id": marie.id,
         "sku": "OVEN"},
        {"order": "B-3", "ordered_at": "2026-01-05", "currency": "EUR", "sku": "OVEN"},
        {"order": "B-4", "ordered_at": "2026-01-05", "currency": "EUR", "email": "y@example.com",
         "sku": "OVEN"},
        {"order": "B-5", "ordered_at": "2026-01-05", "currency": "EUR", "party_id": 999999,
         "sku": "OVEN"},
        {"sku": "OVEN"},
        {"order": "B-6", "ordered_at": "2026-01-05", "currency": "USD", "party_id": marie.id,
         "sku": "OVEN", "colour": "red"},
    ]  # fmt: skip
    with app.session() as s:
        results = xrm_commerce.import_orders(s, records)
    errors = {r.reference: str(r.error) for r in results}
    assert all(r.outcome is None for r in results)
    assert "lines.1.sku: no product of SKU 'NOPE'" in errors["B-1"]
    assert "ordered_at" in errors["B-2"]
    assert "buyer" in errors["B-3"]
    assert "buyer.display_name: is required" in errors["B-4"]
    assert "no live party 999999" in errors["B-5"]
    assert "order: every line needs" in errors[None]
    assert "colour: is not a field" in errors["B-6"] and "unit_price" in errors["B-6"]
    assert snapshot(app) == before


def test_importing_again_skips_the_orders_already_there(app: XRM) -> None:
    with app.session() as s:
        marie = cast(s).marie
    record = {"order": "W-1", "ordered_at": "2026-01-05", "currency": "EUR",
              "party_id": marie.id, "sku": "OVEN"}  # fmt: skip
    with app.session() as s:
        assert xrm_commerce.import_orders(s, [record])[0].outcome == "created"
    with app.session() as s:
        again = xrm_commerce.import_orders(s, [record])
        assert [(r.outcome, r.order_id) for r in again] == [("exists", None)]
        assert len(xrm_commerce.orders(s, marie)) == 1


def test_a_json_order_may_carry_its_lines_and_buyer(app: XRM) -> None:
    record = {"order": "J-1", "ordered_at": "2026-02-01T08:00:00Z", "currency": "EUR",
              "buyer": {"email": "j@example.com", "name": "Jo"},
              "lines": [{"sku": "OVEN"}, {"sku": "KETTLE", "quantity": 3}]}  # fmt: skip
    with app.session() as s:
        (result,) = xrm_commerce.import_orders(s, [record])
        assert len(xrm_commerce.get_order(s, "J-1").lines) == 2
        assert result.party_id == s.parties.find(email="j@example.com")[0].id


def test_the_order_import_command_reads_csv_and_jsonl_in_batches(app: XRM, tmp_path: Path) -> None:
    from xrm_commerce._cli import order

    with app.session() as s:
        s.parties.create("person", "Marie", contact_points=[Email("marie@example.com")])
    csv_file = tmp_path / "orders.csv"
    csv_file.write_text(
        "order,ordered_at,currency,email,name,sku,quantity\n"
        "C-1,2026-01-05,EUR,marie@example.com,,OVEN,1\n"
        "C-1,2026-01-05,EUR,marie@example.com,,KETTLE,2\n"
        "C-2,2026-01-06,EUR,paul@example.com,Paul,DRILL,1\n"
        "C-3,2026-01-06,EUR,paul@example.com,Paul,NOPE,1\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    result = runner.invoke(order, ["import", str(csv_file), "--batch", "1"], obj=Root(app))
    assert result.exit_code == 1
    assert "2 created, 0 already there, 1 refused" in result.output
    assert "line 5 (order C-3): lines.0.sku: no product of SKU 'NOPE'" in result.output
    jsonl = tmp_path / "orders.jsonl"
    jsonl.write_text(
        json.dumps({"order": "C-1", "ordered_at": "2026-01-05", "currency": "EUR",
                    "email": "marie@example.com", "sku": "OVEN"}) + "\n\n"
        + json.dumps({"order": "J-9", "ordered_at": "2026-01-05", "currency": "EUR",
                      "email": "marie@example.com", "sku": "TOASTER"}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    result = runner.invoke(order, ["import", str(jsonl), "--json"], obj=Root(app))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["order"], r["outcome"], r["line"]) for r in lines] == [
        ("C-1", "exists", 1), ("J-9", "created", 3),
    ]  # fmt: skip
    with app.session() as s:
        marie = s.parties.find(email="marie@example.com")[0]
        assert [o.reference for o in xrm_commerce.orders(s, marie)] == ["J-9", "C-1"]


def test_a_file_that_is_neither_csv_nor_jsonl_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "orders.txt"
    other.write_text("x", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"\.csv or \.jsonl"):
        list(xrm_commerce.read_orders(other))
    broken = tmp_path / "orders.jsonl"
    broken.write_text("{nope\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="line 1"):
        list(xrm_commerce.read_orders(broken))
