"""/dicomweb against a client no one here wrote (dicomweb-client), and the pitfalls its users and
Orthanc's report, each with a test. A real server process, the real database."""

import hashlib
import io
import secrets
from pathlib import Path

import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.uid import RLELossless

from server.demo_images import radiograph_pixels, write_dicom
from tests.server.test_dimse import ADMIN_EMAIL, DOCTOR_EMAIL, PATIENT_EMAIL, Practice
from tests.server.test_dimse import practice as practice
from tests.server.uploads import part10

DICOM_JSON = "application/dicom+json"


def token(practice: Practice, email: str) -> dict[str, str]:
    from tests.server.live import PASSWORD

    answer = requests.post(
        f"{practice.url}/api/login", json={"email": email, "password": PASSWORD}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def client(practice: Practice, email: str) -> DICOMwebClient:
    return DICOMwebClient(f"{practice.url}/dicomweb", headers=token(practice, email))


def film(patient_id: str, seed: int, name: str = "Patient^Live") -> pydicom.Dataset:
    buffer = io.BytesIO()
    write_dicom(
        buffer, radiograph_pixels(64, 48, seed=seed), patient_id=patient_id, patient_name=name
    )
    buffer.seek(0)
    return pydicom.dcmread(buffer)


@pytest.fixture(scope="module")
def number(practice: Practice) -> str:
    profile = requests.get(
        f"{practice.url}/api/profile", headers=token(practice, PATIENT_EMAIL), timeout=30
    )
    return str(profile.json()["medical_record_number"])


@pytest.fixture(scope="module")
def stored(practice: Practice, number: str) -> list[pydicom.Dataset]:
    """Three films of the patient, stored by a doctor through STOW-RS (one RLE-compressed)."""
    films = [film(number, seed) for seed in (21, 22, 23)]
    films[2].compress(RLELossless)
    answer = client(practice, DOCTOR_EMAIL).store_instances(films)
    assert len(answer.ReferencedSOPSequence) == 3
    return films


def test_search_retrieve_and_metadata_with_dicomweb_client(
    practice: Practice, stored: list[pydicom.Dataset], number: str
) -> None:
    doctor = client(practice, DOCTOR_EMAIL)
    studies = doctor.search_for_studies(search_filters={"PatientID": number})
    uids = {study["0020000D"]["Value"][0] for study in studies}
    assert {film.StudyInstanceUID for film in stored} <= uids
    # Paging: limit and offset walk the same list.
    pages = [doctor.search_for_studies(limit=1, offset=i) for i in range(len(studies))]
    assert [page[0]["0020000D"] for page in pages] == [study["0020000D"] for study in studies]
    first = stored[0]
    series = doctor.search_for_series(first.StudyInstanceUID)
    assert [s["0020000E"]["Value"][0] for s in series] == [first.SeriesInstanceUID]
    instance = doctor.retrieve_instance(
        first.StudyInstanceUID, first.SeriesInstanceUID, first.SOPInstanceUID
    )
    assert instance.SOPInstanceUID == first.SOPInstanceUID
    assert instance.PatientID == number
    assert (instance.pixel_array == first.pixel_array).all()
    study = doctor.retrieve_study(first.StudyInstanceUID)
    assert [d.SOPInstanceUID for d in study] == [first.SOPInstanceUID]
    metadata = doctor.retrieve_series_metadata(first.StudyInstanceUID, first.SeriesInstanceUID)
    bulk = metadata[0]["7FE00010"]["BulkDataURI"]
    assert bulk.startswith(f"{practice.url}/dicomweb/studies/")  # absolute
    assert metadata[0]["00020010"]["Value"] == [str(first.file_meta.TransferSyntaxUID)]
    frames = doctor.retrieve_instance_frames(
        first.StudyInstanceUID, first.SeriesInstanceUID, first.SOPInstanceUID, [1]
    )
    assert frames[0] == first.pixel_array.astype("<u2").tobytes()
    rendered = doctor.retrieve_instance_rendered(
        first.StudyInstanceUID, first.SeriesInstanceUID, first.SOPInstanceUID
    )
    assert rendered[:2] == b"\xff\xd8"


def test_a_patient_finds_only_their_own_studies(
    practice: Practice, stored: list[pydicom.Dataset]
) -> None:
    other = film("SOMEONE-ELSE", 31)
    answer = client(practice, ADMIN_EMAIL).store_instances([other])  # to the inbox
    assert len(answer.ReferencedSOPSequence) == 1
    patient = client(practice, PATIENT_EMAIL)
    mine = {s["0020000D"]["Value"][0] for s in patient.search_for_studies()}
    assert stored[0].StudyInstanceUID in mine
    assert other.StudyInstanceUID not in mine
    with pytest.raises(requests.HTTPError):
        patient.store_instances([film("X", 32)])  # storing is staff's


def test_the_pitfalls_viewers_meet(practice: Practice, stored: list[pydicom.Dataset]) -> None:
    headers = token(practice, DOCTOR_EMAIL)
    url = f"{practice.url}/dicomweb"
    answer = requests.get(f"{url}/studies", headers=headers, timeout=30)
    assert answer.headers["Content-Type"] == DICOM_JSON  # exactly, no charset
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    nothing = requests.get(f"{url}/studies?PatientID=NOBODY-AT-ALL", headers=headers, timeout=30)
    assert (nothing.status_code, nothing.json()) == (200, [])
    preflight = requests.options(
        f"{url}/studies",
        headers={
            "Origin": "http://viewer.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization, accept",
        },
        timeout=30,
    )
    assert preflight.status_code == 204
    assert "Accept" in preflight.headers["Access-Control-Allow-Headers"]

    # includefield: a comma list, repeated, by tag, or all.
    for query in (
        "includefield=PatientBirthDate,StudyDescription",
        "includefield=PatientBirthDate&includefield=StudyDescription",
        "includefield=00100030&includefield=00081030",
        "includefield=all",
    ):
        studies = requests.get(f"{url}/studies?{query}", headers=headers, timeout=30).json()
        assert all("00100030" in s and "00081030" in s for s in studies), query

    # transfer-syntax=*: the stored syntax; no preference: Explicit VR Little Endian.
    rle = stored[2]
    path = (
        f"{url}/studies/{rle.StudyInstanceUID}/series/{rle.SeriesInstanceUID}"
        f"/instances/{rle.SOPInstanceUID}"
    )
    for accept, expected in (
        ('multipart/related; type="application/dicom"; transfer-syntax=*', str(RLELossless)),
        ('multipart/related; type="application/dicom"', "1.2.840.10008.1.2.1"),
    ):
        got = requests.get(path, headers={**headers, "Accept": accept}, timeout=30)
        assert got.status_code == 200
        assert f"transfer-syntax={expected}" in got.text[:400]
    refused = requests.get(
        path,
        headers={
            **headers,
            "Accept": 'multipart/related; type="application/dicom"; '
            "transfer-syntax=1.2.840.10008.1.2.4.80",
        },
        timeout=30,
    )
    assert refused.status_code == 406
    # Every answer has a boundary of its own.
    boundaries = {
        requests.get(path, headers=headers, timeout=30).headers["Content-Type"] for _ in range(2)
    }
    assert len(boundaries) == 2


def stow(
    practice: Practice,
    body: bytes,
    content_type: str,
    path: str = "/studies",
    chunked: bool = False,
) -> requests.Response:
    headers = {**token(practice, DOCTOR_EMAIL), "Content-Type": content_type, "Accept": DICOM_JSON}
    data = iter([body[: len(body) // 2], body[len(body) // 2 :]]) if chunked else body
    return requests.post(f"{practice.url}/dicomweb{path}", data=data, headers=headers, timeout=60)


def multipart_body(parts: list[bytes], boundary: str) -> bytes:
    chunks = []
    for part in parts:
        chunks += [
            f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode(),
            part,
            b"\r\n",
        ]
    return b"".join(chunks) + f"--{boundary}--\r\n".encode()


def test_stow_takes_what_orthanc_and_others_send(practice: Practice, number: str) -> None:
    long = "-" * 10 + secrets.token_hex(31) + "x"  # 73 characters, as Orthanc's
    cases = [
        (f'multipart/related; type="application/dicom"; boundary="{long}"', long, False),
        (f"multipart/related; type=application/dicom; boundary={long}", long, True),
    ]
    for seed, (content_type, boundary, chunked) in enumerate(cases, start=41):
        instance = film(number, seed)
        answer = stow(
            practice, multipart_body([part10(instance)], boundary), content_type, chunked=chunked
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["Content-Type"] == DICOM_JSON
        referenced = answer.json()["00081199"]["Value"][0]
        assert referenced["00081155"]["Value"] == [instance.SOPInstanceUID]

    # Some stored, some not: 202 with reasons; none stored: 409.
    good, wrong_study = film(number, 51), film(number, 52)
    boundary = secrets.token_hex(8)
    mixed = stow(
        practice,
        multipart_body([part10(good), b"not a dicom file at all", part10(wrong_study)], boundary),
        f'multipart/related; type="application/dicom"; boundary={boundary}',
        path=f"/studies/{good.StudyInstanceUID}",
    )
    assert mixed.status_code == 202, mixed.text
    reasons = [item["00081197"]["Value"][0] for item in mixed.json()["00081198"]["Value"]]
    assert reasons == [0xC000, 0xA900]
    # The film of another study was placed with its header read, and taken away again.
    assert hashlib.sha256(part10(wrong_study)).hexdigest() not in stored_files(practice)
    assert hashlib.sha256(part10(good)).hexdigest() in stored_files(practice)
    none = stow(
        practice, multipart_body([b"nothing"], boundary), f"multipart/related; boundary={boundary}"
    )
    assert none.status_code == 409
    empty = stow(
        practice, f"--{boundary}--\r\n".encode(), f"multipart/related; boundary={boundary}"
    )
    assert empty.status_code == 400


def stored_files(practice: Practice) -> set[str]:
    """The names of the files in the server's image store (content addressed)."""
    storage = Path(practice.server.environment["MEDSYS_DATA_DIR"]) / "storage"
    # Not the display renders (a cache, made in the background when arrivals stop).
    kept = [storage / "objects", storage / "thumbnails"]
    return {path.name for folder in kept for path in folder.rglob("*") if path.is_file()}


def test_a_broken_body_stores_nothing_of_it(practice: Practice, number: str) -> None:
    """Parts are decoded while the body still arrives; a body that then turns out broken
    (here cut short; one over the size limit fails the same way) stores none of its parts,
    not even the whole ones before the break, and leaves no file behind."""
    boundary = secrets.token_hex(8)
    content_type = f'multipart/related; type="application/dicom"; boundary={boundary}'
    whole = [part10(film(number, seed)) for seed in (71, 72)]
    files_before = stored_files(practice)
    cut_short = multipart_body(whole, boundary)[: -len(f"--{boundary}--\r\n") - 100]
    answer = stow(practice, cut_short, content_type)
    assert answer.status_code == 400, answer.text
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert "ends inside a part" in answer.json()["detail"]
    doctor = client(practice, DOCTOR_EMAIL)
    for data in whole:
        uid = pydicom.dcmread(io.BytesIO(data)).SOPInstanceUID
        assert doctor.search_for_instances(search_filters={"SOPInstanceUID": uid}) == []
    assert stored_files(practice) == files_before
    # The same films, whole, are stored afterwards: nothing of the broken body stands in the way.
    answer = stow(practice, multipart_body(whole, boundary), content_type)
    assert answer.status_code == 200, answer.text
    originals = {hashlib.sha256(data).hexdigest() for data in whole}
    thumbnails = {f"{sha256}.jpg" for sha256 in originals}  # made once arrivals pause
    assert originals <= stored_files(practice) - files_before <= originals | thumbnails


def test_one_request_files_each_part_once_and_where_it_belongs(
    practice: Practice, number: str
) -> None:
    """The parts of a request are filed together (and with what arrives meanwhile): each new
    instance once, under its patient or in the inbox, audited as the doctor's; a repeat in the
    request and one stored before are reported stored and not stored again."""
    boundary = secrets.token_hex(8)
    content_type = f'multipart/related; type="application/dicom"; boundary={boundary}'
    earlier = film(number, 61)
    assert stow(practice, multipart_body([part10(earlier)], boundary), content_type).ok
    doctor = token(practice, DOCTOR_EMAIL)
    admin = token(practice, ADMIN_EMAIL)
    doctor_id = requests.get(f"{practice.url}/api/profile", headers=doctor, timeout=30).json()["id"]

    def created_by_stow() -> list[dict[str, object]]:
        audit = requests.get(
            f"{practice.url}/api/admin/audit?action=create&actor_id={doctor_id}&limit=200",
            headers=admin,
            timeout=30,
        ).json()["items"]
        return [
            event for event in audit if event["detail"] in ("STOW-RS", "to the unmatched inbox")
        ]

    audited_before = len(created_by_stow())
    mine = [film(number, seed) for seed in (62, 63, 64)]
    stranger = film("NOBODY-61", 65, name="Stranger^Sam")
    parts = [earlier, mine[0], mine[1], stranger, mine[0], mine[2]]
    answer = stow(
        practice, multipart_body([part10(part) for part in parts], boundary), content_type
    )

    assert answer.status_code == 200, answer.text
    referenced = answer.json()["00081199"]["Value"]
    assert [item["00081155"]["Value"][0] for item in referenced] == [
        part.SOPInstanceUID for part in parts
    ]
    patient = requests.get(
        f"{practice.url}/api/profile", headers=token(practice, PATIENT_EMAIL), timeout=30
    ).json()
    filed = requests.get(
        f"{practice.url}/api/xrays/{patient['id']}?limit=200", headers=doctor, timeout=30
    ).json()["items"]
    uids = [xray["sop_instance_uid"] for xray in filed]
    for instance in [earlier, *mine]:
        assert uids.count(instance.SOPInstanceUID) == 1
    inbox = requests.get(
        f"{practice.url}/api/admin/unmatched?limit=200", headers=admin, timeout=30
    ).json()["items"]
    assert [entry["patient_id_in_file"] for entry in inbox].count("NOBODY-61") == 1
    new_events = created_by_stow()[: len(created_by_stow()) - audited_before]
    assert sorted(str(event["detail"]) for event in new_events) == [
        "STOW-RS",
        "STOW-RS",
        "STOW-RS",
        "to the unmatched inbox",
    ]
    assert {event["ip"] for event in new_events} == {"127.0.0.1"}
