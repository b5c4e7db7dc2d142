"""Questions and answers, with the patient-A/patient-B and doctor-A/doctor-B matrix."""

from typing import Any

from aiohttp.test_utils import TestClient

from server.api.questions import _page_query
from server.settings import Settings
from shared.enums import UserType
from tests.server.conftest import Actor, Practice
from tests.server.plans import assert_reads_index
from tests.server.problems import field_problem, problem
from tests.server.uploads import upload_png


async def ask(client: TestClient, patient: Actor, **body: object) -> dict[str, Any]:
    payload: dict[str, object] = {"question_text": "Does this rash need attention?"}
    payload.update(body)
    response = await client.post("/api/questions", headers=patient.headers, json=payload)
    assert response.status == 201, await response.text()
    return dict(await response.json())


async def items(client: TestClient, path: str, actor: Actor) -> list[dict[str, Any]]:
    response = await client.get(path, headers=actor.headers)
    assert response.status == 200, await response.text()
    return list((await response.json())["items"])


async def test_patient_asks_a_doctor_about_an_xray_and_reads_the_answer(
    client: TestClient, practice: Practice
) -> None:
    patient, doctor = await practice.patient(), await practice.doctor()
    xray = await upload_png(client, patient)
    question = await ask(client, patient, doctor_id=doctor.id, xray_id=xray["id"])
    assert question["status"] == "pending"
    assert (question["patient_name"], question["doctor_name"]) == (
        patient.user["full_name"],
        doctor.user["full_name"],
    )
    assert question["responses"] == []
    assert (question["patient_id"], question["doctor_id"], question["xray_id"]) == (
        patient.id,
        doctor.id,
        xray["id"],
    )

    answer = await client.post(
        f"/api/questions/{question['id']}/response",
        headers=doctor.headers,
        json={"response_text": "It looks harmless; keep it dry."},
    )
    assert answer.status == 201
    assert (await answer.json())["doctor_id"] == doctor.id

    seen = await (
        await client.get(f"/api/questions/{question['id']}", headers=patient.headers)
    ).json()
    assert seen["status"] == "answered"
    assert [r["response_text"] for r in seen["responses"]] == ["It looks harmless; keep it dry."]


async def test_question_validation(client: TestClient, practice: Practice) -> None:
    patient, other_patient = await practice.patient(), await practice.patient()
    inactive_doctor = await practice.doctor()
    await client.delete(f"/api/admin/users/{inactive_doctor.id}", headers=practice.admin.headers)
    others_xray = await upload_png(client, other_patient)
    post = lambda body: client.post("/api/questions", headers=patient.headers, json=body)  # noqa: E731
    await field_problem(await post({"question_text": ""}), "question_text")
    await field_problem(await post({"question_text": "x" * 5001}), "question_text")
    await field_problem(await post({}), "question_text")
    await field_problem(await post({"question_text": "hi", "doctor_id": "1"}), "doctor_id")
    await field_problem(
        await post({"question_text": "hi", "doctor_id": inactive_doctor.id}), "doctor_id"
    )
    await field_problem(await post({"question_text": "hi", "doctor_id": patient.id}), "doctor_id")
    await field_problem(
        await post({"question_text": "hi", "xray_id": others_xray["id"]}), "xray_id"
    )
    await field_problem(await post({"question_text": "hi", "xray_id": 999999}), "xray_id")
    assert await items(client, "/api/questions", patient) == []
    doctor = await practice.doctor()
    await problem(
        await client.post("/api/questions", headers=doctor.headers, json={"question_text": "hi"}),
        403,
    )


