"""Registration, login, throttling, sessions and their ends."""

import jwt
from aiohttp.test_utils import TestClient

from tests.conftest import FakeClock
from tests.server.conftest import PASSWORD, Practice
from tests.server.problems import field_problem, problem

SECRET = "test-secret-key-that-is-long-enough-for-hs256-and-hs512-too-0123456789"


def registration(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "full_name": "Rita Register",
        "email": "Rita@Example.org",
        "phone": "+44 20 7946 0000",
        "usertype": "patient",
        "password": "long enough password",
    }
    body.update(overrides)
    return body


async def test_patient_registers_active_and_logs_in_with_any_email_case(
    client: TestClient,
) -> None:
    response = await client.post("/api/register", json=registration())
    assert response.status == 201
    user = (await response.json())["user"]
    assert user["email"] == "Rita@Example.org"  # stored as entered
    assert user["is_active"] is True
    assert user["usertype"] == "patient"
    assert "password" not in str(user)
    assert "hash" not in str(user)

    login = await client.post(
        "/api/login", json={"email": "rita@example.ORG", "password": "long enough password"}
    )
    assert login.status == 200
    body = await login.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 28800
    assert body["idle_timeout"] == 900  # the practice's limit, for the client's own log-off
    assert body["user"]["id"] == user["id"]


async def test_doctor_waits_for_approval(client: TestClient, practice: Practice) -> None:
    response = await client.post(
        "/api/register", json=registration(usertype="doctor", email="doc@example.org")
    )
    assert response.status == 201
    doctor = (await response.json())["user"]
    assert doctor["is_active"] is False

    credentials = {"email": "doc@example.org", "password": "long enough password"}
    refused = await problem(await client.post("/api/login", json=credentials), 403)
    assert "approval" in refused["detail"]

    approve = await client.patch(
        f"/api/admin/users/{doctor['id']}", headers=practice.admin.headers, json={"is_active": True}
    )
    assert approve.status == 200
    assert (await client.post("/api/login", json=credentials)).status == 200


async def test_nobody_registers_as_admin(client: TestClient) -> None:
    await field_problem(
        await client.post("/api/register", json=registration(usertype="admin")), "usertype"
    )


async def test_registration_validation(client: TestClient) -> None:
    cases = {
        "password": registration(password="short"),
        "email": registration(email="not-an-email"),
        "full_name": registration(full_name=""),
        "phone": registration(phone=None),
    }
    for field, body in cases.items():
        await field_problem(await client.post("/api/register", json=body), field)
    missing = registration()
    del missing["phone"]
    await field_problem(await client.post("/api/register", json=missing), "phone")
    await field_problem(
        await client.post("/api/register", json=registration(full_name=5)), "full_name"
    )
    await problem(await client.post("/api/register", data=b"{not json"), 400)
    await problem(await client.post("/api/register", json=[registration()]), 400)


async def test_duplicate_email_is_a_conflict_whatever_its_case(client: TestClient) -> None:
    assert (await client.post("/api/register", json=registration())).status == 201
    again = await client.post("/api/register", json=registration(email="RITA@example.org"))
    await problem(again, 409)


async def test_wrong_email_and_wrong_password_get_the_same_answer(
    client: TestClient, practice: Practice
) -> None:
    patient = await practice.patient()
    wrong_password = await problem(
        await client.post(
            "/api/login", json={"email": patient.user["email"], "password": "nope-nope"}
        ),
        401,
    )
    wrong_email = await problem(
        await client.post(
            "/api/login", json={"email": "nobody@example.org", "password": "nope-nope"}
        ),
        401,
    )
    assert wrong_password == wrong_email


async def test_five_failures_lock_the_account_even_for_the_right_password(
    client: TestClient, practice: Practice, clock: FakeClock
) -> None:
    patient = await practice.patient()
    email = patient.user["email"]
    for _ in range(5):
        await problem(
            await client.post("/api/login", json={"email": email, "password": "wrong-wrong"}), 401
        )
    locked = await client.post("/api/login", json={"email": email.upper(), "password": PASSWORD})
    await problem(locked, 429)
    retry_after = int(locked.headers["Retry-After"])
    assert 0 < retry_after <= 900

    clock.advance(retry_after)
    assert (
        await client.post("/api/login", json={"email": email, "password": PASSWORD})
    ).status == 200


async def test_a_success_resets_the_failure_count(client: TestClient, practice: Practice) -> None:
    patient = await practice.patient()
    email = patient.user["email"]
    for _ in range(4):
        await client.post("/api/login", json={"email": email, "password": "wrong-wrong"})
    assert (
        await client.post("/api/login", json={"email": email, "password": PASSWORD})
    ).status == 200
    for _ in range(4):
        await client.post("/api/login", json={"email": email, "password": "wrong-wrong"})
    assert (
        await client.post("/api/login", json={"email": email, "password": PASSWORD})
    ).status == 200


async def test_one_address_may_fail_a_hundred_times_across_accounts(
    client: TestClient, practice: Practice
) -> None:
    for number in range(100):
        await problem(
            await client.post(
                "/api/login",
                json={"email": f"guess{number}@example.org", "password": "wrong-wrong"},
            ),
            401,
        )
    patient = await practice.patient()
    assert patient.token


async def test_logout_refuses_the_token_afterwards(client: TestClient, practice: Practice) -> None:
    patient = await practice.patient()
    assert (await client.post("/api/logout", headers=patient.headers)).status == 204
    refused = await problem(await client.get("/api/profile", headers=patient.headers), 401)
    assert refused["detail"]
    assert (await client.get("/api/profile", headers=patient.headers)).headers[
        "WWW-Authenticate"
    ] == "Bearer"


