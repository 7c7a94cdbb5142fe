"""Deterministic, realistic parties: party ``i`` is the same in every run and every process.

Each party is built from its own random generator (seeded from :data:`SEED` and ``i``), so
a worker can rebuild any party - its email, phone, duplicates - without the database and
without holding the whole data set in memory. Nine parties in ten are people, one in ten
an organisation (``i % 10 == 3``); 2 % of the people are planted near-duplicates of an
earlier person (a typo in a name, same birth date and address, their own email and phone).
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AS_OF",
    "AT",
    "SEED",
    "Consent",
    "Spec",
    "csv_header",
    "csv_record",
    "import_record",
    "is_organization",
    "spec",
    "specs",
]

SEED = 20_240_607
#: every generated consent and relationship starts before this day
REFERENCE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
#: audiences are computed as of this instant
AT = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
#: relationships are read as of this day
AS_OF = dt.date(2024, 6, 30)
#: the largest size whose phone numbers stay unique and valid
MAX_SIZE = 1_000_000
DUPLICATE_SHARE = 0.02


@dataclass(frozen=True, slots=True)
class _Country:
    code: str
    dial: str
    #: a mobile prefix whose every continuation of ``digits`` digits is a valid number
    mobile: str
    digits: int
    given: tuple[str, ...]
    family: tuple[str, ...]
    syllables: tuple[tuple[str, ...], tuple[str, ...]]
    streets: tuple[str, ...]
    cities: tuple[str, ...]
    company: tuple[str, ...]
    domains: tuple[str, ...]


_COUNTRIES = (
    _Country(
        "FR", "+33", "61", 7,
        ("Marie", "Jean", "Pierre", "Sophie", "Camille", "Louis", "Léa", "Hugo", "Chloé",
         "Lucas", "Manon", "Nicolas", "Julie", "Thomas", "Émilie", "Antoine", "Inès", "Hélène",
         "François", "Zoé", "Mathieu", "Céline", "Julien", "Aurélie", "Benoît", "Élodie"),
        ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
         "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David",
         "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier",
         "Dupont", "Lambert", "Bonnet", "François", "Martinez", "Legrand", "Garnier",
         "Faure", "Rousseau", "Blanc", "Guérin", "Muller", "Henry", "Roussel", "Nicolas"),
        (("Ber", "Char", "Dela", "Fon", "Gar", "Lam", "Mor", "Pel", "Ros", "Vil", "Bou",
          "Chev", "Gau", "Mar", "Rich", "Tes"),
         ("ard", "bert", "mont", "court", "ier", "ot", "eau", "and", "in", "illon", "ais",
          "aud", "enne", "ac", "oux", "et")),
        ("rue de la Paix", "avenue Victor Hugo", "boulevard Voltaire", "rue des Lilas",
         "place de la République", "rue du Moulin", "chemin des Vignes", "rue Pasteur"),
        ("Paris", "Lyon", "Marseille", "Toulouse", "Nantes", "Lille", "Bordeaux", "Rennes",
         "Strasbourg", "Montpellier", "Grenoble", "Dijon"),
        ("SARL", "SA", "SAS", "et Fils"),
        ("orange.fr", "free.fr", "laposte.net", "gmail.com", "sfr.fr"),
    ),
    _Country(
        "DE", "+49", "1512", 7,
        ("Anna", "Lukas", "Leon", "Mia", "Paul", "Lena", "Jonas", "Laura", "Felix", "Sarah",
         "Jürgen", "Katrin", "Stefan", "Sabine", "Michael", "Ursula", "Tobias", "Jana",
         "Matthias", "Jörg", "Sören", "Birgit"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
         "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf",
         "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann",
         "Hartmann", "Lange", "Schmitt", "Werner", "Krause", "Meier", "Lehmann"),
        (("Ost", "Wald", "Berg", "Stein", "Hof", "Brand", "Eich", "Kessel", "Lind", "Rosen",
          "Sonn", "Kirch", "Tann", "Feld"),
         ("mann", "berger", "hauser", "inger", "ler", "dorf", "meier", "acher", "stedt",
          "bach", "hofer", "rich")),
        ("Hauptstraße", "Schulstraße", "Bahnhofstraße", "Gartenstraße", "Lindenweg",
         "Dorfstraße", "Kirchgasse", "Am Markt"),
        ("Berlin", "Hamburg", "München", "Köln", "Frankfurt", "Stuttgart", "Düsseldorf",
         "Leipzig", "Dresden", "Hannover", "Nürnberg", "Bremen"),
        ("GmbH", "AG", "KG", "GmbH & Co. KG"),
        ("web.de", "gmx.de", "t-online.de", "gmail.com"),
    ),
    _Country(
        "GB", "+44", "7400", 6,
        ("Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Emily", "Charlie",
         "Sophie", "Thomas", "Grace", "James", "Lily", "William", "Ella", "Alfie", "Freya",
         "Siobhan", "Rhys", "Niamh", "Callum"),
        ("Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson",
         "Thomas", "Johnson", "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White",
         "Edwards", "Hughes", "Green", "Hall", "Lewis", "Harris", "Clarke", "Patel",
         "Jackson", "Wood", "Turner", "Martin", "Cooper", "Hill", "O'Brien", "Ward"),
        (("Ash", "Black", "Brad", "Crom", "Fair", "Hart", "Kings", "Lang", "Mar", "Pen",
          "Rad", "Stan", "Whit", "Wor"),
         ("ley", "ford", "ton", "well", "wood", "field", "bury", "ham", "by", "more",
          "worth", "stone")),
        ("High Street", "Station Road", "Church Lane", "Victoria Road", "Green Lane",
         "Manor Road", "Park Avenue", "Mill Lane"),
        ("London", "Manchester", "Birmingham", "Leeds", "Glasgow", "Bristol", "Liverpool",
         "Edinburgh", "Cardiff", "Belfast", "Oxford", "York"),
        ("Ltd", "plc", "LLP", "& Sons"),
        ("btinternet.com", "gmail.com", "hotmail.co.uk", "outlook.com"),
    ),
    _Country(
        "US", "+1", "4152", 6,
        ("Liam", "Olivia", "Noah", "Emma", "Elijah", "Charlotte", "James", "Sophia",
         "Benjamin", "Mia", "Lucas", "Harper", "Mason", "Evelyn", "Ethan", "Abigail",
         "Daniel", "Emily", "Jacob", "Madison", "Tyler", "Brianna"),
        ("Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Garcia",
         "Rodriguez", "Wilson", "Martinez", "Anderson", "Taylor", "Thomas", "Hernandez",
         "Moore", "Martin", "Jackson", "Thompson", "White", "Lopez", "Lee", "Gonzalez",
         "Harris", "Clark", "Lewis", "Robinson", "Walker", "Perez", "Nguyen", "Kim"),
        (("Ander", "Bell", "Car", "Daw", "Ell", "Fitz", "Gold", "Hol", "McK", "Ram",
          "Sand", "Van"),
         ("son", "inger", "stein", "sky", "ington", "man", "ridge", "ers", "wick", "ton",
          "berg", "ell")),
        ("Main Street", "Oak Avenue", "Maple Drive", "Washington Boulevard", "Pine Street",
         "Cedar Lane", "Elm Street", "Lakeview Drive"),
        ("San Francisco", "Oakland", "San Jose", "Sacramento", "Berkeley", "Palo Alto",
         "Fresno", "Santa Rosa"),
        ("Inc.", "LLC", "Corp.", "Co."),
        ("gmail.com", "yahoo.com", "aol.com", "icloud.com", "comcast.net"),
    ),
    _Country(
        "ES", "+34", "61", 7,
        ("Lucía", "Hugo", "Martina", "Mateo", "Sofía", "Martín", "María", "Pablo", "Julia",
         "Álvaro", "Paula", "Diego", "Valeria", "Adrián", "Carmen", "Javier", "Nuria",
         "Sergio", "Íñigo", "Begoña"),
        ("García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez",
         "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno",
         "Muñoz", "Álvarez", "Romero", "Alonso", "Gutiérrez", "Navarro", "Torres",
         "Domínguez", "Vázquez", "Ramos", "Gil", "Ramírez", "Serrano", "Blanco", "Castillo"),
        (("Alba", "Bel", "Cas", "Echeve", "Gar", "Iba", "Larra", "Mendi", "Olabe", "Urqui",
          "Zabal", "Villa"),
         ("rría", "ñez", "rra", "zábal", "guren", "ola", "eta", "zar", "lde", "rte", "goitia",
          "verde")),
        ("Calle Mayor", "Avenida de la Constitución", "Calle Real", "Plaza de España",
         "Calle del Sol", "Paseo de Gracia", "Calle Nueva", "Camino Viejo"),
        ("Madrid", "Barcelona", "Valencia", "Sevilla", "Zaragoza", "Málaga", "Bilbao",
         "Murcia", "Palma", "Valladolid"),
        ("S.L.", "S.A.", "y Cía.", "Hermanos"),
        ("gmail.com", "hotmail.es", "telefonica.net", "yahoo.es"),
    ),
    _Country(
        "IT", "+39", "312", 7,
        ("Giulia", "Leonardo", "Sofia", "Francesco", "Aurora", "Alessandro", "Ginevra",
         "Lorenzo", "Beatrice", "Mattia", "Chiara", "Andrea", "Niccolò", "Federica",
         "Gabriele", "Martina", "Riccardo", "Elisa", "Tommaso", "Ilaria"),
        ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
         "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa",
         "Giordano", "Rizzo", "Lombardi", "Moretti", "Barbieri", "Fontana", "Santoro",
         "Mariani", "Rinaldi", "Caruso", "Ferrara", "Galli", "Martini", "Leone"),
        (("Bar", "Cal", "Dal", "Fer", "Gian", "Lo", "Mar", "Pan", "Sal", "Tor", "Val",
          "Zan"),
         ("etti", "ini", "one", "ucci", "ardi", "elli", "asso", "ato", "iero", "occhi",
          "ano", "urri")),
        ("Via Roma", "Via Garibaldi", "Corso Italia", "Via Mazzini", "Piazza Duomo",
         "Via Verdi", "Viale dei Mille", "Via Dante"),
        ("Roma", "Milano", "Napoli", "Torino", "Palermo", "Genova", "Bologna", "Firenze",
         "Bari", "Catania", "Venezia", "Verona"),
        ("S.r.l.", "S.p.A.", "e Figli", "S.n.c."),
        ("libero.it", "gmail.com", "virgilio.it", "tiscali.it", "alice.it"),
    ),
)  # fmt: skip

_SEGMENTS = ("retail", "premium", "smb", "enterprise", "public")
_CATEGORIES = ("packaging", "IT services", "consulting", "logistics", "office supplies")
_START = dt.datetime(2019, 1, 1, tzinfo=dt.UTC)
_SPAN = int((REFERENCE - _START).total_seconds())


@dataclass(frozen=True, slots=True)
class Address:
    line: str
    postcode: str
    city: str
    country: str


@dataclass(frozen=True, slots=True)
class Consent:
    purpose: str
    decision: str
    #: scope: a channel, or the party's email contact point, or (both unset) all channels
    channel: str | None
    on_email: bool
    captured_at: dt.datetime
    expires_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Spec:
    """One generated party, with the match keys a correct normaliser gives its points."""

    index: int
    kind: str
    name: str
    given: str | None
    family: str | None
    birth_date: dt.date | None
    email: str
    email_key: str
    phone: str
    phone_key: str
    address: Address
    roles: tuple[tuple[str, str, dict[str, Any]], ...]
    consents: tuple[Consent, ...]
    #: the index of the party this one is a planted duplicate of
    duplicate_of: int | None


def is_organization(index: int) -> bool:
    return index % 10 == 3


def _rng(index: int, salt: int = 0) -> random.Random:
    return random.Random(SEED * 1_000_003 + index * 7 + salt)


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c))
    return kept


def _family(rng: random.Random, country: _Country) -> str:
    if rng.random() < 0.45:
        return rng.choice(country.family)
    first, second = country.syllables
    return rng.choice(first) + rng.choice(second)


def _when(rng: random.Random) -> dt.datetime:
    return (_START + dt.timedelta(seconds=rng.randrange(_SPAN))).replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class _Identity:
    country: _Country
    given: str
    family: str
    birth_date: dt.date
    address: Address


def _identity(index: int) -> _Identity:
    """Who person ``index`` is: what a duplicate copies."""
    rng = _rng(index, 1)
    country = _COUNTRIES[rng.randrange(len(_COUNTRIES))]
    given = rng.choice(country.given)
    family = _family(rng, country)
    birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(365 * 65))
    address = _address(rng, country)
    return _Identity(country, given, family, birth, address)


def _address(rng: random.Random, country: _Country) -> Address:
    if country.code == "GB":
        postcode = (
            f"{rng.choice('ELMNSW')}{rng.choice('CNW')}{rng.randint(1, 9)} "
            f"{rng.randint(1, 9)}{rng.choice('ABDEFG')}{rng.choice('HJLNPQ')}"
        )
    else:
        postcode = f"{rng.randint(1000, 98999):05d}"
    line = f"{rng.randint(1, 199)} {rng.choice(country.streets)}"
    return Address(line, postcode, rng.choice(country.cities), country.code)


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word + word[-1]
    at = rng.randrange(1, len(word) - 1)
    change = rng.randrange(3)
    if change == 0:  # two letters swapped
        return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    if change == 1:  # a letter dropped
        return word[:at] + word[at + 1 :]
    return word[:at] + word[at] + word[at:]  # a letter doubled


def spec(index: int) -> Spec:
    """Party ``index`` (0-based)."""
    rng = _rng(index)
    organization = is_organization(index)
    duplicate_of = None
    if organization:
        country = _COUNTRIES[rng.randrange(len(_COUNTRIES))]
        family = _family(rng, country)
        name = f"{family} {rng.choice(country.company)}"
        given = None
        family_name = None
        birth = None
        address = _address(rng, country)
        slug = _ascii(family).lower()
        email = f"Contact{index}@{slug.capitalize()}-{country.code}.com"
    else:
        if index >= 100 and rng.random() < DUPLICATE_SHARE:
            duplicate_of = index - 1 - rng.randrange(min(index, 5000) - 1)
            if is_organization(duplicate_of):
                duplicate_of -= 1
            who = _identity(duplicate_of)
            given, family = who.given, who.family
            if rng.random() < 0.5:
                family = _typo(rng, family)
            else:
                given = _typo(rng, given)
        else:
            who = _identity(index)
            given, family = who.given, who.family
        country = who.country
        family_name = family
        name = f"{given} {family}"
        birth = who.birth_date
        address = who.address
        domain = rng.choice(country.domains)
        email = f"{_ascii(given)}.{_ascii(family)}{index}@{domain.capitalize()}"
    number = f"{index:0{country.digits}d}"
    phone_digits = country.mobile + number
    spaced = " ".join(phone_digits[i : i + 3] for i in range(0, len(phone_digits), 3))
    phone = f"{country.dial} {spaced}"
    roles: list[tuple[str, str, dict[str, Any]]]
    if organization:
        roles = [("customer", "customer", {"segment": rng.choice(_SEGMENTS[2:])})]
        if rng.random() < 0.5:
            roles.append(("supplier", "approved", {
                "categories": [rng.choice(_CATEGORIES)], "payment_terms": "net30",
            }))  # fmt: skip
    else:
        state = rng.choice(("lead", "prospect", "customer", "customer", "customer"))
        roles = [("customer", state, {"segment": rng.choice(_SEGMENTS[:2])})]
        if rng.random() < 0.15:
            roles.append(("supplier", "qualified", {"categories": ["consulting"]}))
    return Spec(
        index=index,
        kind="organization" if organization else "person",
        name=name,
        given=None if organization else given,
        family=family_name,
        birth_date=birth,
        email=email,
        email_key=email.lower(),
        phone=phone,
        phone_key=country.dial + phone_digits,
        address=address,
        roles=tuple(roles),
        consents=_consents(rng),
        duplicate_of=duplicate_of,
    )


def _consents(rng: random.Random) -> tuple[Consent, ...]:
    found: list[Consent] = []
    draw = rng.random()
    first = _when(rng)
    later = first + dt.timedelta(days=rng.randint(1, 300))
    if draw < 0.55:
        expires = None
        if rng.random() < 0.05:
            expires = first + dt.timedelta(days=365)  # most of these have expired by AT
        found.append(Consent("marketing", "granted", None, False, first, expires))
        if rng.random() < 0.15:
            found.append(Consent("marketing", "withdrawn", "email", False, later, None))
    elif draw < 0.65:
        found.append(Consent("marketing", "granted", None, True, first, None))
        if rng.random() < 0.2:
            found.append(Consent("marketing", "refused", None, False, later, None))
    elif draw < 0.8:
        found.append(Consent("marketing", "refused", None, False, first, None))
    if rng.random() < 0.1:
        found.append(Consent("marketing", "granted", "sms", False, _when(rng), None))
    if rng.random() < 0.05:
        found.append(Consent("surveys", "objected", None, False, _when(rng), None))
    return tuple(found)


def specs(start: int, stop: int) -> Iterator[Spec]:
    for index in range(start, stop):
        yield spec(index)


def import_record(s: Spec, *, with_point_consents: bool = False) -> dict[str, Any]:
    """The party as an import record (what ``ImportedParty`` validates).

    Consents scoped to the party's email are left out unless ``with_point_consents``:
    the plain-driver baseline does not write them either, so both W1 measures write the
    same rows; :mod:`bench.build` adds them to the data set after the import.
    """
    record: dict[str, Any] = {
        "kind": s.kind,
        "name": s.name,
        "emails": [s.email],
        "phones": [s.phone],
        "contact_points": [{
            "kind": "postal", "lines": [s.address.line], "postcode": s.address.postcode,
            "city": s.address.city, "country": s.address.country,
        }],
        "roles": [{"type": t, "state": state, "attributes": a} for t, state, a in s.roles],
        "consents": [
            {"purpose": c.purpose, "decision": c.decision, "channel": c.channel,
             "contact_point": s.email if c.on_email else None, "source": "crm_migration",
             "captured_at": c.captured_at.isoformat(),
             "expires_at": c.expires_at.isoformat() if c.expires_at else None}
            for c in s.consents
            if with_point_consents or not c.on_email
        ],
    }  # fmt: skip
    if s.given is not None:
        record["given_name"] = s.given
        record["family_name"] = s.family
    if s.birth_date is not None:
        record["birth_date"] = s.birth_date.isoformat()
    return record


def csv_header() -> list[str]:
    return ["kind", "name", "given_name", "family_name", "birth_date", "email", "phone",
            "roles", "consents", "source"]  # fmt: skip


def csv_record(s: Spec) -> list[str]:
    """The party as a row of ``xrm import``'s CSV: no postal address, role attributes or
    consent dates (the CSV format has no column for them)."""
    consents = []
    for c in s.consents:
        if c.on_email:
            continue  # written by bench.build, as for import_batch
        channel = c.channel
        consents.append(f"{c.purpose}{'@' + channel if channel else ''}={c.decision}")
    return [
        s.kind, s.name, s.given or "", s.family or "",
        s.birth_date.isoformat() if s.birth_date else "", s.email, s.phone,
        ";".join(f"{t}:{state}" for t, state, _ in s.roles), ";".join(consents),
        "crm_migration",
    ]  # fmt: skip
