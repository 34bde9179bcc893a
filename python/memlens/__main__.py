"""The ``memlens`` command: ``python -m memlens`` or the installed console script."""
import sys

from memlens import _core


def main(argv: "list[str] | None" = None) -> int:
    """Run the command line and return its exit code (the console script exits with it)."""
    argv = list(sys.argv if argv is None else argv)
    argv[0] = "memlens"
    code = _core.cli_main(argv)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`memlens demo | head`): it had what it
        # wanted. Point stdout at /dev/null so the interpreter's own flush at
        # exit does not report the same pipe again.
        _silence_stdout()
    except (AttributeError, ValueError, OSError):
        pass  # a program run by `memlens run` closed or replaced stdout
    return code


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, ValueError, OSError):
        pass


if __name__ == "__main__":
    sys.exit(main())
