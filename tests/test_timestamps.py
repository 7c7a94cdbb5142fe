"""Timestamps are stored as naive UTC and read back as aware UTC, equal to what was
written, through the ORM and through the lean read paths alike."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from xrm import XRM
from xrm.core.models import PartyRow, UTCDateTime

moments = st.datetimes(
    min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
    timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30))]),
)  # fmt: skip


@given(moment=moments)
def test_the_read_converter_gives_back_the_written_moment_in_utc(moment: dt.datetime) -> None:
    for dialect in (sqlite.dialect(), postgresql.psycopg.dialect()):
        kind = UTCDateTime().dialect_impl(dialect)
        bind = kind.bind_processor(dialect) or (lambda v: v)
        read = kind.result_processor(dialect, None)
        assert read is not None
        back = read(bind(kind.process_bind_param(moment, dialect)))
        assert back == moment
        assert back is not None and back.tzinfo is dt.UTC


def test_other_stored_forms_on_sqlite_are_read_as_sqlalchemy_reads_them() -> None:
    dialect = sqlite.dialect()
    read = UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)
    assert read is not None
    assert read(None) is None
    assert read("2026-11-29 21:04:11") == dt.datetime(2026, 11, 29, 21, 4, 11, tzinfo=dt.UTC)
    assert read("2026-11-29") == dt.datetime(2026, 11, 29, tzinfo=dt.UTC)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moment=moments)
def test_a_party_reads_back_the_moment_stored(app: XRM, moment: dt.datetime) -> None:
    with app.session() as s:
        party = s.parties.create("person", "Ada")
        s.db.execute(update(PartyRow).where(PartyRow.id == party.id).values(updated_at=moment))
    with app.session() as s:
        lean = s.parties.get(party.id)  # the lean path
        orm = s.db.scalar(select(PartyRow).where(PartyRow.id == party.id))
        assert orm is not None
        assert lean.updated_at == orm.updated_at == moment
        assert lean.updated_at.tzinfo is dt.UTC
        stored = s.db.execute(
            text("SELECT updated_at FROM party WHERE id = :id"), {"id": party.id}
        ).scalar_one()
        assert stored.tzinfo is None if isinstance(stored, dt.datetime) else len(stored) == 26
