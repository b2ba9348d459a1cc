//! Python test players (aiortc, the independent WebRTC stack of the WHEP tests; ipycam, a
//! third-party ONVIF camera emulator for the devices tests) in a virtualenv under the
//! target directory: `<target>/py-players`.
//!
//! The versions are pinned in `tests/players/requirements.txt` (the whole dependency
//! closure) and installed from binary wheels only, so no compiler is needed. The install
//! is skipped while the virtualenv's recorded requirements equal the file. The tests find
//! the interpreter through `WATCHPOST_TEST_PYTHON`; nothing is downloaded at test time.
//!
//! The browser tests' driver, `playwright-core` (it drives Debian's Chromium; no browser
//! is downloaded), is installed the same way: `npm ci` in `tests/browser/` from its lock
//! file, skipped while the installed lock file equals it ([`ensure_browser_driver`]).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Result, root, run, target_dir};

/// The environment variable that hands the virtualenv's python to the tests.
pub const ENV: &str = "WATCHPOST_TEST_PYTHON";

fn venv_dir() -> PathBuf {
    target_dir().join("py-players")
}

fn requirements() -> PathBuf {
    root().join("tests/players/requirements.txt")
}

/// The virtualenv's interpreter, if the virtualenv exists.
pub fn python() -> Option<PathBuf> {
    let python = venv_dir().join("bin/python");
    python.is_file().then_some(python)
}

/// The interpreter the virtualenv is made from: Debian's (`python3-venv`), where there is
/// one, so the result does not depend on a pyenv or conda on PATH.
fn base_python() -> &'static str {
    if Path::new("/usr/bin/python3").is_file() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// Makes the virtualenv and installs the pinned requirements unless already done; returns
/// the virtualenv's python.
pub fn ensure() -> Result<PathBuf> {
    let venv = venv_dir();
    let stamp = venv.join("watchpost-requirements.txt");
    let wanted = fs::read_to_string(requirements())
        .map_err(|e| format!("cannot read {}: {e}", requirements().display()))?;
    if let Some(python) = python()
        && fs::read_to_string(&stamp).is_ok_and(|have| have == wanted)
    {
        return Ok(python);
    }
    eprintln!(
        "xtask: installing the Python test players in {}",
        venv.display()
    );
    run(Command::new(base_python())
        .args(["-m", "venv", "--clear"])
        .arg(&venv))?;
    let python = venv.join("bin/python");
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-input",
            "--disable-pip-version-check",
            "--only-binary=:all:",
            "--requirement",
        ])
        .arg(requirements()))?;
    run(Command::new(&python).args(["-c", "import aiortc, av, ipycam"]))?;
    fs::write(&stamp, wanted).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    Ok(python)
}

/// `npm ci` in `tests/browser/` unless `node_modules` already holds exactly what
/// `package-lock.json` says (npm's own copy, `node_modules/.package-lock.json`, names the
/// same packages at the same versions). Run before the tests, so that no test installs it
/// while another runs it (the tests keep a locked fallback for runs without xtask).
pub fn ensure_browser_driver() -> Result {
    let dir = root().join("tests/browser");
    let stamp = dir.join("node_modules/.watchpost-package-lock.json");
    let wanted = fs::read_to_string(dir.join("package-lock.json"))
        .map_err(|e| format!("cannot read tests/browser/package-lock.json: {e}"))?;
    if dir
        .join("node_modules/playwright-core/package.json")
        .is_file()
        && fs::read_to_string(&stamp).is_ok_and(|have| have == wanted)
    {
        return Ok(());
    }
    eprintln!(
        "xtask: installing the browser driver (npm ci in {})",
        dir.display()
    );
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir))?;
    fs::write(&stamp, wanted).map_err(|e| format!("cannot write {}: {e}", stamp.display()))
}
