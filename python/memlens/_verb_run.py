"""``memlens run``: the Python half (the Rust command tree validated the arguments).

Runs the program in this interpreter as ``python script.py``,
``python -m module`` or ``python -c code`` would, under the allocation tracer, and prints at exit
where the captures are and which reports to run.
"""
import os
import sys

from memlens import _core, _run

# Only what every run needs is imported up front: the traced program pays
# for the launcher's start-up in its CPU time. runpy (and the pkgutil,
# importlib.util and typing it pulls in) serves only `-m` and scripts that
# are directories or zip files; shlex and traceback are imported after the
# trace stops.

PRELOAD_LIBRARY = "libmemlens_preload.so"
# Set in the environment of the re-executed memlens, so that a preload that
# did not take effect is reported instead of re-executing forever.
REEXEC_MARK = "MEMLENS_NATIVE_REEXEC"


def _parse(args):
    options = {}
    i = 0
    while args[i] != "--":
        if args[i] in ("--native", "--force"):
            options[args[i][2:]] = True
            i += 1
        else:
            options[args[i].lstrip("-")] = args[i + 1]
            i += 2
    return options, args[i + 1:]


def _stderr(text: str) -> None:
    """Write memlens's own lines to stderr, even if the program closed or
    replaced ``sys.stderr`` (then straight to file descriptor 2)."""
    for stream in (sys.stderr, sys.__stderr__):
        try:
            stream.write(text)
            stream.flush()
            return
        except (AttributeError, ValueError, OSError):
            continue
    try:
        os.write(2, text.encode("utf-8", "replace"))
    except OSError:
        pass


def _flush_stdout() -> None:
    """Flush the program's stdout as the interpreter does at exit: a stream
    the program closed, or a pipe whose reader went away, is not memlens's error."""
    try:
        sys.stdout.flush()
    except (AttributeError, ValueError, OSError):
        pass


def _error(message):
    _stderr("memlens: error: %s\n" % message)
    return 2


