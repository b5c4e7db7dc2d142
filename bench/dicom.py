"""DICOM in, measured: C-STORE of N instances over 4 parallel associations, and STOW-RS of the
same instances in 4 parallel requests, into medsys and, side by side in the same run, into
Orthanc (its C-STORE SCP and its STOW-RS) when Orthanc and its DICOMweb plugin are installed.
C-STORE is sent twice: by pynetdicom in threads of this process, and (when dcmtk is installed)
by four `storescu` processes, a client light enough that the receiver, not it, sets the rate.

Orthanc listens on every interface, so with Orthanc the whole run happens in a private network
namespace: run as root, this script re-runs itself under `unshare -n` (loopback only). Prints
instances per second, MB/s and the server's CPU milliseconds per instance for each, and the
memory medsys takes before and after (the server and its decoding workers: the sum of their
proportional set sizes). Orthanc is measured first, so that what medsys does after films
arrive (it renders them for the viewer once they stop coming) does not slow Orthanc down.

    .venv/bin/python -m bench.dicom [--count 200]
"""

import argparse
import io
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

from devtools.live_server import (
    LiveServer,
    create_user,
    log_in,
    resident_mb,
    run_cli,
    server_environment,
    tree_cpu_seconds,
)
from devtools.orthanc import DICOM_PORT as ORTHANC_DICOM
from devtools.orthanc import HTTP_PORT as ORTHANC_HTTP
from devtools.orthanc import in_private_network, start_orthanc
from devtools.orthanc import installed as orthanc_installed
from server.demo_images import radiograph_pixels, write_dicom

PARALLEL = 4
Works = list[tuple[str, Callable[[], None], list[bytes]]]  # (what, how it is sent, the files)
PASSWORD = "bench password 1"


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


def c_store_dcmtk(port: int, called: str, files: list[bytes]) -> None:
    """Send the files over PARALLEL associations at once, each from a process of dcmtk's
    `storescu` (C++): a client that takes little of the CPU, where pynetdicom's, in threads of
    this one process, was what bounded the rate (Orthanc received no faster than it sent)."""
    with tempfile.TemporaryDirectory() as scratch:
        paths = []
        for number, data in enumerate(files):
            path = Path(scratch) / f"{number}.dcm"
            path.write_bytes(data)
            paths.append(str(path))
        senders = [
            subprocess.Popen(
                ["storescu", "-aet", "BENCH", "-aec", called, "127.0.0.1", str(port), *share],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for share in (paths[index::PARALLEL] for index in range(PARALLEL))
        ]
        for sender in senders:
            _, errors = sender.communicate(timeout=600)
            # storescu says "E:" for an instance the receiver refused, and still exits 0.
            assert sender.returncode == 0, errors
            assert "E:" not in errors, errors


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


def timed(work: Callable[[], None], files: list[bytes], pid: int) -> tuple[float, float, float]:
    """Instances per second, MB per second, and the server's CPU milliseconds per instance
    (its process and those it started: medsys's decoding workers)."""
    used = tree_cpu_seconds(pid)
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    used = tree_cpu_seconds(pid) - used
    megabytes = sum(len(f) for f in files) / 1e6
    return len(files) / seconds, megabytes / seconds, used * 1000 / len(files)


# The server counts as idle once its processes use less than this much CPU in a second.
IDLE_CPU_SECONDS = 0.02
SETTLE_SECONDS = 180


def settled_process(pid: int) -> int:
    """Wait until the server has rendered the films it received (it does so once they stop
    coming) and its decoding workers have given back their heaps (a second after their last
    decode): two seconds in a row of next to no CPU. Its pid."""
    deadline = time.monotonic() + SETTLE_SECONDS
    quiet = 0
    while quiet < 2 and time.monotonic() < deadline:
        used = tree_cpu_seconds(pid)
        time.sleep(1)
        quiet = quiet + 1 if tree_cpu_seconds(pid) - used < IDLE_CPU_SECONDS else 0
    return pid


def run(count: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        environment = server_environment(folder, f"sqlite+aiosqlite:///{folder / 'medsys.db'}")
        assert run_cli(environment, "migrate").returncode == 0
        for usertype, email in (("doctor", "doctor@bench.example"), ("patient", "p@bench.example")):
            create_user(environment, usertype, email, "Bench", PASSWORD)
        medsys = LiveServer(environment, ("--dicom-port", "11112"))
        url = medsys.start()
        assert medsys.process is not None
        orthanc = None
        if orthanc_installed():
            orthanc = start_orthanc(folder, DicomCheckCalledAet=False, DicomWeb={"Enable": True})
        try:
            doctor = log_in(url, "doctor@bench.example", PASSWORD)
            headers = {"Authorization": f"Bearer {doctor['access_token']}"}
            patient = log_in(url, "p@bench.example", PASSWORD)
            number = str(patient["user"]["medical_record_number"])  # type: ignore[index]
            by_store, by_stow = instances(count, number), instances(count, number)
            by_dcmtk = instances(count, number) if shutil.which("storescu") else []

            def sent(port: int, called: str, stow_url: str, headers: dict[str, str]) -> Works:
                works: Works = [("C-STORE", lambda: c_store(port, called, by_store), by_store)]
                if by_dcmtk:
                    works.append(
                        ("C-STORE/dcmtk", lambda: c_store_dcmtk(port, called, by_dcmtk), by_dcmtk)
                    )
                works.append(("STOW-RS", lambda: stow(stow_url, headers, by_stow), by_stow))
                return works

            rows = []
            # Orthanc first: medsys renders the films it received for the viewer once they
            # stop arriving, and that work must not land in Orthanc's measurement.
            if orthanc is not None:
                orthanc_stow = f"http://127.0.0.1:{ORTHANC_HTTP}/dicom-web/studies"
                for kind, work, files in sent(ORTHANC_DICOM, "ORTHANC", orthanc_stow, {}):
                    rows.append((kind, "Orthanc", timed(work, files, orthanc.pid)))
            before = resident_mb(medsys.process.pid)
            for kind, work, files in sent(11112, "MEDSYS", f"{url}/dicomweb/studies", headers):
                rows.append((kind, "medsys", timed(work, files, medsys.process.pid)))
            after = resident_mb(medsys.process.pid)
            settled = resident_mb(settled_process(medsys.process.pid))
        finally:
            if orthanc is not None:
                orthanc.terminate()
                orthanc.wait(timeout=30)
            medsys.stop()
    size = sum(len(f) for f in by_store) / count / 1e6
    print(f"{count} instances of {size:.2f} MB, {PARALLEL} associations / requests at once")
    print(
        f"{'measurement':13} {'server':8} {'instances/s':>12} {'MB/s':>8} {'CPU ms/instance':>16}"
    )
    for kind, server, (rate, megabytes, cpu) in sorted(rows):
        print(f"{kind:13} {server:8} {rate:12.1f} {megabytes:8.1f} {cpu:16.1f}")
    if orthanc is None:
        print("Orthanc (with orthanc-dicomweb) is not installed: medsys alone")
    print(
        f"medsys memory (with its decoders): {before:.0f} MB before, {after:.0f} MB after, "
        f"{settled:.0f} MB once its renders were done and it was idle"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=200)
    arguments = parser.parse_args()
    if orthanc_installed() and os.geteuid() == 0:
        in_private_network("bench.dicom", sys.argv[1:])
    run(arguments.count)


if __name__ == "__main__":
    main()
