"""The endpoints: each a thin call of a public service method (the core validates)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from xrm import Session
from xrm.errors import NotFound, ValidationError
from xrm.web.app import ReadSession, SessionDep, _xrm, caller
from xrm.web.models import (
    MAX_ID,
    ActivityCancel,
    ActivityDone,
    ActivityIn,
    ActivityOut,
    ActivityPage,
    ActivityPatch,
    AudienceLine,
    CandidatePairOut,
    ConsentDecisionOut,
    ConsentIn,
    ConsentRecordOut,
    ContactPointOut,
    CriterionIn,
    CriterionType,
    EraseIn,
    ErasureReportOut,
    IdentifierIn,
    ImportResultOut,
    InteractionIn,
    InteractionOut,
    InteractionPage,
    LinkOut,
    MergeIn,
    MergePlanOut,
    MessageIn,
    MessageOut,
    PartyIn,
    PartyOut,
    PartyPage,
    PartyPatch,
    PreferencesOut,
    PreferencesPatch,
    PreviewOut,
    RelationshipEndIn,
    RelationshipIn,
    RelationshipOut,
    RoleEndIn,
    RoleIn,
    RoleOut,
    SegmentCount,
    SegmentFreeze,
    SegmentIn,
    SegmentOut,
    SegmentPatch,
    TagsIn,
    TimelineEntryOut,
    TimelinePage,
    TransitionIn,
    UnmergedOut,
    UnmergeIn,
    dump,
    list_of,
    segment_out,
)
from xrm.web.problems import PROBLEM_RESPONSES

__all__ = ["router"]

router = APIRouter(responses=PROBLEM_RESPONSES)

PartyId = Annotated[int, Path(ge=1, le=MAX_ID, description="A party's id")]
RoleId = Annotated[int, Path(ge=1, le=MAX_ID)]
RelationshipId = Annotated[int, Path(ge=1, le=MAX_ID)]
ContactPointId = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=500, description="How many items at most")]
After = Annotated[
    str | None, Query(max_length=200, description="The next_cursor of the previous page")
]
Name = Annotated[str, Query(min_length=1, max_length=200)]
OptionalName = Annotated[str | None, Query(min_length=1, max_length=200)]

# --- parties ----------------------------------------------------------------------------


@router.post("/parties", status_code=201, response_model=PartyOut, tags=["parties"])
def create_party(body: PartyIn, s: SessionDep) -> Any:
    """Create a party (with its contact points, identifiers and tags)."""
    return dump(
        s.parties.create(
            body.kind,
            body.display_name,
            given_name=body.given_name,
            family_name=body.family_name,
            birth_date=body.birth_date,
            attributes=body.attributes,
            contact_points=body.contact_points,
            identifiers=body.identifiers,
            tags=body.tags,
            if_exists=body.if_exists,
        )
    )


@router.get("/parties", response_model=PartyPage, tags=["parties"])
def list_parties(
    s: ReadSession,
    kind: OptionalName = None,
    tag: OptionalName = None,
    role: OptionalName = None,
    role_state: OptionalName = None,
    name: OptionalName = None,
    limit: Limit = 50,
    after: After = None,
) -> Any:
    """Parties in id order, filtered; ``name`` matches words of the display name."""
    page = s.parties.list(
        kind=kind, tag=tag, role=role, role_state=role_state, name=name, limit=limit, after=after
    )
    return {"items": dump(page.items), "next_cursor": page.next_cursor}


@router.get("/parties/{party_id}", response_model=PartyOut, tags=["parties"])
def get_party(party_id: PartyId, s: ReadSession) -> Any:
    """One party; a merged party's id gives the party it was merged into."""
    return dump(s.parties.get(party_id))


@router.patch("/parties/{party_id}", response_model=PartyOut, tags=["parties"])
def update_party(party_id: PartyId, body: PartyPatch, s: SessionDep) -> Any:
    """Change names, birth date or attributes: only the fields given."""
    changes: dict[str, Any] = {f: getattr(body, f) for f in body.model_fields_set if f != "version"}
    return dump(s.parties.update(party_id, version=body.version, **changes))


