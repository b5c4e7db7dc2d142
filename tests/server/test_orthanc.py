"""Orthanc, a PACS no one here wrote, uses medsys as its DICOMweb server (its /stow, /get and
/retrieve), inside a private network namespace: Orthanc binds every interface."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devtools import orthanc

READY = (
    shutil.which("Orthanc") and Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so").exists()
)


@pytest.mark.skipif(
    not orthanc.installed(), reason="orthanc and orthanc-dicomweb are not installed"
)
@pytest.mark.skipif(os.geteuid() != 0, reason="a private network namespace needs root")
def test_orthanc_stores_searches_and_retrieves_through_medsys(tmp_path: Path) -> None:
    result = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "tests.interop.orthanc_peer", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    log = tmp_path / "orthanc.log"
    detail = result.stdout + result.stderr + (log.read_text() if log.exists() else "")
    assert result.returncode == 0, detail
    assert result.stdout.count("ok  ") == 4, detail
