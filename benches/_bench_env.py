"""The bench environment shared by the lint benchmarks: a venv with the peers.

``benches/.venv-lint`` holds ruff (the speed peer) and the third-party
packages the precision study lints (requests, flask, django, click, rich),
installed from PyPI on first use. memlens itself is taken from the
interpreter running the benchmark (``maturin develop --release`` into it).
"""
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-lint"
PEERS = ["ruff", "requests", "flask", "django", "click", "rich"]
THIRD_PARTY = ["requests", "flask", "django", "click", "rich"]


def bench_venv() -> Path:
    """Create the bench venv if needed and return its python."""
    python = VENV / "bin" / "python"
    if not python.exists():
        venv.create(VENV, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *PEERS], check=True)
    return python


def stdlib_dir(python: str = "python3.11") -> Path:
    """The Lib/ folder of the given CPython (its sysconfig ``stdlib`` path)."""
    out = subprocess.run([python, "-c", "import sysconfig;print(sysconfig.get_paths()['stdlib'])"], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def stdlib_entries(lib: Path) -> list:
    """The top-level entries of Lib/ minus site-packages (third-party code is not the stdlib)."""
    return sorted(str(p) for p in lib.iterdir() if p.name != "site-packages" and (p.is_dir() or p.suffix == ".py"))


def third_party_dirs() -> list:
    """Package folders of the third-party projects in the bench venv."""
    python = bench_venv()
    out = subprocess.run([str(python), "-c", "import sysconfig;print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, check=True)
    site = Path(out.stdout.strip())
    return [str(site / name) for name in THIRD_PARTY]


def ruff() -> str:
    bench_venv()
    return str(VENV / "bin" / "ruff")
