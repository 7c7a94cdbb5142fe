"""What the sales tests share: the application with the plugins the rules read, and a few
parties."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import attrs
import xrm_employees
import xrm_partners
import xrm_sales

from xrm import XRM, Party, Session

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def sales_app(xrm_factory: Callable[..., XRM]) -> XRM:
    return xrm_factory(plugins=[xrm_sales, xrm_employees, xrm_partners], discover=False)


@attrs.frozen
class Cast:
    acme: Party
    alice: Party  # a contact at ACME
    bob: Party  # another contact
    seller: Party  # an employee
    reseller: Party  # a partner


def cast(s: Session) -> Cast:
    acme = s.parties.create("organization", "ACME Industries")
    alice = s.parties.create("person", "Alice Martin")
    bob = s.parties.create("person", "Bob Durand")
    seller = s.parties.create("person", "Sam Seller")
    s.roles.assign(seller, "employee", state="active", attributes={"employee_number": "E1"})
    reseller = s.parties.create("organization", "Resell SA")
    s.roles.assign(reseller, "partner", state="active", attributes={"partner_type": "referral"})
    return Cast(acme, alice, bob, seller, reseller)
