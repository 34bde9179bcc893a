"""Precision of ``memlens lint`` per rule, from hand-labelled findings.

Two steps::

    .venv-3.11/bin/python benches/lint_precision.py sample   # lint the corpus, draw the sample
    .venv-3.11/bin/python benches/lint_precision.py score    # precision per rule from the labels

``sample`` lints CPython 3.11's Lib/ (site-packages excluded) plus requests,
flask, django, click and rich from PyPI (in the bench venv), draws up to 40
findings per rule at random (fixed seed), and merges them into
``lint_precision.tsv``, keeping labels already there. Each row is then
labelled by reading the code: ``verdict`` is ``true`` (a real leak risk:
memory can grow with the number of calls/instances, or objects are kept
alive beyond their use) or ``false``, with one line saying why.

``score`` prints, per rule, findings in the corpus, labelled, true, false,
and precision = true / labelled.
"""
import argparse
import csv
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_env import stdlib_dir, stdlib_entries, third_party_dirs  # noqa: E402

HERE = Path(__file__).resolve().parent
LABELS = HERE / "lint_precision.tsv"
SEED = 20261125
PER_RULE = 40
FIELDS = ["rule", "path", "line", "verdict", "why"]


def corpus():
    """(label, root) pairs: the stdlib entries and each third-party package."""
    lib = stdlib_dir()
    roots = [("stdlib", Path(p)) for p in stdlib_entries(lib)]
    roots += [(Path(p).name, Path(p)) for p in third_party_dirs()]
    return lib, roots


def display_path(path: str, lib: Path) -> str:
    p = Path(path)
    try:
        return "stdlib/" + str(p.relative_to(lib))
    except ValueError:
        parts = p.parts
        return "/".join(parts[parts.index("site-packages") + 1:])


def read_labels():
    if not LABELS.exists():
        return [], {}
    lines = [l for l in LABELS.read_text().splitlines() if not l.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t"))
    header = [l for l in LABELS.read_text().splitlines() if l.startswith("#")]
    return rows, header


def sample(_args):
    import memlens

    lib, roots = corpus()
    findings = [d for d in memlens.lint([str(r) for _, r in roots]) if not d.is_error]
    by_rule = defaultdict(list)
    for d in findings:
        by_rule[d.code].append(d)
    old, _ = read_labels()
    known = {(r["rule"], r["path"], r["line"]): r for r in old}
    rng = random.Random(SEED)
    rows = []
    for rule in sorted(by_rule):
        chosen = rng.sample(by_rule[rule], min(PER_RULE, len(by_rule[rule])))
        for d in sorted(chosen, key=lambda d: (d.path, d.line)):
            key = (rule, display_path(d.path, lib), str(d.line))
            rows.append(known.get(key, {"rule": rule, "path": key[1], "line": key[2], "verdict": "?", "why": d.message}))
    totals = " ".join(f"{rule}={len(v)}" for rule, v in sorted(by_rule.items()))
    with LABELS.open("w", newline="") as f:
        f.write(f"# memlens lint findings on CPython 3.11 Lib/ + requests, flask, django, click, rich; totals: {totals}\n")
        f.write(f"# all findings when a rule has at most {PER_RULE}, else {PER_RULE} drawn with random.Random({SEED}); verdict true = the code has the rule's leak mechanism (unbounded retention), each read by hand\n")
        writer = csv.DictWriter(f, FIELDS, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(findings)} findings ({totals}); {len(rows)} rows in {LABELS.name}")


def score(_args):
    rows, header = read_labels()
    totals = {}
    for line in header:
        if "totals:" in line:
            totals = dict(item.split("=") for item in line.split("totals:")[1].split())
    verdicts = defaultdict(Counter)
    for r in rows:
        verdicts[r["rule"]][r["verdict"]] += 1
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(required=True)
    sub.add_parser("sample").set_defaults(func=sample)
    sub.add_parser("score").set_defaults(func=score)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
