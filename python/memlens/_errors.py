"""The exceptions memlens raises, all defined here and exported by ``memlens``.

Every one derives from :class:`MemlensError`, so ``except memlens.MemlensError``
catches whatever memlens itself reports, and also from the builtin exception
that code written before these classes existed catches (``ValueError`` for a
bad file or bad settings, ``RuntimeError`` for a trace in the wrong state).
The Rust extension raises them through one module,
``crates/memlens-py/src/errors.rs``.

Errors of the operating system (a file that cannot be opened or written)
stay the builtin ``OSError`` and its subclasses: they are not memlens's.
"""


class MemlensError(Exception):
    """Base class of the exceptions memlens raises."""


class FileFormatError(MemlensError, ValueError):
    """A file memlens reads is not a valid memlens file: truncated, corrupt,
    of another kind or of an unsupported version."""


class CaptureError(MemlensError, RuntimeError):
    """Tracing or a capture cannot do what was asked in its current state
    (already tracing, not tracing, no capture running)."""


class ConfigurationError(MemlensError, ValueError):
    """Settings or arguments memlens was given are invalid (an unknown mode,
    a frame limit out of range, an unknown lint rule code)."""


__all__ = ["CaptureError", "ConfigurationError", "FileFormatError", "MemlensError"]
