"""`python -m devtools.screenshots DIR` renders every screen of every role."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

EXPECTED = {
    "login",
    "create-account",
    "patient-questions",
    "patient-x-rays",
    "patient-medical-history",
    "patient-privacy",
    "patient-xray-viewer",
    "patient-question-thread",
    "patient-ask-question",
    "doctor-pending-questions",
    "doctor-films-to-read",
    "doctor-worklist-preliminary",
    "doctor-sign-confirmation",
    "doctor-result-signed",
    "doctor-result-amended",
    "patient-notification",
    "patient-signed-result",
    "doctor-patients",
    "doctor-pending-question-1",
    "doctor-patient-chart",
    "doctor-patient-history",
    "doctor-viewer-help",
    "doctor-dicom-tags",
    "doctor-compare",
    "admin-users",
    "admin-records",
    "admin-audit",
    "admin-user-selected",
    "admin-records-patient",
    "admin-dicom-inbox",
    "admin-inbox-film",
}


def test_every_screen_is_rendered(tmp_path: Path) -> None:
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-m", "devtools.screenshots", str(tmp_path)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    written = {path.stem for path in tmp_path.glob("*.png")}
    assert written >= EXPECTED
    for name in EXPECTED:
        pixels = np.asarray(Image.open(tmp_path / f"{name}.png").convert("L"), dtype=np.float32)
        assert pixels.std() > 10, f"{name} looks empty"
        windows_of_their_own = ("doctor-compare", "doctor-sign-confirmation")
        if name.startswith(("patient", "doctor", "admin")) and name not in windows_of_their_own:
            assert pixels.shape == (800, 1280)
    viewer = np.asarray(Image.open(tmp_path / "patient-xray-viewer.png").convert("L"))
    # The radiograph fills the viewer: a wide range of greys, not a blank canvas.
    assert len(np.unique(viewer[150:700, 100:850])) > 100
