//! Project tasks, run as `cargo xtask <task>`:
//!
//! - `cargo xtask demo [--data-dir DIR] [--listen ADDR]`: installs what the demo needs,
//!   builds, and runs `watchpost demo` (simulated cameras, embedded SQLite, web UI).
//! - `cargo xtask test [--no-install] [-- NEXTEST_ARGS]`: installs what the tests need
//!   (Debian packages, cargo-nextest, the Python test players in `<target>/py-players`), then
//!   runs `cargo fmt --check`, clippy (default and no-default features), a check that the
//!   no-default-features build needs no system library, and the whole suite with nextest.
//!
//! - `cargo xtask with-postgres -- CMD`: runs CMD with a PostgreSQL server for the tests.
//! - `cargo xtask bench [--quick] [--only W1,W3,IDLE,SOAK,CONSOLE] [--no-build]`: bounded
//!   benchmarks on loopback (WHEP fan-out, time to first frame, idle cameras, soak, the
//!   console's time to first frame in Chromium) with the server
//!   and the load client pinned to one CPU each; writes `<target>/bench/results.json` and
//!   `results.md` (see `bench.rs`).
//!
//! - `cargo xtask openapi`: rewrites `docs/openapi.json`, the committed OpenAPI document,
//!   from the code (a test fails while it is stale).
//!
//! Only the standard library is used, so this builds in seconds on a fresh machine.

use std::env;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod bench;
// Janus for the benchmark's side-by-side comparison; `cargo xtask bench` starts it.
#[allow(dead_code)]
mod bench_janus;
mod console;
mod json;
mod packages;
mod players;
mod postgres;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo(&args[1..]),
        Some("test") => test(&args[1..]),
        Some("install") => packages::ensure(&packages::all())
            .and_then(|()| players::ensure().map(drop))
            .and_then(|()| players::ensure_browser_driver()),
        Some("with-postgres") => with_postgres(&args[1..]),
        Some("bench") => bench::bench(&args[1..]),
        Some("openapi") => openapi(),
        _ => {
            eprintln!(
                "usage:\n  cargo xtask demo [--data-dir DIR] [--listen ADDR]\n  \
                 cargo xtask test [--no-install] [-- NEXTEST_ARGS]\n  \
                 cargo xtask install   (system packages for the demo and the tests, and the Python test players)\n  \
                 cargo xtask with-postgres -- CMD ARGS   (run CMD with WATCHPOST_TEST_POSTGRES_URL set)\n  \
                 cargo xtask bench [--quick] [--only W1,W3,IDLE,SOAK,CONSOLE] [--no-build]   (benchmarks → target/bench/)\n  \
                 cargo xtask openapi   (rewrite docs/openapi.json from the code)"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

/// The workspace root (the parent of this crate's directory).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// `cargo xtask openapi`: `watchpost openapi` into `docs/openapi.json`.
fn openapi() -> Result {
    let out = cargo()
        .args([
            "run",
            "-q",
            "-p",
            "watchpost-web",
            "--bin",
            "watchpost",
            "--",
            "openapi",
        ])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!("watchpost openapi failed: {}", out.status));
    }
    let path = root().join("docs/openapi.json");
    std::fs::write(&path, &out.stdout).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("xtask: wrote {}", path.display());
    Ok(())
}

fn cargo() -> Command {
    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// Runs `cmd`, echoing it first; fails with its exit status.
fn run(cmd: &mut Command) -> Result {
    let shown = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(OsStr::to_string_lossy)
            .collect::<Vec<_>>()
            .join(" ")
    );
    eprintln!("xtask: $ {shown}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run `{shown}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

fn demo(args: &[String]) -> Result {
    let mut data_dir = "demo-data".to_owned();
    let mut listen = "127.0.0.1:8080".to_owned();
    let mut install = true;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--data-dir" => data_dir = it.next().ok_or("--data-dir needs a value")?.clone(),
            "--listen" => listen = it.next().ok_or("--listen needs a value")?.clone(),
            "--no-install" => install = false,
            other => return Err(format!("unknown demo option {other}")),
        }
    }
    if install {
        packages::ensure(packages::DEMO)?;
    }
    // The console is embedded into the binary: built first.
    console::build()?;
    run(cargo().args([
        "build",
        "--package",
        "watchpost-web",
        "--package",
        "watchpost-fixtures",
        "--bins",
    ]))?;
    let bin = target_dir().join("debug").join("watchpost");
    // The demo runs in the caller's directory, so `demo-data/` lands where they are.
    run(Command::new(bin).args(["demo", "--data-dir", &data_dir, "--listen", &listen]))
}

