"""``memlens run``: a program under the allocation tracer, and its children.

How children are followed:

- ``os.fork`` (and multiprocessing's fork start method): the parent's writer
  goes quiet in the child at once (a native ``pthread_atfork`` handler), then
  an ``os.register_at_fork`` hook starts the child's own capture,
  ``<prefix>.<child pid>.mlc``.
- New interpreters (multiprocessing spawn and forkserver, ``subprocess``
  running Python): ``memlens run`` exports ``MEMLENS_RUN`` (the settings, as
  JSON) and puts ``memlens/_bootstrap`` first on ``PYTHONPATH``. Its
  ``sitecustomize`` starts tracing before the child runs any of its own code,
  then hands over to any other ``sitecustomize`` on the path. No ``.pth``
  file is installed and nothing outside the traced run's environment changes.
- Each capture is closed at interpreter exit (``atexit``) and by
  ``os._exit``, which memlens wraps for that purpose; a process killed by a
  signal leaves a capture readable up to its last complete block.
"""
import atexit
import json
import os
import sys

from memlens import _core, _numpy_watch

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
    _numpy_watch.watch()
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
            if threading is None:
                return
            name = threading.current_thread().name
        _core.capture_thread_name(name)
    except Exception:  # naming is cosmetic: never break the program
        pass


def _name_threads_when_they_start():
    """Wrap ``Thread._bootstrap_inner`` (3.9-3.13) so that each new thread names itself first."""
    import threading

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
    _name_threads_when_they_start()
    os._exit = _exit_closing_capture
    os.register_at_fork(after_in_child=_after_fork_in_child)
    atexit.register(stop)


def export_to_children(settings):
    """Make Python processes started from here trace themselves (see the module doc)."""
    os.environ[ENV] = json.dumps({k: settings[k] for k in ("mode", "interval", "frames", "dir", "prefix", "native") if k in settings})
    path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = BOOTSTRAP_DIR + (os.pathsep + path if path else "")


def start_from_environment():
    """Called by the bootstrap ``sitecustomize`` in a child interpreter."""
    settings = json.loads(os.environ[ENV])
    start(settings, capture_path(settings, os.getpid()), _command_line())
