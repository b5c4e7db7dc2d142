"""DICOM in, measured: C-STORE of N instances over 4 parallel associations, and STOW-RS of the
same instances in 4 parallel requests, into medsys and, side by side in the same run, into
Orthanc (its C-STORE SCP and its STOW-RS) when Orthanc and its DICOMweb plugin are installed.

Orthanc listens on every interface, so with Orthanc the whole run happens in a private network
namespace: run as root, this script re-runs itself under `unshare -n` (loopback only). Prints
instances per second and MB/s for each, and medsys's resident memory before and after.

    .venv/bin/python -m bench.dicom [--count 200]
"""

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pydicom
import requests
from pynetdicom import AE
from pynetdicom.sop_class import SecondaryCaptureImageStorage  # type: ignore[attr-defined]

from devtools.live_server import LiveServer, run_cli, server_environment
from server.demo_images import radiograph_pixels, write_dicom

PARALLEL = 4
PASSWORD = "bench password 1"
ORTHANC_HTTP, ORTHANC_DICOM = 8042, 4242
PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
IN_NAMESPACE = "MEDSYS_BENCH_IN_NAMESPACE"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def instances(count: int, patient_id: str) -> list[bytes]:
    """`count` distinct 512×512 12-bit films of one patient, as Part 10 files."""
    pixels = radiograph_pixels(512, 512, seed=7)
    files = []
    for _ in range(count):
        buffer = io.BytesIO()
        write_dicom(buffer, pixels, patient_id=patient_id, patient_name="Bench^Patient")
        files.append(buffer.getvalue())
    return files


def c_store(port: int, called: str, files: list[bytes]) -> None:
    """Send the files over PARALLEL associations at once."""
    datasets = [pydicom.dcmread(io.BytesIO(data)) for data in files]
    shares = [datasets[index::PARALLEL] for index in range(PARALLEL)]

    def send(share: list[pydicom.Dataset]) -> None:
        ae = AE(ae_title="BENCH")
        ae.add_requested_context(SecondaryCaptureImageStorage, "1.2.840.10008.1.2.1")
        assoc = ae.associate("127.0.0.1", port, ae_title=called)
        assert assoc.is_established
        try:
            for dataset in share:
                assert assoc.send_c_store(dataset).Status == 0
        finally:
            assoc.release()

    with ThreadPoolExecutor(PARALLEL) as pool:
        list(pool.map(send, shares))


def stow(url: str, headers: dict[str, str], files: list[bytes]) -> None:
    """POST the files as PARALLEL multipart/related requests at once."""
    boundary = "bench-boundary-7f3a"

    def post(share: list[bytes]) -> None:
        body = (
            b"".join(
                f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + data + b"\r\n"
                for data in share
            )
            + f"--{boundary}--\r\n".encode()
        )
        content_type = f'multipart/related; type="application/dicom"; boundary={boundary}'
        answer = requests.post(
            url, data=body, headers={**headers, "Content-Type": content_type}, timeout=600
        )
        assert answer.status_code == 200, answer.text[:300]

    with ThreadPoolExecutor(PARALLEL) as pool:
        list(pool.map(post, [files[index::PARALLEL] for index in range(PARALLEL)]))


def timed(work: Callable[[], None], files: list[bytes]) -> tuple[float, float]:
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    return len(files) / seconds, sum(len(f) for f in files) / seconds / 1e6


def start_orthanc(folder: Path) -> subprocess.Popen[bytes] | None:
    if shutil.which("Orthanc") is None or not Path(PLUGIN).exists():
        return None
    config = {
        "StorageDirectory": str(folder / "orthanc-storage"),
        "IndexDirectory": str(folder / "orthanc-index"),
        "HttpPort": ORTHANC_HTTP,
        "DicomPort": ORTHANC_DICOM,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomCheckCalledAet": False,
        "Plugins": [PLUGIN],
        "DicomWeb": {"Enable": True},
    }
    (folder / "orthanc.json").write_text(json.dumps(config))
    process = subprocess.Popen(
        ["Orthanc", str(folder / "orthanc.json")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{ORTHANC_HTTP}/system", timeout=2).ok:
                return process
        except requests.ConnectionError:
            time.sleep(0.2)  # Orthanc offers no readiness signal to wait on
    process.kill()
    raise RuntimeError("Orthanc did not start")


def run(count: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        environment = server_environment(folder, f"sqlite+aiosqlite:///{folder / 'medsys.db'}")
        assert run_cli(environment, "migrate").returncode == 0
        for usertype, email in (("doctor", "doctor@bench.example"), ("patient", "p@bench.example")):
            created = run_cli(
                environment,
                "create-user",
                "--usertype",
                usertype,
                "--email",
                email,
                "--full-name",
                "Bench",
                "--password-stdin",
                stdin=f"{PASSWORD}\n",
            )
            assert created.returncode == 0, created.stderr
        medsys = LiveServer(environment, ("--dicom-port", "11112"))
        url = medsys.start()
        orthanc = start_orthanc(folder)
        try:
            login = requests.post(
                f"{url}/api/login",
                timeout=30,
                json={"email": "doctor@bench.example", "password": PASSWORD},
            )
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            patient = requests.post(
                f"{url}/api/login",
                timeout=30,
                json={"email": "p@bench.example", "password": PASSWORD},
            )
            number = patient.json()["user"]["medical_record_number"]
            assert medsys.process is not None
            before = rss_mb(medsys.process.pid)
            rows = []
            by_store = instances(count, number)
            rows.append(
                ("C-STORE", "medsys", timed(lambda: c_store(11112, "MEDSYS", by_store), by_store))
            )
            by_stow = instances(count, number)
            rows.append(
                (
                    "STOW-RS",
                    "medsys",
                    timed(lambda: stow(f"{url}/dicomweb/studies", headers, by_stow), by_stow),
                )
            )
            after = rss_mb(medsys.process.pid)
            if orthanc is not None:
                rows.append(
                    (
                        "C-STORE",
                        "Orthanc",
                        timed(lambda: c_store(ORTHANC_DICOM, "ORTHANC", by_store), by_store),
                    )
                )
                stow_url = f"http://127.0.0.1:{ORTHANC_HTTP}/dicom-web/studies"
                rows.append(
                    ("STOW-RS", "Orthanc", timed(lambda: stow(stow_url, {}, by_stow), by_stow))
                )
        finally:
            if orthanc is not None:
                orthanc.terminate()
                orthanc.wait(timeout=30)
            medsys.stop()
    size = sum(len(f) for f in by_store) / count / 1e6
    print(f"{count} instances of {size:.2f} MB, {PARALLEL} associations / requests at once")
    print(f"{'measurement':10} {'server':8} {'instances/s':>12} {'MB/s':>8}")
    for kind, server, (rate, megabytes) in rows:
        print(f"{kind:10} {server:8} {rate:12.1f} {megabytes:8.1f}")
    if orthanc is None:
        print("Orthanc (with orthanc-dicomweb) is not installed: medsys alone")
    print(f"medsys resident memory: {before:.0f} MB before, {after:.0f} MB after")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=200)
    arguments = parser.parse_args()
    wants_orthanc = shutil.which("Orthanc") is not None and os.geteuid() == 0
    if wants_orthanc and not os.environ.get(IN_NAMESPACE):
        os.environ[IN_NAMESPACE] = "1"
        command = [
            "unshare",
            "-n",
            "sh",
            "-c",
            'ip link set lo up && exec "$0" -m bench.dicom "$@"',
            sys.executable,
            "--count",
            str(arguments.count),
        ]
        sys.exit(subprocess.call(command))
    run(arguments.count)


if __name__ == "__main__":
    main()
