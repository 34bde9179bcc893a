//! Exposes pyo3's `Py_3_X` cfgs to this crate: the frame layouts and a few
//! CPython details are chosen at compile time for the target interpreter.
//!
//! On Linux it also builds `libmemlens_preload.so` (crate `memlens-preload`,
//! the `memlens run --native` interposer) and puts it beside the Python
//! sources (`python/memlens/`), where maturin packs it into the wheel and
//! `maturin develop` leaves it in place: one `pip install .` yields both
//! libraries. The interposer is a separate cdylib (it must not link Python
//! or this extension), hence a nested cargo build in its own target
//! directory (sharing ours would deadlock on its lock).
use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    pyo3_build_config::use_pyo3_cfgs();
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        build_preload();
    }
}

fn build_preload() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let preload = manifest_dir.join("../memlens-preload");
    let package = manifest_dir.join("../../python/memlens");
    println!("cargo:rerun-if-changed={}", preload.join("src").display());
    println!(
        "cargo:rerun-if-changed={}",
        preload.join("Cargo.toml").display()
    );
    if !preload.join("Cargo.toml").exists() || !package.exists() {
        println!("cargo:warning=memlens-preload sources not found: `memlens run --native` will be unavailable");
        return;
    }
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    let target = env::var("TARGET").expect("set by cargo");
    let target_dir = out_dir.join("preload");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--offline",
            "-p",
            "memlens-preload",
            "--target",
        ])
        .arg(&target)
        .arg("--manifest-path")
        .arg(preload.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_MAKEFLAGS")
        .status();
    let built = target_dir
        .join(&target)
        .join("release")
        .join("libmemlens_preload.so");
    match status {
        Ok(status) if status.success() && built.exists() => {
            if let Err(error) = install(&built, &package.join("libmemlens_preload.so")) {
                println!(
                    "cargo:warning=cannot copy libmemlens_preload.so into the package: {error}"
                );
            }
        }
        Ok(status) => println!("cargo:warning=building memlens-preload failed ({status})"),
        Err(error) => println!("cargo:warning=cannot run cargo to build memlens-preload: {error}"),
    }
}

/// Puts `built` at `dest` unless it is already there, by rename: running
/// processes map the old file, and rewriting it in place would kill them
/// (SIGBUS).
fn install(built: &std::path::Path, dest: &std::path::Path) -> std::io::Result<()> {
    let new = std::fs::read(built)?;
    if std::fs::read(dest).is_ok_and(|old| old == new) {
        return Ok(());
    }
    let temporary = dest.with_extension(format!("so.{}.tmp", std::process::id()));
    std::fs::write(&temporary, &new)?;
    std::fs::rename(&temporary, dest)
}
