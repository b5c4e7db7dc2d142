"""Text a client controls: NUL and other control characters are a 422 on that field on both
databases (PostgreSQL cannot store NUL), never a 500; a garbled multipart header is a 400."""

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.server.conftest import Actor, Practice
from tests.server.problems import field_problem, problem
from tests.server.uploads import form, png_bytes, upload

# (A C1 control at either end would be trimmed as blank space: it sits inside.)
HOSTILE = ["a\x00b", "bell\x07", "esc\x1b[2J", "del\x7f", "c1\x85c1"]


async def send(client: TestClient, method: str, path: str, actor: Actor | None, body: Any) -> Any:
    headers = actor.headers if actor is not None else {}
    return await client.request(method, path, headers=headers, json=body)


@pytest.mark.parametrize("text", HOSTILE)
async def test_control_characters_in_json_text_are_422_on_that_field(
    client: TestClient, practice: Practice, text: str
) -> None:
    patient, doctor = await practice.patient(), await practice.doctor()
    account = {
        "full_name": "Nul Person",
        "email": "nul@practice.example",
        "phone": "+1 555 1234",
        "usertype": "patient",
        "password": "long enough password",
    }
    history = f"/api/medical_histories_of_patient/{patient.id}"
    cases: list[tuple[str, str, Actor | None, dict[str, Any], str]] = [
        ("POST", "/api/register", None, {**account, "full_name": text}, "full_name"),
        ("POST", "/api/register", None, {**account, "phone": text}, "phone"),
        ("POST", "/api/register", None, {**account, "password": f"{text} password"}, "password"),
        ("POST", "/api/login", None, {"email": text, "password": "whatever"}, "email"),
        ("PATCH", "/api/profile", patient, {"full_name": text}, "full_name"),
        ("POST", "/api/questions", patient, {"question_text": text}, "question_text"),
        ("POST", history, doctor, {"name_of_surgery": text}, "name_of_surgery"),
        (
            "POST",
            history,
            doctor,
            {"name_of_surgery": "Hip", "description_of_surgery": text},
            "description_of_surgery",
        ),
        ("POST", "/api/admin/users", practice.admin, {**account, "full_name": text}, "full_name"),
    ]
    for method, path, actor, body, field in cases:
        await field_problem(await send(client, method, path, actor, body), field)


@pytest.mark.parametrize("text", HOSTILE)
async def test_control_characters_in_a_search_are_422_on_q(
    client: TestClient, practice: Practice, text: str
) -> None:
    doctor = await practice.doctor()
    for path in ("/api/patients", "/api/admin/users"):
        actor = doctor if path == "/api/patients" else practice.admin
        response = await client.get(path, headers=actor.headers, params={"q": text})
        await field_problem(response, "q")


async def test_control_characters_in_upload_fields_are_422_and_store_nothing(
    client: TestClient, practice: Practice
) -> None:
    patient = await practice.patient()
    response = await upload(client, patient, form(png_bytes(), name_of_xray="Chest\x00PA"))
    await field_problem(response, "name_of_xray")


async def test_a_lone_surrogate_is_not_json_text(client: TestClient, practice: Practice) -> None:
    patient = await practice.patient()
    response = await client.post(
        "/api/questions",
        headers={**patient.headers, "Content-Type": "application/json"},
        data=b'{"question_text": "lone \\ud800 surrogate"}',
    )
    await problem(response, 400)


async def test_line_breaks_and_tabs_are_text_and_windows_line_ends_become_unix_ones(
    client: TestClient, practice: Practice
) -> None:
    patient = await practice.patient()
    response = await send(
        client, "POST", "/api/questions", patient, {"question_text": "Line one\r\n\tLine two\n"}
    )
    assert response.status == 201, await response.text()
    assert (await response.json())["question_text"] == "Line one\n\tLine two"


@pytest.mark.parametrize(
    "part_header",
    [
        b'Content-Disposition: form-data; name="image"; filename="a\x00b.png"',
        b'Content-Disposition: form-data; name="image"; filename="a\x01b.png"',
        b'Content-Disposition: form-data; name="ima\x01ge"',
        b'X-Extra: a\x00b\r\nContent-Disposition: form-data; name="image"',
    ],
)
async def test_control_bytes_in_a_multipart_header_are_400(
    client: TestClient, practice: Practice, part_header: bytes
) -> None:
    patient = await practice.patient()
    body = (
        b'--B\r\nContent-Disposition: form-data; name="name_of_xray"\r\n\r\nChest\r\n'
        b'--B\r\nContent-Disposition: form-data; name="type_of_xray"\r\n\r\nchest\r\n'
        b"--B\r\n"
        + part_header
        + b"\r\nContent-Type: image/png\r\n\r\n"
        + png_bytes()
        + b"\r\n--B--\r\n"
    )
    response = await client.post(
        "/api/xrays",
        data=body,
        headers={**patient.headers, "Content-Type": "multipart/form-data; boundary=B"},
    )
    await problem(response, 400)
