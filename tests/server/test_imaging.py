"""The imaging pipeline: compressed DICOM, metadata, display pixels and annotations."""

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from aiohttp.test_utils import TestClient
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from server import pixelcache
from server.demo_images import radiograph_pixels, secondary_capture, write_dicom
from server.imaging import write_thumbnail
from server.keys import DECODE_GATE, STORAGE
from shared import imaging as shared_imaging
from shared.imaging import DICOM, JPEG, read_header
from tests.server.conftest import Actor, Practice
from tests.server.problems import field_problem, problem
from tests.server.test_xrays import png_values
from tests.server.uploads import PYDICOM_FILES, form, part10, png16_bytes, upload


async def uploaded(client: TestClient, actor: Actor, content: bytes) -> dict[str, Any]:
    response = await upload(client, actor, form(content, filename="image.dcm"))
    assert response.status == 201, await response.text()
    return dict(await response.json())


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("MR_small_jp2klossless.dcm", (64, 64)),
        ("JPEG2000.dcm", (256, 1024)),
        ("MR_small_RLE.dcm", (64, 64)),
        ("SC_rgb_jpeg.dcm", (256, 256)),
    ],
)
async def test_compressed_dicom_is_decoded(
    client: TestClient, practice: Practice, name: str, size: tuple[int, int]
) -> None:
    patient = await practice.patient()
    xray = await uploaded(client, patient, (PYDICOM_FILES / name).read_bytes())
    assert (xray["width"], xray["height"]) == size
    pixels = await client.get(f"/api/xrays/{xray['id']}/pixels", headers=patient.headers)
    assert pixels.status == 200
    assert png_values(await pixels.read()).shape == (size[1], size[0])


@pytest.mark.parametrize(
    ("name", "syntax"),
    [("JPEGLSNearLossless_16.dcm", "JPEG-LS"), ("JPGExtended.dcm", "JPEG Extended")],
)
async def test_undecodable_transfer_syntax_is_named(
    client: TestClient, practice: Practice, name: str, syntax: str
) -> None:
    patient = await practice.patient()
    response = await upload(client, patient, form((PYDICOM_FILES / name).read_bytes()))
    body = await field_problem(response, "image")
    assert syntax in body["detail"]


async def test_dicom_metadata(client: TestClient, practice: Practice, tmp_path: Path) -> None:
    patient, doctor = await practice.patient(), await practice.doctor()
    path = tmp_path / "spaced.dcm"
    write_dicom(
        path, radiograph_pixels(300, 200), pixel_spacing_mm=(0.25, 0.2), patient_name="Doe^Jane"
    )
    xray = await uploaded(client, patient, path.read_bytes())
    response = await client.get(f"/api/xrays/{xray['id']}/metadata", headers=doctor.headers)
    assert response.status == 200
    metadata = await response.json()
    assert (metadata["width"], metadata["height"], metadata["bits_stored"]) == (300, 200, 12)
    assert metadata["photometric_interpretation"] == "MONOCHROME2"
    assert metadata["pixel_spacing"] == [0.25, 0.2]
    assert (metadata["modality"], metadata["body_part"]) == ("DX", "CHEST")
    assert len(metadata["study_date"]) == 10
    names = [preset["name"] for preset in metadata["window_presets"]]
    assert names == ["FULL", "Full range", "Auto (robust)"]
    assert metadata["window_presets"][0] == {"name": "FULL", "center": 2048.0, "width": 4096.0}
    tags = {tag["keyword"]: tag for tag in metadata["tags"]}
    assert tags["PatientName"]["value"] == "Doe^Jane"
    assert tags["PatientName"]["tag"] == "(0010,0010)"
    assert "PixelData" not in tags
    assert tags["TransferSyntaxUID"]["value"] == "1.2.840.10008.1.2.1"

    for_patient = await (
        await client.get(f"/api/xrays/{xray['id']}/metadata", headers=patient.headers)
    ).json()
    keywords = {tag["keyword"] for tag in for_patient["tags"]}
    assert "PatientName" not in keywords
    assert "PatientID" not in keywords
    assert "Modality" in keywords
    other = await practice.patient()
    await problem(await client.get(f"/api/xrays/{xray['id']}/metadata", headers=other.headers), 404)


