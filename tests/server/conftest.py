"""Server test fixtures: the real app on a migrated database, and the people of a practice."""

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from server.app import create_app
from server.db import one_session
from server.security import PasswordHasher
from server.settings import Settings
from server.users import create_user
from shared.enums import UserType
from tests.conftest import FakeClock

ClientFactory = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]
PASSWORD = "correct horse battery"


@dataclass
class Actor:
    """A logged-in person: their user record and the headers that carry their token."""

    user: dict[str, Any]
    token: str
    headers: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.headers = {"Authorization": f"Bearer {self.token}"}

    @property
    def id(self) -> int:
        return int(self.user["id"])


class Practice:
    """Creates and logs in patients, doctors and admins through the API."""

    def __init__(self, client: TestClient[web.Request, web.Application], admin: Actor) -> None:
        self.client = client
        self.admin = admin
        self._numbers = itertools.count(1)

    async def login(self, email: str, password: str = PASSWORD) -> Actor:
        response = await self.client.post("/api/login", json={"email": email, "password": password})
        assert response.status == 200, await response.text()
        body = await response.json()
        return Actor(user=body["user"], token=body["access_token"])

    async def person(self, usertype: UserType, name: str | None = None) -> Actor:
        number = next(self._numbers)
        email = f"{usertype}{number}@practice.example"
        response = await self.client.post(
            "/api/admin/users",
            headers=self.admin.headers,
            json={
                "full_name": name or f"{usertype.title()} {number}",
                "email": email,
                "phone": f"+1 555 {number:04d}",
                "usertype": usertype,
                "password": PASSWORD,
            },
        )
        assert response.status == 201, await response.text()
        return await self.login(email)

    async def patient(self, name: str | None = None) -> Actor:
        return await self.person(UserType.patient, name)

    async def doctor(self, name: str | None = None) -> Actor:
        return await self.person(UserType.doctor, name)


async def bootstrap_admin(settings: Settings) -> None:
    """The first admin, created the way an operator does (`create-user`), not via the API."""
    async with one_session(settings.database_url) as db:
        await create_user(
            db,
            PasswordHasher.for_settings(settings),
            full_name="First Admin",
            email="admin@practice.example",
            phone="+1 555 0000",
            usertype=UserType.admin,
            password=PASSWORD,
            is_active=True,
        )
        await db.commit()


@pytest.fixture
async def app(settings: Settings, clock: FakeClock) -> web.Application:
    return create_app(settings, clock=clock)


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, app: web.Application, settings: Settings
) -> TestClient[web.Request, web.Application]:
    await bootstrap_admin(settings)
    return await aiohttp_client(app)


@pytest.fixture
async def practice(client: TestClient[web.Request, web.Application]) -> Practice:
    admin_response = await client.post(
        "/api/login", json={"email": "admin@practice.example", "password": PASSWORD}
    )
    body = await admin_response.json()
    return Practice(client, Actor(user=body["user"], token=body["access_token"]))
