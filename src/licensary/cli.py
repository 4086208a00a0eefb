"""The `licensary` command: our commands plus Django's own, with the settings preset."""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "licensary.config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["licensary", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