/// Runs a command with `WATCHPOST_TEST_POSTGRES_URL` pointing at a server (see [`postgres`]).
fn with_postgres(args: &[String]) -> Result {
    let args = args.strip_prefix(&["--".to_owned()]).unwrap_or(args);
    let (program, rest) = args.split_first().ok_or("with-postgres needs a command")?;
    let pg = postgres::ensure()?;
    let result = run(Command::new(program)
        .args(rest)
        .env("WATCHPOST_TEST_POSTGRES_URL", pg.url()));
    drop(pg);
    result
}

fn test(args: &[String]) -> Result {
    let (ours, nextest_args) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[][..]),
    };
    let mut install = true;
    for arg in ours {
        match arg.as_str() {
            "--no-install" => install = false,
            other => return Err(format!("unknown test option {other}")),
        }
    }
    if install {
        packages::ensure(&packages::all())?;
        ensure_nextest()?;
        players::ensure()?;
        players::ensure_browser_driver()?;
    }
    // The console is embedded into the binary (web/build.rs) and its end-to-end test
    // needs it: built before anything compiles the server.
    console::build()?;
    let pg = postgres::ensure()?;

    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--no-default-features",
        "--",
        "-D",
        "warnings",
    ]))?;
    check_no_system_libraries_without_default_features()?;

    let mut nextest = cargo();
    nextest
        .args(["nextest", "run", "--workspace", "--no-fail-fast"])
        .args(nextest_args)
        .env("WATCHPOST_TEST_POSTGRES_URL", pg.url());
    if let Some(python) = players::python() {
        nextest.env(players::ENV, python);
    }
    let result = run(&mut nextest);
    drop(pg);
    report_artifacts();
    result
}

/// Says where the browser tests' screenshots (console, monitor pages, map) were kept:
/// `<target>/test-artifacts/`, each file with its size, so a CI log names them.
fn report_artifacts() {
    let dir = target_dir().join("test-artifacts");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut files: Vec<(String, u64)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let size = e.metadata().ok()?.len();
            Some((e.file_name().to_string_lossy().into_owned(), size))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return;
    }
    eprintln!("xtask: test artifacts in {}:", dir.display());
    for (name, size) in files {
        eprintln!("xtask:   {name} ({} KiB)", size.div_ceil(1024));
    }
}

/// `cargo build --no-default-features` must need nothing beyond the Rust toolchain: no
/// crate of the GStreamer/GLib family may be in that build.
fn check_no_system_libraries_without_default_features() -> Result {
    let out = cargo()
        .args([
            "tree",
            "--workspace",
            "--no-default-features",
            "--edges",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .output()
        .map_err(|e| format!("cannot run cargo tree: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo tree failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let tree = String::from_utf8_lossy(&out.stdout);
    let system: Vec<&str> = tree
        .lines()
        .filter(|l| {
            ["gstreamer", "glib", "gobject-sys", "gio-sys"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect();
    if system.is_empty() {
        eprintln!("xtask: ok: the no-default-features build links no GStreamer/GLib library");
        Ok(())
    } else {
        Err(format!(
            "the no-default-features build pulls in system-library crates: {}",
            system.join(", ")
        ))
    }
}

fn ensure_nextest() -> Result {
    let found = cargo()
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Ok(());
    }
    run(cargo().args(["install", "cargo-nextest", "--locked"]))
}
