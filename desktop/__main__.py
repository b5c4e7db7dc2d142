"""`python -m desktop [--server URL] [--screenshots DIR]` / `medsys-desktop`."""

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="medsys-desktop", description="The medsys desktop client."
    )
    parser.add_argument("--server", help="the server's address, e.g. http://127.0.0.1:8080")
    parser.add_argument(
        "--screenshots",
        type=Path,
        metavar="DIR",
        help="render every screen of every role off screen into DIR (starts its own demo server)",
    )
    parser.add_argument(
        "--selftest", action="store_true", help="check this installation and exit 0 (or 1, why)"
    )
    args = parser.parse_args(argv)
    if args.selftest:
        from desktop.selftest import run_selftest

        return run_selftest()

    from PySide6.QtWidgets import QApplication

    if args.screenshots is not None:
        from desktop.screenshots import take_screenshots

        return take_screenshots(args.screenshots)

    from desktop.app import DesktopApp, default_cache_root
    from desktop.config import Config

    app = QApplication(sys.argv[:1])
    app.setApplicationName("medsys-desktop")
    app.setOrganizationName("medsys")
    desktop = DesktopApp(Config(), default_cache_root())
    desktop.start(args.server)
    try:
        return app.exec()
    finally:
        desktop.shutdown()


if __name__ == "__main__":
    sys.exit(main())
