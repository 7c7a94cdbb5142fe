"""Input models: what callers pass in to create contact points and participants.

They are pydantic models so that plain dictionaries (from JSON, CSV or a web form) are
accepted too and refused with a field path when wrong.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "ContactPointIn",
    "Email",
    "ParticipantIn",
    "Phone",
    "PostalAddress",
    "Social",
    "Url",
]

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContactPointIn(_In):
    """A contact point of any kind, including kinds that plugins register.

    ``primary`` makes it the party's primary point of its kind (the first of a kind is
    primary anyway).
    """

    kind: str
    value: Text
    label: Label | None = None
    primary: bool = False


class Email(ContactPointIn):
    kind: Literal["email"] = "email"

    def __init__(self, value: str | None = None, /, **data: Any) -> None:
        if value is not None:
            data["value"] = value
        super().__init__(**data)


class Phone(ContactPointIn):
    """A phone number; ``region`` reads a national number (``06 12 34 56 78`` with ``FR``)."""

    kind: Literal["phone"] = "phone"
    region: Annotated[str, StringConstraints(min_length=2, max_length=2)] | None = None

    def __init__(self, value: str | None = None, /, **data: Any) -> None:
        if value is not None:
            data["value"] = value
        super().__init__(**data)


class Url(ContactPointIn):
    kind: Literal["url"] = "url"

    def __init__(self, value: str | None = None, /, **data: Any) -> None:
        if value is not None:
            data["value"] = value
        super().__init__(**data)


class Social(ContactPointIn):
    """A handle on a social network: ``Social("@marie", network="mastodon")``."""

    kind: Literal["social"] = "social"
    network: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]

    def __init__(self, value: str | None = None, /, **data: Any) -> None:
        if value is not None:
            data["value"] = value
        super().__init__(**data)


class PostalAddress(_In):
    """A postal address. Its ``value`` is the address as printed on an envelope."""

    kind: Literal["postal"] = "postal"
    lines: list[Text] = Field(min_length=1, max_length=5)
    postcode: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] = ""
    city: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    country: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=2)]
    region: Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)] | None = None
    label: Label | None = None
    primary: bool = False

    @property
    def value(self) -> str:
        city_line = " ".join(p for p in (self.postcode, self.city) if p)
        parts = [*self.lines, city_line]
        if self.region:
            parts.append(self.region)
        parts.append(self.country.upper())
        return "\n".join(parts)


AnyContactPoint = Email | Phone | Url | Social | PostalAddress | ContactPointIn

CONTACT_INPUTS: dict[str, type[BaseModel]] = {
    "email": Email,
    "phone": Phone,
    "url": Url,
    "social": Social,
    "postal": PostalAddress,
}


class ParticipantIn(_In):
    """Who took part in an interaction and how.

    ``role`` is free text with common values ``sender``, ``recipient``, ``agent``,
    ``attendee``. ``contact_point`` is the id of the party's contact point used (the email
    address written to), or its value, which is looked up among the party's points.
    """

    party: int
    role: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    contact_point: int | str | None = None
