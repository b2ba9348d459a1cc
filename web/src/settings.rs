//! The signed-in user's own console settings over HTTP: `GET` and `PUT
//! /api/v1/auth/me/console` ([`ConsoleSettings`]: the video grid, favourite cameras, small
//! UI preferences), so an operator's layout follows the operator from browser to browser.
//!
//! A user reads and writes only their own document: the routes take no user id, the
//! session names the user. The document holds camera ids only and the server never
//! resolves them, so it reveals nothing beyond what its user wrote; the console hides ids
//! the user cannot see (any more). The revision is the `ETag` (`"0"`: nothing saved,
//! the defaults); a `PUT` with `If-Match` is refused with 412 when another console saved
//! in between. Settings writes are personal and not audited.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchpost_command::access::{ConsoleSettings, StoredConsoleSettings};

use crate::auth::{Caller, access, now_ms};
use crate::cameras::{etag, if_match, json_body};
use crate::error::ErrorBody;
use crate::{ApiError, AppState};

/// The console settings routes, nested under `/api/v1`.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_console_settings, put_console_settings))
}

/// The caller's console settings (the defaults, revision 0, when never saved).
#[utoipa::path(get, path = "/auth/me/console", operation_id = "get_console_settings", tag = "access",
    responses(
        (status = 200, description = "The caller's settings; `ETag` is their revision (`\"0\"`: nothing saved)", body = ConsoleSettings),
        (status = 401, description = "No valid session", body = ErrorBody),
    ))]
async fn get_console_settings(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let user = caller.user()?;
    let stored = access(&state)?.store().console_settings(&user.id).await?;
    Ok(answer(stored))
}

/// Save the caller's console settings (the whole document). Not audited: the settings
/// are the caller's own and grant nothing.
#[utoipa::path(put, path = "/auth/me/console", operation_id = "put_console_settings", tag = "access",
    params(("if-match" = Option<String>, Header, description = "The revision the change is based on, `\"<n>\"` (`\"0\"`: nothing saved yet)")),
    request_body = ConsoleSettings,
    responses(
        (status = 200, description = "Saved; `ETag` is the new revision", body = ConsoleSettings),
        (status = 400, description = "Malformed JSON or an unknown field", body = ErrorBody),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 412, description = "`If-Match` names another revision: another console saved first; reload", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields (layout, slots, favourites, language), each named", body = ErrorBody),
    ))]
async fn put_console_settings(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let user = caller.user()?;
    let expected = if_match(&headers)?;
    let settings: ConsoleSettings = json_body(&headers, &body)?;
    let stored = access(&state)?
        .store()
        .put_console_settings(&user.id, &settings, expected, now_ms())
        .await?;
    Ok(answer(stored))
}

/// The document with its revision as `ETag`; never cached (it is private and changes).
fn answer(stored: StoredConsoleSettings) -> Response {
    let mut response = Json(stored.settings).into_response();
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag(stored.revision));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}
