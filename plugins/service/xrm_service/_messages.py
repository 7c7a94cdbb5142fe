"""Telling the party: status notices under the ``service`` purpose, satisfaction surveys
under ``surveys``, and the answers; and the templates the plugin ships for them."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
from sqlalchemy import select

from xrm import Message, Party, Session, TemplateSet, Undeliverable
from xrm.errors import Conflict, FieldError, ValidationError
from xrm.tables import utcnow
from xrm_service._cases import (
    Case,
    CaseRef,
    _contacts,
    _of,
    _row,
    _text,
    link_interaction,
    parse_reference,
    reference_of,
)
from xrm_service._config import config_of
from xrm_service._events import NoticeSent, SurveyAnswered, SurveySent
from xrm_service._models import CaseRow

__all__ = [
    "NOTICE_TEMPLATE",
    "SURVEY_TEMPLATE",
    "TEMPLATES_DIR",
    "Notice",
    "SurveyRun",
    "answer_survey",
    "default_templates",
    "notify",
    "send_surveys",
    "survey",
    "with_default_templates",
]

NOTICE_TEMPLATE = "service_status"
SURVEY_TEMPLATE = "service_survey"
#: the templates the plugin ships (email and SMS, English and French)
TEMPLATES_DIR = Path(__file__).parent / "templates"
_KIND = re.compile(r"[a-z][a-z0-9_]{0,39}")
#: set on ``session.db.info`` while the plugin itself records interactions, so that its
#: interaction hook does not thread them a second time
BUSY = "xrm_service.busy"


def default_templates() -> TemplateSet:
    """The plugin's templates: ``service_status`` and ``service_survey``."""
    return TemplateSet.from_directory(TEMPLATES_DIR)


def with_default_templates(templates: TemplateSet | None = None) -> TemplateSet:
    """``templates`` (the application's) plus the plugin's for every name it lacks: give
    the result to ``XRM(templates=...)``. The application's own versions win."""
    return TemplateSet(templates or ()).with_defaults(default_templates())


@contextmanager
def busy(session: Session) -> Iterator[None]:
    before = session.db.info.get(BUSY, False)
    session.db.info[BUSY] = True
    try:
        yield
    finally:
        session.db.info[BUSY] = before


@attrs.frozen
class Notice:
    """A status notice put in the outbox, and the case it was put on (if any)."""

    message: Message
    case_reference: str | None


def _find_case(session: Session, party_id: int, reference: str) -> CaseRow | None:
    case_id = parse_reference(reference)
    if case_id is not None:
        row = session.db.get(CaseRow, case_id)
        if row is not None and row.party_id == party_id:
            return row
    query = (
        select(CaseRow)
        .where(CaseRow.party_id == party_id, CaseRow.external_ref == reference)
        .order_by(CaseRow.resolved_at.is_not(None), CaseRow.id.desc())
        .limit(1)
    )
    return session.db.scalars(query).first()


def notify(
    session: Session,
    party: int | Party,
    kind: str,
    reference: str,
    status: str,
    data: Mapping[str, Any] | None = None,
    *,
    channel: str | None = None,
    template: str = NOTICE_TEMPLATE,
) -> Notice:
    """Tell ``party`` where its ``kind`` (``repair``, ``order``, ``invoice``,
    ``delivery``...) ``reference`` stands (``status``), through the messaging layer under
    the ``service`` purpose: its preferred channel for that purpose first, consent,
    suppression and quiet hours applying (a suppressed address is never written to;
    :class:`~xrm.Undeliverable` when no channel is left, and nothing is written).

    The template (default ``service_status``) sees ``data.kind``, ``data.reference``,
    ``data.status``, ``data.case`` (the case reference or ``None``) and the caller's
    ``data`` under ``data.details``. When a case of the party has that reference (a case
    reference ``C-000123``, or its external reference), the notice is linked to it (the
    case's first response if it had none) and a ``service.notice_sent`` event is on the
    timeline of the party (and of the case's contact persons)."""
    errors: list[FieldError] = []
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        errors.append(FieldError("kind", f"must be a lowercase word (repair, order), got {kind!r}"))
    reference_ = _text(reference, "reference", 200, errors)
    if reference_ is None and not any(e.path == "reference" for e in errors):
        errors.append(FieldError("reference", "must not be empty"))
    status_ = _text(status, "status", 60, errors)
    if status_ is None and not any(e.path == "status" for e in errors):
        errors.append(FieldError("status", "must not be empty"))
    if data is not None and not isinstance(data, Mapping):
        errors.append(FieldError("data", "must be a mapping"))
    if errors:
        raise ValidationError(errors)
    assert reference_ is not None
    assert status_ is not None
    customer = session.parties.get(party)
    row = _find_case(session, customer.id, reference_)
    case_ref = reference_of(row.id) if row is not None else None
    payload = {
        "kind": kind, "reference": reference_, "status": status_, "case": case_ref,
        "details": dict(data or {}),
    }  # fmt: skip
    with session.atomic(), busy(session):
        message = session.messages.send(
            customer, template, purpose="service", data=payload, channel=channel
        )
        if row is not None and message.interaction_id is not None:
            link_interaction(
                session, row.id, message.interaction_id, link="notice",
                message_id=message.id, status=status_,
            )  # fmt: skip
        parties = (customer.id, *(_contacts(session, row.id) if row is not None else ()))
        case_id = row.id if row is not None else None
        session.journal(
            NoticeSent(
                entity_id=case_id, parties=tuple(dict.fromkeys(parties)),
                kind=kind, reference=reference_, status=status_, case_reference=case_ref,
                message_id=message.id, channel=message.channel,
            )
        )  # fmt: skip
    return Notice(message, case_ref)


