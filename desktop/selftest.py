"""`medsys-desktop --selftest`: does this installation work? Exit 0, or 1 with the reason.

Checks the imaging stack on the bundled samples (Pillow for PNG, pydicom for DICOM, the JPEG 2000
decoder, numpy), shows them in the viewer, and builds the main window off screen.
"""

import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from importlib import resources
from pathlib import Path

SAMPLES = ("sample.png", "sample.dcm", "sample-j2k.dcm")


def _sample(name: str) -> Path:
    return Path(str(resources.files("desktop") / "samples" / name))


def _imaging() -> str:
    import numpy as np
    import PIL
    import pydicom

    from desktop.local_preview import read_local_image

    reference = read_local_image(_sample("sample.png")).stored
    for name in SAMPLES[1:]:
        decoded = read_local_image(_sample(name)).stored
        if not np.array_equal(decoded, reference):
            raise AssertionError(f"{name} decodes to other pixels than sample.png")
    return f"numpy {np.__version__}, Pillow {PIL.__version__}, pydicom {pydicom.__version__}"


def _viewer() -> str:
    from desktop.local_preview import read_local_image
    from desktop.viewer.panel import XRayViewerPanel

    panel = XRayViewerPanel(can_annotate=True)
    panel.resize(800, 600)
    panel.show()
    for name in ("sample.png", "sample.dcm"):
        panel.show_image(read_local_image(_sample(name)))
        if not panel.viewer.has_image or panel.viewer.rendered_image().isNull():
            raise AssertionError(f"the viewer shows nothing for {name}")
    if panel.viewer.spacing != (0.2, 0.2):
        raise AssertionError("the DICOM sample's pixel spacing was not read")
    panel.close()
    return "PNG and DICOM shown, pixel spacing read"


def _main_window() -> str:
    from datetime import UTC, datetime

    from PySide6.QtCore import QSettings

    from desktop.api import ApiClient
    from desktop.cache import ImageCache
    from desktop.config import Config
    from desktop.main_window import MainWindow
    from desktop.runner import AsyncRunner
    from desktop.session import Session, SessionEvents
    from shared.models import User

    now = datetime.now(UTC)
    user = User(
        id=1,
        full_name="Self Test",
        email="selftest@medsys.invalid",
        phone=None,
        usertype="admin",
        is_active=True,
        created_at=now,
        updated_at=now,
    )
    runner = AsyncRunner()
    with tempfile.TemporaryDirectory() as scratch:
        settings = QSettings(str(Path(scratch) / "selftest.ini"), QSettings.Format.IniFormat)
        # Port 9 (discard) refuses at once: the window builds without waiting on a network.
        session = Session(
            ApiClient("http://127.0.0.1:9"),
            runner,
            user,
            ImageCache(Path(scratch)),
            SessionEvents(),
        )
        window = MainWindow(session, Config(settings))
        window.show()
        tabs = [window.tabs.tabText(i) for i in range(window.tabs.count())]
        window.log_out("self-test done")
        runner.stop()
    if tabs != ["Users", "Records", "DICOM inbox", "Audit"]:
        raise AssertionError(f"unexpected tabs {tabs}")
    return "main window with " + ", ".join(tabs)


def run_selftest() -> int:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    checks: list[tuple[str, Callable[[], str]]] = [
        ("imaging stack", _imaging),
        ("viewer", _viewer),
        ("main window", _main_window),
    ]
    failed = False
    for name, check in checks:
        try:
            print(f"ok    {name}: {check()}")
        except Exception as error:
            failed = True
            print(f"FAIL  {name}: {error}", file=sys.stderr)
            traceback.print_exc()
    del app
    print("self-test failed" if failed else "self-test passed")
    return 1 if failed else 0
