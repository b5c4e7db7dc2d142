"""`make package`: the PyInstaller bundle of the desktop, wrapped into a Debian package.

Writes dist/medsys-desktop_<version>_<arch>.deb and prints the sizes. The version comes from
one place, the package metadata (pyproject.toml).
"""

import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from linux_libraries import linked_libraries, packages, xcb_binaries

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
DIST = ROOT / "dist"


def depends(bundle: Path) -> str:
    """libc6, and the package of every system library the bundled xcb platform plugin loads
    (read off the bundle with ldd, so that a newer Qt's needs are never forgotten)."""
    needed = linked_libraries(xcb_binaries(bundle))
    return ", ".join(["libc6", *packages(needed)])


def folder_size(path: Path) -> int:
    return sum(
        item.stat().st_size for item in path.rglob("*") if item.is_file() and not item.is_symlink()
    )


def main() -> int:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--log-level",
            "WARN",
            "--distpath",
            str(BUILD / "pyinstaller-dist"),
            "--workpath",
            str(BUILD / "pyinstaller-work"),
            str(ROOT / "packaging" / "medsys-desktop.spec"),
        ],
        check=True,
    )
    bundle = BUILD / "pyinstaller-dist" / "medsys-desktop"
    package_version = version("medsys")
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    name = f"medsys-desktop_{package_version}_{arch}"
    root = BUILD / "deb" / name
    shutil.rmtree(root, ignore_errors=True)
    (root / "DEBIAN").mkdir(parents=True)
    (root / "opt").mkdir()
    shutil.copytree(bundle, root / "opt" / "medsys-desktop", symlinks=True)
    (root / "usr" / "bin").mkdir(parents=True)
    # Relative, so that the unpacked tree works wherever it lies (the package test relies on it).
    (root / "usr" / "bin" / "medsys-desktop").symlink_to("../../opt/medsys-desktop/medsys-desktop")
    applications = root / "usr" / "share" / "applications"
    applications.mkdir(parents=True)
    shutil.copy(ROOT / "packaging" / "linux" / "medsys-desktop.desktop", applications)
    icons = root / "usr" / "share" / "icons" / "hicolor" / "256x256" / "apps"
    icons.mkdir(parents=True)
    shutil.copy(ROOT / "packaging" / "linux" / "medsys-desktop.png", icons)
    installed_kib = folder_size(root) // 1024
    (root / "DEBIAN" / "control").write_text(
        f"Package: medsys-desktop\n"
        f"Version: {package_version}\n"
        f"Architecture: {arch}\n"
        f"Maintainer: medsys <team@medsys.example>\n"
        f"Installed-Size: {installed_kib}\n"
        f"Depends: {depends(bundle)}\n"
        f"Section: science\n"
        f"Priority: optional\n"
        f"Description: medsys desktop console\n"
        f" The desktop client of the medsys practice system, for patients, doctors and admins,\n"
        f" with a radiograph viewer (window/level, measurements, DICOM).\n"
    )
    DIST.mkdir(exist_ok=True)
    deb = DIST / f"{name}.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(f"bundle: {folder_size(bundle) / 2**20:.1f} MB in {bundle}")
    print(f"package: {deb.stat().st_size / 2**20:.1f} MB, {deb}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
