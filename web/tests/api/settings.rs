//! The signed-in user's console settings through the API (`/api/v1/auth/me/console`):
//! defaults, round trip with `ETag`, validation naming each field, `If-Match` and 412,
//! privacy between users, and logout ending access.

use axum::http::StatusCode;
use serde_json::{Value, json};
use watchpost_web::AppState;

use super::send;

const JSON: &str = "application/json";
const PASSWORD: &str = "console-password-0123";
const URI: &str = "/api/v1/auth/me/console";

fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// Creates an operator `name` of the city (as the administrator) and logs it in; its token.
async fn operator(state: &AppState, name: &str) -> String {
    let user = json!({"username": name, "display_name": name, "role": "operator",
        "jurisdiction": {"level": "city"}, "password": PASSWORD});
    let (status, _, body) =
        send(state, "POST", "/api/v1/users", JSON, &user.to_string(), &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let login = json!({"username": name, "password": PASSWORD});
    let (status, _, body) = send(
        state,
        "POST",
        "/api/v1/auth/login",
        JSON,
        &login.to_string(),
        &[("authorization", "")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    parse(&body)["token"].as_str().unwrap().to_owned()
}

/// `method URI` as `token`, with extra headers; (status, ETag, body).
async fn call(
    state: &AppState,
    token: &str,
    method: &str,
    body: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, Option<String>, String) {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    let (status, h, body) = send(state, method, URI, JSON, body, &headers).await;
    let etag = h.get("etag").map(|v| v.to_str().unwrap().to_owned());
    (status, etag, body)
}

fn nine(camera: &str, favourites: &[&str]) -> Value {
    let mut slots = vec![Value::Null; 9];
    slots[2] = json!(camera);
    json!({"grid": {"layout": 9, "slots": slots}, "favourites": favourites,
        "low_latency": true, "stats_overlay": true, "language": "en"})
}

#[tokio::test]
async fn console_settings_round_trip_per_user_with_preconditions() {
    let state = super::state("console-settings").await;
    let alice = operator(&state, "alice").await;
    let bob = operator(&state, "bob").await;

    // Nothing saved: the defaults at revision 0, never cached.
    let (status, etag, body) = call(&state, &alice, "GET", "", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(etag.as_deref(), Some("\"0\""));
    assert_eq!(
        parse(&body),
        json!({"grid": {"layout": 4, "slots": []}, "favourites": [],
            "low_latency": false, "stats_overlay": false})
    );

    // Save based on "nothing saved", read it back whole.
    let doc = nine("oil-depot", &["oil-depot", "gas-station"]);
    let (status, etag, body) = call(
        &state,
        &alice,
        "PUT",
        &doc.to_string(),
        &[("if-match", "\"0\"")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(etag.as_deref(), Some("\"1\""));
    assert_eq!(parse(&body), doc);
    let (status, etag, body) = call(&state, &alice, "GET", "", &[]).await;
    assert_eq!((status, etag.as_deref()), (StatusCode::OK, Some("\"1\"")));
    assert_eq!(parse(&body), doc);

    // A second console still based on revision 0 is refused and changes nothing.
    let stale = nine("gas-station", &[]);
    let (status, _, body) = call(
        &state,
        &alice,
        "PUT",
        &stale.to_string(),
        &[("if-match", "\"0\"")],
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    assert_eq!(parse(&body)["error"], "precondition_failed", "{body}");
    let (_, etag, body) = call(&state, &alice, "GET", "", &[]).await;
    assert_eq!(
        (etag.as_deref(), parse(&body)),
        (Some("\"1\""), doc.clone())
    );
    // Based on the current revision it lands; without If-Match too.
    let (status, etag, _) = call(
        &state,
        &alice,
        "PUT",
        &stale.to_string(),
        &[("if-match", "\"1\"")],
    )
    .await;
    assert_eq!((status, etag.as_deref()), (StatusCode::OK, Some("\"2\"")));
    let (status, etag, _) = call(&state, &alice, "PUT", &doc.to_string(), &[]).await;
    assert_eq!((status, etag.as_deref()), (StatusCode::OK, Some("\"3\"")));

    // Each invalid field is named; nothing is written.
    let bad = json!({"grid": {"layout": 5, "slots": ["oil-depot", "Not An Id"]},
        "favourites": ["gas-station", "gas-station"], "language": "fr"});
    let (status, _, body) = call(&state, &alice, "PUT", &bad.to_string(), &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<Value> = parse(&body)["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|f| f["field"].clone())
        .collect();
    assert_eq!(
        Value::Array(fields),
        json!(["grid.layout", "grid.slots[1]", "favourites[1]", "language"]),
        "{body}"
    );
    let many: Vec<String> = (0..201).map(|i| format!("cam-{i}")).collect();
    let (status, _, body) = call(
        &state,
        &alice,
        "PUT",
        &json!({"favourites": many}).to_string(),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(parse(&body)["fields"][0]["field"], "favourites", "{body}");
    // Unknown fields and non-JSON bodies are refused before validation.
    let (status, _, body) = call(&state, &alice, "PUT", r#"{"user_id":"U-1"}"#, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, etag, body) = call(&state, &alice, "GET", "", &[]).await;
    assert_eq!(
        (etag.as_deref(), parse(&body)),
        (Some("\"3\""), doc.clone())
    );

    // Bob sees only his own (the defaults), and his save does not touch Alice's.
    let (_, etag, body) = call(&state, &bob, "GET", "", &[]).await;
    assert_eq!(etag.as_deref(), Some("\"0\""));
    assert_eq!(parse(&body)["favourites"], json!([]), "{body}");
    let mine = nine("gas-station", &["gas-station"]);
    let (status, etag, _) = call(&state, &bob, "PUT", &mine.to_string(), &[]).await;
    assert_eq!((status, etag.as_deref()), (StatusCode::OK, Some("\"1\"")));
    let (_, _, body) = call(&state, &alice, "GET", "", &[]).await;
    assert_eq!(parse(&body), doc);
    // No route names another user's settings.
    let (status, _, _) = send(
        &state,
        "GET",
        "/api/v1/auth/me/console/bob",
        JSON,
        "",
        &[("authorization", &format!("Bearer {alice}"))],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Without a session, or after logout, there is no access.
    let (status, _, _) = send(&state, "GET", URI, JSON, "", &[("authorization", "")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = send(
        &state,
        "POST",
        "/api/v1/auth/logout",
        JSON,
        "",
        &[("authorization", &format!("Bearer {alice}"))],
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for (method, body) in [("GET", String::new()), ("PUT", doc.to_string())] {
        let (status, _, answer) = call(&state, &alice, method, &body, &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method}: {answer}");
    }
    // Logging in again finds the settings saved.
    let login = json!({"username": "alice", "password": PASSWORD});
    let (_, _, body) = send(
        &state,
        "POST",
        "/api/v1/auth/login",
        JSON,
        &login.to_string(),
        &[("authorization", "")],
    )
    .await;
    let again = parse(&body)["token"].as_str().unwrap().to_owned();
    let (_, etag, body) = call(&state, &again, "GET", "", &[]).await;
    assert_eq!((etag.as_deref(), parse(&body)), (Some("\"3\""), doc));
}
