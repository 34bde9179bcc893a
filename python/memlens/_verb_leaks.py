"""``memlens leaks``: run a program as python would, watch its heap, and
report its leaks after its own output (see memlens.leaks and docs/leaks.md).
The Rust command tree has checked the arguments."""
import os
import sys

from memlens import _verb_run as _r

_FLAGS = ("--force", "--json", "--fail-on-leak")
LEAK_EXIT = 3


def _parse(args):
    options = {}
    i = 0
    while args[i] != "--":
        if args[i] in _FLAGS:
            options[args[i][2:]] = True
            i += 1
        else:
            options[args[i][2:]] = args[i + 1]
            i += 2
    return options, args[i + 1:]


def _check_output(path, force, what):
    if path is None:
        return None
    if os.path.isdir(path):
        return "cannot write the %s to %s: it is a directory" % (what, path)
    if os.path.exists(path) and not force:
        return "%s already exists; pass --force to overwrite it" % path
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        return "cannot write the %s to %s: no directory %s" % (what, path, parent)
    return None


def main(args):
    options, program_args = _parse(list(args))
    module = options.get("module")
    script = options.get("script")
    code_text = options.get("code")
    output = options.get("output")
    snapshot_path = options.get("snapshot")
    force = bool(options.get("force"))
    for path, what in ((output, "report"), (snapshot_path, "snapshot")):
        problem = _check_output(path, force, what)
        if problem:
            return _r._error(problem)
    if script is not None and not os.path.exists(script):
        return _r._error("cannot run %s: no such file" % script)
    if code_text is not None:
        main_name = None
        argv = ["-c"] + program_args
        sys.path[0] = ""
    elif module:
        main_name = module
        argv = [module] + program_args
        sys.path[0] = os.getcwd()
    else:
        main_name = os.path.splitext(os.path.basename(script))[0]
        argv = [script] + program_args
        sys.path[0] = os.path.dirname(os.path.abspath(script))
    source = None
    program = None
    if code_text is not None:
        try:
            program = compile(code_text, "<string>", "exec", dont_inherit=True)
        except SyntaxError as exc:
            import traceback

            sys.stderr.write("".join(traceback.format_exception_only(type(exc), exc)))
            return 1
    elif module or _r._path_importer(script) is not None or script.endswith((".pyc", ".pyo")):
        import runpy  # noqa: F401
    else:
        try:
            with open(script, "rb") as f:
                source = f.read()
        except OSError as exc:
            return _r._error("cannot run %s: %s" % (script, exc.strerror or exc))
    sys.argv = argv

    from memlens.leaks import Watcher

    watcher = Watcher(main_name=main_name, min_objects=int(options["min-objects"]))
    code = 0
    failure = None
    missing = None
    watcher.start()
    try:
        if code_text is not None:
            main_module = _r._fresh_main(None)
            exec(program, main_module.__dict__)
        elif module:
            import runpy

            runpy.run_module(module, run_name="__main__", alter_sys=True)
        elif source is None:
            import runpy

            runpy.run_path(script, run_name="__main__")
        else:
            main_module = _r._fresh_main(script)
            compiled = compile(source, main_module.__file__, "exec", dont_inherit=True)
            source = None
            exec(compiled, main_module.__dict__)
        _r._finish_threads()
    except SystemExit as exc:
        code = _r._exit_code(exc)
    except KeyboardInterrupt:
        code = 130
        _r._stderr("KeyboardInterrupt\n")
    except BaseException as exc:
        failure = exc
        code = 1
        if module and _r._raised_by_runpy(exc):
            missing = str(exc)
    _r._flush_stdout()
    if missing is not None:
        watcher.stop()
        _r._stderr("memlens: error: cannot run -m %s: %s\n" % (module, missing))
        return 1
    if failure is not None:
        _r._print_program_traceback(failure)
        failure = None
    try:
        report = watcher.finish(snapshot_path=snapshot_path)
    except Exception as exc:
        _r._stderr("memlens: error: cannot make the leak report: %s\n" % exc)
        return code or 2
    text = report.json_text + "\n" if options.get("json") else report.text
    if output:
        try:
            with open(output, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as exc:
            _r._stderr("memlens: error: cannot write %s: %s\n" % (output, exc.strerror or exc))
            return code or 2
        _r._stderr("memlens: %d leak(s); report written to %s\n" % (len(report), output))
    else:
        _r._stderr(text if options.get("json") else _terminal_safe(text))
    if snapshot_path:
        _r._stderr("memlens: final snapshot written to %s (memlens heap summary %s)\n"
                   % (snapshot_path, snapshot_path))
    if report and options.get("fail-on-leak") and code == 0:
        return LEAK_EXIT
    return code


def _terminal_safe(text):
    """The report with control characters from the program's names and
    keys shown escaped, so that they cannot act on the terminal."""
    out = []
    for ch in text:
        if ch == "\n" or ch == "\t" or (ch >= " " and ch != "\x7f" and not 0x80 <= ord(ch) < 0xA0):
            out.append(ch)
        else:
            out.append("\\x%02x" % ord(ch))
    return "".join(out)
