"""The memlens command: version, help for every verb, errors on bad arguments."""
import subprocess
import sys

import memlens


def memlens_cmd(*args):
    return subprocess.run(
        [sys.executable, "-m", "memlens", *args], capture_output=True, text=True, timeout=120
    )


def test_version_matches_the_package():
    result = memlens_cmd("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"memlens {memlens.__version__}"


def test_every_verb_has_help():
    top = memlens_cmd("--help")
    assert top.returncode == 0
    verbs = [
        line.split()[0]
        for line in top.stdout.split("Commands:")[1].split("Options:")[0].splitlines()
        if line.startswith("  ") and not line.startswith("   ")
    ]
    assert verbs, top.stdout
    for verb in verbs:
        result = memlens_cmd(verb, "--help") if verb != "help" else memlens_cmd("help")
        assert result.returncode == 0, (verb, result.stderr)
        assert "Usage: memlens" in result.stdout


def test_unknown_verb_is_an_error_with_exit_code_2():
    result = memlens_cmd("no-such-verb")
    assert result.returncode == 2
    assert "unrecognized subcommand" in result.stderr
