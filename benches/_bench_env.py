"""The bench environment shared by the lint benchmarks: a venv with the peers.

``benches/.venv-lint`` holds ruff (the speed peer) and the third-party
packages the precision study lints, at pinned versions so that the corpus
(and so the sample) is the same on every machine: the five the issue names
(requests, flask, django, click, rich) plus sixteen widely used projects
with more event, callback and caching code (werkzeug, jinja2, sqlalchemy,
tornado, twisted, celery, aiohttp, matplotlib, pandas, ipython,
prompt_toolkit, pytest, sphinx, scrapy, kombu, networkx), installed from
PyPI on first use and
reinstalled when a pin changes. memlens itself is taken from the interpreter
running the benchmark (``maturin develop --release`` into it).
"""
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-lint"
# Distribution pin -> the import package linted. Django 5.2 is the newest
# series that installs on CPython 3.11.
THIRD_PARTY_PINS = {
    "requests==2.34.2": "requests",
    "flask==3.1.3": "flask",
    "django==5.2.19": "django",
    "click==8.5.1": "click",
    "rich==15.0.0": "rich",
    "werkzeug==3.1.9": "werkzeug",
    "jinja2==3.1.6": "jinja2",
    "sqlalchemy==2.1.9": "sqlalchemy",
    "tornado==6.6.1": "tornado",
    "twisted==26.10.0": "twisted",
    "celery==5.7.0": "celery",
    "aiohttp==3.14.5": "aiohttp",
    "matplotlib==3.11.2": "matplotlib",
    "pandas==3.1.1": "pandas",
    "ipython==9.18.1": "IPython",
    "prompt_toolkit==3.0.53": "prompt_toolkit",
    "pytest==9.2.0": "_pytest",
    "sphinx==9.0.4": "sphinx",
    "scrapy==2.19.0": "scrapy",
    "kombu==5.7.0": "kombu",
    "networkx==3.6.1": "networkx",
}
PEERS = ["ruff==0.17.6", *THIRD_PARTY_PINS]
THIRD_PARTY = list(THIRD_PARTY_PINS.values())


def bench_venv() -> Path:
    """Create the bench venv if needed and return its python."""
    python = VENV / "bin" / "python"
    stamp = VENV / "pins.txt"
    wanted = "\n".join(PEERS) + "\n"
    if not python.exists():
        venv.create(VENV, with_pip=True)
    if not stamp.exists() or stamp.read_text() != wanted:
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *PEERS], check=True)
        stamp.write_text(wanted)
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
