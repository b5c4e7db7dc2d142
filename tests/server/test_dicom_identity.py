"""Patients' medical record numbers, x-rays as DICOM instances (their UIDs, stored once), what a
film's DICOM patient fields say against its account, and the unmatched inbox's API."""

import io
from typing import Any

from aiohttp.test_utils import TestClient

from server.demo_images import radiograph_pixels, write_dicom
from tests.server.conftest import Actor, Practice
from tests.server.problems import problem
from tests.server.test_audit import trail
from tests.server.uploads import form, upload, upload_png


def dicom_file(patient_id: str, patient_name: str = "Doe^John") -> bytes:
    buffer = io.BytesIO()
    write_dicom(buffer, radiograph_pixels(96, 80), patient_id=patient_id, patient_name=patient_name)
    return buffer.getvalue()


async def me(client: TestClient, actor: Actor) -> dict[str, Any]:
    response = await client.get("/api/profile", headers=actor.headers)
    assert response.status == 200
    return dict(await response.json())


async def test_patients_get_record_numbers_that_staff_can_search(
    client: TestClient, practice: Practice
) -> None:
    patient, doctor = await practice.patient("Rita Record"), await practice.doctor()
    number = (await me(client, patient))["medical_record_number"]
    assert number is not None
    assert number.startswith("M")
    assert (await me(client, doctor))["medical_record_number"] is None
    for query in (number, number.lower()):
        found = await client.get(f"/api/patients?q={query}", headers=doctor.headers)
        assert [p["full_name"] for p in (await found.json())["items"]] == ["Rita Record"]

    # Made a doctor, the number is kept aside; a patient again, the same number comes back.
    user_url = f"/api/admin/users/{patient.id}"
    admin = practice.admin.headers
    made_doctor = await client.patch(user_url, headers=admin, json={"usertype": "doctor"})
    assert (await made_doctor.json())["medical_record_number"] is None
    again = await client.patch(user_url, headers=admin, json={"usertype": "patient"})
    assert (await again.json())["medical_record_number"] == number
    # A doctor made a patient gets a number of their own.
    became = await client.patch(
        f"/api/admin/users/{doctor.id}", headers=admin, json={"usertype": "patient"}
    )
    other = (await became.json())["medical_record_number"]
    assert other is not None
    assert other != number


async def test_every_xray_is_a_dicom_instance_stored_once(
    client: TestClient, practice: Practice
) -> None:
    patient = await practice.patient()
    number = (await me(client, patient))["medical_record_number"]
    png = await upload_png(client, patient)
    assert png["sop_instance_uid"]
    assert png["study_instance_uid"] != png["sop_instance_uid"]
    assert png["modality"] == "OT"
    again = await client.get(f"/api/unique_xray/{png['id']}", headers=patient.headers)
    assert (await again.json())["sop_instance_uid"] == png["sop_instance_uid"]  # kept

    film = dicom_file(number, "Patient^Paula")
    stored = await upload(client, patient, form(film, filename="film.dcm"))
    assert stored.status == 201, await stored.text()
    body = await stored.json()
    assert body["modality"] == "DX"
    assert body["study_date"] is not None
    # The same instance again is refused, whoever sends it.
    await problem(await upload(client, patient, form(film, filename="film.dcm")), 409)


async def test_the_doctor_is_told_when_a_film_says_it_is_someone_elses(
    client: TestClient, practice: Practice
) -> None:
    patient, doctor = await practice.patient("Paula Patient"), await practice.doctor()
    number = (await me(client, patient))["medical_record_number"]
    own = await upload(client, patient, form(dicom_file(number, "Patient^Paula"), filename="a.dcm"))
    other = await upload(client, patient, form(dicom_file("X-999", "Doe^John"), filename="b.dcm"))
    own_id, other_id = (await own.json())["id"], (await other.json())["id"]

    read = await client.get(f"/api/unique_xray/{own_id}", headers=doctor.headers)
    assert (await read.json())["identity_warnings"] == []
    read = await client.get(f"/api/unique_xray/{other_id}", headers=doctor.headers)
    body = await read.json()
    assert body["file_patient_name"] == "Doe^John"
    assert body["identity_warnings"] == [
        f"The file's patient ID is “X-999”, but Paula Patient's record number is {number}.",
        "The file names the patient “Doe John”, but it is filed under Paula Patient.",
    ]
    # The patient's copy says nothing of the file's fields.
    mine = await (await client.get(f"/api/unique_xray/{other_id}", headers=patient.headers)).json()
    assert (mine["file_patient_name"], mine["identity_warnings"]) == (None, [])


async def test_the_inbox_is_the_admins_to_assign_or_discard(
    client: TestClient, practice: Practice
) -> None:
    patient, doctor = await practice.patient("Ines Inbox"), await practice.doctor()
    admin = practice.admin.headers
    empty = await client.get("/api/admin/unmatched", headers=admin)
    assert (await empty.json())["items"] == []
    await problem(await client.get("/api/admin/unmatched", headers=doctor.headers), 403)
    await problem(
        await client.post(
            "/api/admin/unmatched/1/assign", headers=admin, json={"patient_id": patient.id}
        ),
        404,
    )
    before = len(await trail(client, practice))
    await problem(await client.delete("/api/admin/unmatched/1", headers=admin), 404)
    assert len(await trail(client, practice)) > before  # the refusal is recorded
