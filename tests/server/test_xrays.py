"""X-ray upload, storage, serving and permissions; bad files leave nothing behind."""

import asyncio
import contextlib
import io
import os
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from aiohttp.test_utils import TestClient
from PIL import Image
from pydicom.pixels.processing import apply_modality_lut
from sqlalchemy import func, select

from server.api.xrays import _opened
from server.db import one_session
from server.demo_images import radiograph_pixels, write_dicom
from server.keys import PIXEL_RENDERER, STORAGE
from server.orm import XRayRow
from server.settings import Settings
from server.storage import LOCK_NAME
from tests.server.conftest import Actor, Practice
from tests.server.problems import field_problem, problem
from tests.server.uploads import (
    PYDICOM_FILES,
    dicom_bytes,
    form,
    jpeg_bytes,
    png16_bytes,
    png_bytes,
    upload,
    upload_png,
)


def stored_files(settings: Settings) -> list[Path]:
    """Every file in the store but the running server's lock on its temporary folder."""
    return sorted(
        path
        for path in settings.storage_dir.rglob("*")
        if path.is_file() and path.name != LOCK_NAME
    )


async def xray_rows(settings: Settings) -> int:
    async with one_session(settings.database_url) as db:
        return int(await db.scalar(select(func.count()).select_from(XRayRow)) or 0)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(side: int = 20000) -> bytes:
    """A real decompression bomb: a few kilobytes that decode to side² one-bit pixels."""
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + side // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", body)
        + png_chunk(b"IEND", b"")
    )


async def fetch(client: TestClient, actor: Actor, path: str, **headers: str) -> Any:
    return await client.get(path, headers={**actor.headers, **headers})


@pytest.mark.parametrize(
    ("kind", "content_type", "size"),
    [
        ("png", "image/png", (64, 48)),
        ("png16", "image/png", (300, 400)),
        ("jpeg", "image/jpeg", (80, 60)),
        ("dicom", "application/dicom", (200, 160)),
    ],
)
async def test_patient_uploads_and_reads_back_exact_bytes(
    client: TestClient,
    practice: Practice,
    tmp_path: Path,
    kind: str,
    content_type: str,
    size: tuple[int, int],
) -> None:
    image = {
        "png": png_bytes,
        "png16": png16_bytes,
        "jpeg": jpeg_bytes,
        "dicom": lambda: dicom_bytes(tmp_path),
    }[kind]()
    patient = await practice.patient()
    # The declared type and file name are ignored: content decides.
    response = await upload(
        client,
        patient,
        form(
            image,
            filename="scan.bin",
            content_type="application/octet-stream",
            name_of_xray="Left wrist",
            type_of_xray="limb",
            description_of_xray="After a fall",
        ),
    )
    assert response.status == 201, await response.text()
    xray = await response.json()
    assert xray["user_id"] == patient.id
    assert (xray["name_of_xray"], xray["type_of_xray"], xray["description_of_xray"]) == (
        "Left wrist",
        "limb",
        "After a fall",
    )
    assert xray["result_of_xray"] is None
    assert (xray["content_type"], xray["width"], xray["height"]) == (content_type, *size)
    assert xray["size_bytes"] == len(image)
    assert xray["image_of_xray"] == f"/api/xrays/{xray['id']}/image"
    assert xray["thumbnail_url"] == f"/api/xrays/{xray['id']}/thumbnail"

    original = await fetch(client, patient, xray["image_of_xray"])
    assert original.status == 200
    assert await original.read() == image
    assert original.content_type == content_type
    assert original.headers["ETag"] == f'"{xray["sha256"]}"'
    assert original.headers["Cache-Control"] == "private, no-cache"
    not_modified = await fetch(
        client, patient, xray["image_of_xray"], **{"If-None-Match": original.headers["ETag"]}
    )
    assert not_modified.status == 304
    assert await not_modified.read() == b""

    thumbnail = await fetch(client, patient, xray["thumbnail_url"])
    assert thumbnail.status == 200
    assert thumbnail.content_type in ("image/png", "image/jpeg")
    preview = Image.open(io.BytesIO(await thumbnail.read()))
    width, height = size
    scale = min(1.0, 256 / max(width, height))  # shrunk to fit 256, never enlarged
    assert preview.size == (round(width * scale), round(height * scale))


