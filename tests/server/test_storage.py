"""The image store shared by several processes: temporary files belong to their process."""

import os
import subprocess
import sys
import time
from pathlib import Path

from server.fsck import StoredRow, check_files
from server.storage import STALE_SECONDS, ImageStore


def test_a_starting_process_leaves_a_live_process_temporary_files_alone(tmp_path: Path) -> None:
    writing = ImageStore(tmp_path)
    writing.prepare()
    upload_in_progress = writing.new_temp_path()
    upload_in_progress.write_bytes(b"half an upload")
    # A replacement worker starts beside it (its own open file description of the lock).
    replacement = ImageStore(tmp_path)
    replacement.prepare()
    assert upload_in_progress.read_bytes() == b"half an upload"
    assert replacement.tmp_dir != writing.tmp_dir
    writing.close()
    replacement.close()
    assert list((tmp_path / "tmp").iterdir()) == []


def test_the_files_of_a_process_that_died_are_removed_at_the_next_start(tmp_path: Path) -> None:
    # A real process claims a folder, writes into it, and is killed: no clean-up ran.
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from server.storage import ImageStore\n"
        "store = ImageStore(Path(sys.argv[1]))\n"
        "store.prepare()\n"
        "store.new_temp_path().write_bytes(b'x')\n"
        "print(store.tmp_dir, flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    dead_folder = Path(child.stdout.strip())
    assert child.returncode == -9
    assert any(dead_folder.iterdir())
    starting = ImageStore(tmp_path)
    starting.prepare()
    assert not dead_folder.exists()
    starting.close()


def test_stale_loose_files_of_an_older_release_are_removed(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    old, recent = tmp_path / "tmp" / "old-upload", tmp_path / "tmp" / "recent-upload"
    old.write_bytes(b"old")
    recent.write_bytes(b"recent")
    long_ago = time.time() - STALE_SECONDS - 60
    os.utime(old, (long_ago, long_ago))
    store = ImageStore(tmp_path)
    store.prepare()
    assert not old.exists()
    assert recent.exists()
    store.close()


def test_hold_places_once_and_each_arrival_keeps_its_own_copy(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    store.prepare()
    first, second = store.new_temp_path(), store.new_temp_path()
    first.write_bytes(b"film")
    second.write_bytes(b"film")
    final = store.original_path("ab" + "0" * 62)
    first_held, placed = store.hold(first, final)
    assert placed  # its folder did not exist yet
    second_held, placed = store.hold(second, final)
    assert not placed  # identical content: the stored copy stays
    assert final.read_bytes() == b"film"
    assert not first.exists()
    assert not second.exists()
    # The first arrival is refused and its file removed; the second puts its own copy back.
    final.unlink()
    assert store.restore(second_held, final)
    assert final.read_bytes() == b"film"
    assert first_held.read_bytes() == b"film"  # until its arrival lets it go
    store.close()


def test_storage_check_keeps_both_thumbnail_kinds_of_one_content(tmp_path: Path) -> None:
    # A film stored by an earlier release (PNG thumbnail), deleted and sent again today (JPEG
    # thumbnail): two rows of the same content, each with its own thumbnail file.
    store = ImageStore(tmp_path)
    store.prepare()
    sha256 = "cd" + "1" * 62
    paths = [
        store.original_path(sha256),
        store.thumbnail_path(sha256, "image/png"),
        store.thumbnail_path(sha256, "image/jpeg"),
    ]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
        os.utime(path, (0, 0))  # old enough to be removed if it were unreferenced
    rows = [StoredRow(1, sha256, "image/png"), StoredRow(2, sha256, "image/jpeg")]
    report = check_files(store, rows, grace_seconds=60)
    assert report.removed == []
    assert report.consistent
    assert all(path.exists() for path in paths)
    report = check_files(store, rows[1:], grace_seconds=60)
    assert report.removed == [str(paths[1].relative_to(tmp_path))]
    store.close()