def _exit_code(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    _stderr("%s\n" % (code,))
    return 1


def _print_program_traceback(exc):
    import traceback

    tb = exc.__traceback__
    ours = {os.path.abspath(__file__)}
    runpy = sys.modules.get("runpy")
    if runpy is not None:
        ours.add(os.path.abspath(runpy.__file__))
    while tb is not None and (os.path.abspath(tb.tb_frame.f_code.co_filename) in ours
                              or tb.tb_frame.f_code.co_filename.startswith("<frozen runpy")):
        tb = tb.tb_next
    _stderr("".join(traceback.format_exception(type(exc), exc, tb)))


def _raised_by_runpy(exc):
    """Whether ``exc`` is runpy's own ImportError for a module it could not find
    (raised in runpy itself, before any code of the module ran)."""
    if not isinstance(exc, ImportError):
        return False
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    runpy = sys.modules.get("runpy")
    if tb is None or runpy is None:
        return False
    filename = tb.tb_frame.f_code.co_filename
    return filename == getattr(runpy, "__file__", None) or filename.startswith("<frozen runpy")


def _finish_threads():
    """As the interpreter does at exit: threading's exit hooks first (a
    ThreadPoolExecutor's shutdown, which lets its idle workers end), then
    the join of every non-daemon thread."""
    threading = sys.modules.get("threading")
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None and threading.current_thread() is threading.main_thread():
        try:
            shutdown()
            return
        except Exception:
            pass
    _join_threads()


def _join_threads():
    # A program that never imported threading has no threads to wait for
    # (threads of the bare _thread module are not waited for by Python either).
    threading = sys.modules.get("threading")
    if threading is None:
        return
    main = threading.main_thread()
    for thread in threading.enumerate():
        if thread is not main and not thread.daemon and thread is not threading.current_thread():
            thread.join()


_SHELL_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_")


def _quote(word):
    """``shlex.quote(word)``, without importing shlex (and re) for the usual plain path."""
    if word and all(c in _SHELL_SAFE for c in word):
        return word
    import shlex

    return shlex.quote(word)


def _captures_named_like(settings):
    """The names in the capture directory that look like captures of a run with
    this prefix (``<prefix>.<pid>.mlc``)."""
    prefix = settings["prefix"] + "."
    try:
        names = os.listdir(settings["dir"])
    except OSError:
        return set()
    return {name for name in names
            if name.startswith(prefix) and name.endswith(".mlc") and name[len(prefix):-4].isdigit()}


def _report(result, settings, earlier):
    if result is None:
        return
    path, events, dropped, size = result
    lines = []
    lines.append("memlens: capture written to %s (%s events, %s)\n" % (path, format(events, ","), _core.format_bytes(size)))
    if dropped:
        lines.append("memlens: warning: %s events were dropped because the writer fell behind\n" % format(dropped, ","))
    own = os.path.abspath(path)
    children = []
    # Children's captures are the ones that appeared during the run: earlier
    # runs' files of the same name (`memlens run -c ...` twice) are not.
    for name in sorted(_captures_named_like(settings) - earlier):
        full = os.path.join(settings["dir"], name)
        if full != own:
            children.append(full)
    files = [path] + [os.path.relpath(c) if not os.path.isabs(path) else c for c in children]
    if children:
        lines.append("memlens: %d child process capture%s: %s\n" % (
            len(children), "s" if len(children) > 1 else "", " ".join(files[1:])))
    quoted = " ".join(_quote(f) for f in files)
    html = _quote(os.path.splitext(path)[0] + ".html")
    lines.append(
        "Reports:\n"
        "  memlens summary %s\n"
        "  memlens flamegraph %s -o %s\n"
        "  memlens table --peak %s     # what was live at the peak\n"
        "  memlens table --leaks %s    # what was still live at exit\n"
        "  memlens tree %s  |  memlens stats %s\n" % (quoted, quoted, html, quoted, quoted, quoted, quoted)
    )
    _stderr("".join(lines))


def _path_importer(path):
    """The importer of ``path`` as ``python path`` finds it (a directory or a zip file
    with a ``__main__``), or None for a plain script (pkgutil.get_importer, without
    importing pkgutil)."""
    try:
        return sys.path_importer_cache[path]
    except KeyError:
        pass
    for hook in sys.path_hooks:
        try:
            importer = hook(path)
        except ImportError:
            continue
        sys.path_importer_cache[path] = importer
        return importer
    return None


def _fresh_main(path):
    """A new ``__main__`` module for the script at ``path``, set up as ``python path``
    sets it up (absolute ``__file__``, a source loader, no spec), in ``sys.modules``;
    for ``-c`` code (``path`` None) as ``python -c`` does: no ``__file__``, the
    builtin importer as loader."""
    main = type(sys)("__main__")
    main.__package__ = None
    main.__spec__ = None
    main.__builtins__ = sys.modules["builtins"]
    if path is None:
        main.__loader__ = getattr(sys.modules.get("_frozen_importlib"), "BuiltinImporter", None)
    else:
        main.__file__ = os.path.abspath(path)
        main.__cached__ = None
        loader = getattr(sys.modules.get("_frozen_importlib_external"), "SourceFileLoader", None)
        main.__loader__ = loader("__main__", main.__file__) if loader is not None else None
    sys.modules["__main__"] = main
    return main


def _reexec_with_preload(library):
    """Run this same memlens command again with the interposer preloaded.

    The interposer must be in the process before anything allocates, so
    ``--native`` re-executes the interpreter with the library first in
    ``LD_PRELOAD`` (an existing ``LD_PRELOAD`` is kept after it); every
    process started from the program inherits it.
    """
    if os.environ.get(REEXEC_MARK) == library:
        return _error(
            "--native: %s was put in LD_PRELOAD but is not loaded (the dynamic loader refused it; "
            "its message is above)" % library
        )
    env = dict(os.environ)
    existing = env.get("LD_PRELOAD", "").strip()
    env["LD_PRELOAD"] = library + (":" + existing if existing else "")
    env[REEXEC_MARK] = library
    try:
        with open("/proc/self/cmdline", "rb") as f:
            argv = [os.fsdecode(part) for part in f.read().split(b"\0") if part]
    except OSError:
        argv = [sys.executable, "-m", "memlens"] + sys.argv[1:]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, argv, env)
    except OSError as exc:
        return _error("--native: cannot re-execute %s: %s" % (sys.executable, exc))


