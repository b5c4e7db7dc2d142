"""The audit trail: reads, writes and refusals of patient data, and the patient's access log."""

from typing import Any

from aiohttp.test_utils import TestClient

from tests.server.conftest import Actor, Practice
from tests.server.uploads import upload_png


async def trail(client: TestClient, practice: Practice, query: str = "") -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/admin/audit?limit=200{query}", headers=practice.admin.headers
    )
    assert response.status == 200, await response.text()
    return list((await response.json())["items"])


def summary(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            e["actor_id"],
            e["action"],
            e["object_type"],
            e["object_id"],
            e["patient_id"],
            e["outcome"],
        )
        for e in events
    ]


async def test_reads_writes_and_refusals_are_recorded(
    client: TestClient, practice: Practice
) -> None:
    patient, intruder, doctor = (
        await practice.patient(),
        await practice.patient(),
        await practice.doctor(),
    )
    xray = await upload_png(client, patient)
    await client.get(xray["image_of_xray"], headers=doctor.headers)
    await client.get(xray["image_of_xray"], headers=intruder.headers)
    await client.get(f"/api/xrays/{patient.id}", headers=intruder.headers)
    await client.patch(
        f"/api/xrays/{xray['id']}", headers=doctor.headers, json={"result_of_xray": "Normal."}
    )

    events = summary(await trail(client, practice, f"&patient_id={patient.id}"))
    assert events[:5] == [
        (doctor.id, "update", "xray", xray["id"], patient.id, "ok"),
        (intruder.id, "read", "xray", None, patient.id, "denied"),
        (intruder.id, "read", "xray_image", xray["id"], patient.id, "denied"),
        (doctor.id, "read", "xray_image", xray["id"], patient.id, "ok"),
        (patient.id, "create", "xray", xray["id"], patient.id, "ok"),
    ]
    for event in await trail(client, practice):
        assert event["ip"] == "127.0.0.1"
        assert event["at"].endswith(("Z", "+00:00"))


async def test_a_list_read_writes_one_event_per_patient(
    client: TestClient, practice: Practice
) -> None:
    first, second, doctor = (
        await practice.patient(),
        await practice.patient(),
        await practice.doctor(),
    )
    for patient in (first, second, first):
        await client.post(
            "/api/questions", headers=patient.headers, json={"question_text": "Hello?"}
        )
    before = len(await trail(client, practice, f"&actor_id={doctor.id}&action=read"))
    assert (await client.get("/api/questions/pending", headers=doctor.headers)).status == 200
    reads = await trail(client, practice, f"&actor_id={doctor.id}&action=read")
    assert len(reads) - before == 2
    assert {(e["object_type"], e["patient_id"]) for e in reads[:2]} == {
        ("question", first.id),
        ("question", second.id),
    }


async def test_filters_by_actor_patient_and_action(client: TestClient, practice: Practice) -> None:
    patient, doctor = await practice.patient(), await practice.doctor()
    await client.post(
        f"/api/medical_histories_of_patient/{patient.id}",
        headers=doctor.headers,
        json={"name_of_surgery": "Cast"},
    )
    await client.get(f"/api/medical_histories_of_patient/{patient.id}", headers=patient.headers)
    created = await trail(client, practice, f"&actor_id={doctor.id}&action=create")
    assert summary(created) == [
        (doctor.id, "create", "medical_history", created[0]["object_id"], patient.id, "ok")
    ]
    logins = await trail(client, practice, "&action=login")
    assert {e["actor_id"] for e in logins} >= {patient.id, doctor.id}
    response = await client.get("/api/admin/audit?action=peek", headers=practice.admin.headers)
    assert response.status == 422


async def access_log(client: TestClient, patient: Actor) -> list[dict[str, Any]]:
    response = await client.get("/api/profile/access_log", headers=patient.headers)
    assert response.status == 200, await response.text()
    return list((await response.json())["items"])


async def test_patient_sees_who_accessed_their_records(
    client: TestClient, practice: Practice
) -> None:
    patient, other, doctor = (
        await practice.patient(),
        await practice.patient(),
        await practice.doctor(),
    )
    xray = await upload_png(client, patient)
    await client.get(
        f"/api/unique_xray/{xray['id']}", headers=patient.headers
    )  # own reads are not listed
    await client.get(f"/api/unique_xray/{xray['id']}", headers=doctor.headers)
    await client.get(f"/api/unique_xray/{xray['id']}", headers=other.headers)

    log = summary(await access_log(client, patient))
    assert log == [
        (other.id, "read", "xray", xray["id"], patient.id, "denied"),
        (doctor.id, "read", "xray", xray["id"], patient.id, "ok"),
        (practice.admin.id, "create", "user", patient.id, patient.id, "ok"),  # opened the account
    ]
    # Each event names its actor and their role (extension), so no account is read to show it.
    names = [
        (event["actor_name"], event["actor_role"], event["patient_name"])
        for event in await access_log(client, patient)
    ]
    assert names == [
        (other.user["full_name"], "patient", patient.user["full_name"]),
        (doctor.user["full_name"], "doctor", patient.user["full_name"]),
        ("First Admin", "admin", patient.user["full_name"]),
    ]
    # The intruder's own log shows only that the admin opened their account.
    assert summary(await access_log(client, other)) == [
        (practice.admin.id, "create", "user", other.id, other.id, "ok")
    ]
    for actor in (doctor, practice.admin):
        assert (await client.get("/api/profile/access_log", headers=actor.headers)).status == 403


async def test_events_name_their_object_and_account_changes_say_what_they_were(
    client: TestClient, practice: Practice
) -> None:
    patient = await practice.patient()
    xray = await upload_png(client, patient, name_of_xray="Left ankle")
    await client.get(f"/api/xrays/{xray['id']}/thumbnail", headers=patient.headers)
    registered = await client.post(
        "/api/register",
        json={
            "full_name": "Dr. Henry",
            "email": "henry@practice.example",
            "phone": "+1 555 7777",
            "usertype": "doctor",
            "password": "a fine password",
        },
    )
    henry = (await registered.json())["user"]
    path = f"/api/admin/users/{henry['id']}"
    for change in ({"is_active": True}, {"is_active": False}, {"is_active": True}):
        await client.patch(path, headers=practice.admin.headers, json=change)
    events = await trail(client, practice, f"&actor_id={practice.admin.id}&action=update")
    assert [(e["detail"], e["object_name"]) for e in events] == [
        ("reactivated", "Dr. Henry"),
        ("deactivated", "Dr. Henry"),
        ("approved", "Dr. Henry"),
    ]
    films = await trail(client, practice, f"&patient_id={patient.id}&action=read")
    assert {e["object_name"] for e in films} == {"Left ankle"}
    # A range of days: today holds them all, yesterday none.
    today = films[0]["at"][:10]
    assert len(await trail(client, practice, f"&since={today}&until={today}")) >= 5
    assert await trail(client, practice, "&until=2000-01-01") == []