async def test_a_film_whose_file_is_gone_says_so(client: TestClient, practice: Practice) -> None:
    """A damaged image store (a file deleted by hand, a restore that missed some): the viewer
    is told what is wrong and what to do, not given an unexplained failure."""
    patient = await practice.patient()
    xray = await upload_png(client, patient)
    store = client.app[STORAGE]
    store.thumbnail_path(xray["sha256"], "image/png").unlink()
    store.original_path(xray["sha256"]).unlink()
    for path in (xray["thumbnail_url"], xray["image_of_xray"]):
        body = await problem(await fetch(client, patient, path), 500)
        assert "missing from the server's image store" in body["detail"]
        assert "medsys-server fsck" in body["detail"]


async def test_doctor_and_admin_upload_for_a_patient(
    client: TestClient, practice: Practice
) -> None:
    patient, doctor = await practice.patient(), await practice.doctor()
    for actor in (doctor, practice.admin):
        xray = await upload_png(client, actor, user_id=str(patient.id))
        assert xray["user_id"] == patient.id
    await field_problem(await upload(client, doctor, form(png_bytes())), "user_id")
    await field_problem(
        await upload(client, doctor, form(png_bytes(), user_id=str(doctor.id))), "user_id"
    )
    await field_problem(await upload(client, doctor, form(png_bytes(), user_id="abc")), "user_id")
    listed = await (await fetch(client, patient, f"/api/xrays/{patient.id}")).json()
    assert len(listed["items"]) == 2


async def test_patient_may_only_upload_their_own(
    client: TestClient, practice: Practice, settings: Settings
) -> None:
    patient, other = await practice.patient(), await practice.patient()
    await problem(await upload(client, patient, form(png_bytes(), user_id=str(other.id))), 403)
    assert (await upload(client, patient, form(png_bytes(), user_id=str(patient.id)))).status == 201
    assert await xray_rows(settings) == 1


