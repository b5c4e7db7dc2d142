"""`python -m desktop [--server URL] [--selftest]` / `medsys-desktop`."""

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="medsys-desktop", description="The medsys desktop client."
    )
    parser.add_argument("--server", help="the server's address, e.g. http://127.0.0.1:8080")
    parser.add_argument(
        "--selftest", action="store_true", help="check this installation and exit 0 (or 1, why)"
    )
    args = parser.parse_args(argv)
    if args.selftest:
        from desktop.selftest import run_selftest

        return run_selftest()

    from PySide6.QtWidgets import QApplication

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
