"""`python -m desktop` / `medsys-desktop`."""

import sys


def main() -> int:
    print("The medsys desktop client is not built yet (see issue 3).", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
