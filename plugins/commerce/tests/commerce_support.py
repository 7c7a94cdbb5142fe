"""What the commerce tests share: the application with the plugin, its templates and a
file transport; a small catalogue; a few parties; and a click context for the commands."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import attrs
import xrm_commerce

from xrm import XRM, Email, FileTransport, Party, Session

#: a past instant the tests date orders from
T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def commerce_app(xrm_factory: Callable[..., XRM], outbox: Path | None = None) -> XRM:
    options: dict[str, object] = {}
    if outbox is not None:
        options["templates"] = xrm_commerce.with_default_templates()
        options["transports"] = [FileTransport(outbox, channels=("email",))]
    return xrm_factory(plugins=[xrm_commerce], discover=False, **options)


@attrs.frozen
class Cast:
    marie: Party  # a customer with an email
    paul: Party
    ines: Party


def cast(s: Session) -> Cast:
    marie = s.parties.create("person", "Marie Dupont", contact_points=[Email("marie@example.com")])
    paul = s.parties.create("person", "Paul Martin", contact_points=[Email("paul@example.com")])
    ines = s.parties.create("person", "Ines Garcia", contact_points=[Email("ines@example.com")])
    return Cast(marie, paul, ines)


def catalogue(s: Session) -> None:
    """Four products in euros, one in pounds."""
    for sku, name, category, price, cost in (
        ("OVEN", "Oven", "kitchen", "499.00", "320.00"),
        ("KETTLE", "Kettle", "kitchen", "39.90", "12.50"),
        ("TOASTER", "Toaster", "kitchen", "59.00", "21.00"),
        ("DRILL", "Drill", "garden", "89.00", "40.00"),
    ):
        xrm_commerce.save_product(s, sku, name, price=Decimal(price), cost=Decimal(cost),
                                  currency="EUR", category=category)  # fmt: skip
    xrm_commerce.save_product(s, "TEA", "Tea", price="4.50", cost="1.10", currency="GBP")


class Root:
    """What the ``xrm`` root command leaves in the click context: ``app()``."""

    def __init__(self, app: XRM) -> None:
        self._app = app

    def app(self) -> XRM:
        return self._app
