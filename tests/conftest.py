"""Fixtures shared by every test: the database backends and server settings."""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.settings import Settings
from tests.databases import (
    PostgresDatabase,
    empty_postgres,
    fresh_sqlite,
    migrated_sqlite_template,
)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    database = PostgresDatabase()
    url = database.start()
    yield url
    database.stop()


@pytest.fixture(params=BACKENDS)
async def database_url(
    request: pytest.FixtureRequest,
    sqlite_template: Path,
    postgres_url: str | None,
    tmp_path: Path,
) -> str:
    """A migrated, empty database: every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return fresh_sqlite(sqlite_template, tmp_path)
    if postgres_url is None:
        pytest.skip("no PostgreSQL: set MEDSYS_TEST_POSTGRES_URL or run one on 127.0.0.1:5432")
    await empty_postgres(postgres_url)
    return postgres_url


def make_settings(data_dir: Path, database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "storage_dir": data_dir / "storage",
        "secret_key": "test-secret-key-that-is-long-enough-for-hs256-and-hs512-too-0123456789",
        # Cheap hashing keeps the suite fast; the production cost is passlib's default.
        "argon2_memory_kib": 64,
        "argon2_time_cost": 1,
        "max_upload_bytes": 4 * 1024 * 1024,
        "max_image_pixels": 4_000_000,
        "max_decoded_bytes": 8 * 1024 * 1024,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@dataclass
class FakeClock:
    """A clock the test moves by hand, to step past idle timeouts without sleeping."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC))
