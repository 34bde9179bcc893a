//! Where verbs write: the terminal (or a pipe) and output files.
//!
//! Two rules hold for every verb:
//! - A reader that goes away (`memlens summary x.mlc | head`) is the
//!   reader's choice, not an error: the verb stops writing and memlens exits
//!   0 without a message, as ripgrep and the coreutils filters do.
//! - A file memlens writes never replaces one of the files it reads, and
//!   never silently replaces any other file: an existing output needs
//!   `--force`, and the new file appears only when it is complete (written
//!   beside it under a temporary name, then renamed), so an interrupted
//!   write leaves the old file as it was.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use memlens_lint::output::terminal_safe;

/// Prints a human-readable report on stdout, [`terminal_safe`]: names and
/// paths from the traced program cannot act on the terminal.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(terminal_safe(text).as_bytes())
        .and_then(|()| stdout.flush())
        .context("cannot write to standard output")
}

/// Prints a JSON document on stdout, pretty and newline-terminated. JSON
/// escapes control characters itself, so nothing in it acts on a terminal.
pub fn print_json(doc: &serde_json::Value) -> anyhow::Result<()> {
    // Rendered first, so that a reader going away is an io::Error of its own
    // kind (a quiet broken pipe), not one wrapped in a serde error.
    let mut text = serde_json::to_vec_pretty(doc).context("cannot render the JSON report")?;
    text.push(b'\n');
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(&text)
        .and_then(|()| stdout.flush())
        .context("cannot write to standard output")
}

/// Whether `err` is a write into a pipe whose reader has gone.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// The one-line text of an error and its causes, each said once: a cause
/// whose text the message before it already contains (an error that prints
/// its own source) is not repeated. Escaped for the terminal, since paths and
/// names in it come from the user.
pub fn describe(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if part.is_empty() || text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    terminal_safe(&text).into_owned()
}

/// Refuses to write `output` when it is one of `inputs`, or when it exists
/// and `force` is not given.
pub fn check_target(
    output: &Path,
    inputs: &[PathBuf],
    force: bool,
    what: &str,
) -> anyhow::Result<()> {
    let Ok(meta) = std::fs::metadata(output) else {
        return Ok(());
    };
    if let Some(input) = inputs.iter().find(|input| same_file(output, &meta, input)) {
        anyhow::bail!(
            "refusing to write the {what} to {}: it is the input {}; choose another -o",
            output.display(),
            input.display()
        );
    }
    if meta.is_dir() {
        anyhow::bail!(
            "cannot write the {what} to {}: it is a directory",
            output.display()
        );
    }
    if !force {
        anyhow::bail!(
            "{} already exists; pass --force to overwrite it",
            output.display()
        );
    }
    Ok(())
}

fn same_file(output: &Path, meta: &std::fs::Metadata, input: &Path) -> bool {
    let Ok(other) = std::fs::metadata(input) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = output;
        meta.dev() == other.dev() && meta.ino() == other.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (meta, other);
        matches!((output.canonicalize(), input.canonicalize()), (Ok(a), Ok(b)) if a == b)
    }
}

/// Writes `path` through `fill`, atomically: the bytes go to a temporary file
/// in the same directory, renamed over `path` once `fill` succeeded and the
/// data is flushed. On failure the temporary file is removed and `path` is
/// untouched.
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .with_context(|| format!("cannot write {}: not a file name", path.display()))?;
    let mut temporary = name.to_os_string();
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = path.with_file_name(temporary);
    let result = File::create(&temporary)
        .with_context(|| format!("cannot create {}", path.display()))
        .and_then(|file| {
            let mut out = BufWriter::new(file);
            fill(&mut out)
                .and_then(|()| out.flush())
                .with_context(|| format!("cannot write {}", path.display()))?;
            std::fs::rename(&temporary, path)
                .with_context(|| format!("cannot write {}", path.display()))
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_that_is_an_input_is_refused_even_with_force() {
        let dir = tempfile::tempdir().unwrap();
        let capture = dir.path().join("app.mlc");
        std::fs::write(&capture, b"capture").unwrap();
        // The same file under another spelling, and through a hard link.
        let spelled = dir.path().join(".").join("app.mlc");
        let linked = dir.path().join("link.mlc");
        std::fs::hard_link(&capture, &linked).unwrap();
        for output in [&capture, &spelled, &linked] {
            let err = check_target(output, std::slice::from_ref(&capture), true, "flame graph")
                .unwrap_err();
            assert!(err.to_string().contains("it is the input"), "{err}");
        }
        assert_eq!(std::fs::read(&capture).unwrap(), b"capture");
    }

    #[test]
    fn an_existing_output_needs_force_and_a_new_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("app.mlc");
        let output = dir.path().join("app.html");
        std::fs::write(&input, b"x").unwrap();
        check_target(&output, std::slice::from_ref(&input), false, "page").unwrap();
        std::fs::write(&output, b"old").unwrap();
        let err = check_target(&output, std::slice::from_ref(&input), false, "page").unwrap_err();
        assert!(err.to_string().contains("--force"), "{err}");
        check_target(&output, std::slice::from_ref(&input), true, "page").unwrap();
        let err = check_target(dir.path(), &[], true, "page").unwrap_err();
        assert!(err.to_string().contains("directory"), "{err}");
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        std::fs::write(&path, b"old").unwrap();
        let err = write_atomically(&path, |out| {
            out.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("disk full"));
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        write_atomically(&path, |out| out.write_all(b"new")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
    }

    #[test]
    fn an_os_error_is_said_once() {
        #[derive(Debug)]
        struct SaysItsSource(io::Error);
        impl std::fmt::Display for SaysItsSource {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "cannot open x.mlc: {}", self.0)
            }
        }
        impl std::error::Error for SaysItsSource {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let inner = io::Error::from(io::ErrorKind::NotFound);
        let err = anyhow::Error::from(SaysItsSource(inner)).context("cannot read the capture");
        let text = describe(&err);
        assert_eq!(text.matches("not found").count(), 1, "{text}");
        assert!(
            text.starts_with("cannot read the capture: cannot open x.mlc"),
            "{text}"
        );
        let escaped = describe(&anyhow::anyhow!("bad \x1b[2J name"));
        assert!(!escaped.contains('\x1b'), "{escaped}");
    }

    #[test]
    fn a_broken_pipe_is_recognised_through_context() {
        let err =
            anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe)).context("writing");
        assert!(is_broken_pipe(&err));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }
}
