"""The conventions every endpoint follows: errors, ids, lists, cursors, health, OpenAPI."""

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from server.pagination import encode_cursor
from tests.server.conftest import Practice
from tests.server.problems import field_problem, problem


async def test_unknown_routes_and_methods_are_problems(client: TestClient) -> None:
    await problem(await client.get("/api/does-not-exist"), 404)
    await problem(await client.get("/"), 404)
    response = await client.delete("/api/health")
    await problem(response, 405)
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("bad_id", ["0", "-1", "abc", "1.5", "9223372036854775808", "١٢"])
async def test_ids_outside_the_range_are_404(
    client: TestClient, practice: Practice, bad_id: str
) -> None:
    patient = await practice.patient()
    for path in (
        f"/api/questions/{bad_id}",
        f"/api/unique_xray/{bad_id}",
        f"/api/xrays/{bad_id}/image",
        f"/api/admin/users/{bad_id}",
    ):
        actor = practice.admin if "admin" in path else patient
        await problem(await client.get(path, headers=actor.headers), 404)


async def test_biggest_id_is_valid_but_absent(client: TestClient, practice: Practice) -> None:
    patient = await practice.patient()
    await problem(
        await client.get("/api/questions/9223372036854775807", headers=patient.headers), 404
    )


async def test_bodies_that_are_not_json_objects_are_400(
    client: TestClient, practice: Practice
) -> None:
    patient = await practice.patient()
    for body in (b"", b"{", b"[]", b"42", b'"text"', b"\xff\xfe"):
        await problem(await client.post("/api/questions", headers=patient.headers, data=body), 400)
    await field_problem(
        await client.post("/api/questions", headers=patient.headers, json={"question_text": None}),
        "question_text",
    )


async def test_pages_walk_every_item_once(client: TestClient, practice: Practice) -> None:
    patient = await practice.patient()
    for number in range(7):
        await client.post(
            "/api/questions", headers=patient.headers, json={"question_text": f"Q{number}"}
        )
    seen: list[str] = []
    cursor: str | None = None
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page: dict[str, Any] = await (
            await client.get(f"/api/questions{query}", headers=patient.headers)
        ).json()
        assert len(page["items"]) <= 3
        seen += [question["question_text"] for question in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"Q{number}" for number in reversed(range(7))]


@pytest.mark.parametrize("limit", ["0", "201", "-5", "many", ""])
async def test_limits_outside_1_to_200_are_422(
    client: TestClient, practice: Practice, limit: str
) -> None:
    patient = await practice.patient()
    await field_problem(
        await client.get(f"/api/questions?limit={limit}", headers=patient.headers), "limit"
    )


@pytest.mark.parametrize("cursor", ["garbage", "eyJ4IjogMX0", "bm90IGpzb24", "%%%"])
async def test_garbled_cursors_are_400(client: TestClient, practice: Practice, cursor: str) -> None:
    patient = await practice.patient()
    await problem(await client.get(f"/api/questions?cursor={cursor}", headers=patient.headers), 400)


async def test_cursors_past_the_database_integers_are_pages_not_errors(
    client: TestClient, practice: Practice
) -> None:
    # A cursor is base64 JSON: one this server never gave can still decode to any integer,
    # which the database's 64-bit ids cannot hold. Past the last id, the page is empty; before
    # the first, newest first, everything is after it.
    patient = await practice.patient()
    await client.post("/api/questions", headers=patient.headers, json={"question_text": "Q"})
    huge, negative = encode_cursor(2**70), encode_cursor(-(2**70))
    everything = await client.get(f"/api/questions?cursor={huge}", headers=patient.headers)
    assert everything.status == 200, await everything.text()
    assert [item["question_text"] for item in (await everything.json())["items"]] == ["Q"]
    nothing = await client.get(f"/api/questions?cursor={negative}", headers=patient.headers)
    assert nothing.status == 200, await nothing.text()
    assert (await nothing.json())["items"] == []
    # The same for a list read through the ORM (the patient's own access log).
    log = await client.get(f"/api/profile/access_log?cursor={huge}", headers=patient.headers)
    assert log.status == 200, await log.text()
    assert (await log.json())["items"]
    log = await client.get(f"/api/profile/access_log?cursor={negative}", headers=patient.headers)
    assert log.status == 200, await log.text()
    assert (await log.json())["items"] == []


async def test_health(client: TestClient) -> None:
    response = await client.get("/api/health")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "database": "ok", "storage": "ok"}


async def test_openapi_describes_every_route(client: TestClient, app: web.Application) -> None:
    document = await (await client.get("/api/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    routes = {
        (route.resource.canonical, route.method.lower())
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    described = {
        (path, method) for path, operations in document["paths"].items() for method in operations
    }
    assert routes == described
    assert len(routes) >= 30
    upload = document["paths"]["/api/xrays"]["post"]
    assert {"201", "401", "413", "415"} <= set(upload["responses"])
    form = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["image"]["format"] == "binary"
    assert {"image", "name_of_xray", "type_of_xray"} <= set(form["required"])
    login = document["paths"]["/api/login"]["post"]
    schema_name = login["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit(
        "/", 1
    )[1]
    assert set(document["components"]["schemas"][schema_name]["properties"]) == {
        "email",
        "password",
    }