async def test_who_sees_which_questions(client: TestClient, practice: Practice) -> None:
    patient_a, patient_b = await practice.patient(), await practice.patient()
    doctor_a, doctor_b = await practice.doctor(), await practice.doctor()
    to_a = await ask(client, patient_a, doctor_id=doctor_a.id)
    to_anyone = await ask(client, patient_a)
    from_b = await ask(client, patient_b, doctor_id=doctor_b.id)

    ids = lambda questions: [q["id"] for q in questions]  # noqa: E731
    assert ids(await items(client, "/api/questions", patient_a)) == [to_anyone["id"], to_a["id"]]
    assert ids(await items(client, "/api/questions", patient_b)) == [from_b["id"]]
    assert ids(await items(client, "/api/questions", doctor_a)) == [to_a["id"]]
    assert ids(await items(client, "/api/questions", practice.admin)) == [
        from_b["id"],
        to_anyone["id"],
        to_a["id"],
    ]
    # The queue: oldest first, the doctor's own and the unassigned ones.
    assert ids(await items(client, "/api/questions/pending", doctor_a)) == [
        to_a["id"],
        to_anyone["id"],
    ]
    assert ids(await items(client, "/api/questions/pending", doctor_b)) == [
        to_anyone["id"],
        from_b["id"],
    ]
    assert len(await items(client, "/api/questions/pending", practice.admin)) == 3
    await problem(await client.get("/api/questions/pending", headers=patient_a.headers), 403)

    for actor, visible, hidden in (
        (patient_a, [to_a, to_anyone], [from_b]),
        (patient_b, [from_b], [to_a, to_anyone]),
        (doctor_a, [to_a, to_anyone], [from_b]),
        (doctor_b, [from_b, to_anyone], [to_a]),
        (practice.admin, [to_a, to_anyone, from_b], []),
    ):
        for question in visible:
            assert (
                await client.get(f"/api/questions/{question['id']}", headers=actor.headers)
            ).status == 200
        for question in hidden:
            await problem(
                await client.get(f"/api/questions/{question['id']}", headers=actor.headers), 404
            )


async def test_answering(client: TestClient, practice: Practice) -> None:
    patient = await practice.patient()
    doctor_a, doctor_b = await practice.doctor(), await practice.doctor()
    to_a = await ask(client, patient, doctor_id=doctor_a.id)
    unassigned = await ask(client, patient)
    answer = {"response_text": "Please come in on Monday."}

    await problem(
        await client.post(
            f"/api/questions/{to_a['id']}/response", headers=doctor_b.headers, json=answer
        ),
        404,
    )
    await problem(
        await client.post(
            f"/api/questions/{to_a['id']}/response", headers=patient.headers, json=answer
        ),
        403,
    )
    await problem(
        await client.post(
            f"/api/questions/{to_a['id']}/response", headers=practice.admin.headers, json=answer
        ),
        403,
    )
    await field_problem(
        await client.post(
            f"/api/questions/{to_a['id']}/response",
            headers=doctor_a.headers,
            json={"response_text": ""},
        ),
        "response_text",
    )
    await problem(
        await client.post("/api/questions/999999/response", headers=doctor_a.headers, json=answer),
        404,
    )

    # The first doctor to answer an unassigned question takes it.
    taken = await client.post(
        f"/api/questions/{unassigned['id']}/response", headers=doctor_b.headers, json=answer
    )
    assert taken.status == 201
    question = await (
        await client.get(f"/api/questions/{unassigned['id']}", headers=doctor_b.headers)
    ).json()
    assert question["doctor_id"] == doctor_b.id
    assert question["doctor_name"] == doctor_b.user["full_name"]  # taken by the answer
    assert question["status"] == "answered"
    await problem(
        await client.get(f"/api/questions/{unassigned['id']}", headers=doctor_a.headers), 404
    )
    assert [q["id"] for q in await items(client, "/api/questions/pending", doctor_a)] == [
        to_a["id"]
    ]

    # More than one answer is allowed, shown oldest first.
    for text in ("First.", "Second."):
        response = await client.post(
            f"/api/questions/{to_a['id']}/response",
            headers=doctor_a.headers,
            json={"response_text": text},
        )
        assert response.status == 201
    thread = await (
        await client.get(f"/api/questions/{to_a['id']}", headers=patient.headers)
    ).json()
    assert [r["response_text"] for r in thread["responses"]] == ["First.", "Second."]
    answered = await items(client, "/api/questions?status=answered", patient)
    assert {q["id"] for q in answered} == {to_a["id"], unassigned["id"]}
    assert await items(client, "/api/questions?status=pending", patient) == []
    await field_problem(
        await client.get("/api/questions?status=closed", headers=patient.headers), "status"
    )


