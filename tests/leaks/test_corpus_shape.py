"""The leak corpus itself is sound, checked with plain CPython (no memlens).

The corpus (tests/leaks/corpus, docs/leak-corpus.md) is what `memlens leaks` is
measured against: for every scenario it must name the growing type, the root
kind and the root name of ``leak.py``, and report nothing for ``fixed.py`` nor for
the programs in tests/leaks/plateau. Those expectations are only worth testing
against if they are true, so this module checks them without memlens:

- GIVEN each scenario directory WHEN its files are read THEN leak.py, fixed.py and
  a well-formed expect.toml are there, with a public source and a known root kind;
- GIVEN leak.py WHEN a few more rounds of requests run THEN the declared type and
  the bytes of live objects grow in every round, the declared type is the one that grows
  most, and the declared root exists (and grows, when it has a size);
- GIVEN fixed.py or a plateau program WHEN the same rounds run after a warm-up
  THEN neither the type nor the bytes grow by as much as one round of the leak.

Each program runs in a process of its own (tests/leaks/growth_probe.py), all of
them at once, so that a scenario that disables the collector or registers atexit
callbacks cannot disturb another, and the whole module takes a few seconds.
"""

import ast
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import growth_probe  # noqa: E402  (the probe, also run as a script)

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
PLATEAU = HERE / "plateau"
PROBE = HERE / "growth_probe.py"

# The closed list of root kinds (docs/leak-corpus.md, "Root kinds").
ROOT_KINDS = {
    "module_global",
    "class_attribute",
    "closure_cell",
    "default_argument",
    "listener",
    "cache_method",
    "memo_cache",
    "traceback",
    "thread_local",
    "contextvar",
    "asyncio_tasks",
    "logging_manager",
    "hidden_holder",
    "c_refcount_leak",
    "unreachable_cycle",
    "view_pins_base",
}
REQUIRED_KEYS = {"source", "summary", "growing_type", "root_kind", "root_name", "fix"}
OPTIONAL_KEYS = {"min_growth_per_round", "listener", "allocated_in", "collect", "tracemalloc", "requires", "variant"}
GROWTH_KEYS = {"requests", "objects", "bytes"}
VARIANT_KEYS = {"python", "root_kind", "root_name", "growing_type"}
# Builtin types the collector does not track: counted through their referrers.
UNTRACKED = {"str", "bytes", "int", "float", "complex", "tuple"}
ROUNDS = 3

SCENARIOS = sorted(p for p in CORPUS.iterdir() if p.is_dir() and re.match(r"\d\d_", p.name))


def load_toml(path):
    with open(path, "rb") as f:
        return tomllib.load(f)


def python_matches(spec, version=sys.version_info[:2]):
    """Whether ``version`` satisfies a spec such as ``">=3.11"`` or ``"<3.10"``."""
    m = re.fullmatch(r"(>=|<=|<|>|==)\s*3\.(\d+)", spec.strip())
    if not m:
        raise ValueError(f"unreadable python spec {spec!r}")
    op, minor = m.group(1), (3, int(m.group(2)))
    return {
        ">=": version >= minor,
        "<=": version <= minor,
        "<": version < minor,
        ">": version > minor,
        "==": version == minor,
    }[op]


def expectation(scenario):
    """expect.toml with the variant for this Python applied."""
    expect = load_toml(scenario / "expect.toml")
    for variant in expect.get("variant", []):
        if python_matches(variant["python"]):
            expect.update({k: v for k, v in variant.items() if k != "python"})
    return expect


def missing_requirements(expect):
    missing = []
    for module in expect.get("requires", []):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    return missing


def is_builtin(type_name):
    return "." not in type_name


def defined_names(program):
    """``(functions, classes)`` a program defines, as ``module.__qualname__``."""
    module = program.stem
    functions, classes = set(), set()

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions.add(f"{module}.{prefix}{child.name}")
                visit(child, f"{prefix}{child.name}.<locals>.")
            elif isinstance(child, ast.ClassDef):
                classes.add(f"{module}.{prefix}{child.name}")
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(program.read_text()), "")
    return functions, classes


# --- running the probes: all at once, on first use -------------------------------


