"""Supplier evaluations: a rating from 1 to 5 on a day, kept in ``suppliers_evaluation``."""

from __future__ import annotations

import datetime as dt

import attrs
from sqlalchemy import select, update

from xrm import Party, Role, Session
from xrm.errors import FieldError, ValidationError
from xrm.tables import utcnow
from xrm_suppliers._models import SupplierEvaluationRow
from xrm_suppliers._supplier_role import SUPPLIER

__all__ = ["EVALUATED", "Evaluation", "evaluate", "evaluations", "give_back", "move_to_survivor"]

#: the journal event written by :func:`evaluate`
EVALUATED = "suppliers.evaluated"

_COMMENT_LIMIT = 4000
_EVALUATOR_LIMIT = 200


@attrs.frozen
class Evaluation:
    """One evaluation of a supplier, as stored."""

    id: int
    party_id: int
    evaluated_on: dt.date
    rating: int
    comment: str | None
    #: who evaluated: given to :func:`evaluate`, else the unit of work's actor
    evaluator: str | None
    created_at: dt.datetime

    @classmethod
    def of(cls, row: SupplierEvaluationRow) -> Evaluation:
        return cls(
            id=row.id,
            party_id=row.party_id,
            evaluated_on=row.evaluated_on,
            rating=row.rating,
            comment=row.comment,
            evaluator=row.evaluator,
            created_at=row.created_at,
        )


def evaluate(
    session: Session,
    supplier: int | Party,
    rating: int,
    comment: str | None = None,
    evaluated_on: dt.date | None = None,
    *,
    evaluator: str | None = None,
) -> Evaluation:
    """Record an evaluation of ``supplier`` (a party holding a current ``supplier`` role, in
    any state) and return it.

    ``rating`` is a whole number from 1 to 5; ``evaluated_on`` defaults to today and may not
    be later; ``evaluator`` defaults to the unit of work's actor. In the same unit of work,
    the role's ``rating`` attribute becomes the rating of the supplier's latest evaluation
    (by ``evaluated_on``, then by recording order: back-dating an older evaluation leaves it
    as it was) through ``session.roles.update``, and a ``suppliers.evaluated`` event goes
    to the journal, so the evaluation shows in the supplier's timeline.

    Input is checked before anything is written (:class:`~xrm.ValidationError` with a field
    path; :class:`~xrm.NotFound` for an unknown party). The call is atomic: if it raises,
    what it wrote is undone and the unit of work may go on.
    """
    rating, comment, evaluator, day = _checked(session, rating, comment, evaluator, evaluated_on)
    party = session.parties.get(supplier)
    role = session.roles.current(party, SUPPLIER.name)
    if role is None:
        raise ValidationError.single(
            "supplier",
            f"party {party.id} ({party.display_name!r}) holds no current supplier role",
        )
    with session.db.begin_nested():
        row = SupplierEvaluationRow(
            party_id=party.id,
            evaluated_on=day,
            rating=rating,
            comment=comment,
            evaluator=evaluator,
            created_at=utcnow(),
        )
        session.db.add(row)
        session.db.flush()
        latest = _latest_rating(session, party.id)
        _set_role_rating(session, role, latest)
        session.record_event(
            EVALUATED,
            parties=[party.id],
            data={
                "evaluation_id": row.id,
                "rating": rating,
                "comment": comment,
                "evaluated_on": day,
                "evaluator": evaluator,
                "current_rating": latest,
            },
            entity=SupplierEvaluationRow.__tablename__,
            entity_id=row.id,
            # a back-dated evaluation takes its place in the timeline
            occurred_at=_start_of(day) if day < dt.date.today() else None,
        )
        return Evaluation.of(row)


def evaluations(session: Session, supplier: int | Party) -> list[Evaluation]:
    """Every evaluation of ``supplier``, latest first (by ``evaluated_on``, then newest
    recorded first), whether or not it still holds a supplier role."""
    party = session.parties.get(supplier)
    query = (
        select(SupplierEvaluationRow)
        .where(SupplierEvaluationRow.party_id == party.id)
        .order_by(SupplierEvaluationRow.evaluated_on.desc(), SupplierEvaluationRow.id.desc())
    )
    return [Evaluation.of(row) for row in session.db.scalars(query)]


def _checked(
    session: Session,
    rating: object,
    comment: object,
    evaluator: object,
    evaluated_on: object,
) -> tuple[int, str | None, str | None, dt.date]:
    errors: list[FieldError] = []
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        errors.append(FieldError("rating", f"must be a whole number from 1 to 5, got {rating!r}"))
    comment_ = _text(comment, "comment", _COMMENT_LIMIT, errors)
    evaluator_ = _text(evaluator, "evaluator", _EVALUATOR_LIMIT, errors) or session.actor
    today = dt.date.today()
    day = today
    if evaluated_on is not None:
        if isinstance(evaluated_on, dt.datetime) or not isinstance(evaluated_on, dt.date):
            errors.append(FieldError("evaluated_on", f"must be a date, got {evaluated_on!r}"))
        elif evaluated_on > today:
            errors.append(
                FieldError("evaluated_on", f"{evaluated_on.isoformat()} is in the future")
            )
        else:
            day = evaluated_on
    if errors:
        raise ValidationError(errors)
    assert isinstance(rating, int)
    return rating, comment_, evaluator_, day


def _text(value: object, field: str, limit: int, errors: list[FieldError]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        errors.append(FieldError(field, "must be text"))
        return None
    cleaned = value.strip()
    if len(cleaned) > limit:
        errors.append(FieldError(field, f"is longer than {limit} characters"))
    return cleaned or None


def _latest_rating(session: Session, party_id: int) -> int:
    latest = session.db.scalar(
        select(SupplierEvaluationRow.rating)
        .where(SupplierEvaluationRow.party_id == party_id)
        .order_by(SupplierEvaluationRow.evaluated_on.desc(), SupplierEvaluationRow.id.desc())
        .limit(1)
    )
    assert latest is not None  # the caller has just written one
    return int(latest)


def _set_role_rating(session: Session, role: Role, rating: int) -> None:
    if role.attributes.get("rating") != rating:
        session.roles.update(role, {**role.attributes, "rating": rating})


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def move_to_survivor(
    session: Session, survivor: Party, duplicate: Party
) -> dict[str, list[int]] | None:
    """A merge: the duplicate's evaluations become the survivor's. Returns their ids, for
    :func:`give_back`."""
    table = SupplierEvaluationRow
    ids = list(session.db.scalars(select(table.id).where(table.party_id == duplicate.id)))
    if not ids:
        return None
    session.db.execute(update(table).where(table.id.in_(ids)).values(party_id=survivor.id))
    return {"evaluations": ids}


def give_back(session: Session, survivor: Party, duplicate: Party, moved: object) -> None:
    """An unmerge: the evaluations a merge moved (and still on the survivor) go back."""
    if not isinstance(moved, dict) or not moved.get("evaluations"):
        return
    table = SupplierEvaluationRow
    session.db.execute(
        update(table)
        .where(table.id.in_(moved["evaluations"]), table.party_id == survivor.id)
        .values(party_id=duplicate.id)
    )
