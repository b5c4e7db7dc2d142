"""Medical histories: doctors keep them, patients read their own, deletes are soft."""

from aiohttp.test_utils import TestClient

from tests.server.conftest import Practice
from tests.server.problems import field_problem, problem


async def test_doctor_keeps_a_history_the_patient_reads(
    client: TestClient, practice: Practice
) -> None:
    patient, doctor = await practice.patient(), await practice.doctor()
    path = f"/api/medical_histories_of_patient/{patient.id}"
    for name in ("Appendectomy", "Knee arthroscopy"):
        response = await client.post(
            path,
            headers=doctor.headers,
            json={"name_of_surgery": name, "description_of_surgery": "2019"},
        )
        assert response.status == 201
    listed = await (await client.get(path, headers=patient.headers)).json()
    assert [h["name_of_surgery"] for h in listed["items"]] == ["Knee arthroscopy", "Appendectomy"]
    entry = listed["items"][1]
    assert entry["user_id"] == patient.id
    assert entry["description_of_surgery"] == "2019"

    changed = await client.patch(
        f"/api/medical_histories/{entry['id']}",
        headers=doctor.headers,
        json={"description_of_surgery": None},
    )
    assert changed.status == 200
    body = await changed.json()
    assert (body["name_of_surgery"], body["description_of_surgery"]) == ("Appendectomy", None)


async def test_history_permissions(client: TestClient, practice: Practice) -> None:
    patient_a, patient_b = await practice.patient(), await practice.patient()
    doctor = await practice.doctor()
    path = f"/api/medical_histories_of_patient/{patient_a.id}"
    created = await client.post(
        path, headers=practice.admin.headers, json={"name_of_surgery": "Cast"}
    )
    assert created.status == 201
    entry = await created.json()

    await problem(await client.get(path, headers=patient_b.headers), 403)
    await problem(
        await client.post(path, headers=patient_a.headers, json={"name_of_surgery": "Self"}), 403
    )
    await problem(
        await client.patch(
            f"/api/medical_histories/{entry['id']}", headers=patient_a.headers, json={}
        ),
        403,
    )
    await problem(
        await client.delete(f"/api/medical_histories/{entry['id']}", headers=doctor.headers), 403
    )
    await problem(
        await client.get(f"/api/medical_histories_of_patient/{doctor.id}", headers=doctor.headers),
        404,
    )
    await problem(
        await client.post(
            f"/api/medical_histories_of_patient/{doctor.id}",
            headers=doctor.headers,
            json={"name_of_surgery": "X"},
        ),
        404,
    )
    await problem(
        await client.get("/api/medical_histories_of_patient/999999", headers=doctor.headers), 404
    )


async def test_history_validation(client: TestClient, practice: Practice) -> None:
    patient, doctor = await practice.patient(), await practice.doctor()
    path = f"/api/medical_histories_of_patient/{patient.id}"
    await field_problem(await client.post(path, headers=doctor.headers, json={}), "name_of_surgery")
    await field_problem(
        await client.post(path, headers=doctor.headers, json={"name_of_surgery": "x" * 201}),
        "name_of_surgery",
    )
    await field_problem(
        await client.post(path, headers=doctor.headers, json={"name_of_surgery": ["Cast"]}),
        "name_of_surgery",
    )
    created = await (
        await client.post(path, headers=doctor.headers, json={"name_of_surgery": "Cast"})
    ).json()
    await field_problem(
        await client.patch(
            f"/api/medical_histories/{created['id']}",
            headers=doctor.headers,
            json={"name_of_surgery": None},
        ),
        "name_of_surgery",
    )
    listed = await (await client.get(path, headers=patient.headers)).json()
    assert [h["name_of_surgery"] for h in listed["items"]] == ["Cast"]


async def test_deleted_entries_disappear(client: TestClient, practice: Practice) -> None:
    patient, doctor = await practice.patient(), await practice.doctor()
    path = f"/api/medical_histories_of_patient/{patient.id}"
    entry = await (
        await client.post(path, headers=doctor.headers, json={"name_of_surgery": "Cast"})
    ).json()
    deleted = await client.delete(
        f"/api/medical_histories/{entry['id']}", headers=practice.admin.headers
    )
    assert deleted.status == 204
    assert (await (await client.get(path, headers=patient.headers)).json())["items"] == []
    await problem(
        await client.patch(
            f"/api/medical_histories/{entry['id']}", headers=doctor.headers, json={}
        ),
        404,
    )
    await problem(
        await client.delete(
            f"/api/medical_histories/{entry['id']}", headers=practice.admin.headers
        ),
        404,
    )
