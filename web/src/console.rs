//! The operator console (`/console`): the single-page app of `web/console/` (Vue 3 +
//! TypeScript, built by Vite), embedded at compile time by `web/build.rs`. Assets under
//! `assets/` carry a content hash in their names and are cached for good; every other
//! path answers `index.html` (the app routes itself). A binary built before the console
//! (no `web/console/dist`) answers a page saying how to build it.
//!
//! The pages are public like the other pages ([`crate::auth::PUBLIC_PAGES`]); their data
//! comes from the API, which needs a session.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

mod assets {
    include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));
}

/// Whether this binary holds the built console.
pub fn is_built() -> bool {
    file("index.html").is_some()
}

fn file(path: &str) -> Option<(&'static str, &'static [u8])> {
    assets::FILES
        .iter()
        .find(|(name, _, _)| *name == path)
        .map(|(_, content_type, body)| (*content_type, *body))
}

/// What `/console` answers when the binary was built without the console.
const NOT_BUILT: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Watchpost console</title></head><body>\n<h1>Watchpost console</h1>\n\
<p>The console is not built: run <code>cargo xtask demo</code> (or <code>cargo xtask test</code>), \
which builds <code>web/console</code> with npm before the server.</p>\n</body></html>\n";

/// `GET /console`, `GET /console/`: the app.
pub(crate) async fn index() -> Response {
    serve("index.html")
}

/// `GET /console/{*path}`: a built file, or the app for any other path.
pub(crate) async fn path(Path(path): Path<String>) -> Response {
    serve(&path)
}

fn serve(path: &str) -> Response {
    if let Some((content_type, body)) = file(path) {
        let cache = if path.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, cache),
            ],
            body,
        )
            .into_response();
    }
    if path.starts_with("assets/") {
        return (StatusCode::NOT_FOUND, "no such console file").into_response();
    }
    match file("index.html") {
        Some((content_type, body)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            NOT_BUILT,
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both builds answer sensibly: with the console, its files and the app for any other
    /// path (a missing asset is 404); without it, 503 and how to build it.
    #[test]
    fn serves_the_built_console_or_says_how_to_build_it() {
        let status = |path: &str| serve(path).status();
        if is_built() {
            assert_eq!(status("index.html"), StatusCode::OK);
            assert_eq!(status("some/app/route"), StatusCode::OK);
            assert_eq!(status("assets/missing.js"), StatusCode::NOT_FOUND);
            for (name, _, _) in assets::FILES {
                assert_eq!(status(name), StatusCode::OK, "{name}");
            }
        } else {
            assert_eq!(status("index.html"), StatusCode::SERVICE_UNAVAILABLE);
            assert!(NOT_BUILT.contains("cargo xtask demo"));
        }
    }
}