@router.post(
    "/parties/{party_id}/contact-points",
    status_code=201,
    response_model=ContactPointOut,
    tags=["parties"],
)
def add_contact_point(
    party_id: PartyId,
    s: SessionDep,
    point: Annotated[
        dict[str, Any],
        Body(
            examples=[{"kind": "email", "value": "ada@example.com"}],
            description="A contact point as xrm takes it (kind, value, label, primary...)",
        ),
    ],
) -> Any:
    """Add a contact point; one with the same match key is a conflict (409)."""
    return dump(s.parties.add_contact_point(party_id, point))


@router.delete(
    "/parties/{party_id}/contact-points/{contact_point_id}",
    status_code=204,
    response_class=Response,
    tags=["parties"],
)
def remove_contact_point(
    party_id: PartyId, contact_point_id: ContactPointId, s: SessionDep
) -> None:
    """Remove a contact point (a new primary of its kind is chosen if needed)."""
    s.parties.remove_contact_point(party_id, contact_point_id)


@router.post(
    "/parties/{party_id}/contact-points/{contact_point_id}/primary",
    response_model=ContactPointOut,
    tags=["parties"],
)
def set_primary(party_id: PartyId, contact_point_id: ContactPointId, s: SessionDep) -> Any:
    """Make this contact point the primary one of its kind."""
    return dump(s.parties.set_primary(party_id, contact_point_id))


@router.post("/parties/{party_id}/identifiers", response_model=PartyOut, tags=["parties"])
def add_identifier(party_id: PartyId, body: IdentifierIn, s: SessionDep) -> Any:
    """Attach an identifier; one held by another party is a conflict (409)."""
    return dump(s.parties.add_identifier(party_id, body.scheme, body.value))


@router.post("/parties/{party_id}/tags", response_model=PartyOut, tags=["parties"])
def tag_party(party_id: PartyId, body: TagsIn, s: SessionDep) -> Any:
    """Add tags (case-folded); tags already held are ignored."""
    return dump(s.parties.tag(party_id, *body.tags))


@router.delete("/parties/{party_id}/tags/{tag}", response_model=PartyOut, tags=["parties"])
def untag_party(party_id: PartyId, tag: Annotated[str, Path(max_length=200)], s: SessionDep) -> Any:
    """Remove a tag; a tag not held is ignored."""
    return dump(s.parties.untag(party_id, tag))


# --- roles ------------------------------------------------------------------------------


@router.post("/parties/{party_id}/roles", status_code=201, response_model=RoleOut, tags=["roles"])
def assign_role(party_id: PartyId, body: RoleIn, s: SessionDep) -> Any:
    """Give the party a role, in its type's initial state (or ``state``)."""
    return dump(
        s.roles.assign(
            party_id,
            body.type,
            state=body.state,
            attributes=body.attributes,
            at=body.at,
            note=body.note,
        )
    )


@router.get("/parties/{party_id}/roles", response_model=list_of(RoleOut), tags=["roles"])
def list_roles(
    party_id: PartyId,
    s: ReadSession,
    type: OptionalName = None,
    include_ended: bool = False,
) -> Any:
    """The party's roles, oldest first, with their transitions."""
    return dump(s.roles.of(party_id, type=type, include_ended=include_ended))


@router.post("/roles/{role_id}/transitions", response_model=RoleOut, tags=["roles"])
def transition_role(role_id: RoleId, body: TransitionIn, s: SessionDep) -> Any:
    """Move a current role to another state (only its type's transitions)."""
    return dump(
        s.roles.transition(role_id, body.to, at=body.at, note=body.note, version=body.version)
    )


@router.post("/roles/{role_id}/end", response_model=RoleOut, tags=["roles"])
def end_role(role_id: RoleId, body: RoleEndIn, s: SessionDep) -> Any:
    """End a role: the party no longer holds it; its history stays."""
    return dump(s.roles.end(role_id, at=body.at, note=body.note, version=body.version))


# --- relationships ----------------------------------------------------------------------


@router.post(
    "/relationships", status_code=201, response_model=RelationshipOut, tags=["relationships"]
)
def create_relationship(body: RelationshipIn, s: SessionDep) -> Any:
    """Link ``from_party`` to ``to_party``, valid from ``valid_from`` until ``valid_to``
    (exclusive)."""
    return dump(
        s.relationships.create(
            body.type,
            body.from_party,
            body.to_party,
            valid_from=body.valid_from,
            valid_to=body.valid_to,
            attributes=body.attributes,
        )
    )