async def test_conversation_between_a_doctor_and_a_patient(
    client: TestClient, practice: Practice
) -> None:
    patient_a, patient_b = await practice.patient(), await practice.patient()
    doctor_a, doctor_b = await practice.doctor(), await practice.doctor()
    question = await ask(client, patient_a, doctor_id=doctor_a.id)
    await ask(client, patient_a, doctor_id=doctor_b.id)
    await ask(client, patient_a)
    path = f"/api/questions/{doctor_a.id}/{patient_a.id}"
    for actor in (patient_a, doctor_a, practice.admin):
        assert [q["id"] for q in await items(client, path, actor)] == [question["id"]]
    for actor in (patient_b, doctor_b):
        await problem(await client.get(path, headers=actor.headers), 403)
    await problem(
        await client.get(
            f"/api/questions/{doctor_a.id}/{doctor_b.id}", headers=practice.admin.headers
        ),
        404,
    )
    await problem(
        await client.get(
            f"/api/questions/{patient_b.id}/{patient_a.id}", headers=patient_a.headers
        ),
        404,
    )


async def test_a_doctor_takes_an_unassigned_question_so_no_other_answers_it(
    client: TestClient, practice: Practice
) -> None:
    patient = await practice.patient()
    doctor, colleague = await practice.doctor("Dr Grace"), await practice.doctor("Dr Alan")
    question = await ask(client, patient)
    path = f"/api/questions/{question['id']}/claim"
    await problem(await client.post(path, headers=practice.admin.headers), 403)
    await problem(await client.post(path, headers=patient.headers), 403)
    assert [q["id"] for q in await items(client, "/api/questions/pending", colleague)] == [
        question["id"]
    ]

    claimed = await client.post(path, headers=doctor.headers)
    assert claimed.status == 200, await claimed.text()
    assert ((await claimed.json())["doctor_id"], (await claimed.json())["doctor_name"]) == (
        doctor.id,
        "Dr Grace",
    )
    again = await client.post(path, headers=doctor.headers)
    assert (await again.json())["doctor_id"] == doctor.id
    # The colleague's queue no longer holds it; taking or answering it is refused.
    assert await items(client, "/api/questions/pending", colleague) == []
    await problem(await client.post(path, headers=colleague.headers), 409)
    await problem(
        await client.post(
            f"/api/questions/{question['id']}/response",
            headers=colleague.headers,
            json={"response_text": "Me too"},
        ),
        404,
    )
    answered = await ask(client, patient)
    await client.post(
        f"/api/questions/{answered['id']}/response",
        headers=colleague.headers,
        json={"response_text": "Rest, and fluids."},
    )
    await problem(
        await client.post(f"/api/questions/{answered['id']}/claim", headers=doctor.headers), 409
    )
    await problem(await client.post("/api/questions/999999/claim", headers=doctor.headers), 404)


async def test_the_doctors_queue_is_oldest_first_and_reads_its_partial_index(
    client: TestClient, practice: Practice, settings: Settings
) -> None:
    patient, doctor, colleague = (
        await practice.patient(),
        await practice.doctor(),
        await practice.doctor(),
    )
    asked = []
    for doctor_id in (None, doctor.id, colleague.id, None, doctor.id):
        response = await client.post(
            "/api/questions",
            headers=patient.headers,
            json={"question_text": "Well?", "doctor_id": doctor_id},
        )
        assert response.status == 201
        asked.append(await response.json())
    mine = [question["id"] for question in asked if question["doctor_id"] in (None, doctor.id)]
    queue = await client.get("/api/questions/pending?limit=2", headers=doctor.headers)
    page = await queue.json()
    assert [question["id"] for question in page["items"]] == mine[:2]
    assert page["items"][0]["patient_name"] == patient.user["full_name"]
    rest = await client.get(
        f"/api/questions/pending?cursor={page['next_cursor']}", headers=doctor.headers
    )
    assert [question["id"] for question in (await rest.json())["items"]] == mine[2:]
    # The statement the server runs for a doctor's queue reads the partial index, not every
    # pending question sorted (a million questions later too).
    queue_query = _page_query("pending", UserType.doctor, by_status=False, newest_first=False)
    await assert_reads_index(
        settings.database_url,
        queue_query.statement,
        "ix_questions_pending_id",
        me=doctor.id,
        after=0,
        limit=51,
    )
