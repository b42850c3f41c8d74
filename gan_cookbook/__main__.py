"""``gan-cookbook`` and ``python -m gan_cookbook``: the command line.

Ctrl-C while the command line itself is still being imported ends as it does later:
status 130 and one line, no traceback.
"""

import sys

from gan_cookbook.launch import NOTHING_WRITTEN


def main() -> None:
    try:
        from gan_cookbook.cli import main as command_line
    except KeyboardInterrupt:
        print(f"\n{NOTHING_WRITTEN}", file=sys.stderr)
        sys.exit(130)
    command_line()


if __name__ == "__main__":
    main()