@router.post(
    "/relationships/{relationship_id}/end",
    response_model=RelationshipOut,
    tags=["relationships"],
)
def end_relationship(
    relationship_id: RelationshipId, body: RelationshipEndIn, s: SessionDep
) -> Any:
    """End the relationship: from day ``on`` (default today) it no longer holds."""
    return dump(s.relationships.end(relationship_id, on=body.on))


@router.get(
    "/parties/{party_id}/relationships", response_model=list_of(LinkOut), tags=["relationships"]
)
def list_relationships(
    party_id: PartyId,
    s: ReadSession,
    as_of: Annotated[dt.date | None, Query(description="Default: today")] = None,
    type: OptionalName = None,
    direction: Literal["both", "outgoing", "incoming"] = "both",
    all_dates: bool = False,
) -> Any:
    """The party's relationships holding on ``as_of``, from both ends, each read from
    the party (``label``) to the other."""
    return dump(
        s.relationships.of(
            party_id, type=type, as_of=as_of, direction=direction, all_dates=all_dates
        )
    )


# --- interactions -----------------------------------------------------------------------


@router.post("/interactions", status_code=201, response_model=InteractionOut, tags=["interactions"])
def record_interaction(body: InteractionIn, s: SessionDep) -> Any:
    """Record an interaction; an outbound one needs the ledger's consent (409)."""
    fields = body.model_dump(exclude={"participants"})
    participants = [p.model_dump() for p in body.participants]
    return dump(s.interactions.record(participants=participants, **fields))


@router.get(
    "/parties/{party_id}/interactions", response_model=InteractionPage, tags=["interactions"]
)
def list_interactions(
    party_id: PartyId,
    s: ReadSession,
    channel: OptionalName = None,
    touchpoint: OptionalName = None,
    limit: Limit = 50,
    after: After = None,
) -> Any:
    """The party's interactions, newest first, a page at a time."""
    page = s.interactions.of(
        party_id, channel=channel, touchpoint=touchpoint, limit=limit, after=after
    )
    return {"items": dump(page.items), "next_cursor": page.next_cursor}


# --- activities -------------------------------------------------------------------------

ActivityId = Annotated[int, Path(ge=1, le=MAX_ID, description="An activity's id")]
Status = Literal["open", "done", "cancelled", "any"]


def _page(page: Any) -> dict[str, Any]:
    return {"items": dump(page.items), "next_cursor": page.next_cursor}


@router.post("/activities", status_code=201, response_model=ActivityOut, tags=["activities"])
def plan_activity(body: ActivityIn, s: SessionDep) -> Any:
    """Plan a call, meeting, email or task."""
    if (body.about_type is None) != (body.about_id is None):
        raise ValidationError.single(
            "about_type" if body.about_type is None else "about_id",
            "about_type and about_id go together",
        )
    about = (body.about_type, body.about_id) if body.about_type and body.about_id else None
    return dump(
        s.activities.plan(
            body.kind, body.subject, due=body.due, time_zone=body.time_zone,
            parties=body.parties, assignee=body.assignee, user=body.user, about=about,
            notes=body.notes,
        )
    )  # fmt: skip


@router.get("/activities", response_model=ActivityPage, tags=["activities"])
def list_activities(
    s: ReadSession,
    assignee: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    user: OptionalName = None,
    party: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    about_type: Annotated[str | None, Query(min_length=1, max_length=60)] = None,
    about_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    status: Status = "open",
    due_before: dt.datetime | None = None,
    due_after: dt.datetime | None = None,
    limit: Limit = 50,
    after: After = None,
) -> Any:
    """Activities, soonest due first, a page at a time; every filter is optional."""
    if (about_type is None) != (about_id is None):
        raise ValidationError.single("query.about_type", "about_type and about_id go together")
    about = (about_type, about_id) if about_type is not None and about_id is not None else None
    return _page(
        s.activities.list(
            assignee=assignee, user=user, party=party, about=about,
            status=None if status == "any" else status, due_before=due_before,
            due_after=due_after, limit=limit, after=after,
        )
    )  # fmt: skip


@router.get("/activities/overdue", response_model=ActivityPage, tags=["activities"])
def overdue_activities(
    s: ReadSession,
    assignee: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    user: OptionalName = None,
    party: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Limit = 50,
    after: After = None,
) -> Any:
    """Open activities past their due time, the oldest first."""
    return _page(
        s.activities.overdue(assignee=assignee, user=user, party=party, limit=limit, after=after)
    )


