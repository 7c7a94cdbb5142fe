"""The ``supplier`` role, its attributes and its lifecycle, and the ``supplies`` link."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from xrm import RelationshipType, RoleType

__all__ = [
    "BLOCKED",
    "FIXED_PAYMENT_TERMS",
    "MAX_NET_DAYS",
    "SUPPLIER",
    "SUPPLIES",
    "SupplierAttributes",
    "normalize_payment_terms",
]

#: payment terms that are not a number of days
FIXED_PAYMENT_TERMS = ("on_receipt", "prepaid")
#: the longest ``netN`` accepted, in days
MAX_NET_DAYS = 365

_NET = re.compile(r"net_?([1-9][0-9]{0,2})")
_SEPARATORS = re.compile(r"[\s-]+")


def normalize_payment_terms(value: str) -> str:
    """The canonical form of payment terms: ``on_receipt``, ``prepaid`` or ``netN`` (due
    ``N`` days after the invoice, 1 to 365).

    Case and surrounding blanks do not matter, and a blank, ``_`` or ``-`` may separate
    the words (``"Net 30"`` → ``net30``, ``"On receipt"`` → ``on_receipt``). Anything else
    raises :class:`ValueError` saying what is accepted.
    """
    text = _SEPARATORS.sub("_", value.strip().lower())
    if text in FIXED_PAYMENT_TERMS:
        return text
    match = _NET.fullmatch(text)
    if match is not None and int(match[1]) <= MAX_NET_DAYS:
        return f"net{int(match[1])}"
    raise ValueError(
        f"payment terms are {' or '.join(repr(t) for t in FIXED_PAYMENT_TERMS)} or 'netN' "
        f"(N days, 1 to {MAX_NET_DAYS}), got {value!r}"
    )


def _tidy_category(value: str) -> str:
    cleaned = " ".join(value.split())
    if not 1 <= len(cleaned) <= _CATEGORY_LIMIT:
        raise ValueError(f"a category is 1 to {_CATEGORY_LIMIT} characters, got {value!r}")
    return cleaned


def _unique_categories(values: list[str]) -> list[str]:
    seen: set[str] = set()
    result: list[str] = []
    for value in values:
        if value.casefold() not in seen:
            seen.add(value.casefold())
            result.append(value)
    return result


_CATEGORY_LIMIT = 40
Category = Annotated[str, AfterValidator(_tidy_category)]
PaymentTerms = Annotated[str, AfterValidator(normalize_payment_terms)]


class SupplierAttributes(BaseModel):
    """The attributes of a ``supplier`` role.

    - ``categories``: what the supplier sells (``"packaging"``, ``"IT services"``), at most
      20 short labels of 1 to 40 characters; blanks are tidied and a label given twice
      (whatever its case) is kept once, first spelling first.
    - ``payment_terms``: ``on_receipt``, ``prepaid`` or ``netN`` (see
      :func:`normalize_payment_terms`); ``None`` while not agreed.
    - ``rating``: 1 to 5, or ``None`` until the supplier is evaluated;
      :func:`xrm_suppliers.evaluate` keeps it equal to the latest evaluation.
    """

    model_config = ConfigDict(extra="forbid")

    categories: Annotated[
        list[Category], Field(max_length=20), AfterValidator(_unique_categories)
    ] = Field(default_factory=list)
    payment_terms: PaymentTerms | None = None
    rating: Annotated[int, Field(strict=True, ge=1, le=5)] | None = None


BLOCKED = "blocked"

SUPPLIER = RoleType(
    "supplier",
    label="Supplier",
    states=["candidate", "qualified", "approved", "suspended", BLOCKED],
    transitions={
        "candidate": ["qualified", BLOCKED],
        "qualified": ["approved", BLOCKED],
        "approved": ["suspended", BLOCKED],
        "suspended": ["approved", BLOCKED],
        # final: a blocked supplier is never reinstated; ending the role and assigning a
        # new one starts the qualification over, with the block kept in the history
        BLOCKED: [],
    },
    # an existing supplier base may be imported as already qualified or approved
    initial_states=["candidate", "qualified", "approved"],
    party_kinds=["organization", "person"],
    schema=SupplierAttributes,
)

SUPPLIES = RelationshipType(
    "supplies",
    forward_label="supplies",
    inverse_label="is supplied by",
    from_roles=[SUPPLIER.name],
)
