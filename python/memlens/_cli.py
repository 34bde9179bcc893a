"""Python halves of the command-line verbs that need a live interpreter.

The Rust command tree validates the arguments, then calls :func:`run_verb`.
Each verb lives in its own module, named ``memlens._verb_<name>``, exposing
``main(args: list[str]) -> int``.
"""
import importlib


def run_verb(verb: str, args: list[str]) -> int:
    """Import ``memlens._verb_<verb>`` and run its ``main`` with ``args``."""
    module = importlib.import_module(f"memlens._verb_{verb}")
    try:
        return int(module.main(list(args)))
    except BrokenPipeError:
        # A verb's report piped into `head`: the reader had what it wanted.
        from memlens.__main__ import _silence_stdout

        _silence_stdout()
        return 0