async def test_png_metadata_has_computed_presets(client: TestClient, practice: Practice) -> None:
    patient = await practice.patient()
    xray = await uploaded(client, patient, png16_bytes(300, 400))
    metadata = await (
        await client.get(f"/api/xrays/{xray['id']}/metadata", headers=patient.headers)
    ).json()
    assert metadata["pixel_spacing"] is None
    assert metadata["bits_stored"] == 16
    assert metadata["tags"] == []
    full, robust = metadata["window_presets"]
    values = radiograph_pixels(300, 400)
    assert full["width"] == float(values.max()) - float(values.min())
    low, high = np.percentile(values, [0.5, 99.5])
    assert robust["center"] == pytest.approx((low + high) / 2, abs=1)


async def test_monochrome1_is_reported(
    client: TestClient, practice: Practice, tmp_path: Path
) -> None:
    import pydicom

    patient = await practice.patient()
    path = tmp_path / "mono1.dcm"
    write_dicom(path, radiograph_pixels(64, 64))
    dataset = pydicom.dcmread(path)
    dataset.PhotometricInterpretation = "MONOCHROME1"
    dataset.save_as(path)
    xray = await uploaded(client, patient, path.read_bytes())
    metadata = await (
        await client.get(f"/api/xrays/{xray['id']}/metadata", headers=patient.headers)
    ).json()
    assert metadata["photometric_interpretation"] == "MONOCHROME1"


ANNOTATIONS = {
    "annotations": [
        {"kind": "line", "points": [[10, 10], [110, 10]], "label": "100 px"},
        {"kind": "angle", "points": [[0, 0], [50, 50], [100, 0]]},
        {"kind": "arrow", "points": [[5, 5], [40, 40]]},
        {"kind": "text", "points": [[60, 60]], "label": "Effusion?"},
    ],
    "calibration_mm_per_pixel": 0.5,
}


async def test_annotations_are_kept_and_shown_to_the_patient_once_final(
    client: TestClient, practice: Practice
) -> None:
    patient, doctor, other = (
        await practice.patient(),
        await practice.doctor(),
        await practice.patient(),
    )
    xray = await uploaded(client, patient, png16_bytes(200, 200))
    path = f"/api/xrays/{xray['id']}/annotations"
    empty = await (await client.get(path, headers=doctor.headers)).json()
    assert empty == {
        "annotations": [],
        "calibration_mm_per_pixel": None,
        "author_id": None,
        "updated_at": None,
    }

    saved = await client.put(path, headers=doctor.headers, json=ANNOTATIONS)
    assert saved.status == 200, await saved.text()
    body = await saved.json()
    assert body["author_id"] == doctor.id
    assert [a["kind"] for a in body["annotations"]] == ["line", "angle", "arrow", "text"]
    assert body["calibration_mm_per_pixel"] == 0.5

    assert (await (await client.get(path, headers=patient.headers)).json())["annotations"] == []
    await client.patch(
        f"/api/xrays/{xray['id']}",
        headers=doctor.headers,
        json={"result_of_xray": "Normal", "result_final": True},
    )
    shown = await (await client.get(path, headers=patient.headers)).json()
    assert shown["annotations"][3] == {
        "kind": "text",
        "points": [[60.0, 60.0]],
        "label": "Effusion?",
    }

    await problem(await client.put(path, headers=patient.headers, json=ANNOTATIONS), 403)
    await problem(await client.get(path, headers=other.headers), 404)
    unsigned = await uploaded(client, patient, png16_bytes(50, 50))
    unsigned_path = f"/api/xrays/{unsigned['id']}/annotations"
    cleared = await client.put(unsigned_path, headers=doctor.headers, json={"annotations": []})
    assert (await cleared.json())["annotations"] == []
    bad = {"annotations": [{"kind": "angle", "points": [[0, 0], [1, 1]]}]}
    await field_problem(await client.put(path, headers=doctor.headers, json=bad), "annotations.0")
    untitled = {"annotations": [{"kind": "text", "points": [[0, 0]]}]}
    await field_problem(
        await client.put(path, headers=doctor.headers, json=untitled), "annotations.0"
    )
    # What the patient was shown with the signed result does not change: not even cleared.
    await problem(await client.put(path, headers=doctor.headers, json={"annotations": []}), 409)
    assert len((await (await client.get(path, headers=patient.headers)).json())["annotations"]) == 4


