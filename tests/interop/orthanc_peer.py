"""Orthanc (with its DICOMweb plugin) using medsys as a DICOMweb server: its STOW client sends
an instance to medsys, its QIDO proxy searches medsys, and its WADO client retrieves a study from
medsys into Orthanc.

Orthanc listens on every interface and has no setting to bind one address, so this runs only
inside a private network namespace (`unshare -n python -m tests.interop.orthanc_peer DIR`),
together with the medsys server it talks to; it brings up the namespace's loopback itself.
Prints one line per step, exits 0 when all passed.
"""

import io
import subprocess
import sys
from pathlib import Path

import pydicom
import requests

from devtools.live_server import LiveServer, create_user, run_cli, server_environment
from devtools.orthanc import URL as ORTHANC_URL
from devtools.orthanc import start_orthanc
from server.demo_images import radiograph_pixels, write_dicom

PASSWORD = "orthanc interop password"


def step(text: str) -> None:
    print(f"ok  {text}", flush=True)


def film(patient_id: str, seed: int) -> bytes:
    buffer = io.BytesIO()
    write_dicom(
        buffer, radiograph_pixels(64, 48, seed=seed), patient_id=patient_id, patient_name="Peer^Pat"
    )
    return buffer.getvalue()


def login(url: str, email: str) -> dict[str, str]:
    answer = requests.post(
        f"{url}/api/login", json={"email": email, "password": PASSWORD}, timeout=30
    )
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def main(folder: Path) -> int:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    environment = server_environment(folder, f"sqlite+aiosqlite:///{folder / 'medsys.db'}")
    assert run_cli(environment, "migrate").returncode == 0
    create_user(environment, "doctor", "doctor@peer.example", "Peer doctor", PASSWORD)
    create_user(environment, "patient", "patient@peer.example", "Peer patient", PASSWORD)
    medsys = LiveServer(environment)
    url = medsys.start()
    orthanc: subprocess.Popen[bytes] | None = None
    try:
        doctor = login(url, "doctor@peer.example")
        patient = login(url, "patient@peer.example")
        number = requests.get(f"{url}/api/profile", headers=patient, timeout=30).json()[
            "medical_record_number"
        ]
        servers = {"medsys": {"Url": f"{url}/dicomweb/", "HttpHeaders": doctor}}
        orthanc = start_orthanc(folder, Name="peer", DicomWeb={"Enable": True, "Servers": servers})
        step("Orthanc started with the DICOMweb plugin, medsys as its server")

        sent = film(number, 61)
        orthanc_id = requests.post(f"{ORTHANC_URL}/instances", data=sent, timeout=30).json()["ID"]
        stow = requests.post(
            f"{ORTHANC_URL}/dicom-web/servers/medsys/stow",
            json={"Resources": [orthanc_id]},
            timeout=60,
        )
        assert stow.ok, stow.text
        uid = pydicom.dcmread(io.BytesIO(sent)).SOPInstanceUID
        found = requests.get(
            f"{url}/dicomweb/instances?SOPInstanceUID={uid}", headers=doctor, timeout=30
        ).json()
        assert len(found) == 1, found
        step("Orthanc's STOW-RS stored an instance in medsys (chunked, its own boundary)")

        other = film(number, 62)
        boundary = "peer-boundary"
        body = (
            f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
            + other
            + f"\r\n--{boundary}--\r\n".encode()
        )
        stored = requests.post(
            f"{url}/dicomweb/studies",
            data=body,
            timeout=30,
            headers={
                **doctor,
                "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
            },
        )
        assert stored.status_code == 200, stored.text
        study = pydicom.dcmread(io.BytesIO(other)).StudyInstanceUID
        studies = requests.post(
            f"{ORTHANC_URL}/dicom-web/servers/medsys/get", json={"Uri": "/studies"}, timeout=60
        )
        assert studies.ok, studies.text
        assert study in studies.text
        step("Orthanc's QIDO-RS through /get found medsys's studies")

        retrieve = requests.post(
            f"{ORTHANC_URL}/dicom-web/servers/medsys/retrieve",
            json={"Resources": [{"Study": study}]},
            timeout=120,
        )
        assert retrieve.ok, retrieve.text
        here = requests.post(
            f"{ORTHANC_URL}/tools/find",
            json={"Level": "Study", "Query": {"StudyInstanceUID": study}},
            timeout=30,
        ).json()
        assert len(here) == 1, here
        step("Orthanc's WADO-RS through /retrieve copied a study from medsys into Orthanc")
    finally:
        if orthanc is not None:
            orthanc.terminate()
            orthanc.wait(timeout=30)
        medsys.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
