"""`make package` builds a Debian package whose installed program passes its self-test."""

import os
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


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
