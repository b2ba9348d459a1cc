//! Embeds the operator console (`web/console/dist`, built by `npm run build`, which
//! `cargo xtask demo` and `cargo xtask test` run) into the `watchpost` binary: writes
//! `$OUT_DIR/console_assets.rs`, one `include_bytes!` per file with its content type.
//! Without `dist` the list is empty and `/console` answers a page saying how to build it,
//! so a plain `cargo build` needs no Node.js.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let console = manifest.join("console");
    let dist = console.join("dist");
    let mut files = Vec::new();
    if dist.join("index.html").is_file() {
        // Watch what is embedded; once it is gone the path is missing and cargo reruns us.
        println!("cargo:rerun-if-changed=console/dist");
        collect(&dist, &dist, &mut files);
        files.sort();
    } else {
        // Not built: rerun once `dist/index.html` appears (a new file in `console/`).
        println!("cargo:rerun-if-changed=console");
    }
    let mut out = String::from(
        "/// The console's files: path under `dist/`, content type, contents.\n\
         pub static FILES: &[(&str, &str, &[u8])] = &[\n",
    );
    for (relative, absolute) in &files {
        writeln!(
            out,
            "    ({relative:?}, {:?}, include_bytes!({:?})),",
            content_type(relative),
            absolute.display().to_string()
        )
        .expect("write to a String");
    }
    out.push_str("];\n");
    let target = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR")).join("console_assets.rs");
    if fs::read_to_string(&target).ok().as_deref() != Some(out.as_str()) {
        fs::write(&target, out).expect("write console_assets.rs");
    }
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let relative = path
                .strip_prefix(root)
                .expect("under dist")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            files.push((relative, path));
        }
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