def _film(pixels: np.ndarray, *, signed: bool) -> bytes:
    """A 12-bit film whose 16-bit words are `pixels` as they are, unused high bits included."""
    dataset = secondary_capture(ExplicitVRLittleEndian, *pixels.shape, bits=12)
    dataset.PixelRepresentation = 1 if signed else 0
    dataset.PixelData = pixels.astype("<i2" if signed else "<u2").tobytes()
    return part10(dataset)


@pytest.mark.parametrize("signed", [False, True])
async def test_bits_above_bits_stored_do_not_change_the_thumbnail(
    client: TestClient, practice: Practice, signed: bool
) -> None:
    # PS3.5 8.1.1: bits above BitsStored carry no value; some modalities leave noise there.
    patient = await practice.patient()
    values = radiograph_pixels(300, 200).astype(np.int16)
    if signed:
        values -= 2048  # -2048..2047: the 12-bit signed range, sign-extended to 16 bits
    noise = np.random.default_rng(5).integers(0, 16, values.shape, dtype=np.int16) << 12
    clean = (values.astype(np.uint16) & 0x0FFF) if not signed else values
    noisy = (values.astype(np.uint16) & 0x0FFF | noise.astype(np.uint16)).view(np.int16)
    thumbnails = []
    for pixels in (clean, noisy):
        xray = await uploaded(client, patient, _film(pixels, signed=signed))
        thumbnail = await client.get(xray["thumbnail_url"], headers=patient.headers)
        assert thumbnail.status == 200
        thumbnails.append(await thumbnail.read())
    assert thumbnails[0] == thumbnails[1]


def _native_film(**changes: Any) -> bytes:
    """A plain 12-bit grey film (what a modality sends), with `changes` to its header."""
    dataset = pydicom.dcmread(io.BytesIO(_film(radiograph_pixels(60, 40), signed=False)))
    for keyword, value in changes.items():
        setattr(dataset, keyword, value)
    return part10(dataset)


def _with_voi_lut() -> bytes:
    item = Dataset()
    item.LUTDescriptor = [4, 0, 16]
    item.LUTData = np.array([0, 1000, 3000, 65535], "<u2").tobytes()
    return _native_film(VOILUTSequence=[item])


def _colour() -> bytes:
    dataset = pydicom.dcmread(io.BytesIO(_native_film()))
    dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 3, "RGB"
    dataset.PlanarConfiguration, dataset.BitsAllocated, dataset.BitsStored = 0, 8, 8
    dataset.HighBit = 7
    dataset.PixelData = np.zeros((40, 60, 3), np.uint8).tobytes()
    return part10(dataset)


@pytest.mark.parametrize(
    ("content", "checked"),
    [
        (_native_film, True),
        (lambda: _native_film(PhotometricInterpretation="MONOCHROME1"), True),
        (lambda: (PYDICOM_FILES / "MR_small_RLE.dcm").read_bytes(), False),  # compressed
        (_colour, False),
        (_with_voi_lut, False),
        (lambda: _native_film(BitsAllocated=12), False),  # pydicom refuses to decode it
    ],
    ids=["grey", "monochrome1", "compressed", "colour", "voi-lut", "12-bits-allocated"],
)
def test_only_a_plain_native_grey_film_is_checked_without_decoding(
    tmp_path: Path, content: Callable[[], bytes], checked: bool
) -> None:
    """A film checked by its header is stored without a decode on arrival (its thumbnail comes
    later): only where the decode could refuse nothing the header has not."""
    path = tmp_path / "film.dcm"
    path.write_bytes(content())
    assert read_header(path, DICOM).checked_without_decoding is checked