def survey(
    session: Session, case: CaseRef, *, channel: str | None = None, template: str = SURVEY_TEMPLATE
) -> Message:
    """Send the satisfaction survey of a resolved (or closed) case, under the ``surveys``
    purpose (the party's objection or refusal applies: :class:`~xrm.Undeliverable`). The
    template sees ``data.case`` and ``data.subject``; the party answers with a score from
    1 to 5 (a reply starting with the digit is read as the answer)."""
    flow = config_of(session).workflow
    row = _row(session, case)
    if row.status not in flow.done:
        raise Conflict(f"case {reference_of(row.id)} is {row.status}: survey it once resolved")
    if row.survey_status == "sent":
        raise Conflict(f"case {reference_of(row.id)} was already surveyed")
    data = {"case": reference_of(row.id), "subject": row.subject}
    with session.atomic(), busy(session):
        message = session.messages.send(
            row.party_id, template, purpose="surveys", data=data, channel=channel
        )
        if message.interaction_id is not None:
            link_interaction(
                session, row.id, message.interaction_id, link="survey", message_id=message.id
            )
        row.survey_sent_at = utcnow()
        row.survey_status = "sent"
        session.journal(
            SurveySent(
                entity_id=row.id, parties=(row.party_id,), reference=reference_of(row.id),
                message_id=message.id, channel=message.channel,
            )
        )  # fmt: skip
        session.db.flush()
    return message


@attrs.frozen
class SurveyRun:
    """What :func:`send_surveys` did: the cases surveyed, and those refused with why."""

    sent: tuple[str, ...]
    refused: Mapping[str, str]


def send_surveys(
    session: Session,
    *,
    now: dt.datetime | None = None,
    delay: dt.timedelta = dt.timedelta(hours=1),
    limit: int = 500,
) -> SurveyRun:
    """Survey every case resolved at least ``delay`` ago and never surveyed (at most
    ``limit``); a party the ledger does not allow is left out (``refused``, not asked
    again)."""
    flow = config_of(session).workflow
    moment = utcnow() if now is None else now
    query = (
        select(CaseRow.id)
        .where(
            CaseRow.status.in_(flow.done),
            CaseRow.survey_status.is_(None),
            CaseRow.resolved_at <= moment - delay,
        )
        .order_by(CaseRow.resolved_at, CaseRow.id)
        .limit(limit)
    )
    sent: list[str] = []
    refused: dict[str, str] = {}
    for case_id in list(session.db.scalars(query)):
        try:
            survey(session, case_id)
            sent.append(reference_of(case_id))
        except Undeliverable as exc:
            row = session.db.get(CaseRow, case_id)
            assert row is not None
            row.survey_status = "refused"
            refused[reference_of(case_id)] = exc.code
    session.db.flush()
    return SurveyRun(tuple(sent), refused)


def answer_survey(
    session: Session,
    case: CaseRef,
    score: int,
    comment: str | None = None,
    *,
    at: dt.datetime | None = None,
) -> Case:
    """Store the party's answer: ``score`` from 1 to 5 and an optional ``comment`` (the
    latest answer stands)."""
    errors: list[FieldError] = []
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        errors.append(FieldError("score", f"must be a whole number from 1 to 5, got {score!r}"))
    comment_ = _text(comment, "comment", 4000, errors)
    if errors:
        raise ValidationError(errors)
    row = _row(session, case)
    with session.atomic():
        row.satisfaction = score
        row.satisfaction_comment = comment_
        row.satisfaction_at = at or utcnow()
        row.version += 1
        session.journal(
            SurveyAnswered(
                entity_id=row.id, parties=(row.party_id,), reference=reference_of(row.id),
                score=score, comment=comment_,
            )
        )  # fmt: skip
        session.db.flush()
    return _of(session, row)