class Probes:
    """Runs growth_probe.py for each program the selected tests need.

    All of them go to one ``growth_probe.py --batch`` process, which forks a
    process per program (two at a time per core); a program asked for later is
    probed on its own.
    """

    def __init__(self):
        self.jobs = {}
        self.results = {}

    @staticmethod
    def _key(program, options):
        return json.dumps([str(program), sorted(options.items())])

    @staticmethod
    def _argv(program, options):
        argv = [str(program), "--rounds", str(ROUNDS)]
        for name in ("requests", "warmup", "type", "root"):
            if options.get(name) is not None:
                argv += [f"--{name}", str(options[name])]
        if options.get("collect") is False:
            argv.append("--no-collect")
        if options.get("tracemalloc"):
            argv.append("--tracemalloc")
        return argv

    def submit(self, program, **options):
        key = self._key(program, options)
        if key not in self.results:
            self.jobs[key] = {"argv": self._argv(program, options), "cwd": str(Path(program).parent)}

    def run_all(self):
        if not self.jobs:
            return
        workers = max(2, os.cpu_count() or 2)
        proc = subprocess.run(
            [sys.executable, str(PROBE), "--batch", str(workers), "120"],
            input=json.dumps(self.jobs), capture_output=True, text=True, timeout=600,
        )
        try:
            self.results.update(json.loads(proc.stdout.strip().splitlines()[-1]))
        except (IndexError, ValueError):
            error = f"the batch printed no results (exit {proc.returncode}): {proc.stderr[-2000:]}"
            self.results.update({key: {"error": error} for key in self.jobs})
        self.jobs = {}

    def result(self, program, **options):
        key = self._key(program, options)
        if key not in self.results:
            self.results[key] = self._run(program, options)
        return self.results[key]

    @classmethod
    def _run(cls, program, options):
        """One program, in an interpreter of its own."""
        cmd = [sys.executable, str(PROBE)] + cls._argv(program, options)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=str(Path(program).parent))
        try:
            report = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            report = {"error": f"probe printed no report (exit {proc.returncode}): {proc.stderr[-2000:]}"}
        return report


def leak_options(scenario):
    expect = expectation(scenario)
    return dict(
        requests=expect["min_growth_per_round"]["requests"],
        warmup=1,
        type=expect["growing_type"],
        root=expect["root_name"],
        collect=expect.get("collect", True),
        tracemalloc=expect.get("tracemalloc", False),
    )


def fixed_options(scenario):
    expect = expectation(scenario)
    return dict(
        requests=expect["min_growth_per_round"]["requests"],
        warmup=2,
        type=re.sub(r"^leak\.", "fixed.", expect["growing_type"]),
        collect=expect.get("collect", True),
        tracemalloc=expect.get("tracemalloc", False),
    )


PLATEAU_EXPECT = load_toml(PLATEAU / "expect.toml") if (PLATEAU / "expect.toml").exists() else {}
PLATEAU_CASES = sorted(PLATEAU_EXPECT.get("case", {}))


def plateau_options(name):
    case = PLATEAU_EXPECT["case"][name]
    return dict(requests=case["requests"], warmup=case.get("warmup", 2), collect=case.get("collect", True))


@pytest.fixture(scope="module")
def probes(request):
    """All probes the selected tests need, started together."""
    runner = Probes()
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or item.module is not sys.modules[__name__]:
            continue
        params = callspec.params
        if "scenario" in params and item.originalname in ("test_leak_grows", "test_fixed_does_not_grow"):
            scenario = params["scenario"]
            expect = expectation(scenario)
            if missing_requirements(expect):
                continue
            if item.originalname == "test_leak_grows":
                runner.submit(scenario / "leak.py", **leak_options(scenario))
            else:
                runner.submit(scenario / "fixed.py", **fixed_options(scenario))
        elif params.get("plateau") in PLATEAU_CASES:
            runner.submit(PLATEAU / f"{params['plateau']}.py", **plateau_options(params["plateau"]))
    runner.run_all()
    return runner


def deltas(rows, field):
    return [b[field] - a[field] for a, b in zip(rows, rows[1:])]


def winner(report, candidates, program="leak"):
    """The type that grew most among ``candidates``.

    Ties (docs/leak-corpus.md, "Growing type"): the program's own types beat
    library types, then the type whose instances refer to most of the other
    tied types (the owner) wins, then the first name in code-point order.
    """
    grown = [(name, n) for name, n in report["top_growth"] if name in candidates]
    if not grown:
        return None
    best = max(n for _, n in grown)
    tied = sorted(name for name, n in grown if n == best)
    own = [name for name in tied if name.startswith(program + ".")]
    tied = own or tied
    owns = {tuple(pair) for pair in report["owners"]}
    return max(tied, key=lambda name: (sum((name, other) in owns for other in tied), [-ord(c) for c in name]))


