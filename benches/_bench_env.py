"""The bench environment shared by the lint benchmarks: a venv with the peers.

``benches/.venv-lint`` holds ruff (the speed peer) and the third-party
packages the precision study lints, at pinned versions so that the corpus
(and so the sample) is the same on every machine: five first chosen as the reference corpus
(requests, flask, django, click, rich) plus sixteen widely used projects
with more event, callback and caching code (werkzeug, jinja2, sqlalchemy,
tornado, twisted, celery, aiohttp, matplotlib, pandas, ipython,
prompt_toolkit, pytest, sphinx, scrapy, kombu, networkx), installed from
PyPI on first use and
reinstalled when a pin changes. memlens itself is taken from the interpreter
running the benchmark (``maturin develop --release`` into it).

Maintained libraries hold few of the leak shapes ML001 and ML004 look for
(module-level registries that grow per call, listeners registered per
object), so the precision study also lints a second corpus of
*application-style* code — bots, servers, daemons, dashboards, CLIs:
``APP_PINS``. Only their source is linted, never run, so they are not
installed: each pinned distribution is fetched with ``pip download
--no-deps`` (a wheel where there is one, else the sdist) into
``benches/.corpus-apps`` and unpacked there, which takes a minute where
installing Home Assistant or Salt with their dependencies would take far
longer. Pins are the newest release whose ``Requires-Python`` admits
CPython 3.11 (Home Assistant 2024.3, mitmproxy 11, Mopidy 3, …).

The rules were tuned on the findings of those corpora, so their precision
there is optimistic. ``HOLDOUT_PINS`` is a third, held-out corpus of
long-running applications (servers, bots, schedulers, daemons) chosen
before the tuning and labelled only after it, so that its column of the
precision table measures the rules on code they were not fitted to. It is
fetched the same way as ``APP_PINS``, into ``benches/.corpus-apps``.

That corpus (pinned 2026-11-25) was read, its findings labelled, at the
end of the tuning that pinned it, so it measures nothing unseen: from
2026-12-03 it is part of the tuning corpora. ``HOLDOUT2_PINS`` is the fresh held-out corpus
that replaces it — twenty more long-running applications, pinned on
2026-12-03 before any rule change of that date and linted only once the
rules were final.
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

APPS = HERE / ".corpus-apps"
# Distribution pin -> {name shown in the sample: folder inside the unpacked
# distribution}. Wheels unpack to their import packages; Limnoria and Salt
# publish only sdists (their tests are left out: test code lives for one test).
APP_PINS = {
    "homeassistant==2024.3.3": {"homeassistant": "homeassistant"},
    "python-telegram-bot==22.8": {"telegram": "telegram"},
    "discord.py==2.7.1": {"discord": "discord"},
    "errbot==6.2.1": {"errbot": "errbot"},
    "sopel==8.0.4": {"sopel": "sopel"},
    "limnoria==2026.10.4": {"supybot": "limnoria-2026.10.4/src", "supybot-plugins": "limnoria-2026.10.4/plugins"},
    "mitmproxy==11.0.2": {"mitmproxy": "mitmproxy"},
    "locust==2.47.0": {"locust": "locust"},
    "buildbot==4.3.0": {"buildbot": "buildbot"},
    "glances==4.5.8": {"glances": "glances"},
    "beets==2.14.1": {"beets": "beets", "beetsplug": "beetsplug"},
    "mopidy==3.4.2": {"mopidy": "mopidy"},
    "streamlink==8.6.3": {"streamlink": "streamlink", "streamlink_cli": "streamlink_cli"},
    "yt-dlp==2026.10.26": {"yt_dlp": "yt_dlp"},
    "distributed==2026.8.0": {"distributed": "distributed"},
    "dask==2026.8.0": {"dask": "dask"},
    "bokeh==3.9.2": {"bokeh": "bokeh"},
    "panel==1.9.4": {"panel": "panel"},
    "param==2.4.2": {"param": "param"},
    "traitlets==5.16.1": {"traitlets": "traitlets"},
    "textual==8.2.8": {"textual": "textual"},
    "jupyter_server==2.21.1": {"jupyter_server": "jupyter_server"},
    "ansible-core==2.19.14": {"ansible": "ansible"},
    "salt==3008.5": {"salt": "salt-3008.5/salt"},
}

# The held-out corpus: pinned 2026-11-25 at the newest release that admits
# CPython 3.11, none of them in the pins above. Wheels where they exist;
# their test folders are kept (supervisor and pyramid ship them), so the
# held-out corpus also measures the test-file default.
HOLDOUT_PINS = {
    "sanic==25.12.1": {"sanic": "sanic"},
    "aiogram==3.31.0": {"aiogram": "aiogram"},
    "quart==0.22.0": {"quart": "quart"},
    "rq==3.0.0": {"rq": "rq"},
    "dramatiq==2.2.1": {"dramatiq": "dramatiq"},
    "apscheduler==3.11.3": {"apscheduler": "apscheduler"},
    "uvicorn==0.54.0": {"uvicorn": "uvicorn"},
    "gunicorn==27.0.1": {"gunicorn": "gunicorn"},
    "supervisor==4.3.0": {"supervisor": "supervisor"},
    "pyramid==2.1": {"pyramid": "pyramid"},
    "matrix-synapse==1.163.2": {"synapse": "synapse"},
    "octoprint==1.11.8": {"octoprint": "octoprint"},
    "jupyterhub==6.1.1": {"jupyterhub": "jupyterhub"},
    "radicale==3.9.0": {"radicale": "radicale"},
}

# The fresh held-out corpus, pinned 2026-12-03 before any rule change of
# that date: the newest release of each that admits CPython 3.11 (what
# `pip download --no-deps` picks on 3.11), none of them in the pins above.
# Servers, daemons, task queues, schedulers, dashboards, home automation,
# chat bots. Wheels where they exist (opsdroid ships only an sdist).
HOLDOUT2_PINS = {
    "hypercorn==0.18.0": {"hypercorn": "hypercorn"},
    "daphne==4.2.3": {"daphne": "daphne"},
    "waitress==3.0.2": {"waitress": "waitress"},
    "huey==3.5.4": {"huey": "huey"},
    "arq==0.28.0": {"arq": "arq"},
    "flower==2.2.0": {"flower": "flower"},
    "circus==0.19.0": {"circus": "circus"},
    "appdaemon==4.5.13": {"appdaemon": "appdaemon"},
    "maubot==0.6.0": {"maubot": "maubot"},
    "opsdroid==0.31.0": {"opsdroid": "opsdroid-0.31.0/opsdroid"},
    "streamlit==1.67.0": {"streamlit": "streamlit"},
    "kopf==1.45.2": {"kopf": "kopf"},
    "scrapyd==1.6.0": {"scrapyd": "scrapyd"},
    "aiosmtpd==1.4.6": {"aiosmtpd": "aiosmtpd"},
    "irc==20.5.0": {"irc": "irc"},
    "luigi==3.8.1": {"luigi": "luigi"},
    "mailman==3.3.10": {"mailman": "mailman"},
    "xandikos==0.4.10": {"xandikos": "xandikos"},
    "pyTelegramBotAPI==4.37.1": {"telebot": "telebot"},
    "slixmpp==1.17.0": {"slixmpp": "slixmpp"},
}


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


def app_corpus() -> dict:
    """Display name -> folder of each application package, fetched and unpacked on first use."""
    return _unpacked(APP_PINS, "pins.txt")


def holdout_corpus() -> dict:
    """Display name -> folder of each held-out application package, fetched and unpacked on first use."""
    return _unpacked(HOLDOUT_PINS, "holdout-pins.txt")


def holdout2_corpus() -> dict:
    """Display name -> folder of each package of the fresh held-out corpus, fetched and unpacked on first use."""
    return _unpacked(HOLDOUT2_PINS, "holdout2-pins.txt")


def _unpacked(pins: dict, stamp_name: str) -> dict:
    stamp = APPS / stamp_name
    wanted = "\n".join(pins) + "\n"
    if not stamp.exists() or stamp.read_text() != wanted:
        _fetch_apps(pins)
        stamp.write_text(wanted)
    return {name: APPS / "unpacked" / pin / inner for pin, names in pins.items() for name, inner in names.items()}


def _fetch_apps(pins: dict) -> None:
    import shutil
    import tarfile
    import zipfile

    python = bench_venv()
    downloads = APPS / "downloads"
    for pin in pins:
        target = APPS / "unpacked" / pin
        if target.exists():
            continue
        fetched = downloads / pin
        fetched.mkdir(parents=True, exist_ok=True)
        if not any(fetched.iterdir()):
            # A wheel where one exists; Limnoria, Salt and opsdroid ship only sdists.
            wheel = subprocess.run([str(python), "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps", "--only-binary", ":all:", "-d", str(fetched), pin], capture_output=True)
            if wheel.returncode != 0:
                subprocess.run([str(python), "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps", "--no-binary", ":all:", "-d", str(fetched), pin], check=True)
        (archive,) = list(fetched.iterdir())
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        if archive.suffix == ".whl":
            with zipfile.ZipFile(archive) as z:
                z.extractall(partial)
        else:
            with tarfile.open(archive) as t:
                t.extractall(partial, filter="data")
        partial.rename(target)


def ruff() -> str:
    bench_venv()
    return str(VENV / "bin" / "ruff")
