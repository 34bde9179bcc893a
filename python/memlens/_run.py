"""``memlens run``: a program under the allocation tracer, and its children.

How children are followed:

- ``os.fork`` (and multiprocessing's fork start method): the parent's writer
  goes quiet in the child at once (a native ``pthread_atfork`` handler), then
  an ``os.register_at_fork`` hook starts the child's own capture,
  ``<prefix>.<child pid>.mlc``.
- New interpreters (multiprocessing spawn and forkserver, ``subprocess``
  running Python): ``memlens run`` exports ``MEMLENS_RUN`` (the settings,
  see :func:`encode_settings`) and puts ``memlens/_bootstrap`` first on ``PYTHONPATH``. Its
  ``sitecustomize`` starts tracing before the child runs any of its own code,
  then hands over to any other ``sitecustomize`` on the path. No ``.pth``
  file is installed and nothing outside the traced run's environment changes.
- Each capture is closed at interpreter exit (``atexit``) and by
  ``os._exit``, which memlens wraps for that purpose; a process killed by a
  signal leaves a capture readable up to its last complete block.
"""
import atexit
import os
import sys

from memlens import _core, _import_watch

ENV = "MEMLENS_RUN"
BOOTSTRAP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_bootstrap")

_settings = None
_original_exit = os._exit
_hooks_installed = False


def capture_path(settings, pid):
    """Where process ``pid`` of a traced run writes its capture."""
    return os.path.join(settings["dir"], "%s.%d.mlc" % (settings["prefix"], pid))


def _command_line():
    try:
        with open("/proc/self/cmdline", "rb") as f:
            parts = f.read().split(b"\0")
        return [p.decode("utf-8", "replace") for p in parts if p]
    except OSError:
        return list(getattr(sys, "argv", []))


def start(settings, path, argv):
    """Start tracing this process into ``path`` with ``settings``."""
    global _settings
    _import_watch.watch_numpy()
    # A child started with a cleared environment has no interposer: it is
    # traced without native allocations rather than not at all.
    native = bool(settings.get("native")) and _core.native_available()
    _core.capture_start(path, settings["mode"], settings["interval"], settings["frames"], argv, native)
    _settings = dict(settings, path=path, pid=os.getpid())
    _install_hooks()
    _name_this_thread()


def _name_this_thread(name=None):
    """Give the calling thread its ``threading`` name in the capture (the hooks only see OS names)."""
    try:
        if name is None:
            threading = sys.modules.get("threading")
            # Without threading, the thread starting a capture is the one
            # threading would call the main thread (after a fork too).
            name = "MainThread" if threading is None else threading.current_thread().name
        _core.capture_thread_name(name)
    except Exception:  # naming is cosmetic: never break the program
        pass


def _name_threads_when_they_start(threading):
    """Wrap ``Thread._bootstrap_inner`` (3.9-3.13) so that each new thread names itself first."""
    original = getattr(threading.Thread, "_bootstrap_inner", None)
    if original is None or getattr(original, "_memlens", False):
        return

    def _bootstrap_inner(self):
        # Not current_thread(): the thread is not registered yet.
        _name_this_thread(self.name)
        return original(self)

    _bootstrap_inner._memlens = True
    threading.Thread._bootstrap_inner = _bootstrap_inner


def stop():
    """Stop tracing and close this process's capture; returns (path, events, dropped, bytes) or None."""
    if _settings is None or _settings["pid"] != os.getpid():
        return None
    return _core.capture_stop()


def _exit_closing_capture(code):
    try:
        stop()
    except BaseException:
        pass
    _original_exit(code)


def _after_fork_in_child():
    global _settings
    if _settings is None:
        return
    settings = _settings
    _settings = None
    try:
        _core.capture_stop()  # the parent's writer: dropped without touching its file
        start(settings, capture_path(settings, os.getpid()), _command_line())
    except Exception as exc:  # never break the program's fork
        sys.stderr.write("memlens: warning: cannot trace forked child %d: %s\n" % (os.getpid(), exc))


def _install_hooks():
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    threading = sys.modules.get("threading")
    if threading is not None:
        _name_threads_when_they_start(threading)
    else:
        # Not imported for the program: it may never use threads.
        _import_watch.when_imported("threading", _name_threads_when_they_start)
    os._exit = _exit_closing_capture
    os.register_at_fork(after_in_child=_after_fork_in_child)
    atexit.register(stop)


# The settings a child needs, in the order encode_settings writes them.
_EXPORTED = ("mode", "interval", "frames", "native", "dir", "prefix")
_SETTINGS_VERSION = "1"


def encode_settings(settings):
    """``settings`` as one environment value (no json: its import costs every run).

    A version, then ``mode``, ``interval``, ``frames`` and ``native`` as
    words, then ``dir`` and ``prefix`` as length-prefixed text, so that any
    path (spaces, separators, undecodable bytes) survives::

        1 sampled 524288 1 0 8:/tmp/out11:memlens-job
    """
    words = [_SETTINGS_VERSION, str(settings["mode"]), str(int(settings["interval"])),
             str(int(settings["frames"])), "1" if settings.get("native") else "0"]
    texts = "".join("%d:%s" % (len(settings[k]), settings[k]) for k in ("dir", "prefix"))
    return " ".join(words) + " " + texts


def decode_settings(value):
    """The settings ``encode_settings`` wrote; ValueError says what is wrong with ``value``."""
    parts = value.split(" ", 5)
    if len(parts) != 6 or parts[0] != _SETTINGS_VERSION:
        raise ValueError("%s is not a memlens run setting (version %s expected): %r" % (ENV, _SETTINGS_VERSION, value[:80]))
    _, mode, interval, frames, native, rest = parts
    if mode not in ("exact", "sampled") or native not in ("0", "1") or not (interval.isdigit() and frames.isdigit()):
        raise ValueError("%s has an unknown mode, number or flag: %r" % (ENV, value[:80]))
    settings = {"mode": mode, "interval": int(interval), "frames": int(frames), "native": native == "1"}
    for key in ("dir", "prefix"):
        length, colon, rest = rest.partition(":")
        if not colon or not length.isdigit() or int(length) > len(rest):
            raise ValueError("%s has a malformed %s: %r" % (ENV, key, value[:80]))
        settings[key], rest = rest[:int(length)], rest[int(length):]
    if rest:
        raise ValueError("%s has trailing text: %r" % (ENV, rest[:80]))
    return settings


def export_to_children(settings):
    """Make Python processes started from here trace themselves (see the module doc)."""
    os.environ[ENV] = encode_settings(settings)
    path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = BOOTSTRAP_DIR + (os.pathsep + path if path else "")


def start_from_environment() -> None:
    """Called by the bootstrap ``sitecustomize`` in a child interpreter."""
    settings = decode_settings(os.environ[ENV])
    start(settings, capture_path(settings, os.getpid()), _command_line())
