"""Content-addressed image storage on the local disk.

Originals live under `objects/ab/cd/<sha256>`, thumbnails under `thumbnails/ab/<sha256>.<ext>`.
Uploads are written to a temporary folder first and moved into place with an atomic rename only
once they have been validated, so a reader never sees a partial file.

Several processes share one store (`serve --workers N`, or several hosts on one volume), so each
process writes its temporary files in a folder of its own, `tmp/<id>/`, and holds an exclusive
lock on `tmp/<id>/.lock` for as long as it lives. The kernel drops the lock when the process
dies, however it dies: a folder whose lock can be taken belongs to nobody and is removed; a
live process's folder is never touched.
"""

import errno
import fcntl
import logging
import os
import shutil
import time
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

LOCK_NAME = ".lock"
# A folder being set up is named `.new-<id>` until its lock is held, so that no cleaner can
# take the lock of a folder whose owner has not taken it yet.
NEW_PREFIX = ".new-"
# Loose files in tmp/ (left by releases before per-process folders) and half-made folders are
# removed once they are this old.
STALE_SECONDS = 3600
# What the health check writes to find out whether the store takes writes.
PROBE_BYTES = 4096


class ImageStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp_root = root / "tmp"
        self._tmp_dir: Path | None = None
        self._lock_fd: int | None = None

    @property
    def tmp_dir(self) -> Path:
        if self._tmp_dir is None:
            raise RuntimeError("the image store is not prepared")
        return self._tmp_dir

    def prepare(self) -> None:
        """Create the folders, claim this process's temporary folder, and remove those of
        processes that have ended. Blocking."""
        for folder in (self.tmp_root, self.root / "objects", self.root / "thumbnails"):
            folder.mkdir(parents=True, exist_ok=True)
        self._claim_temp_dir()
        self.remove_abandoned_temp_files()

    def close(self) -> None:
        """Remove this process's temporary folder and give up its lock. Blocking."""
        if self._tmp_dir is not None:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)
            self._tmp_dir = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _claim_temp_dir(self) -> None:
        name = uuid.uuid4().hex
        claiming = self.tmp_root / f"{NEW_PREFIX}{name}"
        claiming.mkdir()
        lock_fd = os.open(claiming / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        folder = self.tmp_root / name
        os.rename(claiming, folder)
        self._tmp_dir, self._lock_fd = folder, lock_fd

    def remove_abandoned_temp_files(self) -> None:
        """Remove the temporary folders of ended processes (and stale loose files)."""
        now = time.time()
        for entry in self.tmp_root.iterdir():
            if entry == self._tmp_dir:
                continue
            if entry.is_dir() and not entry.name.startswith(NEW_PREFIX):
                if _owner_has_ended(entry):
                    log.info("removing the temporary files of an ended process: %s", entry.name)
                    shutil.rmtree(entry, ignore_errors=True)
            elif now - entry.stat().st_mtime > STALE_SECONDS:
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

    def probe(self) -> str:
        """Whether the store takes writes now: "ok", "full" or "unwritable". Blocking."""
        probe = self.new_temp_path(".probe")
        try:
            with probe.open("wb") as handle:
                handle.write(b"\0" * PROBE_BYTES)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as error:
            return "full" if error.errno in (errno.ENOSPC, errno.EDQUOT) else "unwritable"
        finally:
            probe.unlink(missing_ok=True)
        return "ok"

    def new_temp_path(self, suffix: str = "") -> Path:
        return self.tmp_dir / f"{uuid.uuid4().hex}{suffix}"

    def original_path(self, sha256: str) -> Path:
        return self.root / "objects" / sha256[:2] / sha256[2:4] / sha256

    def thumbnail_path(self, sha256: str, thumbnail_type: str) -> Path:
        """Where the thumbnail of type `thumbnail_type` (an x-ray's) of an original is kept."""
        extension = "jpg" if thumbnail_type == "image/jpeg" else "png"
        return self.root / "thumbnails" / sha256[:2] / f"{sha256}.{extension}"

    def pixels_path(self, sha256: str) -> Path:
        """The rendered display pixels of an original (a cache: may be deleted at any time)."""
        return self.root / "pixels" / sha256[:2] / f"{sha256}.png"

    def hold(self, temp_path: Path, final_path: Path) -> tuple[Path, bool]:
        """Place a temporary file at its content address, unless the same content is there
        already, and keep it under a name of the caller's own (in the temporary folder) until
        the caller is filed or refused; returns that name, and whether this call placed it.

        The same content may arrive twice at once (a client's retry, a film sent two ways).
        Each arrival holds its own copy (a hard link: no bytes are copied), so whichever is
        refused may remove the stored file while the other waits for its commit, which then
        puts its copy back (`restore`); none relies on the other's file."""
        held = self.new_temp_path(".held")
        return held, self.hold_as(temp_path, final_path, held)

    @staticmethod
    def hold_as(temp_path: Path, final_path: Path, held: Path) -> bool:
        """`hold`, under a name the caller chose (in this store's temporary folder): what a
        decoding worker runs, which has no store of its own."""
        os.replace(temp_path, held)
        try:
            return ImageStore.restore(held, final_path)
        except BaseException:
            held.unlink(missing_ok=True)  # the caller gets no name to let go of
            raise

    def set_aside(self, paths: list[Path]) -> list[tuple[Path, Path]]:
        """Move stored files into the temporary folder, each under a new name (one that is
        not there is left out); each stored path beside its new name, for `let_go`."""
        moved = []
        for path in paths:
            aside = self.new_temp_path(".aside")
            try:
                os.replace(path, aside)
            except FileNotFoundError:
                continue  # removed by another, or never placed
            moved.append((path, aside))
        return moved

    @staticmethod
    def restore(held: Path, final_path: Path) -> bool:
        """Link a held copy at its content address unless something is there; True if this
        call placed it."""
        try:
            os.link(held, final_path)
        except FileExistsError:
            return False
        except FileNotFoundError:
            # The first file under this prefix: its folder is made now. (Not made before
            # every move: measured, the mkdir was 8 % of a burst of STOW arrivals.)
            final_path.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(held, final_path)
            except FileExistsError:
                return False
        return True

    @staticmethod
    def let_go(copies: list[tuple[Path, Path]], *, put_back: bool) -> None:
        """Remove a caller's own copies (held, or set aside), each beside its stored path;
        with `put_back`, each is first linked back at that path if nothing is there. A row
        that uses the file is committed by then: a failure to put it back is logged, with
        what is missing, and the others go on."""
        for stored, copy in copies:
            if put_back:
                try:
                    ImageStore.restore(copy, stored)
                except OSError as error:
                    log.error("a stored file could not be put back at %s: %s", stored, error)
            copy.unlink(missing_ok=True)


def _owner_has_ended(folder: Path) -> bool:
    """True when no process holds the folder's lock (taking it, briefly, to find out)."""
    try:
        lock_fd = os.open(folder / LOCK_NAME, os.O_RDWR)
    except FileNotFoundError:
        return True  # never locked, or half removed: nobody writes there
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(lock_fd)
    return True