# --- the tests --------------------------------------------------------------------


def scenario_id(path):
    return path.name


def test_corpus_is_big_enough_and_covers_every_root_kind():
    # GIVEN the corpus WHEN its expectations are read THEN it has at least 24
    # scenarios and every root kind of the taxonomy has at least one
    kinds = {load_toml(s / "expect.toml")["root_kind"] for s in SCENARIOS}
    assert len(SCENARIOS) >= 24
    assert ROOT_KINDS - kinds == set(), "root kinds without a scenario"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_scenario_files_and_expectations_are_well_formed(scenario):
    # GIVEN a scenario directory WHEN its files are read
    names = {p.name for p in scenario.iterdir() if not p.name.startswith(("__", "."))}
    # THEN it has the program, its fixed twin and the expectations
    assert {"leak.py", "fixed.py", "expect.toml"} <= names
    raw = load_toml(scenario / "expect.toml")
    assert REQUIRED_KEYS <= set(raw), f"missing {REQUIRED_KEYS - set(raw)}"
    assert set(raw) <= REQUIRED_KEYS | OPTIONAL_KEYS, f"unknown {set(raw) - REQUIRED_KEYS - OPTIONAL_KEYS}"
    # AND the source is a list of public links
    assert raw["source"] and all(re.match(r"https://\S+$", url) for url in raw["source"])
    assert len(raw["summary"].split()) >= 40, "the summary should say what the original leak was"
    assert raw["fix"].strip().endswith(".")
    for expect in [raw] + raw.get("variant", []):
        if "root_kind" in expect:
            assert expect["root_kind"] in ROOT_KINDS
        if "root_name" in expect:
            growth_probe.check_root_name(expect["root_name"])
        if "growing_type" in expect:
            name = expect["growing_type"]
            assert is_builtin(name) or re.fullmatch(r"[A-Za-z_][\w.]*\.[A-Za-z_][\w.]*", name)
    for variant in raw.get("variant", []):
        assert set(variant) <= VARIANT_KEYS and "python" in variant
        python_matches(variant["python"])
    growth = raw["min_growth_per_round"]
    assert set(growth) == GROWTH_KEYS and all(isinstance(v, int) and v > 0 for v in growth.values())
    functions, classes = defined_names(scenario / "leak.py")
    if raw["root_kind"] == "listener":
        assert raw.get("listener") in functions, "a listener scenario names the registered callable"
    if raw["root_kind"] in ("c_refcount_leak", "unreachable_cycle"):
        assert raw.get("allocated_in") in functions, "with no holder to name, the allocating function is named"
    if raw["growing_type"].startswith("leak."):
        assert raw["growing_type"] in classes, "the growing type is a class leak.py defines"
    # AND both programs follow the protocol the probe relies on
    for program in ("leak.py", "fixed.py"):
        text = (scenario / program).read_text()
        assert re.search(r"^def main\(requests=\d[\d_]*\):", text, re.M), program
        assert re.search(r"^def request\(", text, re.M), program
        assert 'if __name__ == "__main__":' in text, program
        assert "memlens" not in text, "the corpus knows nothing of memlens"


