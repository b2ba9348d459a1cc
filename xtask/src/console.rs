//! The operator console (`web/console/`, Vue 3 + TypeScript, built by Vite): `npm ci`
//! (skipped while `node_modules` holds what `package-lock.json` says, like the browser
//! driver in [`crate::players`]) and `npm run build` (skipped while `dist/index.html` is
//! newer than every source file), before the Rust build, which embeds `web/console/dist`
//! into the `watchpost` binary (`web/build.rs`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use crate::{Result, root, run};

fn dir() -> PathBuf {
    root().join("web/console")
}

/// Installs the console's build tools and builds it unless `dist/` is up to date.
pub fn build() -> Result {
    let dir = dir();
    let lock = fs::read_to_string(dir.join("package-lock.json"))
        .map_err(|e| format!("cannot read web/console/package-lock.json: {e}"))?;
    let stamp = dir.join("node_modules/.watchpost-package-lock.json");
    let installed = dir.join("node_modules/vite/package.json").is_file()
        && fs::read_to_string(&stamp).is_ok_and(|have| have == lock);
    if !installed {
        eprintln!(
            "xtask: installing the console's build tools (npm ci in {})",
            dir.display()
        );
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir))?;
        fs::write(&stamp, &lock).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    }
    let built = modified(&dir.join("dist/index.html"));
    let newest_source = newest(&dir)?;
    if installed && built.is_some_and(|b| b > newest_source) {
        eprintln!("xtask: ok: the console is up to date (web/console/dist)");
        return Ok(());
    }
    eprintln!(
        "xtask: building the console (npm run build in {})",
        dir.display()
    );
    run(Command::new("npm").args(["run", "build"]).current_dir(&dir))
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time of the console's sources (everything but `node_modules`
/// and `dist`).
fn newest(dir: &Path) -> Result<SystemTime> {
    let mut newest = SystemTime::UNIX_EPOCH;
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        let name = entry.file_name();
        if name == "node_modules" || name == "dist" {
            continue;
        }
        let path = entry.path();
        let time = if path.is_dir() {
            newest_in(&path)?
        } else {
            modified(&path).unwrap_or(SystemTime::UNIX_EPOCH)
        };
        newest = newest.max(time);
    }
    Ok(newest)
}

fn newest_in(dir: &Path) -> Result<SystemTime> {
    let mut newest = modified(dir).unwrap_or(SystemTime::UNIX_EPOCH);
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .path();
        let time = if path.is_dir() {
            newest_in(&path)?
        } else {
            modified(&path).unwrap_or(SystemTime::UNIX_EPOCH)
        };
        newest = newest.max(time);
    }
    Ok(newest)
}
