"""Reads straight to the driver (server/rawsql.py) give what the ORM gives, on both databases."""

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import bindparam, inspect, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from server.db import create_engine, create_read_engine, open_engine, utcnow
from server.orm import QuestionRow, UserRow
from server.rawsql import LOOP_READ_STEPS, RawQuery, driver_connection
from shared.enums import QuestionStatus, UserType

USER_BY_ID = RawQuery(
    select(*(getattr(UserRow, column.key) for column in inspect(UserRow).column_attrs)).where(
        UserRow.id == bindparam("user_id")
    )
)
# An enum and a datetime as parameters, and a LIMIT/OFFSET the dialect fills in itself.
QUESTIONS_SINCE = RawQuery(
    select(QuestionRow.id, QuestionRow.status, QuestionRow.created_at)
    .where(
        QuestionRow.status == bindparam("status"),
        QuestionRow.created_at >= bindparam("since"),
    )
    .order_by(QuestionRow.id)
    .limit(10)
    .offset(1)
)


@contextlib.asynccontextmanager
async def readers_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The engine the server reads with: SQLite's read-only one, whose hot reads run in the
    loop's thread; PostgreSQL's one pool."""
    engine = create_read_engine(database_url) or create_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


def patient(**columns: object) -> dict[str, object]:
    """A patient's row: an active one unless `columns` say otherwise."""
    email = str(columns.get("email", "p@example.org"))
    row: dict[str, object] = {
        "full_name": "P",
        "email": email,
        "email_key": email.lower(),
        "usertype": UserType.patient,
        "is_active": True,
        "password_hash": "x",
    }
    return row | columns


async def test_rows_are_the_orms_values(database_url: str) -> None:
    created = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    async with open_engine(database_url) as engine:
        async with engine.begin() as connection:
            await connection.execute(
                UserRow.__table__.insert(),
                patient(
                    full_name="Ada Ørsted",
                    email="Ada@Example.org",
                    is_active=False,
                    record_number="MRN-1",
                    created_at=created,
                    updated_at=created,
                ),
            )
        async with engine.connect() as connection:
            (user_id,) = (await connection.execute(select(UserRow.id))).one()
        async with engine.connect() as connection:
            orm = (await connection.execute(USER_BY_ID.statement, {"user_id": user_id})).one()
        async with driver_connection(engine) as reader:
            raw = await USER_BY_ID.one_or_none(reader, user_id=user_id)
            missing = await USER_BY_ID.one_or_none(reader, user_id=user_id + 1)
        async with readers_engine(database_url) as reads, driver_connection(reads) as reader:
            read_by_the_server = await USER_BY_ID.one_or_none(reader, user_id=user_id)
    assert raw == dict(orm._mapping)
    assert read_by_the_server == raw  # SQLite: in the loop's thread (LoopSqliteReader)
    # Typed as the model declares, not as the driver stores: an enum, a bool, an aware time.
    assert raw["usertype"] is UserType.patient
    assert raw["is_active"] is False
    assert raw["created_at"] == created
    assert raw["created_at"].tzinfo is not None
    assert missing is None


async def test_parameters_are_converted_by_their_types(database_url: str) -> None:
    async with open_engine(database_url) as engine:
        async with engine.begin() as connection:
            await connection.execute(UserRow.__table__.insert(), patient())
            (patient_id,) = (await connection.execute(select(UserRow.id))).one()
            now = utcnow()
            await connection.execute(
                QuestionRow.__table__.insert(),
                [
                    {
                        "patient_id": patient_id,
                        "question_text": f"Q{number}",
                        "status": QuestionStatus.answered
                        if number == 2
                        else QuestionStatus.pending,
                        "created_at": now + timedelta(seconds=number),
                        "updated_at": now,
                    }
                    for number in range(5)
                ],
            )
        async with driver_connection(engine) as reader:
            rows = await QUESTIONS_SINCE.all(
                reader, status=QuestionStatus.pending, since=now + timedelta(seconds=1)
            )
    # Pending from the second second on: questions 1, 3, 4; OFFSET 1 leaves 3 and 4.
    assert [row["status"] for row in rows] == [QuestionStatus.pending] * 2
    assert [row["created_at"] for row in rows] == [
        now + timedelta(seconds=3),
        now + timedelta(seconds=4),
    ]


async def test_a_list_parameter_is_refused_when_compiled(tmp_path: Path) -> None:
    listing = RawQuery(select(UserRow.id).where(UserRow.id.in_(bindparam("ids", expanding=True))))
    async with (
        open_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}") as engine,
        driver_connection(engine) as reader,
    ):
        with pytest.raises(TypeError, match="IN"):
            await listing.all(reader, ids=[1, 2])


# Counts to `n` the slow way: one step of SQLite's machine after another.
COUNTING = select(literal_column("n")).select_from(
    text(
        "(WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < :upto) "
        "SELECT max(n) AS n FROM c) AS counted"
    )
)
COUNTED = RawQuery(COUNTING)


async def test_a_long_statement_is_not_run_in_the_loops_thread(database_url: str) -> None:
    """A statement past the loop reader's budget is interrupted there and run again in a
    pooled connection's thread; its caller sees only its rows."""
    async with open_engine(database_url) as engine, engine.begin():
        pass  # the database and its tables exist
    async with readers_engine(database_url) as reads, driver_connection(reads) as reader:
        assert await COUNTED.all(reader, upto=10) == [{"n": 10}]
        many = 10 * LOOP_READ_STEPS
        assert await COUNTED.all(reader, upto=many) == [{"n": many}]
        assert await COUNTED.all(reader, upto=20) == [{"n": 20}]  # and the loop's again
