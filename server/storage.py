"""Content-addressed image storage on the local disk.

Originals live under `objects/ab/cd/<sha256>`, thumbnails under `thumbnails/ab/<sha256>.<ext>`.
Uploads are written to `tmp/` first and moved into place with an atomic rename only once they
have been validated, so a reader never sees a partial file.
"""

import os
import uuid
from pathlib import Path


class ImageStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp_dir = root / "tmp"

    def prepare(self) -> None:
        """Create the folders and drop temporary files a crashed upload may have left."""
        for folder in (self.tmp_dir, self.root / "objects", self.root / "thumbnails"):
            folder.mkdir(parents=True, exist_ok=True)
        for leftover in self.tmp_dir.iterdir():
            leftover.unlink(missing_ok=True)

    def new_temp_path(self, suffix: str = "") -> Path:
        return self.tmp_dir / f"{uuid.uuid4().hex}{suffix}"

    def original_path(self, sha256: str) -> Path:
        return self.root / "objects" / sha256[:2] / sha256[2:4] / sha256

    def thumbnail_path(self, sha256: str, content_type: str) -> Path:
        extension = "jpg" if content_type == "image/jpeg" else "png"
        return self.root / "thumbnails" / sha256[:2] / f"{sha256}.{extension}"

    def pixels_path(self, sha256: str) -> Path:
        """The rendered display pixels of an original (a cache: may be deleted at any time)."""
        return self.root / "pixels" / sha256[:2] / f"{sha256}.png"

    def place(self, temp_path: Path, final_path: Path) -> bool:
        """Move a temporary file to its content address; True if this call created it.

        The same content may already be stored (uploaded twice): then the temporary copy is
        dropped and the stored one, identical by construction, is kept.
        """
        final_path.parent.mkdir(parents=True, exist_ok=True)
        if final_path.exists():
            temp_path.unlink(missing_ok=True)
            return False
        os.replace(temp_path, final_path)
        return True
