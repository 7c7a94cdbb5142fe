"""Input models: what callers pass in to create contact points and participants.

They are pydantic models so that plain dictionaries (from JSON, CSV or a web form) are
accepted too and refused with a field path when wrong.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "ContactPointIn",
    "Email",
    "ImportedConsent",
    "ImportedParty",
    "ImportedPreferences",
    "ImportedRole",
    "Outcome",
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
    """A phone number; ``region`` reads a national number (``06 12 34 56 78`` with ``FR``).

    A number libphonenumber judges invalid is refused, unless ``keep_invalid=True``: it is
    then kept as written (``ContactPoint.valid`` is ``False``, its key is its digits), and
    never used to recognise the party nor contacted. ``xrm import`` keeps them so, with a
    warning per line."""

    kind: Literal["phone"] = "phone"
    region: Annotated[str, StringConstraints(min_length=2, max_length=2)] | None = None
    keep_invalid: bool = False

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


# -- imports: what an `xrm import` row holds ------------------------------------------
Outcome = Literal["created", "updated", "unchanged"]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


#: an email or phone as written in the file: kept as given, but never blank
Address = Annotated[str, AfterValidator(_not_blank)]


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImportedRole(_Row):
    type: str
    state: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class ImportedConsent(_Row):
    purpose: str
    decision: Literal["granted", "refused", "withdrawn", "objected"] = "granted"
    channel: str | None = None
    contact_point: str | None = None
    source: str = "import"
    evidence: str | None = None
    captured_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None


class ImportedPreferences(_Row):
    """A party's preferences in an import row (see ``s.preferences.set``): they complete
    what the party has not stated, never replace what it has."""

    language: str | None = None
    time_zone: str | None = None
    quiet_hours: str | None = None
    channels: dict[str, str] = Field(default_factory=dict)
    caps: dict[str, str] = Field(default_factory=dict)


class ImportedParty(_Row):
    """One party to import: what a JSON Lines row holds (a CSV row is read into it)."""

    kind: str = "person"
    display_name: str | None = Field(default=None, alias="name")
    given_name: str | None = None
    family_name: str | None = None
    birth_date: dt.date | None = None
    emails: list[Address] = Field(default_factory=list)
    phones: list[Address] = Field(default_factory=list)
    region: str | None = Field(default=None, min_length=2, max_length=2)
    contact_points: list[dict[str, Any]] = Field(default_factory=list)
    identifiers: dict[str, str] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    roles: list[ImportedRole] = Field(default_factory=list)
    consents: list[ImportedConsent] = Field(default_factory=list)
    preferences: ImportedPreferences | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
