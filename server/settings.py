"""Server settings, read from the environment (the names are listed in docs/api.md)."""

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from server.imaging import ImageLimits

DEFAULT_MAX_DECODED_BYTES = 256 * 1024 * 1024


class SettingsError(Exception):
    """An environment variable holds a value the server cannot use."""


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    database_url: str
    storage_dir: Path
    secret_key: str
    token_ttl: int = 28800
    idle_timeout: int = 900
    max_upload_bytes: int = 104857600
    max_image_pixels: int = 100_000_000
    # The memory one decoded frame may take, and the decoding budget of a process.
    max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES
    # argon2 cost; the defaults are passlib's. Only tests lower them, to keep the suite quick.
    argon2_memory_kib: int = 65536
    argon2_time_cost: int = 3
    login_failures_per_email: int = 5
    login_failures_per_address: int = 200
    login_window_seconds: int = 900
    # An idle connection, or one whose request head is not complete, is closed after this
    # many seconds; a request body or a response that moves no byte for body_timeout too.
    keepalive_timeout: int = 15
    body_timeout: int = 30
    # Live events: kept this long for clients that resume; a ping every heartbeat; a socket
    # that reads no frame, or answers no ping, for patience seconds is closed (1013).
    event_retention_seconds: int = 2_592_000
    event_heartbeat_seconds: float = 30.0
    event_patience_seconds: float = 10.0
    # Stored files with no x-ray row are removed at start once they are this old (seconds).
    orphan_grace_seconds: int = 600
    # Addresses of reverse proxies (nginx) whose X-Forwarded-For is believed.
    trusted_proxies: frozenset[str] = frozenset()
    # The DICOM listener (C-ECHO, C-STORE): off unless a port is given; on `--host`'s address.
    dicom_port: int | None = None
    dicom_host: str = "127.0.0.1"
    dicom_ae_title: str = "MEDSYS"
    # Calling AE titles allowed to store; empty: any, which only a loopback listener may allow.
    dicom_peers: frozenset[str] = frozenset()
    # Where clients reach this server (behind nginx: https://medsys.example.org), for the
    # absolute URLs DICOMweb answers carry; unset: the request's own scheme, host and port.
    public_url: str | None = None

    @property
    def image_limits(self) -> ImageLimits:
        return ImageLimits(self.max_image_pixels, self.max_decoded_bytes)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _int_env(environ: dict[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _secret_key(data_dir: Path) -> str:
    """The key that signs tokens: generated once and kept (owner-only) in the data directory."""
    key_file = data_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: if another process created it first, use theirs.
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def settings_from_env(environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    data_dir = Path(env.get("MEDSYS_DATA_DIR") or "./var").resolve()
    database_url = env.get("MEDSYS_DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'medsys.db'}"
    storage_dir = Path(env.get("MEDSYS_STORAGE_DIR") or data_dir / "storage").resolve()
    secret_key = env.get("MEDSYS_SECRET_KEY") or _secret_key(data_dir)
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        storage_dir=storage_dir,
        secret_key=secret_key,
        token_ttl=_int_env(env, "MEDSYS_TOKEN_TTL", 28800),
        idle_timeout=_int_env(env, "MEDSYS_IDLE_TIMEOUT", 900),
        max_upload_bytes=_int_env(env, "MEDSYS_MAX_UPLOAD_BYTES", 104857600),
        max_image_pixels=_int_env(env, "MEDSYS_MAX_IMAGE_PIXELS", 100_000_000),
        max_decoded_bytes=_int_env(env, "MEDSYS_MAX_DECODED_BYTES", DEFAULT_MAX_DECODED_BYTES),
        argon2_memory_kib=_int_env(env, "MEDSYS_ARGON2_MEMORY_KIB", 65536, minimum=8),
        argon2_time_cost=_int_env(env, "MEDSYS_ARGON2_TIME_COST", 3),
        keepalive_timeout=_int_env(env, "MEDSYS_KEEPALIVE_TIMEOUT", 15),
        body_timeout=_int_env(env, "MEDSYS_BODY_TIMEOUT", 30),
        event_retention_seconds=_int_env(env, "MEDSYS_EVENT_RETENTION_SECONDS", 2_592_000),
        event_heartbeat_seconds=_int_env(env, "MEDSYS_EVENT_HEARTBEAT_SECONDS", 30),
        event_patience_seconds=_int_env(env, "MEDSYS_EVENT_PATIENCE_SECONDS", 10),
        orphan_grace_seconds=_int_env(env, "MEDSYS_ORPHAN_GRACE_SECONDS", 600, minimum=0),
        trusted_proxies=_words(env.get("MEDSYS_TRUSTED_PROXIES", "")),
        dicom_port=_int_env(env, "MEDSYS_DICOM_PORT", 0, minimum=0) or None,
        dicom_ae_title=(env.get("MEDSYS_DICOM_AE_TITLE") or "MEDSYS").strip()[:16],
        dicom_peers=_words(env.get("MEDSYS_DICOM_PEERS", "")),
        public_url=env.get("MEDSYS_PUBLIC_URL") or None,
    )


def _words(text: str) -> frozenset[str]:
    """A comma list, blanks dropped."""
    return frozenset(word.strip() for word in text.split(",") if word.strip())
