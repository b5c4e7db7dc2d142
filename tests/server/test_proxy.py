"""Behind nginx: the client's address comes from X-Forwarded-For, set by a trusted proxy."""

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from server.settings import Settings
from tests.conftest import make_settings
from tests.server.conftest import Practice
from tests.server.problems import problem
from tests.server.test_audit import trail


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # The test client connects from 127.0.0.1: make it the trusted proxy (nginx).
    return make_settings(tmp_path, database_url, trusted_proxies=frozenset({"127.0.0.1"}))


async def test_behind_a_trusted_proxy_the_forwarded_address_is_recorded(
    client: TestClient, practice: Practice
) -> None:
    patient = await practice.patient()
    forged_then_real = {"X-Forwarded-For": "6.6.6.6, 203.0.113.7"}
    await client.get("/api/questions", headers={**patient.headers, **forged_then_real})
    await client.post(
        "/api/login",
        json={"email": "nobody@x.example", "password": "wrong-wrong"},
        headers=forged_then_real,
    )
    events = await trail(client, practice)
    assert events[0]["ip"] == "203.0.113.7"  # the failed login
    direct = [e for e in events if e["action"] == "login" and e["actor_id"] == patient.id]
    assert direct[0]["ip"] == "127.0.0.1"  # no header: the proxy's own address


async def test_throttling_counts_per_forwarded_address(
    client: TestClient, practice: Practice
) -> None:
    # Many clients behind one proxy are not one client: each forwarded address has its own count.
    for number in range(200):
        await client.post(
            "/api/login",
            json={"email": f"guess{number}@x.example", "password": "wrong-wrong"},
            headers={"X-Forwarded-For": "198.51.100.1"},
        )
    blocked = await client.post(
        "/api/login",
        json={"email": "another@x.example", "password": "wrong-wrong"},
        headers={"X-Forwarded-For": "198.51.100.1"},
    )
    await problem(blocked, 429)
    other = await client.post(
        "/api/login",
        json={"email": "another@x.example", "password": "wrong-wrong"},
        headers={"X-Forwarded-For": "198.51.100.2"},
    )
    await problem(other, 401)
