"""The DICOM listener against modalities no one here wrote: pynetdicom as an x-ray machine, and
Debian's dcmtk (echoscu, storescu, img2dcm). A real server process, the real database."""

import asyncio
import io
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pydicom
import pytest
from PIL import Image
from pydicom.uid import RLELossless
from pynetdicom import AE
from pynetdicom.sop_class import SecondaryCaptureImageStorage, Verification  # type: ignore

from devtools.live_server import LiveServer, create_user, run_cli
from server.demo_images import radiograph_pixels, write_dicom
from tests.conftest import BACKENDS
from tests.databases import empty_postgres
from tests.server.live import PASSWORD, PATIENT_EMAIL, prepared_environment

ADMIN_EMAIL, DOCTOR_EMAIL = "admin@live.example", "doctor@live.example"


class Practice:
    """A server with a DICOM port, and the people who look at what arrives."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.url = server.url
        found = re.search(r"medsys DICOM listener on port (\d+)", server.startup_output)
        assert found, server.startup_output
        self.dicom_port = int(found.group(1))

    async def headers(self, http: aiohttp.ClientSession, email: str) -> dict[str, str]:
        async with http.post(
            f"{self.url}/api/login", json={"email": email, "password": PASSWORD}
        ) as response:
            assert response.status == 200, await response.text()
            return {"Authorization": f"Bearer {(await response.json())['access_token']}"}

    async def get(self, http: aiohttp.ClientSession, email: str, path: str) -> Any:
        async with http.get(f"{self.url}{path}", headers=await self.headers(http, email)) as r:
            assert r.status == 200, await r.text()
            return await r.json()


def start(tmp_path: Path, database_url: str, *args: str, **environment: str) -> LiveServer:
    prepared = prepared_environment(tmp_path, database_url, **environment)
    for usertype, email in (("admin", ADMIN_EMAIL), ("doctor", DOCTOR_EMAIL)):
        create_user(prepared, usertype, email, f"Live {usertype.title()}", PASSWORD)
    server = LiveServer(prepared, ("--dicom-port", "0", *args))
    server.start()
    return server


@pytest.fixture(scope="module", params=BACKENDS)
def practice(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_url: str | None,
) -> Iterator[Practice]:
    """One server per database for this module's tests (a server start costs seconds)."""
    folder = tmp_path_factory.mktemp("dimse")
    if request.param == "sqlite":
        database_url = f"sqlite+aiosqlite:///{folder / 'medsys.db'}"
    elif postgres_url is None:
        pytest.skip("no PostgreSQL: set MEDSYS_TEST_POSTGRES_URL or run one on 127.0.0.1:5432")
    else:
        asyncio.run(empty_postgres(postgres_url))
        database_url = postgres_url
    server = start(folder, database_url, MEDSYS_DICOM_PEERS="MODALITY,CR1")
    try:
        yield Practice(server)
    finally:
        server.stop()


def film(patient_id: str, name: str = "Doe^John", seed: int = 1) -> pydicom.Dataset:
    buffer = io.BytesIO()
    write_dicom(
        buffer, radiograph_pixels(128, 96, seed=seed), patient_id=patient_id, patient_name=name
    )
    buffer.seek(0)
    return pydicom.dcmread(buffer)


def store(
    port: int,
    datasets: list[pydicom.Dataset],
    calling: str = "MODALITY",
    called: str = "MEDSYS",
    syntax: str | None = None,
) -> list[int] | None:
    """C-STORE each dataset over one association, as an x-ray machine does; the statuses
    (None: the association was rejected)."""
    ae = AE(ae_title=calling)
    ae.add_requested_context(Verification)
    ae.add_requested_context(
        SecondaryCaptureImageStorage, syntax or datasets[0].file_meta.TransferSyntaxUID
    )
    assoc = ae.associate("127.0.0.1", port, ae_title=called)
    if not assoc.is_established:
        return None
    try:
        assert assoc.send_c_echo().Status == 0
        return [int(assoc.send_c_store(dataset).Status) for dataset in datasets]
    finally:
        assoc.release()


async def test_films_from_the_xray_machine_reach_their_patient_or_the_inbox(
    practice: Practice,
) -> None:
    async with aiohttp.ClientSession() as http:
        patient = await practice.get(http, PATIENT_EMAIL, "/api/profile")
        number = patient["medical_record_number"]
        known, stranger = film(number, "Patient^Live"), film("UNKNOWN-7", seed=2)
        rle = film(number.lower(), "Patient^Live", seed=3)
        rle.compress(RLELossless)
        statuses = await asyncio.to_thread(store, practice.dicom_port, [known, known, stranger])
        assert statuses == [0, 0, 0]  # the second is already stored: success, not stored twice
        assert await asyncio.to_thread(store, practice.dicom_port, [rle]) == [0]

        mine = (await practice.get(http, PATIENT_EMAIL, f"/api/xrays/{patient['id']}"))["items"]
        assert sorted(x["sop_instance_uid"] for x in mine) == sorted(
            [known.SOPInstanceUID, rle.SOPInstanceUID]
        )
        assert {x["type_of_xray"] for x in mine} == {"chest"}
        assert {x["modality"] for x in mine} == {"DX"}

        inbox = (await practice.get(http, ADMIN_EMAIL, "/api/admin/unmatched"))["items"]
        assert [(i["patient_id_in_file"], i["patient_name_in_file"]) for i in inbox] == [
            ("UNKNOWN-7", "Doe^John")
        ]
        assert inbox[0]["source"] == "C-STORE from MODALITY at 127.0.0.1"
        audit = await practice.get(http, ADMIN_EMAIL, "/api/admin/audit?action=create")
        arrivals = [e for e in audit["items"] if (e["detail"] or "").startswith("C-STORE")]
        assert {(e["actor_id"], e["ip"]) for e in arrivals} == {(None, "127.0.0.1")}

        # The admin files it under the patient: an x-ray like any other, and the doctor is
        # told that the file names someone else.
        admin = await practice.headers(http, ADMIN_EMAIL)
        async with http.post(
            f"{practice.url}/api/admin/unmatched/{inbox[0]['id']}/assign",
            headers=admin,
            json={"patient_id": patient["id"]},
        ) as response:
            assert response.status == 201, await response.text()
            assigned = await response.json()
        as_doctor = await practice.get(http, DOCTOR_EMAIL, f"/api/unique_xray/{assigned['id']}")
        assert len(as_doctor["identity_warnings"]) == 2
        assert (await practice.get(http, ADMIN_EMAIL, "/api/admin/unmatched"))["items"] == []