@router.get("/activities/week", response_model=ActivityPage, tags=["activities"])
def activities_this_week(
    s: ReadSession,
    assignee: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    user: OptionalName = None,
    party: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    time_zone: OptionalName = None,
    limit: Limit = 50,
    after: After = None,
) -> Any:
    """Open activities due this week (Monday to Sunday in ``time_zone``, else UTC)."""
    return _page(
        s.activities.due_this_week(
            assignee=assignee, user=user, party=party, time_zone=time_zone, limit=limit,
            after=after,
        )
    )  # fmt: skip


@router.get("/activities/{activity_id}", response_model=ActivityOut, tags=["activities"])
def get_activity(activity_id: ActivityId, s: ReadSession) -> Any:
    return dump(s.activities.get(activity_id))


@router.get(
    "/activities/{activity_id}/history",
    response_model=list_of(TimelineEntryOut),
    tags=["activities"],
)
def activity_history(activity_id: ActivityId, s: ReadSession) -> Any:
    """The activity's journal events, oldest first."""
    return dump(list(s.activities.history(activity_id)))


@router.patch("/activities/{activity_id}", response_model=ActivityOut, tags=["activities"])
def update_activity(activity_id: ActivityId, body: ActivityPatch, s: SessionDep) -> Any:
    """Reschedule, reassign or rename an open activity (409 when it is not open)."""
    return dump(s.activities.update(activity_id, **body.model_dump(exclude_unset=True)))


@router.post("/activities/{activity_id}/complete", response_model=ActivityOut, tags=["activities"])
def complete_activity(activity_id: ActivityId, body: ActivityDone, s: SessionDep) -> Any:
    """Mark an open activity done, recording the interaction it was when asked."""
    return dump(s.activities.complete(activity_id, **body.model_dump()))


@router.post("/activities/{activity_id}/cancel", response_model=ActivityOut, tags=["activities"])
def cancel_activity(activity_id: ActivityId, body: ActivityCancel, s: SessionDep) -> Any:
    return dump(s.activities.cancel(activity_id, reason=body.reason))


# --- consent ----------------------------------------------------------------------------


@router.get("/parties/{party_id}/consent", response_model=ConsentDecisionOut, tags=["consent"])
def check_consent(
    party_id: PartyId,
    s: ReadSession,
    purpose: Name,
    channel: Name,
    contact_point: Annotated[
        str | None, Query(max_length=320, description="A contact point id or an address")
    ] = None,
    at: Annotated[dt.datetime | None, Query(description="Default: now")] = None,
) -> Any:
    """May the party be contacted for ``purpose`` on ``channel``? The decision says why."""
    point: int | str | None = contact_point
    if contact_point is not None and contact_point.isascii() and contact_point.isdigit():
        point = int(contact_point)
    return dump(s.consents.check(party_id, purpose, channel, point, at))


@router.post(
    "/parties/{party_id}/consent",
    status_code=201,
    response_model=ConsentRecordOut,
    tags=["consent"],
)
def record_consent(party_id: PartyId, body: ConsentIn, s: SessionDep) -> Any:
    """Append a grant, a refusal, a withdrawal or an objection to the party's ledger."""
    fields = body.model_dump(exclude={"purpose", "decision", "source"})
    return dump(
        s.consents.record(party_id, body.purpose, body.decision, source=body.source, **fields)
    )


@router.get(
    "/parties/{party_id}/consent/history",
    response_model=list_of(ConsentRecordOut),
    tags=["consent"],
)
def consent_history(party_id: PartyId, s: ReadSession, purpose: OptionalName = None) -> Any:
    """The party's ledger, oldest first (by effective time)."""
    return dump(s.consents.history(party_id, purpose=purpose))