def _truncated_png() -> bytes:
    whole = png_bytes(400, 400)
    return whole[: len(whole) // 2]


def _dicom_declaring_more_pixel_data_than_the_file_holds() -> bytes:
    """Rows and columns match the bytes present, but the element claims a gigabyte."""
    buffer = io.BytesIO()
    write_dicom(buffer, radiograph_pixels(32, 24))
    content = buffer.getvalue()
    length_at = content.index(b"\xe0\x7f\x10\x00OW") + 8
    return content[:length_at] + struct.pack("<I", 2**30) + content[length_at + 4 :]


def _dicom_missing_frames() -> bytes:
    """NumberOfFrames says three; the pixel data holds one."""
    buffer = io.BytesIO()
    write_dicom(buffer, radiograph_pixels(32, 24), number_of_frames=3)
    return buffer.getvalue()


BAD_FILES = {
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="10" height="10"/></svg>', 415),
    "text named .png": (b"just some words, not an image at all", 415),
    "empty": (b"", 415),
    "truncated png": (_truncated_png(), 422),
    "decompression bomb": (png_bomb(), 422),
    "png header only": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, 422),
    "jpeg header only": (b"\xff\xd8\xff\xe0" + b"\x00" * 200, 422),
    "dicom without pixels": ((PYDICOM_FILES / "rtplan.dcm").read_bytes(), 422),
    "truncated dicom": ((PYDICOM_FILES / "MR_truncated.dcm").read_bytes(), 422),
    "dicom pixel data longer than the file": (
        _dicom_declaring_more_pixel_data_than_the_file_holds(),
        422,
    ),
    "dicom frames missing": (_dicom_missing_frames(), 422),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
async def test_bad_files_are_refused_and_leave_nothing(
    client: TestClient, practice: Practice, settings: Settings, name: str
) -> None:
    patient = await practice.patient()
    content, status = BAD_FILES[name]
    response = await upload(client, patient, form(content, filename="xray.png"))
    body = await problem(response, status)
    if status == 422:
        assert body["errors"][0]["field"] == "image"
    assert stored_files(settings) == []
    assert await xray_rows(settings) == 0


async def test_an_original_is_a_download_the_browser_may_not_sniff(
    client: TestClient, practice: Practice
) -> None:
    patient = await practice.patient()
    # A real PNG with a web page after its end: kept byte for byte, but never run as HTML.
    polyglot = png_bytes() + b"<html><script>alert(document.cookie)</script></html>"
    response = await upload(client, patient, form(polyglot))
    assert response.status == 201, await response.text()
    xray = await response.json()
    original = await fetch(client, patient, xray["image_of_xray"])
    assert await original.read() == polyglot
    assert original.headers["Content-Type"] == "image/png"
    assert original.headers["X-Content-Type-Options"] == "nosniff"
    assert (
        original.headers["Content-Disposition"] == f'attachment; filename="xray-{xray["id"]}.png"'
    )
    for path in (xray["thumbnail_url"], f"/api/unique_xray/{xray['id']}", "/api/nothing-here"):
        answer = await fetch(client, patient, path)
        assert answer.headers["X-Content-Type-Options"] == "nosniff", path


async def test_an_image_over_the_decoded_memory_limit_is_refused_naming_it(
    client: TestClient, practice: Practice, settings: Settings
) -> None:
    patient = await practice.patient()
    # 3 million pixels (within the pixel limit), but 12,000,000 bytes decoded (RGB): over 8 MB.
    response = await upload(client, patient, form(png_bytes(2000, 1500, mode="RGB")))
    body = await field_problem(response, "image")
    assert "11 MB" in body["detail"]  # 12,000,000 bytes
    assert "8 MB allowed" in body["detail"]
    assert stored_files(settings) == []


async def test_bad_fields_are_refused_and_leave_nothing(
    client: TestClient, practice: Practice, settings: Settings
) -> None:
    patient = await practice.patient()
    await field_problem(
        await upload(client, patient, form(png_bytes(), type_of_xray="brain")), "type_of_xray"
    )
    await field_problem(
        await upload(client, patient, form(png_bytes(), name_of_xray="")), "name_of_xray"
    )
    await field_problem(
        await upload(client, patient, form(png_bytes(), name_of_xray="n" * 201)), "name_of_xray"
    )
    await field_problem(await upload(client, patient, form(None)), "image")
    await problem(
        await client.post("/api/xrays", headers=patient.headers, json={"name_of_xray": "x"}), 415
    )
    garbled = await client.post(
        "/api/xrays",
        headers={**patient.headers, "Content-Type": "multipart/form-data"},
        data=b"--x\r\n",
    )
    await problem(garbled, 400)
    assert stored_files(settings) == []
    assert await xray_rows(settings) == 0


async def test_oversize_uploads_are_413_with_or_without_content_length(
    client: TestClient, practice: Practice, settings: Settings
) -> None:
    patient = await practice.patient()
    too_big = b"\x89PNG\r\n\x1a\n" + b"\x00" * settings.max_upload_bytes
    await problem(await upload(client, patient, form(too_big)), 413)

    boundary = "medsysboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="name_of_xray"\r\n\r\nBig\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="type_of_xray"\r\n\r\nchest\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="big.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()

    async def chunked_body() -> AsyncIterator[bytes]:
        yield head + b"\x89PNG\r\n\x1a\n"
        for _ in range(settings.max_upload_bytes // 65536 + 2):
            yield b"\x00" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await client.post(
        "/api/xrays",
        headers={**patient.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        data=chunked_body(),
    )
    await problem(response, 413)
    assert stored_files(settings) == []
    assert await xray_rows(settings) == 0


async def test_unauthenticated_upload_is_401_before_anything(
    client: TestClient, settings: Settings
) -> None:
    response = await client.post("/api/xrays", data=form(png_bytes()))
    await problem(response, 401)
    assert stored_files(settings) == []


async def test_same_image_twice_is_stored_once(
    client: TestClient, practice: Practice, settings: Settings
) -> None:
    patient, other = await practice.patient(), await practice.patient()
    first = await upload_png(client, patient)
    second = await upload_png(client, other)
    assert first["sha256"] == second["sha256"]
    assert first["id"] != second["id"]
    assert len([p for p in stored_files(settings) if "objects" in p.parts]) == 1


async def test_who_sees_and_changes_which_xray(client: TestClient, practice: Practice) -> None:
    patient_a, patient_b = await practice.patient(), await practice.patient()
    doctor_a, doctor_b = await practice.doctor(), await practice.doctor()
    xray = await upload_png(client, patient_a)
    paths = [f"/api/unique_xray/{xray['id']}", xray["image_of_xray"], xray["thumbnail_url"]]
    for actor in (patient_a, doctor_a, doctor_b, practice.admin):
        for path in paths:
            assert (await fetch(client, actor, path)).status == 200, path
        assert (await fetch(client, actor, f"/api/xrays/{patient_a.id}")).status == 200
    for path in paths:
        await problem(await fetch(client, patient_b, path), 404)
    await problem(await fetch(client, patient_b, f"/api/xrays/{patient_a.id}"), 403)
    await problem(await fetch(client, doctor_a, f"/api/xrays/{doctor_b.id}"), 404)
    await problem(await fetch(client, doctor_a, "/api/xrays/999999"), 404)

    def patch(actor, body):
        return client.patch(f"/api/xrays/{xray['id']}", headers=actor.headers, json=body)

    await problem(await patch(patient_a, {"result_of_xray": "All fine, says I."}), 403)
    await problem(await patch(doctor_a, {"name_of_xray": "Renamed"}), 403)
    await problem(await patch(patient_b, {"name_of_xray": "Mine now"}), 404)
    await field_problem(await patch(patient_a, {"type_of_xray": "brain"}), "type_of_xray")
    await field_problem(await patch(patient_a, {"name_of_xray": None}), "name_of_xray")

    renamed = await patch(
        patient_a, {"name_of_xray": "Chest, standing", "description_of_xray": None}
    )
    assert renamed.status == 200
    assert (await renamed.json())["description_of_xray"] is None
    result = await patch(doctor_b, {"result_of_xray": "No fracture."})
    assert (await result.json())["result_of_xray"] == "No fracture."
    seen = await (await fetch(client, patient_a, f"/api/unique_xray/{xray['id']}")).json()
    # The patient sees the result only once the doctor has marked it final.
    assert (seen["name_of_xray"], seen["result_of_xray"], seen["result_final"]) == (
        "Chest, standing",
        None,
        False,
    )
    await problem(await patch(patient_a, {"result_final": True}), 403)
    final = await patch(doctor_a, {"result_final": True})
    assert (await final.json())["result_final"] is True
    seen = await (await fetch(client, patient_a, f"/api/unique_xray/{xray['id']}")).json()
    assert seen["result_of_xray"] == "No fracture."
    listed = await (await fetch(client, patient_a, f"/api/xrays/{patient_a.id}")).json()
    assert listed["items"][0]["result_of_xray"] == "No fracture."


async def test_admin_deletes_softly(
    client: TestClient, practice: Practice, settings: Settings
) -> None:
    patient, doctor = await practice.patient(), await practice.doctor()
    xray = await upload_png(client, patient)
    await problem(await client.delete(f"/api/xrays/{xray['id']}", headers=doctor.headers), 403)
    await problem(await client.delete(f"/api/xrays/{xray['id']}", headers=patient.headers), 403)
    assert (
        await client.delete(f"/api/xrays/{xray['id']}", headers=practice.admin.headers)
    ).status == 204
    for actor in (patient, doctor, practice.admin):
        await problem(await fetch(client, actor, f"/api/unique_xray/{xray['id']}"), 404)
        await problem(await fetch(client, actor, xray["image_of_xray"]), 404)
        assert (await (await fetch(client, actor, f"/api/xrays/{patient.id}")).json())[
            "items"
        ] == []
    await problem(
        await client.delete(f"/api/xrays/{xray['id']}", headers=practice.admin.headers), 404
    )
    # Kept for retention: the row and the file are still there.
    assert await xray_rows(settings) == 1
    assert any(path.name == xray["sha256"] for path in stored_files(settings))


def png_values(body: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(body)))


async def test_display_pixels_keep_full_depth(
    client: TestClient, practice: Practice, tmp_path: Path
) -> None:
    patient, other = await practice.patient(), await practice.patient()
    pixels16 = radiograph_pixels(120, 90)
    dicom_path = tmp_path / "deep.dcm"
    write_dicom(dicom_path, pixels16)
    cases = [
        (dicom_path.read_bytes(), pixels16, 16),
        (png16_bytes(300, 400), radiograph_pixels(300, 400), 16),
        (png_bytes(), png_values(png_bytes()), 8),
    ]
    for image, expected, bits in cases:
        response = await upload(client, patient, form(image))
        xray = await response.json()
        pixels = await fetch(client, patient, f"/api/xrays/{xray['id']}/pixels")
        assert pixels.status == 200
        assert pixels.content_type == "image/png"
        assert pixels.headers["X-Pixel-Bits"] == str(bits)
        assert float(pixels.headers["X-Pixel-Offset"]) == 0
        assert float(pixels.headers["X-Pixel-Scale"]) == 1
        values = png_values(await pixels.read())
        assert values.dtype == (np.uint16 if bits == 16 else np.uint8)
        assert np.array_equal(values, expected)
        again = await fetch(
            client,
            patient,
            f"/api/xrays/{xray['id']}/pixels",
            **{"If-None-Match": pixels.headers["ETag"]},
        )
        assert again.status == 304
        await problem(await fetch(client, other, f"/api/xrays/{xray['id']}/pixels"), 404)


async def test_a_film_s_display_pixels_are_rendered_at_ingest(
    client: TestClient, practice: Practice, tmp_path: Path
) -> None:
    # The viewer's first /pixels should find them ready, not wait for a render; films that
    # arrived together are rendered one after another once they stop arriving.
    patient = await practice.patient()
    xrays = []
    for seed in range(3):
        dicom_path = tmp_path / f"film-{seed}.dcm"
        write_dicom(dicom_path, radiograph_pixels(200, 160, seed=seed))
        response = await upload(client, patient, form(dicom_path.read_bytes()))
        assert response.status == 201, await response.text()
        xrays.append(await response.json())
    store, renderer = client.app[STORAGE], client.app[PIXEL_RENDERER]
    await renderer.idle()  # no /pixels request has been made
    for xray in xrays:
        rendered = store.pixels_path(xray["sha256"])
        assert rendered.is_file()
        pixels = await fetch(client, patient, f"/api/xrays/{xray['id']}/pixels")
        assert pixels.status == 200
        assert await pixels.read() == rendered.read_bytes()


async def test_display_pixels_of_a_ct_undo_the_rescale(
    client: TestClient, practice: Practice
) -> None:
    patient = await practice.patient()
    ct = pydicom.dcmread(PYDICOM_FILES / "CT_small.dcm")
    hounsfield = apply_modality_lut(ct.pixel_array, ct)
    response = await upload(client, patient, form((PYDICOM_FILES / "CT_small.dcm").read_bytes()))
    assert response.status == 201, await response.text()
    xray = await response.json()
    pixels = await fetch(client, patient, f"/api/xrays/{xray['id']}/pixels")
    offset, scale = float(pixels.headers["X-Pixel-Offset"]), float(pixels.headers["X-Pixel-Scale"])
    restored = png_values(await pixels.read()).astype(np.float64) * scale + offset
    assert np.allclose(restored, hounsfield)


def test_a_file_opened_for_a_request_cancelled_meanwhile_is_closed(tmp_path: Path) -> None:
    """The server stopping cancels a download whose file a thread is opening; the file the
    thread opens is closed, not left open until the garbage collector finds it (a
    ResourceWarning then, and a descriptor held till then)."""
    path = tmp_path / "film.dcm"
    path.write_bytes(b"a film")

    def descriptors_on_it() -> list[str]:
        found = []
        for descriptor in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):  # closed since it was listed
                if os.readlink(f"/proc/self/fd/{descriptor}") == str(path):
                    found.append(descriptor)
        return found

    async def cancelled_while_opening() -> list[str]:
        download = asyncio.ensure_future(_opened(path))
        await asyncio.sleep(0)  # one turn of the loop: the open is handed to a thread
        download.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await download
        await asyncio.get_running_loop().shutdown_default_executor()  # the open has ended
        for _ in range(100):  # turns of the loop, no time: until its result is handled
            if not descriptors_on_it():
                break
            await asyncio.sleep(0)
        return descriptors_on_it()

    assert asyncio.run(cancelled_while_opening()) == []
