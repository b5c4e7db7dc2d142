"""The admin console's API: accounts, approvals, the last admin, the directory."""

from aiohttp.test_utils import TestClient

from tests.server.conftest import PASSWORD, Practice
from tests.server.problems import field_problem, problem


def new_user(email: str, usertype: str = "doctor") -> dict[str, str]:
    return {
        "full_name": "Dr. New",
        "email": email,
        "phone": "+1 555 9999",
        "usertype": usertype,
        "password": "a fine password",
    }


async def test_admin_creates_users_of_every_role(client: TestClient, practice: Practice) -> None:
    for usertype in ("patient", "doctor", "admin"):
        response = await client.post(
            "/api/admin/users",
            headers=practice.admin.headers,
            json=new_user(f"{usertype}@new.example", usertype),
        )
        assert response.status == 201
        user = await response.json()
        assert user["usertype"] == usertype
        assert user["is_active"] is True
        await practice.login(f"{usertype}@new.example", "a fine password")
    await problem(
        await client.post(
            "/api/admin/users", headers=practice.admin.headers, json=new_user("ADMIN@new.example")
        ),
        409,
    )
    await field_problem(
        await client.post(
            "/api/admin/users",
            headers=practice.admin.headers,
            json=new_user("x@new.example", "superuser"),
        ),
        "usertype",
    )


async def test_only_admins_use_the_admin_api(client: TestClient, practice: Practice) -> None:
    patient, doctor = await practice.patient(), await practice.doctor()
    for actor in (patient, doctor):
        await problem(await client.get("/api/admin/users", headers=actor.headers), 403)
        await problem(
            await client.post(
                "/api/admin/users", headers=actor.headers, json=new_user("a@b.example")
            ),
            403,
        )
        await problem(
            await client.get(f"/api/admin/users/{patient.id}", headers=actor.headers), 403
        )
        await problem(
            await client.patch(
                f"/api/admin/users/{patient.id}", headers=actor.headers, json={"is_active": False}
            ),
            403,
        )
        await problem(
            await client.delete(f"/api/admin/users/{patient.id}", headers=actor.headers), 403
        )
        await problem(await client.get("/api/admin/audit", headers=actor.headers), 403)
    await problem(await client.get("/api/admin/users"), 401)


async def test_user_list_filters(client: TestClient, practice: Practice) -> None:
    paula = await practice.patient("Paula Jones")
    await practice.patient("Peter Smith")
    doctor = await practice.doctor("Dr. Who")
    await client.delete(f"/api/admin/users/{doctor.id}", headers=practice.admin.headers)

    async def names(query: str) -> list[str]:
        response = await client.get(f"/api/admin/users{query}", headers=practice.admin.headers)
        assert response.status == 200, await response.text()
        return [user["full_name"] for user in (await response.json())["items"]]

    assert await names("?usertype=patient") == ["Peter Smith", "Paula Jones"]
    assert await names("?usertype=doctor&is_active=false") == ["Dr. Who"]
    assert await names("?usertype=doctor&is_active=true") == []
    assert await names("?q=JONES") == ["Paula Jones"]
    assert await names(f"?q={paula.user['email'].upper()}") == ["Paula Jones"]
    assert await names("?q=%25") == []  # a LIKE wildcard is searched for, not obeyed
    await field_problem(
        await client.get("/api/admin/users?is_active=yes", headers=practice.admin.headers),
        "is_active",
    )
    await field_problem(
        await client.get("/api/admin/users?usertype=nurse", headers=practice.admin.headers),
        "usertype",
    )
    single = await client.get(f"/api/admin/users/{paula.id}", headers=practice.admin.headers)
    assert (await single.json())["email"] == paula.user["email"]
    await problem(await client.get("/api/admin/users/999999", headers=practice.admin.headers), 404)