@router.get(
    "/consent/audience",
    tags=["consent"],
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "One JSON object a line (NDJSON): party_id, contact_point_id, "
            "value (the address)",
            "content": {
                "application/x-ndjson": {"schema": {"$ref": "#/components/schemas/AudienceLine"}}
            },
            "model": AudienceLine,
        }
    },
)
async def audience(
    request: Request,
    purpose: Name,
    channel: Name,
    at: Annotated[dt.datetime | None, Query(description="Default: now")] = None,
) -> StreamingResponse:
    """Every party that may be contacted for ``purpose`` on ``channel``, streamed: memory
    stays bounded whatever the number of parties."""
    app, who = _xrm(request), caller(request)

    def check() -> None:  # the purpose and channel (422), the roles (403), first
        with app.session(actor=who.actor, roles=who.roles, readonly=True) as s:
            s.consents.contactable(purpose, channel, at)

    async with request.app.state.xrm_sessions:
        await run_in_threadpool(check)

    def lines() -> Iterator[bytes]:
        with app.session(actor=who.actor, roles=who.roles, readonly=True) as s:
            for member in s.consents.audience(purpose, channel, at):
                yield (json.dumps(member._asdict()) + "\n").encode()

    return StreamingResponse(lines(), media_type="application/x-ndjson")


# --- timeline ---------------------------------------------------------------------------


@router.get("/parties/{party_id}/timeline", response_model=TimelinePage, tags=["timeline"])
def timeline(
    party_id: PartyId,
    s: ReadSession,
    limit: Limit = 50,
    after: After = None,
    types: Annotated[list[str] | None, Query(max_length=50)] = None,
) -> Any:
    """The party's whole history, newest first, a page at a time (``after``: the
    previous page's ``next_cursor``)."""
    page = s.timeline(party_id, limit=limit, after=after, types=types)
    return {"items": dump(page.items), "next_cursor": page.next_cursor}


# --- identity ---------------------------------------------------------------------------


@router.get("/identity/resolve", response_model=PartyOut, tags=["identity"])
def resolve(
    s: ReadSession,
    phone: Annotated[str | None, Query(max_length=100)] = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
    region: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
    scheme: OptionalName = None,
    value: OptionalName = None,
    external_ref: OptionalName = None,
) -> Any:
    """The caller-ID lookup: the party behind a phone number (any way of writing it), an
    email, an identifier (``scheme`` and ``value``) or an interaction's external
    reference, following merges; 404 when unknown."""
    if (scheme is None) != (value is None):
        raise ValidationError.single(
            "query.scheme" if scheme is None else "query.value",
            "scheme and value go together",
        )
    given = [x for x in (phone, email, scheme, external_ref) if x is not None]
    if len(given) != 1:
        raise ValidationError.single(
            "query", "give exactly one of phone, email, scheme and value, external_ref"
        )
    party = s.identity.resolve(
        phone=phone,
        email=email,
        region=region,
        identifier=(scheme, value) if scheme is not None and value is not None else None,
        external_ref=external_ref,
    )
    if party is None:
        raise NotFound("party", phone or email or external_ref or f"{scheme}:{value}")
    return dump(party)


@router.get("/identity/duplicates", response_model=list_of(CandidatePairOut), tags=["identity"])
def duplicates(
    s: ReadSession,
    party_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only the pairs of this party")
    ] = None,
    kind: OptionalName = None,
    limit: Limit = 50,
) -> Any:
    """Candidate duplicate pairs, best first, each with its score, verdict and evidence
    (the fields that agreed or disagreed)."""
    kinds = [kind] if kind is not None else None
    if party_id is None:
        return dump(s.identity.duplicates(kinds=kinds, limit=limit))
    s.parties.get(party_id, follow_merges=False)  # 404 for an unknown party
    pairs = [p for p in s.identity.iter_duplicates(kinds=kinds) if party_id in (p.left, p.right)]
    pairs.sort(key=lambda p: -p.score)
    return dump(pairs[:limit])


@router.post("/identity/merge", response_model=MergePlanOut, tags=["identity"])
def merge(body: MergeIn, s: SessionDep) -> Any:
    """Merge ``duplicate`` into ``survivor`` (``dry_run``: only say what would move)."""
    return dump(
        s.identity.merge(
            body.survivor,
            body.duplicate,
            prefer=body.prefer,
            dry_run=body.dry_run,
            force=body.force,
        )
    )


@router.post("/identity/unmerge", response_model=UnmergedOut, tags=["identity"])
def unmerge(body: UnmergeIn, s: SessionDep) -> Any:
    """Undo the last merge of ``duplicate``."""
    return dump(s.identity.unmerge(body.duplicate))


# --- import -----------------------------------------------------------------------------

#: the most an import request may carry
IMPORT_LIMIT = 10 * 1024 * 1024


