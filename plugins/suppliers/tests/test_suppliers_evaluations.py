"""Supplier evaluations: the table and its migration, evaluate / evaluations, the report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import xrm_suppliers
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError
from xrm_suppliers import SupplierEvaluationRow, average_ratings, evaluate, evaluations

from xrm import XRM, NotFound, Party, ValidationError
from xrm.tables import Base
from xrm.testing import snapshot

TABLE = "suppliers_evaluation"
TODAY = dt.date.today()
db_settings = settings(
    deadline=None, max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def app(xrm_factory: Callable[..., XRM]) -> XRM:
    return xrm_factory(plugins=[xrm_suppliers], discover=False)


def supplier(app: XRM, name: str = "Acme", state: str = "approved") -> Party:
    with app.session() as s:
        party = s.parties.create("organization", name)
        role = s.roles.assign(party, "supplier", state="approved" if state != "candidate" else None)
        if state not in ("approved", "candidate"):
            s.roles.transition(role, state)
    return party


# -- the table and its migration ---------------------------------------------------------


def test_upgrade_creates_the_table_on_the_plugins_own_branch(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'xrm.db'}"
    core = XRM(url, discover=False)
    core.upgrade()
    assert TABLE not in inspect(core.engine).get_table_names()
    core.dispose()

    app = XRM(url, plugins=[xrm_suppliers], discover=False)
    try:
        assert not app.schema_is_current()
        app.upgrade()
        assert app.schema_is_current()
        assert TABLE in inspect(app.engine).get_table_names()
        with app.engine.connect() as conn:
            heads = set(MigrationContext.configure(conn).get_current_heads())
        assert "suppliers_0001" in heads
    finally:
        app.dispose()


def test_the_migrated_table_matches_the_model(app: XRM) -> None:
    def ours(name: str | None, type_: str, parent: Any) -> bool:
        return type_ != "table" or (name or "").startswith("suppliers_")

    def our_objects(obj: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
        return ours(name, type_, None)

    with app.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "include_name": ours, "include_object": our_objects},
        )
        assert compare_metadata(context, Base.metadata) == []
        columns = {c["name"] for c in inspect(conn).get_columns(TABLE)}
        checks = inspect(conn).get_check_constraints(TABLE)
        foreign = inspect(conn).get_foreign_keys(TABLE)
        primary = inspect(conn).get_pk_constraint(TABLE)
    assert columns == {
        "id",
        "party_id",
        "evaluated_on",
        "rating",
        "comment",
        "evaluator",
        "created_at",
    }
    assert [c["name"] for c in checks] == ["ck_suppliers_evaluation_rating"]
    assert [
        (f["name"], f["referred_table"], f["referred_columns"], f["options"].get("ondelete"))
        for f in foreign
    ] == [("fk_suppliers_evaluation_party_id_party", "party", ["id"], "CASCADE")]
    assert primary["name"] == "pk_suppliers_evaluation"


@pytest.mark.parametrize("rating", [0, 6, -1])
def test_the_database_refuses_a_rating_outside_one_to_five(app: XRM, rating: int) -> None:
    acme = supplier(app)
    before = snapshot(app)
    with pytest.raises(IntegrityError, match="ck_suppliers_evaluation_rating"), app.session() as s:
        s.db.add(
            SupplierEvaluationRow(
                party_id=acme.id,
                evaluated_on=TODAY,
                rating=rating,
                created_at=dt.datetime.now(dt.UTC),
            )
        )
        s.db.flush()
    assert snapshot(app) == before


# -- evaluate ----------------------------------------------------------------------------


def test_an_evaluation_is_stored_rates_the_role_and_shows_in_the_timeline(app: XRM) -> None:
    acme = supplier(app)
    with app.session(actor="buyer@us.example") as s:
        evaluation = evaluate(s, acme, 4, "  on time, one damaged pallet ")
    assert (evaluation.party_id, evaluation.rating, evaluation.evaluated_on) == (acme.id, 4, TODAY)
    assert (evaluation.comment, evaluation.evaluator) == (
        "on time, one damaged pallet",
        "buyer@us.example",
    )
    with app.session() as s:
        assert evaluations(s, acme) == [evaluation]
        role = s.roles.current(acme, "supplier")
        assert role is not None and role.attributes["rating"] == 4
        entries = {e.type: e for e in s.timeline(acme)}
    event = entries["suppliers.evaluated"]
    assert (event.entity, event.entity_id, event.actor) == (
        TABLE,
        evaluation.id,
        "buyer@us.example",
    )
    assert event.data == {
        "evaluation_id": evaluation.id,
        "rating": 4,
        "comment": "on time, one damaged pallet",
        "evaluated_on": TODAY.isoformat(),
        "evaluator": "buyer@us.example",
        "current_rating": 4,
    }
    assert entries["role.updated"].data["to"]["rating"] == 4


def test_an_evaluator_given_is_kept_and_blank_comments_are_none(app: XRM) -> None:
    acme = supplier(app)
    with app.session(actor="import-job") as s:
        evaluation = evaluate(s, acme, 3, "   ", evaluator=" Quality team ")
    assert (evaluation.comment, evaluation.evaluator) == (None, "Quality team")


def test_the_role_rating_is_the_latest_evaluation_by_date(app: XRM) -> None:
    acme = supplier(app)
    with app.session() as s:
        evaluate(s, acme, 2, "late", TODAY - dt.timedelta(days=10))
        evaluate(s, acme, 5, "back-dated, older", TODAY - dt.timedelta(days=400))
        assert rating_of(s, acme) == 2
        evaluate(s, acme, 4, "same day, recorded later", TODAY - dt.timedelta(days=10))
        assert rating_of(s, acme) == 4
        evaluate(s, acme, 1, "today")
        assert rating_of(s, acme) == 1
        assert [e.comment for e in evaluations(s, acme)] == [
            "today",
            "same day, recorded later",
            "late",
            "back-dated, older",
        ]


def test_a_back_dated_evaluation_takes_its_place_in_the_timeline(app: XRM) -> None:
    acme = supplier(app)
    day = TODAY - dt.timedelta(days=30)
    with app.session() as s:
        evaluate(s, acme, 3, evaluated_on=day)
        [entry] = s.timeline(acme, types=["suppliers.evaluated"])
    assert entry.occurred_at == dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


@pytest.mark.parametrize("state", ["candidate", "suspended", "blocked"])
def test_a_supplier_is_evaluated_in_any_state(app: XRM, state: str) -> None:
    acme = supplier(app, state=state)
    with app.session() as s:
        evaluate(s, acme, 1, f"while {state}")
        assert rating_of(s, acme) == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rating": 0}, "rating"),
        ({"rating": 6}, "rating"),
        ({"rating": True}, "rating"),
        ({"rating": 4.0}, "rating"),
        ({"rating": "4"}, "rating"),
        ({"evaluated_on": TODAY + dt.timedelta(days=1)}, "evaluated_on"),
        ({"evaluated_on": dt.datetime.now(dt.UTC)}, "evaluated_on"),
        ({"evaluated_on": TODAY.isoformat()}, "evaluated_on"),
        ({"comment": "x" * 4001}, "comment"),
        ({"comment": 12}, "comment"),
        ({"evaluator": "x" * 201}, "evaluator"),
    ],
)
def test_invalid_input_is_refused_with_its_field_and_nothing_is_written(
    app: XRM, kwargs: dict[str, Any], field: str
) -> None:
    acme = supplier(app)
    before = snapshot(app)
    arguments: dict[str, Any] = {"rating": 3, **kwargs}
    with pytest.raises(ValidationError) as err, app.session() as s:
        evaluate(s, acme, **arguments)
    assert err.value.fields == [field]
    assert snapshot(app) == before


def test_a_party_without_a_current_supplier_role_is_not_evaluated(app: XRM) -> None:
    with app.session() as s:
        stranger = s.parties.create("organization", "Stranger")
        former = s.parties.create("organization", "Former")
        s.roles.end(s.roles.assign(former, "supplier"))
    before = snapshot(app)
    for party, name in ((stranger, "Stranger"), (former, "Former")):
        with pytest.raises(ValidationError) as err, app.session() as s:
            evaluate(s, party, 3)
        assert err.value.fields == ["supplier"]
        assert f"party {party.id} ('{name}') holds no current supplier role" in str(err.value)
    with pytest.raises(NotFound), app.session() as s:
        evaluate(s, 10_000, 3)
    with pytest.raises(NotFound), app.session() as s:
        evaluations(s, 10_000)
    assert snapshot(app) == before


def test_a_refused_evaluation_leaves_the_rest_of_the_unit_of_work(app: XRM) -> None:
    acme = supplier(app)
    with app.session() as s:
        evaluate(s, acme, 4)
        with pytest.raises(ValidationError):
            evaluate(s, acme, 9)
        evaluate(s, acme, 2)
    with app.session() as s:
        assert [e.rating for e in evaluations(s, acme)] == [2, 4]


@db_settings
@given(rating=st.one_of(st.integers(min_value=-3, max_value=8), st.integers()))
def test_a_rating_is_stored_if_and_only_if_it_is_one_to_five(app: XRM, rating: int) -> None:
    acme = supplier(app)
    with app.session() as s:
        try:
            evaluate(s, acme, rating)
        except ValidationError:
            assert not 1 <= rating <= 5
        else:
            assert 1 <= rating <= 5
        stored = s.db.scalar(select(func.count()).where(SupplierEvaluationRow.party_id == acme.id))
        assert stored == (1 if 1 <= rating <= 5 else 0)
        assert rating_of(s, acme) == (rating if 1 <= rating <= 5 else None)


def rating_of(s: Any, party: Party) -> Any:
    role = s.roles.current(party, "supplier")
    assert role is not None
    return role.attributes["rating"]


# -- the report --------------------------------------------------------------------------


def test_the_report_lists_every_approved_supplier_best_first(app: XRM) -> None:
    good = supplier(app, "Good")
    fair = supplier(app, "Fair")
    unrated = supplier(app, "Unrated")
    hidden = {state: supplier(app, state.title(), state) for state in ("suspended", "blocked")}
    candidate = supplier(app, "Candidate", "candidate")
    with app.session() as s:
        evaluate(s, good, 5, evaluated_on=TODAY - dt.timedelta(days=3))
        evaluate(s, good, 4)
        evaluate(s, fair, 3)
        for party in (*hidden.values(), candidate):
            evaluate(s, party, 5)
        report = average_ratings(s)
    assert [(r.party_id, r.evaluations, r.average_rating, r.last_evaluated_on) for r in report] == [
        (good.id, 2, 4.5, TODAY),
        (fair.id, 1, 3.0, TODAY),
        (unrated.id, 0, None, None),
    ]
    assert [r.display_name for r in report] == ["Good", "Fair", "Unrated"]


def test_the_report_counts_evaluations_since_a_day(app: XRM) -> None:
    acme = supplier(app)
    with app.session() as s:
        evaluate(s, acme, 1, evaluated_on=TODAY - dt.timedelta(days=100))
        evaluate(s, acme, 4, evaluated_on=TODAY - dt.timedelta(days=10))
        [all_time] = average_ratings(s)
        [recent] = average_ratings(s, since=TODAY - dt.timedelta(days=30))
        [none] = average_ratings(s, since=TODAY)
    assert (all_time.evaluations, all_time.average_rating) == (2, 2.5)
    assert (recent.evaluations, recent.average_rating) == (1, 4.0)
    assert (none.evaluations, none.average_rating, none.last_evaluated_on) == (0, None, None)


def test_a_supplier_whose_role_ended_leaves_the_report(app: XRM) -> None:
    acme = supplier(app)
    with app.session() as s:
        evaluate(s, acme, 5)
        role = s.roles.current(acme, "supplier")
        assert role is not None
        s.roles.end(role)
        assert average_ratings(s) == []
        assert len(evaluations(s, acme)) == 1


@db_settings
@given(
    ratings=st.lists(
        st.lists(
            st.tuples(st.integers(1, 5), st.integers(0, 60)),
            max_size=5,
        ),
        min_size=1,
        max_size=4,
    ),
    since_days=st.one_of(st.none(), st.integers(0, 60)),
)
def test_the_report_is_the_mean_of_each_suppliers_ratings(
    app: XRM, ratings: list[list[tuple[int, int]]], since_days: int | None
) -> None:
    since = None if since_days is None else TODAY - dt.timedelta(days=since_days)
    parties = [supplier(app, f"Supplier {i}") for i in range(len(ratings))]
    with app.session() as s:
        for party, made in zip(parties, ratings, strict=True):
            for rating, days_ago in made:
                evaluate(s, party, rating, evaluated_on=TODAY - dt.timedelta(days=days_ago))
        report = {r.party_id: r for r in average_ratings(s, since=since)}
    for party, made in zip(parties, ratings, strict=True):
        counted = [
            (rating, TODAY - dt.timedelta(days=days_ago))
            for rating, days_ago in made
            if since is None or TODAY - dt.timedelta(days=days_ago) >= since
        ]
        row = report[party.id]
        assert row.evaluations == len(counted)
        if counted:
            assert row.average_rating == pytest.approx(sum(r for r, _ in counted) / len(counted))
            assert row.last_evaluated_on == max(day for _, day in counted)
        else:
            assert (row.average_rating, row.last_evaluated_on) == (None, None)


def test_an_erased_supplier_keeps_no_comment_and_its_evaluations_are_exported(app: XRM) -> None:
    """The comment column is marked personal (a sole trader is a person): export and
    erasure read the mark, with no hook of the plugin's."""
    from xrm.testing import erasure_leftovers

    acme = supplier(app)
    with app.session() as s:
        evaluate(s, acme, 2, "Jean Martin was rude on the phone")
        tables = s.gdpr.export(acme)["tables"]
    assert [r["comment"] for r in tables["suppliers_evaluation"]] == [
        "Jean Martin was rude on the phone"
    ]
    assert erasure_leftovers(app, acme.id) == []
    with app.session() as s:
        (row,) = s.gdpr.export(acme)["tables"]["suppliers_evaluation"]
        events = s.timeline(acme, types=["suppliers.evaluated"]).items
    assert (row["comment"], row["rating"]) == ("[erased]", 2)
    assert all("rude" not in str(e.data) for e in events)
