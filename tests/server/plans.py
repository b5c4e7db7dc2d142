"""What the database planner does with a statement the server runs."""

from typing import Any

from sqlalchemy import Select

from server.db import one_session


async def assert_reads_index(
    database_url: str, statement: Select[Any], index: str, **values: object
) -> None:
    """The statement, with its parameters bound as the driver binds them (`values` for its
    named ones), reads `index` (PostgreSQL with sequential scans off, so that a small test
    table does not hide it)."""
    async with one_session(database_url) as db:
        connection = await db.connection()
        compiled = statement.compile(dialect=connection.dialect)
        bound = compiled.construct_params(values)
        parameters = tuple(bound[name] for name in compiled.positiontup or ())
        if connection.dialect.name == "sqlite":
            explain = "EXPLAIN QUERY PLAN "
        else:
            explain = "EXPLAIN "
            await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = (await connection.exec_driver_sql(explain + str(compiled), parameters)).all()
    assert index in " ".join(str(row) for row in plan), plan