def skip_without_requirements(scenario):
    missing = missing_requirements(expectation(scenario))
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_leak_grows(scenario, probes):
    skip_without_requirements(scenario)
    expect = expectation(scenario)
    hint = expect["min_growth_per_round"]
    growing = expect["growing_type"]
    # GIVEN leak.py warmed up WHEN three more rounds of requests run
    report = probes.result(scenario / "leak.py", **leak_options(scenario))
    assert "error" not in report, report["error"]
    rows = report["rows"]
    # THEN the bytes grow in every round (the live objects' sizes, or what
    # tracemalloc traces when the leaked objects are unreachable)
    nbytes = "traced" if expect.get("tracemalloc") else "bytes"
    assert min(deltas(rows, nbytes)) >= hint["bytes"], deltas(rows, nbytes)
    # AND the declared type grows in every round (objects nothing tracks, such as
    # floats no object refers to, show as allocated blocks)
    counted = deltas(rows, "count")
    if growing in UNTRACKED and max(counted) < hint["objects"]:
        counted = deltas(rows, "blocks")
    assert min(counted) >= hint["objects"], (growing, counted, report["top_growth"])
    # AND it is the type that grows most: among non-builtin types, or among all
    # when the declared type is a builtin and no other type grows
    others = {name for name, n in report["top_growth"] if not is_builtin(name) and n >= ROUNDS}
    if is_builtin(growing):
        assert not others, f"{growing} declared, but {others} grow too"
        if growing not in UNTRACKED or any(name == growing for name, _ in report["top_growth"]):
            builtins = {name for name, _ in report["top_growth"] if is_builtin(name)}
            assert winner(report, builtins) == growing, report["top_growth"]
    else:
        assert winner(report, others) == growing, report["top_growth"]
    # AND the root it names exists after the run, and grows when it has a size
    assert rows[-1]["root_exists"], f"{expect['root_name']} does not exist after the run"
    sizes = [row["root_size"] for row in rows]
    if sizes[-1] is not None:
        assert min(deltas(rows, "root_size")) > 0, (expect["root_name"], sizes)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_fixed_does_not_grow(scenario, probes):
    skip_without_requirements(scenario)
    expect = expectation(scenario)
    hint = expect["min_growth_per_round"]
    nbytes = "traced" if expect.get("tracemalloc") else "bytes"
    # GIVEN fixed.py warmed up WHEN the same rounds of requests run
    report = probes.result(scenario / "fixed.py", **fixed_options(scenario))
    assert "error" not in report, report["error"]
    rows = report["rows"]
    # THEN over all of them together it grows by less than one round of the leak,
    # in objects of the leak's type and in bytes
    grown = rows[-1]["count"] - rows[0]["count"]
    assert grown < hint["objects"], rows
    assert rows[-1][nbytes] - rows[0][nbytes] < hint["bytes"], deltas(rows, nbytes)


@pytest.mark.parametrize("plateau", PLATEAU_CASES)
def test_plateau_case_does_not_grow(plateau, probes):
    case = PLATEAU_EXPECT["case"][plateau]
    # GIVEN a program whose memory fills then stays WHEN rounds run after its warm-up
    report = probes.result(PLATEAU / f"{plateau}.py", **plateau_options(plateau))
    assert "error" not in report, report["error"]
    rows = report["rows"]
    # THEN its bytes and blocks stay within the declared noise
    assert rows[-1]["bytes"] - rows[0]["bytes"] < case.get("max_bytes", 32 * 1024), deltas(rows, "bytes")
    assert rows[-1]["blocks"] - rows[0]["blocks"] < case.get("max_blocks", 200), deltas(rows, "blocks")
    # AND no type grows in every round by more than noise
    assert not [name for name, n in report["top_growth"] if n >= case.get("max_objects", 50)], report["top_growth"]


def test_plateau_cases_are_declared():
    # GIVEN tests/leaks/plateau WHEN its programs and expect.toml are read
    programs = {p.stem for p in PLATEAU.glob("*.py")}
    # THEN each program has an entry saying why no leak is expected, and the reverse
    assert programs == set(PLATEAU_CASES)
    assert len(programs) >= 9
    for name in PLATEAU_CASES:
        case = PLATEAU_EXPECT["case"][name]
        assert case["leak"] is False and len(case["why"].split()) >= 10
        text = (PLATEAU / f"{name}.py").read_text()
        assert re.search(r"^def main\(requests=\d[\d_]*\):", text, re.M), name
        assert 'if __name__ == "__main__":' in text, name


@pytest.mark.skipif(
    not os.environ.get("MEMLENS_CORPUS_RUN_ALL"),
    reason="runs every program in full (~20 s); set MEMLENS_CORPUS_RUN_ALL=1",
)
def test_programs_run_standalone_and_exit_0():
    # GIVEN every program of the corpus WHEN each runs as a script, as a user would
    programs = [s / name for s in SCENARIOS for name in ("leak.py", "fixed.py")]
    programs += sorted(PLATEAU.glob("*.py"))

    def run(program):
        if program.parent.parent == CORPUS and missing_requirements(expectation(program.parent)):
            return program, 0, "skipped", 0.0
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(program)], capture_output=True, text=True, timeout=60, cwd=str(program.parent)
        )
        return program, proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - start

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(run, programs))
    # THEN each exits 0, prints its one-line summary and takes a few seconds at most
    failures = [(str(p), rc, out[-500:]) for p, rc, out, _ in results if rc != 0 or not out.strip()]
    assert not failures
    slow = [(str(p), round(t, 1)) for p, _, _, t in results if t > 6.0]
    assert not slow
