"""The migrations build exactly the schema the ORM models describe, on both databases."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from server.db import Base, open_engine
from server.migrate import alembic_config, current_revision, head_revision


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _foreign_keys(connection: Connection) -> list[dict[str, object]]:
    inspector = inspect(connection)
    return [fk for table in inspector.get_table_names() for fk in inspector.get_foreign_keys(table)]


async def test_schema_matches_the_models_and_never_cascades(database_url: str) -> None:
    async with open_engine(database_url) as engine:
        # One connection at a time: the SQLite engine's pool holds a single one.
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
            foreign_keys = await connection.run_sync(_foreign_keys)
    assert len(foreign_keys) >= 10
    for foreign_key in foreign_keys:
        assert (foreign_key.get("options") or {}).get("ondelete", "RESTRICT") != "CASCADE"


def test_downgrade_and_upgrade_again(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite+aiosqlite:///{tmp_path / 'cycle.db'}"
    config = alembic_config(url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    command.upgrade(config, "head")
