"""Bulk import of orders from CSV or JSON Lines, the buyer recognised as ``xrm import``
recognises a party.

A **record** is one order line (a CSV row), or one order with its ``lines`` (a JSON
object); the rows of one order share its ``order`` reference and, in a file, follow each
other. Fields:

- the order: ``order`` (its reference, required), ``ordered_at`` (ISO 8601; a date alone is
  midnight UTC; an instant without zone is UTC), ``currency``, ``status`` (default
  ``delivered``: an import brings past orders), ``channel``;
- the buyer: ``party_id``, or any of ``email``, ``phone``, ``identifier``
  (``scheme:value``) and ``name``: handed to ``s.imports.import_many``, so a known party
  is found by its email, phone or identifier and an unknown one is created (it then needs
  ``name``) - the core's rules, journal and hooks;
- the line: ``sku``, ``quantity`` (default 1), ``unit_price``, ``discount``, ``unit_cost``
  (the product's price and cost by default, when in the order's currency).

:func:`import_orders` takes a batch: the orders are checked first (one query for the
catalogue, one for the references already there), then the buyers of the good ones are
recognised in one ``import_many`` call, then orders, lines and status steps are inserted
with one statement each, and one ``commerce.order_placed`` per order. Everything in the
caller's unit of work: the CLI commits one transaction per batch of orders, so a file
that stops half-way keeps its first batches, and importing it again skips the orders
already there (``exists``).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
from sqlalchemy import insert, select

from xrm import Session
from xrm.errors import FieldError, ValidationError, XRMError
from xrm.tables import PartyRow, live_party, utcnow
from xrm_commerce import _money
from xrm_commerce._models import OrderLineRow, OrderRow, OrderStatusRow
from xrm_commerce._orders import STATUSES, CheckedLine, catalogue_of, check_lines, placed_event

__all__ = ["OrderImportResult", "import_numbered", "import_orders", "in_batches", "read_orders"]

_ORDER_FIELDS = ("ordered_at", "currency", "status", "channel")
_BUYER_FIELDS = ("party_id", "email", "phone", "identifier", "name")
_LINE_FIELDS = ("sku", "quantity", "unit_price", "discount", "unit_cost")
_KNOWN = {"order", "lines", "buyer", *_ORDER_FIELDS, *_BUYER_FIELDS, *_LINE_FIELDS}


@attrs.frozen
class OrderImportResult:
    """What became of one order: ``created``, ``exists`` (its reference was there already:
    nothing written) or, with ``error``, nothing. ``line``: its first record's number."""

    line: int
    reference: str | None
    outcome: Literal["created", "exists"] | None
    order_id: int | None = None
    party_id: int | None = None
    error: XRMError | None = None


@attrs.define
class _Order:
    line: int
    reference: str
    header: dict[str, Any]
    buyer: dict[str, Any]
    lines: list[dict[str, Any]] = attrs.field(factory=list)
    errors: list[FieldError] = attrs.field(factory=list)
    currency: str = ""
    ordered_at: dt.datetime | None = None
    status: str = "delivered"
    channel: str | None = None
    checked: list[CheckedLine] = attrs.field(factory=list)
    party_id: int | None = None


def _flat(record: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """A record as line rows: an order with ``lines`` and ``buyer`` gives one row per line."""
    data = dict(record)
    buyer = data.pop("buyer", None)
    if isinstance(buyer, Mapping):
        data.update({k: v for k, v in buyer.items() if k in _BUYER_FIELDS})
    lines = data.pop("lines", None)
    if isinstance(lines, list) and lines:
        for line in lines:
            yield {**data, **(line if isinstance(line, Mapping) else {"sku": line})}
    else:
        yield data


def _group(records: Iterable[tuple[int, Mapping[str, Any]]]) -> list[_Order]:
    orders: dict[str, _Order] = {}
    loose: list[_Order] = []
    for line, record in records:
        if not isinstance(record, Mapping):
            bad = _Order(line, "", {}, {})
            bad.errors.append(FieldError("", "a record is an object (a CSV row, a JSON object)"))
            loose.append(bad)
            continue
        for row in _flat(record):
            clean = {k: (v.strip() if isinstance(v, str) else v) for k, v in row.items()}
            clean = {k: v for k, v in clean.items() if v not in ("", None)}
            reference = clean.get("order")
            unknown = sorted(set(clean) - _KNOWN)
            if not isinstance(reference, str | int) or isinstance(reference, bool):
                bad = _Order(line, "", {}, {})
                bad.errors.append(FieldError("order", "every line needs its order's reference"))
                loose.append(bad)
                continue
            reference = str(reference)
            header = {k: clean[k] for k in _ORDER_FIELDS if k in clean}
            buyer = {k: clean[k] for k in _BUYER_FIELDS if k in clean}
            order = orders.get(reference)
            if order is None:
                order = orders[reference] = _Order(line, reference, header, buyer)
            else:
                # the order's own fields must agree; a buyer is the first line's
                said_party = {k: v for k, v in buyer.items() if k == "party_id"}
                for name, have in (*header.items(), *said_party.items()):
                    known = order.header.get(name, order.buyer.get(name))
                    if known is not None and known != have:
                        said = f"line {line} says {have!r}, an earlier line {known!r}"
                        order.errors.append(FieldError(name, said))
                order.header.update({k: v for k, v in header.items() if k not in order.header})
                order.buyer.update({k: v for k, v in buyer.items() if k not in order.buyer})
            if unknown:
                order.errors.append(FieldError(unknown[0], "is not a field of an order line"))
            order.lines.append({k: clean[k] for k in _LINE_FIELDS if k in clean})
    return sorted([*orders.values(), *loose], key=lambda o: o.line)


def _number(value: object, field: str, errors: list[FieldError]) -> object:
    """CSV gives text: a whole number where one is expected."""
    if isinstance(value, str):
        if value.lstrip("-").isdigit():
            return int(value)
        errors.append(FieldError(field, f"must be a whole number, got {value!r}"))
        return None
    return value


def _instant(value: object, errors: list[FieldError], now: dt.datetime) -> dt.datetime | None:
    if value is None:
        errors.append(FieldError("ordered_at", "is required"))
        return None
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            errors.append(
                FieldError("ordered_at", f"is not an ISO 8601 date or instant: {value!r}")
            )
            return None
        value = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)
    return _money.when(value, "ordered_at", errors, now=now)


