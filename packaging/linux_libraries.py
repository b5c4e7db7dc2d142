"""The system libraries Qt's X11 (xcb) platform needs, and the Debian packages that hold them.

Qt's own message when one is missing ("could not load the Qt platform plugin xcb") names none
of them; this names each, and the one apt-get line that installs them. Used by `make run`
(before it opens the desktop), by the .deb's Depends, and by the package test.

    python packaging/linux_libraries.py check      # exit 1 with the apt-get line if any is missing
    python packaging/linux_libraries.py packages   # the packages, one line
"""

import re
import subprocess
import sys
from pathlib import Path

# Where a library is not installed, dpkg cannot say which package it comes from: these are
# the ones Qt's xcb stack links to, as Debian 12 names their packages.
SONAME_PACKAGES = {
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libGLX.so.0": "libglx0",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libSM.so.6": "libsm6",
    "libICE.so.6": "libice6",
}
# Always there on a Debian system (and not worth a Depends line beyond libc6).
BASE = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "ld-linux"}
_LDD_LINE = re.compile(r"^\s*(\S+)\s+=>\s+(not found|\S+)")


def qt_root(start: Path) -> Path:
    """The folder holding Qt's plugins and libraries below `start` (a venv's PySide6, a bundle)."""
    plugin = next(start.rglob("platforms/libqxcb.so"))
    return plugin.parent.parent.parent  # …/Qt (plugins/platforms/libqxcb.so)


def xcb_binaries(root: Path) -> list[Path]:
    """The xcb platform plugin (ldd lists what it loads, the Qt libraries' needs included)."""
    return [next(root.rglob("platforms/libqxcb.so"))]


def linked_libraries(binaries: list[Path]) -> dict[str, str | None]:
    """soname → the system path it resolves to (None: not found), for libraries the binaries
    need from outside their own folder tree."""
    needed: dict[str, str | None] = {}
    bundled = {path.name for binary in binaries for path in binary.parent.iterdir()}
    for binary in binaries:
        lines = subprocess.run(
            ["ldd", str(binary)], capture_output=True, text=True, check=False
        ).stdout.splitlines()
        for line in lines:
            match = _LDD_LINE.match(line)
            if match is None:
                continue
            name, where = match.groups()
            if name in bundled or "/PySide6/" in where or "/_internal/" in where:
                continue
            if any(name.startswith(base) for base in BASE):
                continue
            needed[name] = None if where == "not found" else where
    return needed


def package_of(soname: str, path: str | None) -> str:
    if path is not None:
        # dpkg knows a file by the path its package installed (/usr/lib… on a merged /usr).
        resolved = str(Path(path).resolve())
        for candidate in dict.fromkeys((path, "/usr" + path, resolved, "/usr" + resolved)):
            owner = subprocess.run(
                ["dpkg", "-S", candidate], capture_output=True, text=True, check=False
            )
            if owner.returncode == 0:
                return owner.stdout.split(":", 1)[0].strip()
    if soname in SONAME_PACKAGES:
        return SONAME_PACKAGES[soname]
    raise LookupError(f"no known Debian package holds {soname}")


def packages(libraries: dict[str, str | None]) -> list[str]:
    return sorted({package_of(name, path) for name, path in libraries.items()})


def main(argv: list[str]) -> int:
    import PySide6  # the venv's Qt, which `make run` starts

    root = qt_root(Path(PySide6.__file__).parent)
    libraries = linked_libraries(xcb_binaries(root))
    if argv[1:] == ["packages"]:
        print(" ".join(packages(libraries)))
        return 0
    missing = {name: path for name, path in libraries.items() if path is None}
    if not missing:
        return 0
    print(
        "The desktop cannot open a window: Qt's X11 (xcb) platform needs "
        + ", ".join(sorted(missing))
        + ", which are not installed. Install them with:\n\n"
        f"    sudo apt-get install {' '.join(packages(missing))}\n",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
