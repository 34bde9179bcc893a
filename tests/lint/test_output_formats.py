"""`--format json` and `--format sarif`: machine-readable, and SARIF valid against the real schema."""
import json
from pathlib import Path

import jsonschema

from lint_helpers import run_lint, write

SCHEMA = json.loads((Path(__file__).parent / "sarif-2.1.0-rtm.5.json").read_text())


def test_json_is_a_list_of_located_diagnostics(project):
    result = run_lint("app", "--format", "json", cwd=project)
    assert result.returncode == 1
    [item] = json.loads(result.stdout)
    assert item == {
        "code": "ML001",
        "name": "module-container-grows",
        "severity": "warning",
        "message": "module-level list `_seen` grows in `handle()` and is never shrunk in this module",
        "path": "app/leaky.py",
        "line": 5,
        "column": 5,
        "end_line": 5,
        "end_column": 26,
        "source_line": "    _seen.append(request)",
    }


def test_sarif_validates_against_the_sarif_2_1_0_schema(tmp_path):
    # GIVEN findings of several rules and an unparsable file (an error result)
    write(
        tmp_path,
        {
            "leaky dir/leaky.py": "_seen = []\n\ndef f(x):\n    _seen.append(x)\n",
            "cache.py": "import functools\nclass A:\n    @functools.cache\n    def f(self):\n        pass\n",
            "broken.py": "def (:\n",
        },
    )
    # WHEN linted with --format sarif
    result = run_lint(".", "--format", "sarif", cwd=tmp_path)
    log = json.loads(result.stdout)
    # THEN the log is valid SARIF 2.1.0
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    # AND it carries every rule and one result per diagnostic, located
    run = log["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [f"ML00{i}" for i in range(8)]
    results = {r["ruleId"]: r for r in run["results"]}
    assert set(results) == {"ML000", "ML001", "ML005"}
    assert results["ML000"]["level"] == "error"
    location = results["ML001"]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "leaky%20dir/leaky.py"
    assert location["region"]["startLine"] == 4


def test_a_clean_sarif_log_is_valid_too(tmp_path):
    write(tmp_path, {"a.py": "x = 1\n"})
    log = json.loads(run_lint(tmp_path, "--format", "sarif").stdout)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    assert log["runs"][0]["results"] == []