def _check(order: _Order, now: dt.datetime) -> None:
    errors = order.errors
    h = order.header
    if len(order.reference) > 64:
        errors.append(FieldError("order", "is longer than 64 characters"))
    order.currency = _money.currency(h.get("currency"), errors)
    order.ordered_at = _instant(h.get("ordered_at"), errors, now)
    order.status = str(h.get("status", "delivered"))
    if order.status not in STATUSES:
        errors.append(FieldError("status", f"must be one of {', '.join(STATUSES)}, got "
                                           f"{order.status!r}"))  # fmt: skip
    order.channel = _money.text(h.get("channel"), "channel", 40, errors)
    for line in order.lines:
        if "quantity" in line:
            line["quantity"] = _number(line["quantity"], "quantity", errors)
    if "party_id" in order.buyer:
        party_id = _number(order.buyer["party_id"], "party_id", errors)
        order.party_id = party_id if isinstance(party_id, int) else None
    elif not any(k in order.buyer for k in ("email", "phone", "identifier")):
        errors.append(FieldError("buyer", "give party_id, or an email, phone or identifier"))
    identifier = order.buyer.get("identifier")
    if identifier is not None and (not isinstance(identifier, str) or ":" not in identifier):
        errors.append(FieldError("identifier", "must be scheme:value"))


