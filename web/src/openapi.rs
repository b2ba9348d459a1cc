//! The OpenAPI 3.1 document of the HTTP API, generated from the code.
//!
//! Every documented route is registered through [`utoipa_axum`]'s `routes!`, which takes
//! the path, method and operation from the handler's `#[utoipa::path]` attribute: the
//! router [`crate::app`] serves and the document [`document`] describes are built from the
//! same list, so a route cannot exist without its operation. The committed copy,
//! `docs/openapi.json`, is compared with [`document_json`] by a test (`web/tests/openapi.rs`);
//! `WATCHPOST_BLESS=1` rewrites it.
//!
//! Not in the document: the web pages (`/`, `/play/…`, `/ui/…`), which are not API.

use std::sync::OnceLock;

use axum::Json;
use serde_json::{Map, Value};
use utoipa::OpenApi;

/// The document's fixed parts: title, version, licence, tags.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Watchpost API",
        description = "Watchpost's media server and command back end: cameras and their streams \
                       (WHEP playback, snapshots, PTZ, discovery), incidents from intake to closure, \
                       dispatch, the timeline and its event stream, and the organisation ledger. \
                       Errors answer `{\"error\": code, \"message\": text}` (422 adds `fields`).",
        license(name = "Apache-2.0 OR MIT"),
    ),
    // Schemas only query parameters refer to (`routes!` collects bodies, not parameters).
    components(schemas(
        watchpost_command::org::ImportMode,
        watchpost_devices::inventory::ImportMode,
        watchpost_devices::onvif_camera::StreamProfile,
    )),
    tags(
        (name = "system", description = "Health and configuration"),
        (name = "cameras", description = "The camera inventory and what can be done with a camera"),
        (name = "streams", description = "The stream hub's paths and statistics"),
        (name = "whep", description = "WebRTC playback (WHEP, RFC 9725)"),
        (name = "incidents", description = "Incidents, their timeline, evidence and events"),
        (name = "dispatch", description = "Tasks assigning units to incidents"),
        (name = "intake", description = "Intake reports (phone, self-report, alarm, superior)"),
        (name = "organisation", description = "Command centres, units and the enterprise ledger"),
        (name = "access", description = "Login, users, stream tokens and the audit log"),
    )
)]
struct ApiDoc;

/// The OpenAPI document of [`crate::app`]'s API routes (built once).
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut doc = ApiDoc::openapi().merge_from(crate::documented_routes().into_openapi());
        doc.info.version = crate::VERSION.to_owned();
        // axum's catch-all segments (`{*path}`) are plain parameters in OpenAPI.
        let paths = std::mem::take(&mut doc.paths.paths);
        doc.paths.paths = paths
            .into_iter()
            .map(|(path, item)| (path.replace("{*", "{"), item))
            .collect();
        let mut doc = serde_json::to_value(doc)
            .unwrap_or_else(|e| panic!("the OpenAPI document does not serialize: {e}"));
        inline_primitive_refs(&mut doc);
        doc
    })
}

/// Replaces references to the schemas utoipa names after primitive types (`i64`, which
/// the `UnixMs` alias resolves to) by the schema itself, keeping the field's description,
/// and drops those components: a timestamp reads `{"type": "integer", "format": "int64"}`.
fn inline_primitive_refs(doc: &mut Value) {
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let primitives: Map<String, Value> = ["i64", "i32", "u64", "u32", "f64", "bool", "String"]
        .into_iter()
        .filter_map(|name| Some((name.to_owned(), schemas.remove(name)?)))
        .collect();
    if !primitives.is_empty() {
        replace_refs(doc, &primitives);
    }
}

fn replace_refs(value: &mut Value, primitives: &Map<String, Value>) {
    match value {
        Value::Object(object) => {
            let target = object
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .and_then(|name| primitives.get(name));
            if let Some(Value::Object(schema)) = target {
                object.remove("$ref");
                for (k, v) in schema {
                    object.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            for v in object.values_mut() {
                replace_refs(v, primitives);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| replace_refs(v, primitives)),
        _ => {}
    }
}

/// [`document`] as the committed file holds it: pretty JSON with a final newline.
pub fn document_json() -> String {
    let mut text = serde_json::to_string_pretty(document())
        .unwrap_or_else(|e| panic!("the OpenAPI document does not serialize: {e}"));
    text.push('\n');
    text
}

/// This document itself.
#[utoipa::path(get, path = "/openapi.json", operation_id = "openapi", tag = "system",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API",
        content_type = "application/json", body = Object)))]
pub(crate) async fn openapi_json() -> Json<&'static Value> {
    Json(document())
}
