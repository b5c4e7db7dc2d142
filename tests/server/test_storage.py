"""The image store shared by several processes: temporary files belong to their process."""

import os
import subprocess
import sys
import time
from pathlib import Path

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