def _buyer_record(buyer: Mapping[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    if "name" in buyer:
        record["name"] = buyer["name"]
    if "email" in buyer:
        record["emails"] = [buyer["email"]]
    if "phone" in buyer:
        record["phones"] = [buyer["phone"]]
    if "identifier" in buyer:
        scheme, _, value = str(buyer["identifier"]).partition(":")
        record["identifiers"] = {scheme: value}
    return record


def _prefixed(error: XRMError, prefix: str) -> XRMError:
    if isinstance(error, ValidationError):
        return error.prefixed(prefix)
    return error


def import_orders(
    session: Session, records: Iterable[Mapping[str, Any]], *, first_line: int = 1
) -> list[OrderImportResult]:
    """Import a batch of orders (records as described above, numbered from
    ``first_line``). Each order is all or nothing: a bad one comes back with its error
    (naming the field, ``lines.N.`` for a line) and writes nothing, not even its buyer;
    the others go on. One result per order, in the order of their first record."""
    return import_numbered(session, enumerate(records, start=first_line))


def import_numbered(
    session: Session, records: Iterable[tuple[int, Mapping[str, Any]]]
) -> list[OrderImportResult]:
    """:func:`import_orders` of records numbered already (a file's line numbers)."""
    now = utcnow()
    orders = _group(records)
    catalogue = catalogue_of(session, (line.get("sku") for o in orders for line in o.lines))
    for order in orders:
        if not order.reference:  # a record that names no order: nothing to check
            continue
        _check(order, now)
        order.checked = check_lines(catalogue, order.lines, order.currency, order.errors)
    references = [o.reference for o in orders if o.reference]
    existing: set[str] = set()
    for start in range(0, len(references), 500):
        chunk = references[start : start + 500]
        existing.update(session.db.scalars(select(OrderRow.reference).where(
            OrderRow.reference.in_(chunk))))  # fmt: skip
    results: dict[int, OrderImportResult] = {}
    good: list[_Order] = []
    for order in orders:
        if order.errors:
            error: XRMError = ValidationError(order.errors)
            results[order.line] = OrderImportResult(order.line, order.reference or None, None,
                                                    error=error)  # fmt: skip
        elif order.reference in existing:
            results[order.line] = OrderImportResult(order.line, order.reference, "exists")
        else:
            good.append(order)
    _recognise(session, good, results)
    good = [o for o in good if o.line not in results]
    if good:
        _insert(session, good, now)
        for order in good:
            results[order.line] = OrderImportResult(order.line, order.reference, "created",
                                                    order_id=order.header["id"],
                                                    party_id=order.party_id)  # fmt: skip
    return [results[o.line] for o in orders]


def _recognise(
    session: Session, orders: list[_Order], results: dict[int, OrderImportResult]
) -> None:
    """Each order's buyer: a given ``party_id`` must be a live party; the others go through
    ``s.imports.import_many`` (each distinct buyer once)."""
    given = sorted({o.party_id for o in orders if o.party_id is not None})
    live: set[int] = set()
    for start in range(0, len(given), 500):
        chunk = given[start : start + 500]
        live.update(session.db.scalars(select(PartyRow.id).where(PartyRow.id.in_(chunk),
                                                                  live_party())))  # fmt: skip
    wanted: dict[str, dict[str, Any]] = {}
    for order in orders:
        if order.party_id is not None:
            if order.party_id not in live:
                error = ValidationError.single("party_id", f"no live party {order.party_id}")
                results[order.line] = OrderImportResult(order.line, order.reference, None,
                                                        error=error)  # fmt: skip
            continue
        record = _buyer_record(order.buyer)
        wanted.setdefault(json.dumps(record, sort_keys=True, default=str), record)
    if not wanted:
        return
    keys = list(wanted)
    found = session.imports.import_many([wanted[k] for k in keys])
    by_key = dict(zip(keys, found, strict=True))
    for order in orders:
        if order.party_id is not None:
            continue
        result = by_key[json.dumps(_buyer_record(order.buyer), sort_keys=True, default=str)]
        if result.error is not None or result.party_id is None:
            cause: XRMError = result.error or ValidationError.single("buyer", "not imported")
            results[order.line] = OrderImportResult(
                order.line, order.reference, None, error=_prefixed(cause, "buyer")
            )
        else:
            order.party_id = result.party_id


def _insert(session: Session, orders: list[_Order], now: dt.datetime) -> None:
    """The orders, their lines and first status steps: one statement each, then the
    journal."""
    rows = [
        {
            "reference": o.reference, "party_id": o.party_id, "currency": o.currency,
            "status": o.status, "channel": o.channel, "ordered_at": o.ordered_at,
            "status_at": o.ordered_at, "created_at": now,
            "net_milli": sum(_money.to_milli(line.net) for line in o.checked),
            "cost_milli": sum(_money.to_milli(ln.quantity * ln.unit_cost) for ln in o.checked),
            "refunded_milli": 0, "returned_cost_milli": 0,
        }
        for o in orders
    ]  # fmt: skip
    with session.atomic():
        returning = insert(OrderRow).returning(OrderRow.reference, OrderRow.id)
        ids = dict(session.db.execute(returning, rows).all())
        lines: list[dict[str, Any]] = []
        steps: list[dict[str, Any]] = []
        for o in orders:
            o.header["id"] = ids[o.reference]
            lines.extend(
                {"order_id": ids[o.reference], "product_id": line.product_id,
                 "quantity": line.quantity, "unit_price": line.unit_price,
                 "discount": line.discount, "unit_cost": line.unit_cost, "returned": 0}
                for line in o.checked
            )  # fmt: skip
            steps.append({"order_id": ids[o.reference], "status": o.status, "at": o.ordered_at,
                          "by": session.actor})  # fmt: skip
        session.db.execute(insert(OrderLineRow), lines)
        session.db.execute(insert(OrderStatusRow), steps)
        for o, row in zip(orders, rows, strict=True):
            order_row = OrderRow(id=ids[o.reference], **row)
            session.journal(placed_event(order_row, len(o.checked)))


def read_orders(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """The records of a ``.csv`` (a header row, then one order line per row) or ``.jsonl``
    file (one JSON object per line: an order line, or an order with ``lines``), numbered
    from 1 (CSV: the header is line 1)."""
    suffix = path.suffix.lower()
    with path.open(encoding="utf-8", newline="") as handle:
        if suffix == ".csv":
            reader = csv.DictReader(handle)
            for index, row in enumerate(reader, start=2):
                yield index, {k: v for k, v in row.items() if k is not None}
        elif suffix in (".jsonl", ".ndjson"):
            for index, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    data = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ValidationError.single(f"line {index}", f"not JSON: {exc.msg}") from None
                yield index, data
        else:
            raise ValidationError.single("path", "give a .csv or .jsonl file")


def in_batches(
    records: Iterable[tuple[int, dict[str, Any]]], orders: int
) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """Numbered records in batches of about ``orders`` orders, never splitting an order
    whose records follow each other."""
    batch: list[tuple[int, dict[str, Any]]] = []
    seen: set[str] = set()
    last: object = None
    for line, record in records:
        reference = record.get("order") if isinstance(record, dict) else None
        if len(seen) >= orders and reference != last:
            yield batch
            batch, seen = [], set()
        batch.append((line, record))
        seen.add(str(reference))
        last = reference
    if batch:
        yield batch