async def test_admin_edits_a_user(client: TestClient, practice: Practice) -> None:
    patient = await practice.patient()
    path = f"/api/admin/users/{patient.id}"
    response = await client.patch(
        path,
        headers=practice.admin.headers,
        json={"full_name": "Renamed", "phone": None, "usertype": "doctor"},
    )
    assert response.status == 200
    body = await response.json()
    assert (body["full_name"], body["phone"], body["usertype"]) == ("Renamed", None, "doctor")
    await problem(
        await client.patch(path, headers=practice.admin.headers, json={"email": "x@y.example"}), 403
    )
    await field_problem(
        await client.patch(path, headers=practice.admin.headers, json={"is_active": "no"}),
        "is_active",
    )
    await field_problem(
        await client.patch(path, headers=practice.admin.headers, json={"usertype": None}),
        "usertype",
    )


async def test_the_last_active_admin_stays(client: TestClient, practice: Practice) -> None:
    admin = practice.admin
    path = f"/api/admin/users/{admin.id}"
    await problem(await client.delete(path, headers=admin.headers), 409)
    await problem(await client.patch(path, headers=admin.headers, json={"is_active": False}), 409)
    await problem(await client.patch(path, headers=admin.headers, json={"usertype": "doctor"}), 409)
    assert (
        await client.patch(path, headers=admin.headers, json={"full_name": "Still Admin"})
    ).status == 200

    second = await practice.person("admin")  # type: ignore[arg-type]
    assert (await client.delete(path, headers=second.headers)).status == 204
    await problem(await client.delete(f"/api/admin/users/{second.id}", headers=second.headers), 409)
    await problem(
        await client.post("/api/login", json={"email": admin.user["email"], "password": PASSWORD}),
        403,
    )


async def test_deactivated_users_keep_their_records(client: TestClient, practice: Practice) -> None:
    patient, doctor = await practice.patient(), await practice.doctor()
    path = f"/api/medical_histories_of_patient/{patient.id}"
    await client.post(path, headers=doctor.headers, json={"name_of_surgery": "Cast"})
    assert (
        await client.delete(f"/api/admin/users/{patient.id}", headers=practice.admin.headers)
    ).status == 204
    kept = await (await client.get(path, headers=doctor.headers)).json()
    assert [h["name_of_surgery"] for h in kept["items"]] == ["Cast"]
    reactivated = await client.patch(
        f"/api/admin/users/{patient.id}", headers=practice.admin.headers, json={"is_active": True}
    )
    assert (await reactivated.json())["is_active"] is True
    await practice.login(patient.user["email"])


async def test_directory(client: TestClient, practice: Practice) -> None:
    patient = await practice.patient("Ann Patient")
    doctor = await practice.doctor("Dr. Active")
    gone = await practice.doctor("Dr. Gone")
    await client.delete(f"/api/admin/users/{gone.id}", headers=practice.admin.headers)
    doctors = await (await client.get("/api/doctors", headers=patient.headers)).json()
    assert doctors["items"] == [{"id": doctor.id, "full_name": "Dr. Active"}]

    await problem(await client.get("/api/patients", headers=patient.headers), 403)
    for actor in (doctor, practice.admin):
        found = await (await client.get("/api/patients?q=ann", headers=actor.headers)).json()
        assert [p["id"] for p in found["items"]] == [patient.id]
        everyone = await (await client.get("/api/patients", headers=actor.headers)).json()
        assert {p["usertype"] for p in everyone["items"]} == {"patient"}


async def test_a_waiting_doctor_is_told_from_a_closed_account(
    client: TestClient, practice: Practice
) -> None:
    registered = await client.post("/api/register", json=new_user("waiting@practice.example"))
    doctor = (await registered.json())["user"]
    assert (doctor["is_active"], doctor["status"]) == (False, "awaiting_approval")
    path = f"/api/admin/users/{doctor['id']}"
    headers = practice.admin.headers
    states = []
    for change in ({"is_active": True}, {"is_active": False}, {"is_active": True}):
        response = await client.patch(path, headers=headers, json=change)
        states.append((await response.json())["status"])
    assert states == ["active", "deactivated", "active"]
    patient = await practice.patient()
    assert (await client.delete(f"/api/admin/users/{patient.id}", headers=headers)).status == 204
    closed = await (await client.get(f"/api/admin/users/{patient.id}", headers=headers)).json()
    assert closed["status"] == "deactivated"