async def test_bad_tokens_are_401_with_www_authenticate(
    client: TestClient, practice: Practice
) -> None:
    patient = await practice.patient()
    claims = jwt.decode(patient.token, options={"verify_signature": False})
    forged = jwt.encode(claims, "another-secret-another-secret-another", algorithm="HS256")
    unsigned = jwt.encode(claims, None, algorithm="none")
    other_algorithm = jwt.encode(claims, SECRET, algorithm="HS512")
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer not.a.token"},
        {"Authorization": f"Bearer {forged}"},
        {"Authorization": f"Bearer {unsigned}"},
        {"Authorization": f"Bearer {other_algorithm}"},
    ):
        response = await client.get("/api/profile", headers=headers)
        await problem(response, 401)
        assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_idle_timeout_ends_the_session(
    client: TestClient, practice: Practice, clock: FakeClock
) -> None:
    patient = await practice.patient()
    clock.advance(899)
    assert (await client.get("/api/profile", headers=patient.headers)).status == 200
    clock.advance(899)  # activity a moment ago keeps the session alive
    assert (await client.get("/api/profile", headers=patient.headers)).status == 200
    clock.advance(901)
    await problem(await client.get("/api/profile", headers=patient.headers), 401)
    clock.advance(-901)  # even when the clock is set back, the session stays ended
    await problem(await client.get("/api/profile", headers=patient.headers), 401)


async def test_token_lifetime_ends_the_session_despite_activity(
    client: TestClient, practice: Practice, clock: FakeClock
) -> None:
    patient = await practice.patient()
    for _ in range(35):  # 35 × 14 minutes > 8 hours, never idle for 15 minutes
        clock.advance(14 * 60)
        if (await client.get("/api/profile", headers=patient.headers)).status != 200:
            break
    refused = await problem(await client.get("/api/profile", headers=patient.headers), 401)
    assert "expired" in refused["detail"]


async def test_password_change_ends_the_other_sessions(
    client: TestClient, practice: Practice
) -> None:
    patient = await practice.patient()
    other_session = await practice.login(patient.user["email"])
    wrong = await client.post(
        "/api/profile/password",
        headers=patient.headers,
        json={"current_password": "not it at all", "new_password": "a brand new password"},
    )
    await field_problem(wrong, "current_password")
    short = await client.post(
        "/api/profile/password",
        headers=patient.headers,
        json={"current_password": PASSWORD, "new_password": "short"},
    )
    await field_problem(short, "new_password")

    changed = await client.post(
        "/api/profile/password",
        headers=patient.headers,
        json={"current_password": PASSWORD, "new_password": "a brand new password"},
    )
    assert changed.status == 204
    assert (await client.get("/api/profile", headers=patient.headers)).status == 200
    await problem(await client.get("/api/profile", headers=other_session.headers), 401)
    await problem(
        await client.post(
            "/api/login", json={"email": patient.user["email"], "password": PASSWORD}
        ),
        401,
    )
    await practice.login(patient.user["email"], "a brand new password")


async def test_deactivation_and_role_change_end_sessions_at_once(
    client: TestClient, practice: Practice
) -> None:
    doctor = await practice.doctor()
    other = await practice.doctor()
    assert (await client.get("/api/questions/pending", headers=doctor.headers)).status == 200
    demote = await client.patch(
        f"/api/admin/users/{doctor.id}",
        headers=practice.admin.headers,
        json={"usertype": "patient"},
    )
    assert demote.status == 200
    await problem(await client.get("/api/questions/pending", headers=doctor.headers), 401)

    assert (
        await client.delete(f"/api/admin/users/{other.id}", headers=practice.admin.headers)
    ).status == 204
    await problem(await client.get("/api/profile", headers=other.headers), 401)
    await problem(
        await client.post("/api/login", json={"email": other.user["email"], "password": PASSWORD}),
        403,
    )


async def test_profile_update(client: TestClient, practice: Practice) -> None:
    patient = await practice.patient()
    response = await client.patch(
        "/api/profile",
        headers=patient.headers,
        json={"full_name": "New Name", "phone": "+1 1", "x": 1},
    )
    assert response.status == 200
    assert (await response.json())["full_name"] == "New Name"
    assert (await (await client.get("/api/profile", headers=patient.headers)).json())[
        "phone"
    ] == "+1 1"

    for forbidden in ({"email": "new@example.org"}, {"usertype": "admin"}, {"is_active": False}):
        await problem(
            await client.patch("/api/profile", headers=patient.headers, json=forbidden), 403
        )
    await field_problem(
        await client.patch("/api/profile", headers=patient.headers, json={"full_name": None}),
        "full_name",
    )
    await field_problem(
        await client.patch("/api/profile", headers=patient.headers, json={"full_name": "x" * 201}),
        "full_name",
    )
    profile = await (await client.get("/api/profile", headers=patient.headers)).json()
    assert profile["usertype"] == "patient"
    assert profile["full_name"] == "New Name"


async def test_validation_messages_read_as_a_person_would_say_them(client: TestClient) -> None:
    response = await client.post(
        "/api/register",
        json={
            "full_name": "",
            "email": "short@practice.example",
            "phone": "+1 555 1",
            "usertype": "nurse",
            "password": "short",
        },
    )
    body = await field_problem(response, "password")
    messages = {error["field"]: error["message"] for error in body["errors"]}
    assert messages["full_name"] == "This is required."
    assert messages["password"] == "Write at least 8 characters."
    assert messages["usertype"] == "Choose one of 'patient' or 'doctor'."