def main(args):
    options, program_args = _parse(list(args))
    native = bool(options.get("native"))
    if native:
        library = os.path.join(os.path.dirname(os.path.abspath(_run.__file__)), PRELOAD_LIBRARY)
        if not os.path.exists(library):
            return _error(
                "--native needs %s, the LD_PRELOAD library that interposes malloc and mmap, and this "
                "memlens build does not include it; run without --native (Python's allocators are "
                "traced either way)" % PRELOAD_LIBRARY
            )
        if not _core.native_available():
            return _reexec_with_preload(library)
    module = options.get("module")
    script = options.get("script")
    code_text = options.get("code")
    if script is not None and not os.path.exists(script):
        return _error("cannot run %s: no such file" % script)
    if code_text is not None:
        name = "c"
    elif module:
        name = module
    else:
        name = os.path.splitext(os.path.basename(script))[0]
    output = options.get("output")
    pid = os.getpid()
    if output:
        path = output
        directory = os.path.dirname(os.path.abspath(output))
        prefix = os.path.splitext(os.path.basename(output))[0]
    else:
        directory = os.getcwd()
        prefix = "memlens-" + name.replace(os.sep, "_")
        path = "%s.%d.mlc" % (prefix, pid)
    if os.path.isdir(path):
        return _error("cannot write the capture to %s: it is a directory" % path)
    if os.path.exists(path) and not options.get("force"):
        return _error("%s already exists; pass --force to overwrite it" % path)
    settings = {
        "mode": options["mode"],
        "interval": int(options["interval"]),
        "frames": int(options["frames"]),
        "dir": directory,
        "prefix": prefix,
        "native": native,
    }
    if code_text is not None:
        argv = ["-c"] + program_args  # as python -c: sys.argv[0] is '-c', sys.path[0] ''
        sys.path[0] = ""
    elif module:
        argv = [module] + program_args  # runpy replaces argv[0] with the module's file
        sys.path[0] = os.getcwd()
    else:
        argv = [script] + program_args
        sys.path[0] = os.path.dirname(os.path.abspath(script))
    sys.argv = argv
    # A plain script is read here, before tracing starts (as `python script.py`
    # reads it before running anything), compiled and run in this frame, below
    # which stack walks stop. A module, a directory or a zip file goes through
    # runpy, imported now so that its own imports are not traced.
    source = None
    if code_text is not None:
        try:
            program = compile(code_text, "<string>", "exec", dont_inherit=True)
        except SyntaxError as exc:
            # As python -c: the syntax error, exit 1, no capture (nothing traced yet).
            import traceback

            sys.stderr.write("".join(traceback.format_exception_only(type(exc), exc)))
            return 1
    elif module:
        import runpy
    elif _path_importer(script) is not None or script.endswith((".pyc", ".pyo")):
        import pkgutil  # noqa: F401  (runpy.run_path imports it on first use)
        import runpy
    else:
        try:
            with open(script, "rb") as f:
                source = f.read()
        except OSError as exc:
            return _error("cannot run %s: %s" % (script, exc.strerror or exc))
    earlier = _captures_named_like(settings)
    _run.export_to_children(settings)
    try:
        if code_text is not None:
            launched = ["-c", code_text]
        elif module:
            launched = ["-m", module]
        else:
            launched = [script]
        _run.start(settings, path, launched + program_args)
    except Exception as exc:
        return _error("cannot start tracing: %s" % exc)
    # This frame and the launcher's below it would sit under every stack of
    # the program: walks stop here (this frame outlives the trace, stopped
    # in the finally below). Cannot fail with a capture running.
    _core.capture_floor(0)
    code = 0
    failure = None
    missing = None
    try:
        if code_text is not None:
            main_module = _fresh_main(None)
            exec(program, main_module.__dict__)
        elif module:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        elif source is None:
            runpy.run_path(script, run_name="__main__")
        else:
            main_module = _fresh_main(script)
            program = compile(source, main_module.__file__, "exec", dont_inherit=True)
            source = None
            exec(program, main_module.__dict__)
        _finish_threads()
    except SystemExit as exc:
        code = _exit_code(exc)
    except KeyboardInterrupt:
        code = 130
        _stderr("KeyboardInterrupt\n")
    except BaseException as exc:
        failure = exc
        code = 1
        if module and _raised_by_runpy(exc):
            missing = str(exc)  # `python -m nosuch`: nothing of the program ran
    finally:
        _flush_stdout()
        # Stop before printing the traceback: formatting it is memlens's work, not the program's.
        try:
            result = _run.stop()
        except Exception as exc:
            result = None
            _stderr("memlens: error: cannot close the capture: %s\n" % exc)
            code = code or 2
        if missing is not None:
            # As plain python: one line, exit 1, and no capture of a program that never ran.
            try:
                os.remove(path)
            except OSError:
                pass
            _stderr("memlens: error: cannot run -m %s: %s\n" % (module, missing))
        else:
            if failure is not None:
                _print_program_traceback(failure)
            _report(result, settings, earlier)
    return code
