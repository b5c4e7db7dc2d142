"""`make package` builds a Debian package whose installed program passes its self-test."""

import os
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "packaging"))  # the build's own tooling, not a package
from linux_libraries import linked_libraries, packages, xcb_binaries  # noqa: E402


@pytest.fixture(scope="module")
def deb() -> Path:
    built = subprocess.run(
        ["make", "package"], cwd=ROOT, capture_output=True, text=True, timeout=1500, check=False
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    packages = sorted((ROOT / "dist").glob(f"medsys-desktop_{version('medsys')}_*.deb"))
    assert packages, built.stdout
    return packages[-1]


def test_package_metadata_and_files(deb: Path, tmp_path: Path) -> None:
    fields = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Package", "Version", "Architecture"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Package: medsys-desktop" in fields
    assert f"Version: {version('medsys')}" in fields
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path)], check=True)
    launcher = tmp_path / "usr" / "bin" / "medsys-desktop"
    assert launcher.is_symlink()
    assert os.readlink(launcher) == "../../opt/medsys-desktop/medsys-desktop"
    entry = (tmp_path / "usr/share/applications/medsys-desktop.desktop").read_text()
    assert "Exec=medsys-desktop" in entry
    assert "Icon=medsys-desktop" in entry
    assert (tmp_path / "usr/share/icons/hicolor/256x256/apps/medsys-desktop.png").stat().st_size > 0
    bundled = {path.name for path in (tmp_path / "opt/medsys-desktop").rglob("*.so*")}
    assert not any(name.startswith(("libQt6Pdf", "libgtk-3", "libqgtk3")) for name in bundled)


def test_installed_program_passes_its_selftest(deb: Path, tmp_path: Path) -> None:
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path / "root")], check=True)
    # Nothing of this checkout or its virtual environment: only what the package installed.
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [str(tmp_path / "root/usr/bin/medsys-desktop"), "--selftest"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok    imaging stack" in result.stdout
    assert "ok    viewer" in result.stdout
    assert "ok    main window" in result.stdout
    assert "self-test passed" in result.stdout


def test_installed_program_offers_only_what_it_can_do(deb: Path, tmp_path: Path) -> None:
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path / "root")], check=True)
    result = subprocess.run(
        [str(tmp_path / "root/usr/bin/medsys-desktop"), "--help"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    options = {word.rstrip(",") for word in result.stdout.split() if word.startswith("--")}
    # Developer tools (screenshots, the live-server harness) are not bundled, so not offered.
    assert options == {"--help", "--server", "--selftest"}
    bundle = tmp_path / "root/opt/medsys-desktop"
    assert not [path for path in bundle.rglob("*") if path.name in ("server", "devtools")]


def test_selftest_reports_a_broken_installation(deb: Path, tmp_path: Path) -> None:
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path / "root")], check=True)
    samples = next((tmp_path / "root/opt/medsys-desktop").rglob("samples"))
    (samples / "sample-j2k.dcm").write_bytes(b"not a DICOM file any more")
    result = subprocess.run(
        [str(tmp_path / "root/usr/bin/medsys-desktop"), "--selftest"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1
    assert "FAIL  imaging stack" in result.stderr
    assert "sample-j2k.dcm" in result.stderr


def declared_depends(deb: Path) -> set[str]:
    fields = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True, text=True, check=True
    ).stdout
    return {item.strip().split(" ")[0] for item in fields.split(",") if item.strip()}


def test_depends_names_every_library_the_bundled_x11_platform_loads(
    deb: Path, tmp_path: Path
) -> None:
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path)], check=True)
    bundle = tmp_path / "opt" / "medsys-desktop"
    needed = linked_libraries(xcb_binaries(bundle))
    assert "libxcb.so.1" in needed  # the check sees the plugin's own needs
    assert set(packages(needed)) <= declared_depends(deb)
    # The two whose absence Qt's message does not name.
    assert {"libxcb-icccm4", "libxcb-keysyms1"} <= declared_depends(deb)


@pytest.fixture
def x_display(tmp_path: Path) -> Iterator[str]:
    """A real X server (Xvfb) on a free display number."""
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert server.stdout is not None
    display = server.stdout.readline().strip()  # Xvfb writes the number once it is ready
    try:
        yield f":{display}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stdout.close()


def test_installed_program_starts_on_a_real_x_server(
    deb: Path, tmp_path: Path, x_display: str
) -> None:
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path / "root")], check=True)
    environment = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DISPLAY": x_display,
        "QT_QPA_PLATFORM": "xcb",
    }
    result = subprocess.run(
        [str(tmp_path / "root/usr/bin/medsys-desktop"), "--selftest"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "self-test passed" in result.stdout
    assert "could not load the Qt platform plugin" not in result.stderr.lower()
