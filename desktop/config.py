"""The desktop's settings, one typed wrapper over QSettings."""

from PySide6.QtCore import QByteArray, QSettings

DEFAULT_SERVER = "http://127.0.0.1:8080"
DEFAULT_IDLE_MINUTES = 15


class Config:
    def __init__(self, settings: QSettings | None = None) -> None:
        self._settings = settings or QSettings("medsys", "medsys-desktop")

    def _text(self, key: str, default: str) -> str:
        value = self._settings.value(key, default)
        return value if isinstance(value, str) else default

    @property
    def server_url(self) -> str:
        return self._text("server/url", DEFAULT_SERVER)

    @server_url.setter
    def server_url(self, value: str) -> None:
        self._settings.setValue("server/url", value)

    @property
    def last_email(self) -> str:
        return self._text("login/email", "")

    @last_email.setter
    def last_email(self, value: str) -> None:
        self._settings.setValue("login/email", value)

    @property
    def idle_minutes(self) -> float:
        """Minutes without input before the automatic log-off (fractions allowed)."""
        raw = self._settings.value("session/idle_minutes", DEFAULT_IDLE_MINUTES)
        try:
            value = float(raw) if isinstance(raw, (int, float, str)) else DEFAULT_IDLE_MINUTES
        except ValueError:
            return DEFAULT_IDLE_MINUTES
        return value if value > 0 else DEFAULT_IDLE_MINUTES

    @idle_minutes.setter
    def idle_minutes(self, value: float) -> None:
        self._settings.setValue("session/idle_minutes", value)

    @property
    def window_geometry(self) -> QByteArray | None:
        value = self._settings.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    @window_geometry.setter
    def window_geometry(self, value: QByteArray) -> None:
        self._settings.setValue("window/geometry", value)

    def last_tab(self, role: str) -> str:
        return self._text(f"window/last_tab/{role}", "")

    def set_last_tab(self, role: str, tab: str) -> None:
        self._settings.setValue(f"window/last_tab/{role}", tab)

    @property
    def notifications(self) -> bool:
        """Tell the user (a system notification) of what arrives while the window is away."""
        return self._text("notifications/enabled", "true") == "true"

    @notifications.setter
    def notifications(self, value: bool) -> None:
        self._settings.setValue("notifications/enabled", "true" if value else "false")

    def seen(self, user_id: int, key: str) -> str:
        """What the user last saw of an object (see desktop/unread.py); "" for never."""
        return self._text(f"seen/{user_id}/{key}", "")

    def set_seen(self, user_id: int, key: str, value: str) -> None:
        self._settings.setValue(f"seen/{user_id}/{key}", value)

    def sync(self) -> None:
        self._settings.sync()
