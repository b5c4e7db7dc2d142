"""Debian's Orthanc as a peer for tests and benchmarks. Orthanc listens on every interface and
has no setting to bind one address: start it only inside a private network namespace
(`unshare -n`, loopback up)."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
HTTP_PORT, DICOM_PORT = 8042, 4242
URL = f"http://127.0.0.1:{HTTP_PORT}"


def installed() -> bool:
    """Orthanc and its DICOMweb plugin are there."""
    return shutil.which("Orthanc") is not None and Path(PLUGIN).exists()


def start_orthanc(folder: Path, **settings: Any) -> subprocess.Popen[bytes]:
    """Orthanc with the DICOMweb plugin, its files under `folder`, `settings` added to its
    configuration; returns once it answers HTTP."""
    config = {
        "StorageDirectory": str(folder / "orthanc-storage"),
        "IndexDirectory": str(folder / "orthanc-index"),
        "HttpPort": HTTP_PORT,
        "DicomPort": DICOM_PORT,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "Plugins": [PLUGIN],
        **settings,
    }
    (folder / "orthanc.json").write_text(json.dumps(config))
    with (folder / "orthanc.log").open("wb") as log:
        process = subprocess.Popen(
            ["Orthanc", str(folder / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Orthanc exited; see {folder / 'orthanc.log'}")
        try:
            if requests.get(f"{URL}/system", timeout=2).ok:
                return process
        except requests.ConnectionError:
            time.sleep(0.2)  # Orthanc offers no readiness signal to wait on
    process.kill()
    raise RuntimeError("Orthanc did not start within 60 s")


IN_NAMESPACE = "MEDSYS_IN_PRIVATE_NETWORK"


def in_private_network(module: str, arguments: list[str]) -> None:
    """Re-run `python -m module arguments` in a private network namespace (loopback only)
    and exit with its status; returns at once when already in one. Needs root."""
    if os.environ.get(IN_NAMESPACE):
        return
    os.environ[IN_NAMESPACE] = "1"
    command = [
        "unshare",
        "-n",
        "sh",
        "-c",
        'ip link set lo up && exec "$0" -m "$@"',
        sys.executable,
        module,
        *arguments,
    ]
    sys.exit(subprocess.call(command))