async def test_an_inbox_film_can_be_discarded(practice: Practice) -> None:
    assert await asyncio.to_thread(store, practice.dicom_port, [film("NOBODY")]) == [0]
    async with aiohttp.ClientSession() as http:
        admin = await practice.headers(http, ADMIN_EMAIL)
        inbox = (await practice.get(http, ADMIN_EMAIL, "/api/admin/unmatched"))["items"]
        thumbnail = f"{practice.url}{inbox[0]['thumbnail_url']}"
        async with http.get(thumbnail, headers=admin) as response:
            assert response.status == 200
            assert response.content_type == "image/jpeg"
        async with http.delete(
            f"{practice.url}/api/admin/unmatched/{inbox[0]['id']}", headers=admin
        ) as response:
            assert response.status == 204
        async with http.get(thumbnail, headers=admin) as response:
            assert response.status == 404


async def test_only_the_right_called_and_calling_ae_titles_may_store(
    practice: Practice,
) -> None:
    port, sent = practice.dicom_port, [film("X-AE")]
    assert await asyncio.to_thread(store, port, sent, called="NOTMEDSYS") is None
    assert await asyncio.to_thread(store, port, sent, calling="STRANGER") is None
    assert await asyncio.to_thread(store, port, sent, calling="CR1") == [0]


def test_a_network_listener_without_peers_is_refused(tmp_path: Path, database_url: str) -> None:
    environment = prepared_environment(tmp_path, database_url)
    result = run_cli(environment, "serve", "--host", "0.0.0.0", "--port", "0", "--dicom-port", "0")
    assert result.returncode == 2
    assert "MEDSYS_DICOM_PEERS" in result.stderr


async def tool(*command: str) -> subprocess.CompletedProcess[str]:
    """Run one of dcmtk's programs (off the event loop)."""
    return await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.skipif(shutil.which("storescu") is None, reason="dcmtk is not installed")
async def test_dcmtk_echoes_and_stores_uncompressed_and_jpeg_films(
    practice: Practice, tmp_path: Path
) -> None:
    port = str(practice.dicom_port)
    echo = await tool("echoscu", "-aet", "CR1", "-aec", "MEDSYS", "127.0.0.1", port)
    assert echo.returncode == 0, echo.stderr
    async with aiohttp.ClientSession() as http:
        patient = await practice.get(http, PATIENT_EMAIL, "/api/profile")
    number = patient["medical_record_number"]
    plain = tmp_path / "plain.dcm"
    film(number, "Patient^Live", seed=4).save_as(plain)
    photo = tmp_path / "photo.jpg"
    Image.fromarray((radiograph_pixels(120, 100, seed=5) >> 4).astype("uint8")).save(photo)
    jpeg = tmp_path / "jpeg.dcm"
    made = await tool(
        "img2dcm",
        "-k",
        f"PatientID={number}",
        "-k",
        "PatientName=Patient^Live",
        str(photo),
        str(jpeg),
    )
    assert made.returncode == 0, made.stderr
    for path, options in ((plain, []), (jpeg, ["-xy"])):
        sent = await tool(
            "storescu", *options, "-aet", "CR1", "-aec", "MEDSYS", "127.0.0.1", port, str(path)
        )
        assert sent.returncode == 0, sent.stderr
    async with aiohttp.ClientSession() as http:
        mine = (await practice.get(http, PATIENT_EMAIL, f"/api/xrays/{patient['id']}"))["items"]
    stored = {x["sop_instance_uid"] for x in mine}
    assert pydicom.dcmread(plain).SOPInstanceUID in stored
    assert pydicom.dcmread(jpeg).SOPInstanceUID in stored
    assert {x["content_type"] for x in mine} == {"application/dicom"}


async def test_films_sent_over_several_associations_at_once_are_each_filed_once(
    practice: Practice,
) -> None:
    """Arrivals from several associations at once share transactions (the arrival group
    commit): every film is answered with success, and filed once, even one that two machines
    send at the same moment."""
    async with aiohttp.ClientSession() as http:
        patient = await practice.get(http, PATIENT_EMAIL, "/api/profile")
        number = patient["medical_record_number"]
        shared = film(number, "Patient^Live", seed=70)
        batches = [
            [film(number, "Patient^Live", seed=71 + 3 * index + offset) for offset in range(3)]
            + [shared]
            for index in range(4)
        ]
        statuses = await asyncio.gather(
            *(asyncio.to_thread(store, practice.dicom_port, batch) for batch in batches)
        )
        assert statuses == [[0, 0, 0, 0]] * 4
        mine = await practice.get(http, PATIENT_EMAIL, f"/api/xrays/{patient['id']}?limit=200")
        uids = [xray["sop_instance_uid"] for xray in mine["items"]]
        for dataset in {d.SOPInstanceUID: d for batch in batches for d in batch}.values():
            assert uids.count(dataset.SOPInstanceUID) == 1