@router.post(
    "/import",
    response_model=list_of(ImportResultOut),
    tags=["import"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "JSON Lines: one party a line, the records `xrm import` takes "
            '({"name": ..., "emails": [...], "phones": [...], "roles": [...], ...})',
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
)
async def import_parties(request: Request) -> Any:
    """Create or complete many parties: one result a line (created, updated, unchanged,
    or the error of that line; the other lines are imported)."""
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > IMPORT_LIMIT:
            raise ValidationError.single("body", f"larger than {IMPORT_LIMIT} bytes")
    who = caller(request)
    async with request.app.state.xrm_sessions:
        return await run_in_threadpool(_import, _xrm(request), who.actor, who.roles, bytes(body))


def _import(app: Any, actor: str, roles: tuple[str, ...], body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError.single("body", f"not UTF-8 (byte {exc.start})") from None
    records: list[tuple[int, Any]] = []
    errors: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        problem: str | None
        try:
            value = json.loads(line)
        except RecursionError:
            value, problem = None, "not JSON: nested too deeply"
        except ValueError as exc:
            value, problem = None, f"not JSON: {getattr(exc, 'msg', exc)}"
        else:
            problem = None if isinstance(value, dict) else "not a JSON object"
        if problem is not None:
            errors.append(
                {"line": number, "outcome": None, "party_id": None, "error": problem,
                 "warnings": []}
            )  # fmt: skip
        else:
            records.append((number, value))
    results: list[dict[str, Any]] = list(errors)
    if records:
        with app.session(actor=actor, roles=roles) as s:
            s2: Session = s
            done = s2.imports.import_many([r for _, r in records], first_line=0)
            for (number, _), result in zip(records, done, strict=True):
                row = dump(result)
                row["line"] = number
                results.append(row)
    results.sort(key=lambda r: int(r["line"]))
    return results


# --- GDPR -------------------------------------------------------------------------------


@router.get(
    "/parties/{party_id}/export",
    response_model=dict[str, Any],
    tags=["gdpr"],
)
def export_party(party_id: PartyId, s: ReadSession) -> Any:
    """Everything about the party, as the GDPR export document (xrm's published
    schema, docs/gdpr.md)."""
    return s.gdpr.export(party_id)


@router.post("/parties/{party_id}/erase", response_model=ErasureReportOut, tags=["gdpr"])
def erase_party(party_id: PartyId, body: EraseIn, s: SessionDep) -> Any:
    """Anonymise the party and the parties merged into it, all or nothing."""
    return dump(s.gdpr.erase(party_id, reason=body.reason))


# --- preferences ------------------------------------------------------------------------


@router.get("/parties/{party_id}/preferences", response_model=PreferencesOut, tags=["preferences"])
def get_preferences(party_id: PartyId, s: ReadSession) -> Any:
    """The party's language, time zone, quiet hours, channels and caps."""
    return dump(s.preferences.get(party_id))


@router.patch(
    "/parties/{party_id}/preferences", response_model=PreferencesOut, tags=["preferences"]
)
def set_preferences(party_id: PartyId, body: PreferencesPatch, s: SessionDep) -> Any:
    """Change what is given and keep the rest; ``null`` clears a value."""
    changes = {f: getattr(body, f) for f in body.model_fields_set}
    return dump(s.preferences.set(party_id, **changes))


# --- messages ---------------------------------------------------------------------------


@router.post(
    "/parties/{party_id}/messages",
    status_code=201,
    response_model=MessageOut,
    tags=["messages"],
)
def send_message(party_id: PartyId, body: MessageIn, s: SessionDep) -> Any:
    """Render a template for the party and put it in the outbox (the worker delivers
    it); no channel allowed or a cap reached: 409."""
    return dump(
        s.messages.send(
            party_id, body.template, purpose=body.purpose, data=body.data, channel=body.channel
        )
    )


@router.post("/parties/{party_id}/messages/preview", response_model=PreviewOut, tags=["messages"])
def preview_message(party_id: PartyId, body: MessageIn, s: ReadSession) -> Any:
    """What sending would choose and render; nothing is written."""
    return dump(
        s.messages.preview(
            party_id, body.template, purpose=body.purpose, data=body.data, channel=body.channel
        )
    )


@router.get("/parties/{party_id}/messages", response_model=list_of(MessageOut), tags=["messages"])
def list_messages(party_id: PartyId, s: ReadSession, limit: Limit = 50) -> Any:
    """The party's latest messages, newest first."""
    return dump(s.messages.of(party_id, limit=limit))


# --- segments ---------------------------------------------------------------------------

SegmentPath = Annotated[
    str, Path(min_length=1, max_length=100, description="A saved segment's name")
]
At = Annotated[dt.datetime | None, Query(description="Evaluate at this instant (default: now)")]


@router.get("/segments", response_model=list_of(SegmentOut), tags=["segments"])
def list_segments(s: ReadSession) -> Any:
    """The saved segments, by name."""
    return [segment_out(x) for x in s.segments.list()]


@router.post("/segments", status_code=201, response_model=SegmentOut, tags=["segments"])
def define_segment(body: SegmentIn, s: SessionDep) -> Any:
    """Save a criterion under a name (a dynamic segment, evaluated when read)."""
    return segment_out(s.segments.define(body.name, body.criterion, description=body.description))


@router.get("/segments/criteria", response_model=dict[str, CriterionType], tags=["segments"])
def segment_criteria(s: ReadSession) -> Any:
    """Every criterion a segment may use (the core's and the plugins'), by ``type``."""
    return {
        name: {"summary": cls.summary, "json_schema": cls.model_json_schema()}
        for name, cls in sorted(s.segments.criteria().items())
    }


@router.post("/segments/count", response_model=SegmentCount, tags=["segments"])
def count_criterion(body: CriterionIn, s: ReadSession) -> Any:
    """How many parties a criterion (not saved) selects."""
    return {"count": s.segments.count(body.criterion, at=body.at)}


@router.get("/segments/{name}", response_model=SegmentOut, tags=["segments"])
def get_segment(name: SegmentPath, s: ReadSession) -> Any:
    """A saved segment."""
    return segment_out(s.segments.get(name))


@router.patch("/segments/{name}", response_model=SegmentOut, tags=["segments"])
def update_segment(name: SegmentPath, body: SegmentPatch, s: SessionDep) -> Any:
    """Change a segment's criterion (not a frozen one's) or description."""
    changes: dict[str, Any] = {"version": body.version}
    if body.criterion is not None:
        changes["criterion"] = body.criterion
    if "description" in body.model_fields_set:
        changes["description"] = body.description
    return segment_out(s.segments.update(name, **changes))


@router.delete("/segments/{name}", status_code=204, tags=["segments"])
def delete_segment(name: SegmentPath, s: SessionDep) -> Response:
    """Delete a segment (409 when another segment uses it)."""
    s.segments.delete(name)
    return Response(status_code=204)


@router.post(
    "/segments/{name}/freeze", status_code=201, response_model=SegmentOut, tags=["segments"]
)
def freeze_segment(name: SegmentPath, body: SegmentFreeze, s: SessionDep) -> Any:
    """Save the segment's members now as a dated list (a frozen segment)."""
    return segment_out(s.segments.freeze(name, as_name=body.as_name))


@router.get("/segments/{name}/count", response_model=SegmentCount, tags=["segments"])
def count_segment(name: SegmentPath, s: ReadSession, at: At = None) -> Any:
    """How many parties the segment has."""
    return {"count": s.segments.count(name, at=at)}


@router.get("/segments/{name}/preview", response_model=list_of(PartyOut), tags=["segments"])
def preview_segment(
    name: SegmentPath,
    s: ReadSession,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    at: At = None,
) -> Any:
    """The first members, by id."""
    return dump(s.segments.preview(name, limit=limit, at=at))


@router.get(
    "/segments/{name}/members",
    tags=["segments"],
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "One JSON object a line (NDJSON): party_id",
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
        }
    },
)
async def segment_members(request: Request, name: SegmentPath, at: At = None) -> StreamingResponse:
    """Every member's party id, streamed in id order: memory stays bounded whatever the
    segment's size."""
    app, who = _xrm(request), caller(request)

    def check() -> None:  # the name (404), the criterion (422), the roles (403), first
        with app.session(actor=who.actor, roles=who.roles, readonly=True) as s:
            s.segments.select(name, at=at)

    async with request.app.state.xrm_sessions:
        await run_in_threadpool(check)

    def lines() -> Iterator[bytes]:
        with app.session(actor=who.actor, roles=who.roles, readonly=True) as s:
            for party_id in s.segments.stream(name, at=at):
                yield b'{"party_id": %d}\n' % party_id

    return StreamingResponse(lines(), media_type="application/x-ndjson")
