"""While the server's database is away, the window says the server is temporarily
unavailable and retries what it was reading; when the database is back, the list loads."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot
from sqlalchemy.engine import make_url

from desktop.app import DesktopApp
from desktop.config import Config
from devtools.live_server import LiveServer, run_cli, server_environment
from server.seed import DEMO_PASSWORD
from tests.databases import empty_postgres
from tests.desktop.conftest import log_in
from tests.tcp_proxy import ThreadedProxy


@pytest.fixture
def proxied_server(postgres_url: str | None, tmp_path: Path) -> Iterator[tuple[str, ThreadedProxy]]:
    """The demo practice on PostgreSQL, its server reaching the database through a proxy."""
    if postgres_url is None:
        pytest.skip("no PostgreSQL: set MEDSYS_TEST_POSTGRES_URL or run one on 127.0.0.1:5432")
    asyncio.run(empty_postgres(postgres_url))
    environment = server_environment(tmp_path, postgres_url)
    for command in ("migrate", "seed-demo"):
        result = run_cli(environment, command)
        assert result.returncode == 0, result.stderr
    database = make_url(postgres_url)
    proxy = ThreadedProxy(database.host or "127.0.0.1", database.port or 5432)
    environment["MEDSYS_DATABASE_URL"] = database.set(port=proxy.port).render_as_string(False)
    server = LiveServer(environment)
    url = server.start()
    try:
        yield url, proxy
    finally:
        proxy.restore()
        server.stop()
        proxy.close()


def test_the_window_says_the_server_is_unavailable_and_retries_the_read(
    qtbot: QtBot, proxied_server: tuple[str, ThreadedProxy], tmp_path: Path
) -> None:
    url, proxy = proxied_server
    config = Config(QSettings(str(tmp_path / "desktop.ini"), QSettings.Format.IniFormat))
    desktop = DesktopApp(config, tmp_path / "cache")
    qtbot.addWidget(desktop.login_window)
    desktop.start(url)
    try:
        window = log_in(qtbot, desktop, "paula@medsys.example", DEMO_PASSWORD)
        tab = window.tab("Questions")
        qtbot.waitUntil(lambda: tab.model.rowCount() > 0, timeout=15000)
        assert window.connection.text().startswith("● Connected")

        proxy.cut()
        tab.list.table.setFocus()
        window.activateWindow()
        qtbot.keyClick(tab.list.table, Qt.Key.Key_F5)
        qtbot.waitUntil(
            lambda: "temporarily unavailable; retrying" in window.connection.text(),
            timeout=15000,
        )
        proxy.restore()
        qtbot.waitUntil(lambda: window.connection.text().startswith("● Connected"), timeout=30000)
        qtbot.waitUntil(lambda: tab.model.rowCount() > 0, timeout=15000)
        assert not tab.list.error.isVisible()
    finally:
        desktop.shutdown()
