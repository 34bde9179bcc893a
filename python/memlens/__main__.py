"""The ``memlens`` command: ``python -m memlens`` or the installed console script."""
import sys

from memlens import _core


def main(argv: "list[str] | None" = None) -> int:
    """Run the command line and return its exit code (the console script exits with it)."""
    argv = list(sys.argv if argv is None else argv)
    argv[0] = "memlens"
    code = _core.cli_main(argv)
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
