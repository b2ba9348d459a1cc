//! The OpenAPI document: the committed copy matches the code, it is a self-consistent
//! OpenAPI 3.1 document, and every operation it names is routed by `app()`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use watchpost_web::app;
use watchpost_web::openapi::{document, document_json};

const METHODS: [&str; 6] = ["get", "put", "post", "delete", "patch", "options"];

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json")
}

#[test]
fn committed_document_matches_the_code() {
    let generated = document_json();
    let path = committed_path();
    if std::env::var_os("WATCHPOST_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || committed.lines().count().min(generated.lines().count()) + 1,
                |i| i + 1,
            );
        panic!(
            "docs/openapi.json is stale (first difference at line {line}); \
             run `cargo xtask openapi` and commit the result"
        );
    }
}

/// Every `(method, path, operation)` of the document.
fn operations() -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in document()["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.push((method.to_owned(), path.clone(), op.clone()));
            }
        }
    }
    out
}

fn collect_refs(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(o) => {
            if let Some(r) = o.get("$ref").and_then(Value::as_str) {
                out.insert(r.to_owned());
            }
            o.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[test]
fn document_is_self_consistent_openapi_3_1() {
    let doc = document();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));

    // Every reference resolves, and every component is referred to.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut refs = BTreeSet::new();
    collect_refs(doc, &mut refs);
    for r in &refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {r}"));
        assert!(schemas.contains_key(name), "{r} does not resolve");
    }
    for name in schemas.keys() {
        assert!(
            refs.contains(&format!("#/components/schemas/{name}")),
            "component {name} is never used"
        );
    }

    let ops = operations();
    assert!(ops.len() >= 50, "only {} operations", ops.len());
    let mut ids = BTreeSet::new();
    for (method, path, op) in &ops {
        let what = format!("{} {path}", method.to_uppercase());
        let id = op["operationId"].as_str().unwrap();
        assert!(
            ids.insert(id.to_owned()),
            "{what}: operationId {id} is used twice"
        );
        assert!(
            op["tags"].as_array().is_some_and(|t| t.len() == 1),
            "{what}: one tag"
        );
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{what}: no responses"
        );
        // Each `{param}` of the path is declared as a required path parameter, and no
        // path parameter is declared that the path does not have.
        let in_path: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        let declared: BTreeSet<&str> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .map(|p| {
                assert_eq!(p["required"], true, "{what}: path parameters are required");
                p["name"].as_str().unwrap()
            })
            .collect();
        assert_eq!(in_path, declared, "{what}: path parameters");
        assert!(!path.contains('*'), "{what}: an axum wildcard leaked");
        // Error answers all share the one error schema.
        for (status, response) in op["responses"].as_object().unwrap() {
            let code: u16 = status.parse().unwrap();
            if code >= 400
                && let Some(schema) = response.pointer("/content/application~1json/schema")
            {
                assert_eq!(
                    schema["$ref"], "#/components/schemas/Error",
                    "{what} {status}: errors use the Error schema"
                );
            }
        }
    }
}

/// The router and the document are built from one list; this checks the other direction
/// as well: every documented operation reaches a handler (not the fallback, not 405).
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let state = super::state("openapi-routes").await;
    for (method, path, _) in operations() {
        let uri = path
            .replace("{path}", "cam/c1/main")
            .replace("{name}", "cam/c1/main")
            .replace("{id}", "x1");
        let request = Request::builder()
            .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
            .uri(&uri)
            .body(Body::empty())
            .unwrap();
        let response = app(state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8_lossy(&body);
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        assert!(
            !(status == StatusCode::NOT_FOUND && body.contains("no such route")),
            "{method} {uri} is documented but not routed"
        );
    }
}

#[tokio::test]
async fn the_document_is_served() {
    let state = super::state("openapi-served").await;
    let (status, _, body) = super::get(&state, "/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let served: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(&served, document());
}