def test_each_film_is_judged_by_its_own_pixel_description(tmp_path: Path) -> None:
    """The judgement is kept per pixel description (a modality's films share one): a film
    that differs from one judged before in one value of it is judged again."""
    films = {
        "grey": (_native_film(), True),
        "12-bits-allocated": (_native_film(BitsAllocated=12), False),
        "rescaled": (_native_film(RescaleSlope=2, RescaleIntercept=-1024), True),
        "voi-lut": (_with_voi_lut(), False),
        "grey again": (_native_film(), True),
    }
    for name, (content, checked) in films.items():
        path = tmp_path / f"{name}.dcm"
        path.write_bytes(content)
        assert read_header(path, DICOM).checked_without_decoding is checked, name


def test_a_pixel_description_too_big_to_key_is_judged_but_not_kept(tmp_path: Path) -> None:
    """A hostile file's description could take megabytes: kept 256 times over, that would
    be a worker's memory. One over the bound is judged each time, and not kept."""
    path = tmp_path / "long.dcm"
    path.write_bytes(_native_film(WindowCenterWidthExplanation=["A LONG EXPLANATION" * 3] * 100))
    kept = dict(shared_imaging._judged)
    assert read_header(path, DICOM).checked_without_decoding
    assert shared_imaging._judged == kept


async def test_a_film_with_an_odd_bit_depth_is_still_decoded_and_refused_on_arrival(
    client: TestClient, practice: Practice
) -> None:
    patient = await practice.patient()
    response = await upload(client, patient, form(_native_film(BitsAllocated=12)))
    body = await field_problem(response, "image")
    assert "Bits Allocated" in body["detail"]


async def test_a_native_film_is_stored_undecoded_and_its_thumbnail_made_when_asked(
    client: TestClient, practice: Practice, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No decode on arrival; the thumbnail asked for before the background render (held off
    here) is made then, the same as a decode on arrival made it, with the display pixels."""
    monkeypatch.setattr(pixelcache, "QUIET_SECONDS", 3600)  # no background render
    gate = client.app[DECODE_GATE]
    decoded: list[str] = []
    decode = gate.decode

    async def counted(cost: int, function: Callable[..., Any], *args: Any) -> Any:
        if function is not read_header:  # arrivals' headers are read in the workers too
            decoded.append(function.__name__)
        return await decode(cost, function, *args)

    monkeypatch.setattr(gate, "decode", counted)
    patient = await practice.patient()
    content = _native_film()
    xray = await uploaded(client, patient, content)
    assert decoded == []
    store = client.app[STORAGE]
    thumbnail_file = store.thumbnail_path(xray["sha256"], JPEG)
    assert not thumbnail_file.exists()

    answer = await client.get(xray["thumbnail_url"], headers=patient.headers)
    assert answer.status == 200
    assert answer.content_type == JPEG
    thumbnail = await answer.read()
    assert decoded == ["render_film"]
    original = tmp_path / "film.dcm"
    original.write_bytes(content)
    expected = tmp_path / "expected.jpg"
    write_thumbnail(original, read_header(original, DICOM), expected)
    assert thumbnail == expected.read_bytes() == thumbnail_file.read_bytes()
    assert store.pixels_path(xray["sha256"]).exists()  # the same decode rendered them
    again = await client.get(xray["thumbnail_url"], headers=patient.headers)
    assert await again.read() == thumbnail
    assert decoded == ["render_film"]  # made once


async def test_a_thumbnail_that_cannot_be_made_says_why(
    client: TestClient, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The original was damaged in the store after its arrival (cut short): asked for its
    thumbnail, the server says what is wrong instead of failing without a word."""
    monkeypatch.setattr(pixelcache, "QUIET_SECONDS", 3600)
    patient = await practice.patient()
    xray = await uploaded(client, patient, _native_film())
    original = client.app[STORAGE].original_path(xray["sha256"])
    original.write_bytes(original.read_bytes()[:-1000])
    body = await problem(await client.get(xray["thumbnail_url"], headers=patient.headers), 500)
    assert "thumbnail cannot be made" in body["detail"]
    assert "pixel data" in body["detail"]
