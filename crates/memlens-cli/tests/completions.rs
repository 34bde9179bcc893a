//! `memlens completions`: the scripts complete verbs and options in a real shell.

use std::process::Command;

fn script(shell: &str) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_memlens"))
        .args(["completions", shell])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What bash's completion function offers for `words`, the last one being completed.
fn bash_completes(script: &str, words: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memlens.bash");
    std::fs::write(&path, script).unwrap();
    let words_array = words
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let current = words.last().unwrap();
    let previous = words[words.len() - 2];
    let program = format!(
        "source '{}'; COMP_WORDS=({words_array}); COMP_CWORD={}; _memlens memlens '{current}' '{previous}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        path.display(),
        words.len() - 1
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &program])
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_verbs_and_their_options() {
    // GIVEN the bash script memlens prints
    let (code, bash, stderr) = script("bash");
    assert_eq!(code, 0, "{stderr}");
    // WHEN a verb and an option are half typed
    // THEN bash offers the verb and that verb's option
    assert_eq!(bash_completes(&bash, &["memlens", "ta"]), ["table"]);
    assert_eq!(
        bash_completes(&bash, &["memlens", "table", "--js"]),
        ["--json"]
    );
    assert_eq!(
        bash_completes(&bash, &["memlens", "run", "--samp"]),
        ["--sampled", "--sample-interval"]
    );
}

#[test]
fn every_shell_gets_a_script_and_an_unknown_shell_is_an_error() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        // GIVEN each supported shell WHEN its script is asked for THEN it names every verb
        let (code, text, stderr) = script(shell);
        assert_eq!(code, 0, "{shell}: {stderr}");
        for verb in ["run", "summary", "flamegraph", "lint", "completions"] {
            assert!(text.contains(verb), "{shell} script lacks {verb}");
        }
    }
    // GIVEN a shell memlens does not know WHEN asked THEN exit 2 and the choices
    let (code, text, stderr) = script("nosh");
    assert_eq!(code, 2);
    assert!(text.is_empty());
    assert!(stderr.contains("possible values: bash"), "{stderr}");
}
