"""xrm: Extended Relationship Management.

One view of every party the company deals with - customers, prospects, partners,
suppliers, employees - every contact on every channel remembered, and contact only with
the party's permission.

>>> app = XRM("sqlite:///xrm.db")          # doctest: +SKIP
>>> app.upgrade()                           # doctest: +SKIP
>>> with app.session() as s:                # doctest: +SKIP
...     acme = s.parties.create("organization", "ACME")
"""

from xrm.app import XRM, Session
from xrm.core.access import ACTIONS, DEFAULT_GRANTS, AccessRequest, Policy, RolePolicy
from xrm.core.consent.audience import AudienceMember
from xrm.core.events import JournalEvent, personal
from xrm.core.gdpr.service import ErasureReport
from xrm.core.identity.dedupe import (
    BlockingRule,
    CandidatePair,
    ExactRule,
    FieldComparison,
    FuzzyRule,
    KeyPart,
    MatchRule,
)
from xrm.core.identity.merge import MergePlan, Unmerged
from xrm.core.inputs import (
    ContactPointIn,
    Email,
    ImportedParty,
    ParticipantIn,
    Phone,
    PostalAddress,
    Social,
    Url,
)
from xrm.core.messaging.inbound import Inbound
from xrm.core.messaging.service import Message, Preview, SendReport
from xrm.core.messaging.templates import (
    Rendered,
    SmsLength,
    Template,
    TemplateNotFound,
    TemplateSet,
    render,
    sms_length,
)
from xrm.core.messaging.transports import (
    Envelope,
    FileTransport,
    PermanentFailure,
    SmtpTransport,
    TransientFailure,
    Transport,
)
from xrm.core.normalize import EmailRules
from xrm.core.nouns.preferences import FrequencyCap, Preferences, QuietHours
from xrm.core.records import (
    Activity,
    ConsentDecision,
    ConsentRecord,
    ContactPoint,
    Identifier,
    ImportResult,
    Interaction,
    Link,
    Page,
    Panel,
    Participant,
    Party,
    Relationship,
    Role,
    RoleTransition,
    TimelineEntry,
)
from xrm.core.registry import (
    Channel,
    ContactKind,
    IdentifierScheme,
    LawfulBasis,
    PartyKind,
    Purpose,
    RelationshipType,
    RoleType,
    Touchpoint,
)
from xrm.errors import (
    ConfigurationError,
    Conflict,
    ConsentRequired,
    Forbidden,
    NotFound,
    PluginError,
    ReadOnly,
    SessionClosed,
    Undeliverable,
    ValidationError,
    XRMError,
)
from xrm.plugin import PluginInfo, hookimpl

__version__ = "0.1.0"

__all__ = [
    "ACTIONS",
    "DEFAULT_GRANTS",
    "XRM",
    "AccessRequest",
    "Activity",
    "AudienceMember",
    "BlockingRule",
    "CandidatePair",
    "Channel",
    "ConfigurationError",
    "Conflict",
    "ConsentDecision",
    "ConsentRecord",
    "ConsentRequired",
    "ContactKind",
    "ContactPoint",
    "ContactPointIn",
    "Email",
    "EmailRules",
    "Envelope",
    "ErasureReport",
    "ExactRule",
    "FieldComparison",
    "FileTransport",
    "Forbidden",
    "FrequencyCap",
    "FuzzyRule",
    "Identifier",
    "IdentifierScheme",
    "ImportResult",
    "ImportedParty",
    "Inbound",
    "Interaction",
    "JournalEvent",
    "KeyPart",
    "LawfulBasis",
    "Link",
    "MatchRule",
    "MergePlan",
    "Message",
    "NotFound",
    "Page",
    "Panel",
    "Participant",
    "ParticipantIn",
    "Party",
    "PartyKind",
    "PermanentFailure",
    "Phone",
    "PluginError",
    "PluginInfo",
    "Policy",
    "PostalAddress",
    "Preferences",
    "Preview",
    "Purpose",
    "QuietHours",
    "ReadOnly",
    "Relationship",
    "RelationshipType",
    "Rendered",
    "Role",
    "RolePolicy",
    "RoleTransition",
    "RoleType",
    "SendReport",
    "Session",
    "SessionClosed",
    "SmsLength",
    "SmtpTransport",
    "Social",
    "Template",
    "TemplateNotFound",
    "TemplateSet",
    "TimelineEntry",
    "Touchpoint",
    "TransientFailure",
    "Transport",
    "Undeliverable",
    "Unmerged",
    "Url",
    "ValidationError",
    "XRMError",
    "__version__",
    "hookimpl",
    "personal",
    "render",
    "sms_length",
]
