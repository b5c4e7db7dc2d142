"""The result lifecycle (none → preliminary → final → amended), the worklist, and who may
write what: docs/api.md, "Results, worklist and live events"."""

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from server.orm import XRayRow
from server.pagination import paged_by_parameters
from server.settings import Settings
from tests.server.conftest import Actor, Practice
from tests.server.plans import assert_reads_index
from tests.server.problems import field_problem, problem
from tests.server.test_audit import trail
from tests.server.uploads import upload_png


async def read(client: TestClient, actor: Actor, xray_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/unique_xray/{xray_id}", headers=actor.headers)
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def patch(client: TestClient, actor: Actor, xray_id: int, body: dict[str, Any]) -> Any:
    return await client.patch(f"/api/xrays/{xray_id}", headers=actor.headers, json=body)


async def test_a_result_is_written_signed_then_only_added_to(
    client: TestClient, practice: Practice
) -> None:
    patient, doctor, colleague = (
        await practice.patient(),
        await practice.doctor("Dr Grace Hopper"),
        await practice.doctor("Dr Alan Turing"),
    )
    xray_id = (await upload_png(client, patient))["id"]
    assert (await read(client, doctor, xray_id))["result_status"] == "none"

    # An admin is no clinician; a patient writes no result.
    await problem(await patch(client, practice.admin, xray_id, {"result_of_xray": "Fine"}), 403)
    await problem(await patch(client, patient, xray_id, {"result_of_xray": "Fine"}), 403)
    await field_problem(
        await client.post(f"/api/xrays/{xray_id}/result/sign", headers=doctor.headers),
        "result_of_xray",
    )

    written = await patch(client, doctor, xray_id, {"result_of_xray": "Small effusion?"})
    assert (await written.json())["result_status"] == "preliminary"
    # The patient sees nothing of a result before it is signed.
    unsigned = await read(client, patient, xray_id)
    assert (unsigned["result_of_xray"], unsigned["result_status"], unsigned["addenda"]) == (
        None,
        "none",
        [],
    )
    cleared = await patch(client, doctor, xray_id, {"result_of_xray": ""})
    assert (await cleared.json())["result_status"] == "none"
    await patch(client, doctor, xray_id, {"result_of_xray": "Small left effusion."})

    await problem(
        await client.post(
            f"/api/xrays/{xray_id}/addenda", headers=doctor.headers, json={"text": "x"}
        ),
        409,
    )
    await problem(
        await client.post(f"/api/xrays/{xray_id}/result/sign", headers=practice.admin.headers),
        403,
    )
    signed = await client.post(f"/api/xrays/{xray_id}/result/sign", headers=doctor.headers)
    assert signed.status == 200, await signed.text()
    body = await signed.json()
    assert (body["result_status"], body["result_final"], body["result_signed_by"]) == (
        "final",
        True,
        doctor.id,
    )
    assert body["result_signed_by_name"] == "Dr Grace Hopper"
    assert body["result_signed_at"] is not None

    seen = await read(client, patient, xray_id)
    assert (seen["result_of_xray"], seen["result_status"], seen["result_signed_by_name"]) == (
        "Small left effusion.",
        "final",
        "Dr Grace Hopper",
    )

    # Signed means never edited: not the text, not unsigned, not signed twice.
    for change in ({"result_of_xray": "No effusion."}, {"result_final": False}):
        await problem(await patch(client, colleague, xray_id, change), 409)
    await problem(
        await client.post(f"/api/xrays/{xray_id}/result/sign", headers=colleague.headers), 409
    )
    assert (await read(client, patient, xray_id))["result_of_xray"] == "Small left effusion."

    await problem(
        await client.post(
            f"/api/xrays/{xray_id}/addenda", headers=practice.admin.headers, json={"text": "x"}
        ),
        403,
    )
    await field_problem(
        await client.post(
            f"/api/xrays/{xray_id}/addenda", headers=doctor.headers, json={"text": ""}
        ),
        "text",
    )
    added = await client.post(
        f"/api/xrays/{xray_id}/addenda",
        headers=colleague.headers,
        json={"text": "Compared with last year's film: unchanged."},
    )
    assert added.status == 201, await added.text()
    addendum = await added.json()
    assert (addendum["xray_id"], addendum["author_id"], addendum["author_name"]) == (
        xray_id,
        colleague.id,
        "Dr Alan Turing",
    )
    await client.post(
        f"/api/xrays/{xray_id}/addenda", headers=doctor.headers, json={"text": "Second."}
    )
    seen = await read(client, patient, xray_id)
    assert seen["result_status"] == "amended"
    assert seen["result_final"] is True
    assert [a["text"] for a in seen["addenda"]] == [
        "Compared with last year's film: unchanged.",
        "Second.",
    ]
    listed = await client.get(f"/api/xrays/{patient.id}", headers=patient.headers)
    assert (await listed.json())["items"][0]["addenda"] == seen["addenda"]

    # Signing is an update of the x-ray, each addendum a create on it.
    events = [
        (e["actor_id"], e["action"], e["object_id"], e["detail"])
        for e in await trail(client, practice, f"&patient_id={patient.id}")
        if e["object_type"] == "xray" and e["action"] != "read" and e["outcome"] == "ok"
    ]
    assert events[:3] == [
        (doctor.id, "create", xray_id, "addendum"),
        (colleague.id, "create", xray_id, "addendum"),
        (doctor.id, "update", xray_id, "signed"),
    ]


async def test_patch_writes_and_signs_in_one_body(client: TestClient, practice: Practice) -> None:
    patient, doctor = await practice.patient(), await practice.doctor()
    xray_id = (await upload_png(client, patient))["id"]
    await field_problem(
        await patch(client, doctor, xray_id, {"result_final": True}), "result_of_xray"
    )
    # Not signing an unsigned result changes nothing.
    unchanged = await patch(client, doctor, xray_id, {"result_final": False})
    assert (await unchanged.json())["result_status"] == "none"
    both = await patch(client, doctor, xray_id, {"result_of_xray": "Normal.", "result_final": True})
    assert both.status == 200, await both.text()
    body = await both.json()
    assert (body["result_status"], body["result_of_xray"], body["result_signed_by"]) == (
        "final",
        "Normal.",
        doctor.id,
    )
    # The owner may still rename the film; its signed result stays as it is.
    renamed = await patch(client, patient, xray_id, {"name_of_xray": "Chest, June"})
    assert (await renamed.json())["result_of_xray"] == "Normal."


async def test_worklist_is_every_unsigned_film_oldest_first(
    client: TestClient, practice: Practice, settings: Settings
) -> None:
    ada, bob = await practice.patient("Ada Lovelace"), await practice.patient("Bob Dylan")
    doctor = await practice.doctor()
    first = (await upload_png(client, ada, name_of_xray="First"))["id"]
    second = (await upload_png(client, bob, name_of_xray="Second"))["id"]
    signed = (await upload_png(client, bob, name_of_xray="Signed"))["id"]
    deleted = (await upload_png(client, ada, name_of_xray="Deleted"))["id"]
    await patch(client, doctor, second, {"result_of_xray": "Looks fine."})
    await patch(client, doctor, signed, {"result_of_xray": "Normal.", "result_final": True})
    await client.delete(f"/api/xrays/{deleted}", headers=practice.admin.headers)

    async def worklist(actor: Actor, query: str = "") -> list[tuple[int, str, str]]:
        response = await client.get(f"/api/xrays/worklist{query}", headers=actor.headers)
        assert response.status == 200, await response.text()
        return [
            (item["id"], item["patient_name"], item["result_status"])
            for item in (await response.json())["items"]
        ]

    everything = [(first, "Ada Lovelace", "none"), (second, "Bob Dylan", "preliminary")]
    assert await worklist(doctor) == everything
    assert await worklist(practice.admin) == everything
    assert await worklist(doctor, "?result_status=none") == everything[:1]
    assert await worklist(doctor, "?result_status=preliminary") == everything[1:]
    page = await client.get("/api/xrays/worklist?limit=1", headers=doctor.headers)
    cursor = (await page.json())["next_cursor"]
    assert await worklist(doctor, f"?limit=1&cursor={cursor}") == everything[1:]

    await field_problem(
        await client.get("/api/xrays/worklist?result_status=final", headers=doctor.headers),
        "result_status",
    )
    await problem(await client.get("/api/xrays/worklist", headers=ada.headers), 403)
    reads = [
        e["patient_id"]
        for e in await trail(client, practice, f"&actor_id={doctor.id}&action=read")
        if e["object_type"] == "xray" and e["object_id"] is None
    ]
    assert sorted(reads[:2]) == sorted([ada.id, bob.id])

    # The query reads the partial index, not the whole table (a million films later too):
    # the statement the server runs, with its parameters bound as the driver binds them.
    statement = paged_by_parameters(
        select(XRayRow.id).where(XRayRow.unsigned()), XRayRow.id, newest=False
    )
    await assert_reads_index(
        settings.database_url, statement, "ix_xrays_unsigned_id", after=0, limit=51
    )


async def counts(client: TestClient, actor: Actor) -> dict[str, Any]:
    response = await client.get("/api/counts", headers=actor.headers)
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def test_counts_say_how_much_waits_and_read_no_ones_records(
    client: TestClient, practice: Practice
) -> None:
    patient, doctor, colleague = (
        await practice.patient(),
        await practice.doctor(),
        await practice.doctor(),
    )
    empty = {"pending_questions": 0, "films_to_read": 0, "awaiting_approval": None}
    assert await counts(client, doctor) == empty
    xray_id = (await upload_png(client, patient))["id"]
    for doctor_id in (None, doctor.id, colleague.id):
        asked = await client.post(
            "/api/questions",
            headers=patient.headers,
            json={"question_text": "Well?", "doctor_id": doctor_id},
        )
        assert asked.status == 201
    registered = await client.post(
        "/api/register",
        json={
            "full_name": "Dr Waiting",
            "email": "waiting@practice.example",
            "phone": "+1 555 9999",
            "usertype": "doctor",
            "password": "a long enough password",
        },
    )
    assert registered.status == 201, await registered.text()
    before = len(await trail(client, practice))

    # The doctor's queue: theirs and the unassigned one, not the colleague's.
    assert await counts(client, doctor) == {**empty, "pending_questions": 2, "films_to_read": 1}
    assert await counts(client, practice.admin) == {
        "pending_questions": 3,
        "films_to_read": 1,
        "awaiting_approval": 1,
    }
    assert await counts(client, patient) == {
        "pending_questions": None,
        "films_to_read": None,
        "awaiting_approval": None,
    }
    # Numbers are no look at anyone's records: the trail has nothing new.
    assert len(await trail(client, practice)) == before

    await patch(client, doctor, xray_id, {"result_of_xray": "Fine.", "result_final": True})
    assert (await counts(client, doctor))["films_to_read"] == 0
