"""Precision of ``memlens lint`` per rule, from hand-labelled findings.

Two steps::

    .venv-3.11/bin/python benches/lint_precision.py sample   # lint the corpus, draw the sample
    .venv-3.11/bin/python benches/lint_precision.py score    # precision per rule from the labels

``sample --holdout2`` also lints the fresh held-out corpus
(``HOLDOUT2_PINS``): run it only once the rules are final. Without it, the
held-out rows already in the file are kept as they are, so tuning never
shows them.

``sample`` lints CPython 3.11's Lib/ (site-packages excluded) plus the
pinned third-party packages of ``_bench_env.py`` (requests, flask, django,
click, rich and sixteen more, installed from PyPI into the bench venv), its
pinned application corpus (Home Assistant, bots, servers, daemons:
``APP_PINS``, unpacked from PyPI, not installed) and the first held-out
corpus (``HOLDOUT_PINS``: read and labelled on 2026-11-25, so since
2026-12-03 it is tuning data like the rest), draws up to 40 findings
per rule (test files skipped, as ``memlens lint`` does by default), and
writes them to ``lint_precision.tsv``, keeping the labels
already there (a row is keyed by rule, path and line). The draw is a seeded
random ranking: each finding's rank is a hash of the seed and its key, and
the 40 best-ranked are taken, so a change to a rule that removes or adds
findings leaves the rest of the sample (and their labels) in place. The
rows still unlabelled (verdict ``?``) are listed with their source line;
``todo`` prints them with a few lines of context.

Each row is labelled by reading the code: ``verdict`` is ``true`` (a real
leak risk: memory can grow with the number of calls/instances over the
process lifetime, or objects are kept alive beyond their use) or ``false``,
with one line saying why.

``score`` prints, per rule, findings in the corpus, labelled, true, false,
and precision = true / labelled.
"""
import argparse
import csv
import hashlib
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_env import APPS, APP_PINS, HOLDOUT2_PINS, HOLDOUT_PINS, THIRD_PARTY_PINS, app_corpus, holdout2_corpus, holdout_corpus, stdlib_dir, stdlib_entries, third_party_dirs  # noqa: E402

HERE = Path(__file__).resolve().parent
LABELS = HERE / "lint_precision.tsv"
SEED = 20261125
PER_RULE = 40
FIELDS = ["rule", "path", "line", "verdict", "why"]


def corpus(holdout2=False):
    """(label, root) pairs: the stdlib entries, each third-party package, each application package, the first held-out corpus (and the fresh held-out one)."""
    lib = stdlib_dir()
    roots = [("stdlib", Path(p)) for p in stdlib_entries(lib)]
    roots += [(Path(p).name, Path(p)) for p in third_party_dirs()]
    roots += list(app_corpus().items())
    roots += list(holdout_corpus().items())
    if holdout2:
        roots += list(holdout2_corpus().items())
    return lib, roots


def apps_and_holdout() -> dict:
    """Display name -> folder of every application package, tuning and held-out (the fresh held-out corpus only if already fetched)."""
    names = dict(app_corpus())
    names.update(holdout_corpus())
    if (APPS / "holdout2-pins.txt").exists():
        names.update(holdout2_corpus())
    return names


def names_of(pins: dict) -> set:
    return {name for names in pins.values() for name in names}


def is_holdout(display: str) -> bool:
    """Whether a finding is in the fresh held-out corpus (``HOLDOUT2_PINS``)."""
    return display.split("/", 1)[0] in names_of(HOLDOUT2_PINS)


def display_path(path: str, lib: Path) -> str:
    """The path as keyed in the sample: ``stdlib/…``, a site-packages path, or an app package's name and path."""
    p = Path(path)
    try:
        return "stdlib/" + str(p.relative_to(lib))
    except ValueError:
        pass
    for name, root in apps_and_holdout().items():
        try:
            return f"{name}/{p.relative_to(root)}"
        except ValueError:
            continue
    parts = p.parts
    return "/".join(parts[parts.index("site-packages") + 1:])


def read_labels():
    if not LABELS.exists():
        return [], {}
    lines = [l for l in LABELS.read_text().splitlines() if not l.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t"))
    header = [l for l in LABELS.read_text().splitlines() if l.startswith("#")]
    return rows, header


def rank(key) -> str:
    """The finding's place in the seeded random order (stable across runs)."""
    return hashlib.sha256(f"{SEED}:{':'.join(key)}".encode()).hexdigest()


def source_path(display: str, lib: Path, site: Path) -> Path:
    if display.startswith("stdlib/"):
        return lib / display[len("stdlib/"):]
    head, _, rest = display.partition("/")
    apps = apps_and_holdout()
    if head in apps:
        return apps[head] / rest
    return site / display


def sample(args):
    import memlens

    lib, roots = corpus(args.holdout2)
    findings = [d for d in memlens.lint([str(r) for _, r in roots]) if not d.is_error]
    by_rule = defaultdict(list)
    for d in findings:
        by_rule[d.code].append(d)
    old, old_header = read_labels()
    known = {(r["rule"], r["path"], r["line"]): r for r in old}
    rows = []
    unlabelled = []
    # Without --holdout2 the held-out rows (and their totals) stay as they were.
    kept_holdout = [] if args.holdout2 else [r for r in old if is_holdout(r["path"])]
    holdout_totals = Counter()
    for line in old_header:
        # (A header from before 2026-12-03 counted the first held-out corpus: not these.)
        if line.startswith("# fresh held-out") and "held-out totals:" in line and not args.holdout2:
            holdout_totals = Counter({k: int(v) for k, v in (item.split("=") for item in line.split("held-out totals:")[1].split())})
    tuning_totals = Counter()
    for rule in sorted(by_rule):
        keyed = [((rule, display_path(d.path, lib), str(d.line)), d) for d in by_rule[rule]]
        for key, _ in keyed:
            if is_holdout(key[1]):
                holdout_totals[rule] += 1
            else:
                tuning_totals[rule] += 1
        chosen = sorted(keyed, key=lambda kd: rank(kd[0]))[:PER_RULE]
        for key, d in sorted(chosen, key=lambda kd: (kd[0][1], int(kd[0][2]))):
            row = known.get(key)
            if row is None or row["verdict"] not in ("true", "false"):
                row = {"rule": rule, "path": key[1], "line": key[2], "verdict": "?", "why": d.message}
                unlabelled.append((key, d))
            rows.append(row)
    rows += kept_holdout
    rows.sort(key=lambda r: (r["rule"], is_holdout(r["path"]), r["path"], int(r["line"])))
    totals = " ".join(f"{rule}={n}" for rule, n in sorted(tuning_totals.items()))
    held = " ".join(f"{rule}={n}" for rule, n in sorted(holdout_totals.items()))
    packages = ", ".join(THIRD_PARTY_PINS)
    apps = ", ".join(APP_PINS)
    first_holdout = ", ".join(HOLDOUT_PINS)
    with LABELS.open("w", newline="") as f:
        f.write(f"# memlens lint findings on CPython 3.11 Lib/ + libraries {packages} + applications {apps} + first held-out applications {first_holdout} (read 2026-11-25, tuning data since 2026-12-03); totals: {totals}\n")
        f.write(f"# fresh held-out applications {', '.join(HOLDOUT2_PINS)} (pinned 2026-12-03 before that round's rule changes, linted and labelled once after the rules were final; since then ML006's message for __init__ was reworded and the cross-module pass stopped following calls (that part removed no finding on any corpus), with every finding on all corpora checked unchanged); held-out totals: {held}\n")
        f.write(f"# all findings when a rule has at most {PER_RULE}, else the {PER_RULE} ranked first by sha256('{SEED}:rule:path:line'); verdict true = a real leak risk (growth over the process lifetime, or objects kept alive past their use), each read by hand\n")
        writer = csv.DictWriter(f, FIELDS, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(findings)} findings ({totals}; held-out {held}); {len(rows)} rows in {LABELS.name}, {len(unlabelled)} unlabelled")
    for (rule, path, line), d in unlabelled:
        print(f"  {path}:{line}: {rule} {d.message}")


def todo(args):
    """Unlabelled rows with the code around them, for reading."""
    import subprocess

    from _bench_env import bench_venv

    rows, _ = read_labels()
    lib = stdlib_dir()
    out = subprocess.run([str(bench_venv()), "-c", "import sysconfig;print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, check=True)
    site = Path(out.stdout.strip())
    for r in rows:
        if r["verdict"] != "?" or (args.rule and r["rule"] != args.rule):
            continue
        path = source_path(r["path"], lib, site)
        lines = path.read_text(errors="replace").splitlines()
        line = int(r["line"])
        print(f"=== {r['rule']} {r['path']}:{line}  {r['why']}")
        for n in range(max(1, line - args.context), min(len(lines), line + args.context) + 1):
            print(f"{'>' if n == line else ' '}{n:5} {lines[n - 1]}")


def score(_args):
    rows, header = read_labels()
    totals = {}
    for line in header:
        if "totals:" in line and "held-out totals:" not in line:
            totals = dict(item.split("=") for item in line.split("totals:")[1].split())
    verdicts = defaultdict(Counter)
    for r in rows:
        if not is_holdout(r["path"]):
            verdicts[r["rule"]][r["verdict"]] += 1
    print("tuning corpora (Lib/, the libraries, APP_PINS, HOLDOUT_PINS)")
    print(f"| {'rule':<6} | {'findings':>8} | {'labelled':>8} | {'true':>4} | {'false':>5} | {'precision':>9} |")
    print(f"|{'-' * 8}|{'-' * 9}:|{'-' * 9}:|{'-' * 5}:|{'-' * 6}:|{'-' * 10}:|")
    for rule in sorted(set(verdicts) | set(totals) | {f"ML00{i}" for i in range(1, 8)}):
        v = verdicts[rule]
        labelled = v["true"] + v["false"]
        precision = f"{100 * v['true'] / labelled:.0f}%" if labelled else "n/a"
        print(f"| {rule:<6} | {totals.get(rule, '0'):>8} | {labelled:>8} | {v['true']:>4} | {v['false']:>5} | {precision:>9} |")
    unlabelled = sum(v["?"] for v in verdicts.values())
    if unlabelled:
        print(f"\n{unlabelled} rows still unlabelled")
    # The same labels split by corpus (meaningful while every finding is
    # labelled, i.e. no rule has more than PER_RULE findings).
    named = {"requests", "flask", "django", "click", "rich"}

    def corpus_of(path):
        top = path.split("/", 1)[0]
        if is_holdout(path):
            return "held-out"
        if top == "stdlib" or top in named:
            return "issue"
        if top in names_of(HOLDOUT_PINS):
            return "first held-out"
        return "libraries" if top in THIRD_PARTY_PINS.values() else "applications"

    split = defaultdict(Counter)
    for r in rows:
        if r["verdict"] in ("true", "false"):
            split[(r["rule"], corpus_of(r["path"]))][r["verdict"]] += 1
    corpora = ["issue", "libraries", "applications", "first held-out", "tuning", "held-out"]
    for (rule, c), v in list(split.items()):
        if c != "held-out":
            split[(rule, "tuning")] += v
    unlabelled_holdout = sum(1 for r in rows if is_holdout(r["path"]) and r["verdict"] not in ("true", "false"))
    if unlabelled_holdout:
        print(f"\n{unlabelled_holdout} held-out rows still unlabelled")
    print("\ntrue/labelled by corpus (issue: Lib/ + requests, flask, django, click, rich; libraries: the 16 other pinned projects; applications: APP_PINS; first held-out: HOLDOUT_PINS, tuning data since 2026-12-03; tuning: those four together; held-out: HOLDOUT2_PINS)")
    print("| rule   | " + " | ".join(f"{c:>14}" for c in corpora) + " |")
    print("|--------|" + "|".join("-" * 15 + ":" for _ in corpora) + "|")
    for rule in sorted({rule for rule, _ in split}):
        cells = []
        for c in corpora:
            v = split[(rule, c)]
            n = v["true"] + v["false"]
            cells.append(f"{v['true']}/{n} ({100 * v['true'] / n:.0f}%)" if n else "—")
        print(f"| {rule:<6} | " + " | ".join(f"{cell:>14}" for cell in cells) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(required=True)
    sample_parser = sub.add_parser("sample")
    sample_parser.add_argument("--holdout2", action="store_true", help="also lint and sample the fresh held-out corpus, HOLDOUT2_PINS (only once the rules are final)")
    sample_parser.set_defaults(func=sample)
    sub.add_parser("score").set_defaults(func=score)
    todo_parser = sub.add_parser("todo")
    todo_parser.add_argument("--rule")
    todo_parser.add_argument("--context", type=int, default=8)
    todo_parser.set_defaults(func=todo)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
