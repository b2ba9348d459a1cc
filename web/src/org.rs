//! The organisation over HTTP: command centres, units and the enterprise ledger.
//!
//! The three kinds of record share one set of routes, written once over [`Resource`]:
//!
//! - `GET /api/v1/{centres|units|enterprises}?…` → the filtered list (units and enterprises
//!   paginated: `{items, total}`; centres, a few dozen, all: `{items}`);
//! - `POST /api/v1/{kind}` → `201`, `Location`, `ETag: "<revision>"`;
//! - `GET /api/v1/{kind}/{id}` → the record, `ETag`;
//! - `PUT /api/v1/{kind}/{id}` (full replacement, `If-Match` optional) → the record;
//! - `DELETE /api/v1/{kind}/{id}` → `204` (`409 in_use` while other records refer to it);
//! - `POST /api/v1/{kind}/import?mode=create|upsert|skip` with a JSON array → the report:
//!   ids created, updated and skipped, and each bad element's line and field.
//!
//! and `PUT /api/v1/units/{id}/availability` `{"availability": "dispatched"}`. Filters:
//! centres `level, district, parent_id`; units `centre_id, district, kind, availability,
//! q, limit, offset`; enterprises `district, street, category, credit_code, major_hazard,
//! q, limit, offset`.

use std::future::Future;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchpost_command::domain::{UnitId, UnixMs};
use watchpost_command::org::{
    Availability, CentreFilter, CentreId, CentreInput, CommandCentre, Enterprise, EnterpriseFilter,
    EnterpriseInput, EnterprisePage, ImportMode, ImportReport, LedgerId, OrgError, Organisation,
    Unit, UnitFilter, UnitInput, UnitPage,
};

use watchpost_command::access::{Action, AuditAction, Jurisdiction};

use crate::auth::{Caller, now_ms};
use crate::cameras::{audit, etag, if_match, json_body};
use crate::error::ErrorBody;
use crate::paths::OwnedScope;
use crate::{ApiError, AppState};

/// Largest ledger import body.
const IMPORT_LIMIT: usize = 16 * 1024 * 1024;

/// One kind of organisation record, as the generic routes need it.
trait Resource: Send + Sync + 'static {
    /// Path segment under `/api/v1` (`centres`).
    const PATH: &'static str;
    /// What it is called in messages (`command centre`).
    const NAME: &'static str;
    type Id: Send + Sync;
    type Input: DeserializeOwned + Send;
    type Record: Serialize + Send;
    type Filter: DeserializeOwned + Send + Sync;
    /// What a list answers.
    type List: Serialize + Send;

    fn parse_id(text: &str) -> Result<Self::Id, String>;
    fn id_of(record: &Self::Record) -> String;
    fn revision(record: &Self::Record) -> i64;
    fn list(
        org: &Organisation,
        filter: &Self::Filter,
    ) -> impl Future<Output = Result<Self::List, OrgError>> + Send;
    fn create(
        org: &Organisation,
        input: Self::Input,
        now: UnixMs,
    ) -> impl Future<Output = Result<Self::Record, OrgError>> + Send;
    fn get(
        org: &Organisation,
        id: &Self::Id,
    ) -> impl Future<Output = Result<Self::Record, OrgError>> + Send;
    fn update(
        org: &Organisation,
        id: &Self::Id,
        input: Self::Input,
        now: UnixMs,
        expected: Option<i64>,
    ) -> impl Future<Output = Result<Self::Record, OrgError>> + Send;
    fn delete(
        org: &Organisation,
        id: &Self::Id,
    ) -> impl Future<Output = Result<(), OrgError>> + Send;
    fn import(
        org: &Organisation,
        text: &str,
        mode: ImportMode,
        now: UnixMs,
    ) -> impl Future<Output = Result<ImportReport, OrgError>> + Send;
    /// Where a record belongs (a unit: its centre's place).
    fn scope(
        org: &Organisation,
        record: &Self::Record,
    ) -> impl Future<Output = Result<OwnedScope, OrgError>> + Send;
    /// Where a record as sent would belong.
    fn input_scope(
        org: &Organisation,
        input: &Self::Input,
    ) -> impl Future<Output = Result<OwnedScope, OrgError>> + Send;
    /// Keeps the records of a list `caller` sees (the total then counts those of the
    /// page).
    fn narrow(
        org: &Organisation,
        list: &mut Self::List,
        caller: &Caller,
    ) -> impl Future<Output = Result<(), OrgError>> + Send;
}

fn place(district: Option<&str>, street: Option<&str>, enterprise: Option<&str>) -> OwnedScope {
    let clean = |v: Option<&str>| {
        v.map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    };
    OwnedScope {
        district: clean(district),
        street: clean(street),
        enterprise_id: clean(enterprise),
    }
}

/// Where a unit of centre `centre` belongs: the centre's place (an unknown centre: none).
async fn centre_scope(org: &Organisation, centre: &str) -> Result<OwnedScope, OrgError> {
    let Ok(id) = CentreId::parse(centre) else {
        return Ok(OwnedScope::default());
    };
    match org.get_centre(&id).await {
        Ok(c) => Ok(place(c.district.as_deref(), c.street.as_deref(), None)),
        Err(OrgError::NotFound { .. }) => Ok(OwnedScope::default()),
        Err(e) => Err(e),
    }
}

struct Centres;
struct Units;
struct Enterprises;

/// Every command centre matching the filter (a few dozen: not paginated).
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct CentreList {
    /// The centres, city first, then by id.
    items: Vec<CommandCentre>,
}

impl Resource for Centres {
    const PATH: &'static str = "centres";
    const NAME: &'static str = "command centre";
    type Id = CentreId;
    type Input = CentreInput;
    type Record = CommandCentre;
    type Filter = CentreFilter;
    type List = CentreList;

    fn parse_id(text: &str) -> Result<CentreId, String> {
        CentreId::parse(text)
    }
    fn id_of(record: &CommandCentre) -> String {
        record.id.to_string()
    }
    fn revision(record: &CommandCentre) -> i64 {
        record.revision
    }
    async fn list(org: &Organisation, filter: &CentreFilter) -> Result<CentreList, OrgError> {
        Ok(CentreList {
            items: org.list_centres(filter).await?,
        })
    }
    async fn create(
        org: &Organisation,
        input: CentreInput,
        now: UnixMs,
    ) -> Result<CommandCentre, OrgError> {
        org.create_centre(input, now).await
    }
    async fn get(org: &Organisation, id: &CentreId) -> Result<CommandCentre, OrgError> {
        org.get_centre(id).await
    }
    async fn update(
        org: &Organisation,
        id: &CentreId,
        input: CentreInput,
        now: UnixMs,
        expected: Option<i64>,
    ) -> Result<CommandCentre, OrgError> {
        org.update_centre(id, input, now, expected).await
    }
    async fn delete(org: &Organisation, id: &CentreId) -> Result<(), OrgError> {
        org.delete_centre(id).await
    }
    async fn import(
        org: &Organisation,
        text: &str,
        mode: ImportMode,
        now: UnixMs,
    ) -> Result<ImportReport, OrgError> {
        org.import_centres_json(text, "centres import", mode, now)
            .await
    }
    async fn scope(_: &Organisation, c: &CommandCentre) -> Result<OwnedScope, OrgError> {
        Ok(place(c.district.as_deref(), c.street.as_deref(), None))
    }
    async fn input_scope(_: &Organisation, c: &CentreInput) -> Result<OwnedScope, OrgError> {
        Ok(place(c.district.as_deref(), c.street.as_deref(), None))
    }
    async fn narrow(
        _: &Organisation,
        list: &mut CentreList,
        caller: &Caller,
    ) -> Result<(), OrgError> {
        list.items.retain(|c| {
            caller.sees(&place(c.district.as_deref(), c.street.as_deref(), None).scope())
        });
        Ok(())
    }
}

impl Resource for Units {
    const PATH: &'static str = "units";
    const NAME: &'static str = "unit";
    type Id = UnitId;
    type Input = UnitInput;
    type Record = Unit;
    type Filter = UnitFilter;
    type List = UnitPage;

    fn parse_id(text: &str) -> Result<UnitId, String> {
        UnitId::parse(text)
    }
    fn id_of(record: &Unit) -> String {
        record.id.to_string()
    }
    fn revision(record: &Unit) -> i64 {
        record.revision
    }
    async fn list(org: &Organisation, filter: &UnitFilter) -> Result<UnitPage, OrgError> {
        org.list_units(filter).await
    }
    async fn create(org: &Organisation, input: UnitInput, now: UnixMs) -> Result<Unit, OrgError> {
        org.create_unit(input, now).await
    }
    async fn get(org: &Organisation, id: &UnitId) -> Result<Unit, OrgError> {
        org.get_unit(id).await
    }
    async fn update(
        org: &Organisation,
        id: &UnitId,
        input: UnitInput,
        now: UnixMs,
        expected: Option<i64>,
    ) -> Result<Unit, OrgError> {
        org.update_unit(id, input, now, expected).await
    }
    async fn delete(org: &Organisation, id: &UnitId) -> Result<(), OrgError> {
        org.delete_unit(id).await
    }
    async fn import(
        org: &Organisation,
        text: &str,
        mode: ImportMode,
        now: UnixMs,
    ) -> Result<ImportReport, OrgError> {
        org.import_units_json(text, "units import", mode, now).await
    }
    async fn scope(org: &Organisation, u: &Unit) -> Result<OwnedScope, OrgError> {
        centre_scope(org, u.centre_id.as_str()).await
    }
    async fn input_scope(org: &Organisation, u: &UnitInput) -> Result<OwnedScope, OrgError> {
        centre_scope(org, u.centre_id.trim()).await
    }
    async fn narrow(
        org: &Organisation,
        list: &mut UnitPage,
        caller: &Caller,
    ) -> Result<(), OrgError> {
        if caller
            .jurisdiction()
            .is_ok_and(|j| *j == Jurisdiction::City)
        {
            return Ok(());
        }
        let centres = org.list_centres(&CentreFilter::default()).await?;
        list.items.retain(|u| {
            centres
                .iter()
                .find(|c| c.id == u.centre_id)
                .is_some_and(|c| {
                    caller.sees(&place(c.district.as_deref(), c.street.as_deref(), None).scope())
                })
        });
        list.total = list.items.len() as u64;
        Ok(())
    }
}

impl Resource for Enterprises {
    const PATH: &'static str = "enterprises";
    const NAME: &'static str = "enterprise";
    type Id = LedgerId;
    type Input = EnterpriseInput;
    type Record = Enterprise;
    type Filter = EnterpriseFilter;
    type List = EnterprisePage;

    fn parse_id(text: &str) -> Result<LedgerId, String> {
        LedgerId::parse(text)
    }
    fn id_of(record: &Enterprise) -> String {
        record.ledger_id.to_string()
    }
    fn revision(record: &Enterprise) -> i64 {
        record.revision
    }
    async fn list(
        org: &Organisation,
        filter: &EnterpriseFilter,
    ) -> Result<EnterprisePage, OrgError> {
        org.list_enterprises(filter).await
    }
    async fn create(
        org: &Organisation,
        input: EnterpriseInput,
        now: UnixMs,
    ) -> Result<Enterprise, OrgError> {
        org.create_enterprise(input, now).await
    }
    async fn get(org: &Organisation, id: &LedgerId) -> Result<Enterprise, OrgError> {
        org.get_enterprise(id).await
    }
    async fn update(
        org: &Organisation,
        id: &LedgerId,
        input: EnterpriseInput,
        now: UnixMs,
        expected: Option<i64>,
    ) -> Result<Enterprise, OrgError> {
        org.update_enterprise(id, input, now, expected).await
    }
    async fn delete(org: &Organisation, id: &LedgerId) -> Result<(), OrgError> {
        org.delete_enterprise(id).await
    }
    async fn import(
        org: &Organisation,
        text: &str,
        mode: ImportMode,
        now: UnixMs,
    ) -> Result<ImportReport, OrgError> {
        org.import_enterprises_json(text, "ledger import", mode, now)
            .await
    }
    async fn scope(_: &Organisation, e: &Enterprise) -> Result<OwnedScope, OrgError> {
        Ok(place(
            Some(&e.division.district),
            e.division.street.as_deref(),
            Some(e.ledger_id.as_str()),
        ))
    }
    async fn input_scope(_: &Organisation, e: &EnterpriseInput) -> Result<OwnedScope, OrgError> {
        Ok(place(
            Some(&e.division.district),
            e.division.street.as_deref(),
            e.ledger_id.as_deref(),
        ))
    }
    async fn narrow(
        _: &Organisation,
        list: &mut EnterprisePage,
        caller: &Caller,
    ) -> Result<(), OrgError> {
        if caller
            .jurisdiction()
            .is_ok_and(|j| *j == Jurisdiction::City)
        {
            return Ok(());
        }
        list.items.retain(|e| {
            caller.sees(
                &place(
                    Some(&e.division.district),
                    e.division.street.as_deref(),
                    Some(e.ledger_id.as_str()),
                )
                .scope(),
            )
        });
        list.total = list.items.len() as u64;
        Ok(())
    }
}

/// The organisation routes, nested under `/api/v1`.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(centres::router())
        .merge(units::router())
        .merge(enterprises::router())
        .routes(routes!(set_availability))
}

/// Defines module `$module`: the documented routes of one [`Resource`] (OpenAPI needs one
/// operation per concrete path, so each generic handler gets a thin wrapper here).
macro_rules! resource_routes {
    (
        $module:ident, $resource:ident, tag = $tag:tt, name = $name:tt, one = $one:tt,
        plural = $plural:tt,
        base = $base:tt, item = $item:tt, import = $import:tt,
        filter = $filter:ident, input = $input:ident, record = $record:ident, list = $list:ident
    ) => {
        mod $module {
            use super::*;

            #[utoipa::path(get, path = $base, operation_id = concat!("list_", $plural), tag = $tag,
                params($filter),
                responses(
                    (status = 200, description = "The matching records", body = $list),
                    (status = 400, description = "Unknown or malformed query parameter", body = ErrorBody),
                    (status = 422, description = "Invalid filter", body = ErrorBody),
                ))]
            async fn list(
                state: State<AppState>,
                caller: Caller,
                filter: Query<$filter>,
            ) -> Result<Json<$list>, ApiError> {
                super::list::<$resource>(state, caller, filter).await
            }

            #[utoipa::path(post, path = $base, operation_id = concat!("create_", $one), tag = $tag,
                request_body = $input,
                responses(
                    (status = 201, description = "Created; `Location` and `ETag` set", body = $record),
                    (status = 400, description = "Malformed JSON or unknown field", body = ErrorBody),
                    (status = 409, description = "The id (or scope) is taken", body = ErrorBody),
                    (status = 415, description = "Body not declared JSON", body = ErrorBody),
                    (status = 422, description = "Invalid values; each field named", body = ErrorBody),
                ))]
            async fn create(
                state: State<AppState>,
                caller: Caller,
                headers: HeaderMap,
                body: Bytes,
            ) -> Result<Response, ApiError> {
                super::create::<$resource>(state, caller, headers, body).await
            }

            #[utoipa::path(get, path = $item, operation_id = concat!("get_", $one), tag = $tag,
                params(("id" = String, Path, description = $name)),
                responses(
                    (status = 200, description = "The record; `ETag` is its revision", body = $record),
                    (status = 404, description = "No such record", body = ErrorBody),
                ))]
            async fn one(
                state: State<AppState>,
                caller: Caller,
                id: Path<String>,
            ) -> Result<Response, ApiError> {
                super::one::<$resource>(state, caller, id).await
            }

            #[utoipa::path(put, path = $item, operation_id = concat!("replace_", $one), tag = $tag,
                params(("id" = String, Path, description = $name),
                    ("if-match" = Option<String>, Header, description = "The revision replaced, `\"<n>\"`")),
                request_body = $input,
                responses(
                    (status = 200, description = "Replaced; `ETag` is the new revision", body = $record),
                    (status = 404, description = "No such record", body = ErrorBody),
                    (status = 412, description = "`If-Match` names another revision", body = ErrorBody),
                    (status = 422, description = "Invalid values; each field named", body = ErrorBody),
                ))]
            async fn replace(
                state: State<AppState>,
                caller: Caller,
                id: Path<String>,
                headers: HeaderMap,
                body: Bytes,
            ) -> Result<Response, ApiError> {
                super::replace::<$resource>(state, caller, id, headers, body).await
            }

            #[utoipa::path(delete, path = $item, operation_id = concat!("delete_", $one), tag = $tag,
                params(("id" = String, Path, description = $name)),
                responses(
                    (status = 204, description = "Deleted"),
                    (status = 404, description = "No such record", body = ErrorBody),
                    (status = 409, description = "`in_use`: other records refer to it", body = ErrorBody),
                ))]
            async fn remove(
                state: State<AppState>,
                caller: Caller,
                id: Path<String>,
            ) -> Result<StatusCode, ApiError> {
                super::remove::<$resource>(state, caller, id).await
            }

            #[utoipa::path(post, path = $import, operation_id = concat!("import_", $plural), tag = $tag,
                params(ImportQuery),
                request_body = Vec<$input>,
                responses(
                    (status = 200, description = "What landed and each bad element", body = ImportReport),
                    (status = 400, description = "Not UTF-8, or not a JSON array", body = ErrorBody),
                    (status = 413, description = "Larger than 16 MiB"),
                    (status = 415, description = "Body not declared JSON", body = ErrorBody),
                ))]
            async fn import(
                state: State<AppState>,
                caller: Caller,
                query: Query<ImportQuery>,
                headers: HeaderMap,
                body: Bytes,
            ) -> Result<Json<ImportReport>, ApiError> {
                super::import::<$resource>(state, caller, query, headers, body).await
            }

            pub(super) fn router() -> OpenApiRouter<AppState> {
                let (schemas, paths, import) = routes!(import);
                OpenApiRouter::new()
                    .routes(routes!(list, create))
                    .routes((
                        schemas,
                        paths,
                        import.layer(DefaultBodyLimit::max(IMPORT_LIMIT)),
                    ))
                    .routes(routes!(one, replace, remove))
            }
        }
    };
}

resource_routes!(
    centres,
    Centres,
    tag = "organisation",
    name = "Command centre id",
    one = "centre",
    plural = "centres",
    base = "/centres",
    item = "/centres/{id}",
    import = "/centres/import",
    filter = CentreFilter,
    input = CentreInput,
    record = CommandCentre,
    list = CentreList
);
resource_routes!(
    units,
    Units,
    tag = "organisation",
    name = "Unit id",
    one = "unit",
    plural = "units",
    base = "/units",
    item = "/units/{id}",
    import = "/units/import",
    filter = UnitFilter,
    input = UnitInput,
    record = Unit,
    list = UnitPage
);
resource_routes!(
    enterprises,
    Enterprises,
    tag = "organisation",
    name = "Enterprise ledger id",
    one = "enterprise",
    plural = "enterprises",
    base = "/enterprises",
    item = "/enterprises/{id}",
    import = "/enterprises/import",
    filter = EnterpriseFilter,
    input = EnterpriseInput,
    record = Enterprise,
    list = EnterprisePage
);

fn org(state: &AppState) -> Result<&Organisation, ApiError> {
    state
        .org
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("the organisation store is not open".into()))
}

fn id<R: Resource>(text: &str) -> Result<R::Id, ApiError> {
    R::parse_id(text).map_err(|e| ApiError::NotFound(format!("no {} {text:?}: {e}", R::NAME)))
}

fn with_etag<R: Resource>(status: StatusCode, record: R::Record) -> Response {
    let tag = etag(R::revision(&record));
    let location = HeaderValue::from_str(&format!("/api/v1/{}/{}", R::PATH, R::id_of(&record)));
    let mut response = (status, Json(record)).into_response();
    response.headers_mut().insert(header::ETAG, tag);
    if status == StatusCode::CREATED
        && let Ok(location) = location
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

async fn list<R: Resource>(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<R::Filter>,
) -> Result<Json<R::List>, ApiError> {
    let org = org(&state)?;
    let mut list = R::list(org, &filter).await?;
    R::narrow(org, &mut list, &caller).await?;
    Ok(Json(list))
}

/// The record `text` names if `caller` may do `action` on it (404, 403).
async fn visible<R: Resource>(
    org: &Organisation,
    caller: &Caller,
    action: Action,
    text: &str,
) -> Result<(R::Id, R::Record), ApiError> {
    let id = id::<R>(text)?;
    let record = R::get(org, &id).await?;
    let scope = R::scope(org, &record).await?;
    caller.require(action, &scope.scope(), &format!("{} {text:?}", R::NAME))?;
    Ok((id, record))
}

async fn audited<R: Resource>(
    state: &AppState,
    caller: &Caller,
    id: &str,
    change: &str,
) -> Result<(), ApiError> {
    audit(
        state,
        caller,
        AuditAction::OrgChanged,
        &format!("{}/{id}", R::PATH),
        &[("change", change.into())],
    )
    .await
}

async fn create<R: Resource>(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let org = org(&state)?;
    let input: R::Input = json_body(&headers, &body)?;
    let scope = R::input_scope(org, &input).await?;
    caller.require(
        Action::ManageOrg,
        &scope.scope(),
        &format!("the {}", R::NAME),
    )?;
    let record = R::create(org, input, now_ms()).await?;
    audited::<R>(&state, &caller, &R::id_of(&record), "created").await?;
    Ok(with_etag::<R>(StatusCode::CREATED, record))
}

async fn one<R: Resource>(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
) -> Result<Response, ApiError> {
    let (_, record) = visible::<R>(org(&state)?, &caller, Action::View, &text).await?;
    Ok(with_etag::<R>(StatusCode::OK, record))
}

async fn replace<R: Resource>(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let org = org(&state)?;
    let (id, _) = visible::<R>(org, &caller, Action::ManageOrg, &text).await?;
    let expected = if_match(&headers)?;
    let input: R::Input = json_body(&headers, &body)?;
    let scope = R::input_scope(org, &input).await?;
    caller.require(
        Action::ManageOrg,
        &scope.scope(),
        &format!("the {}'s new place", R::NAME),
    )?;
    let record = R::update(org, &id, input, now_ms(), expected).await?;
    audited::<R>(&state, &caller, &text, "replaced").await?;
    Ok(with_etag::<R>(StatusCode::OK, record))
}

async fn remove<R: Resource>(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
) -> Result<StatusCode, ApiError> {
    let org = org(&state)?;
    let (id, _) = visible::<R>(org, &caller, Action::ManageOrg, &text).await?;
    R::delete(org, &id).await?;
    audited::<R>(&state, &caller, &text, "deleted").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How an import treats ids that exist.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    /// `create` (default: an existing id is an error for that element), `upsert` or `skip`.
    #[serde(default)]
    mode: Option<ImportMode>,
}

async fn import<R: Resource>(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ImportQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ImportReport>, ApiError> {
    // A ledger import spans districts: the city's managers run it.
    if *caller.jurisdiction()? != Jurisdiction::City {
        return Err(ApiError::Forbidden(
            "imports of the organisation are run by the city".into(),
        ));
    }
    crate::cameras::require_json(&headers)?;
    let text = std::str::from_utf8(&body)
        .map_err(|e| ApiError::BadRequest(format!("the import is not UTF-8: {e}")))?;
    let report = R::import(org(&state)?, text, query.mode.unwrap_or_default(), now_ms()).await?;
    audited::<R>(&state, &caller, "import", "imported").await?;
    Ok(Json(report))
}

/// A unit's new availability.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AvailabilityBody {
    /// Available, dispatched, off duty, ...
    availability: Availability,
}

/// Set a unit's availability (the duty desk's board).
#[utoipa::path(put, path = "/units/{id}/availability", operation_id = "set_unit_availability", tag = "organisation",
    params(("id" = String, Path, description = "Unit id")),
    request_body = AvailabilityBody,
    responses(
        (status = 200, description = "The unit; `ETag` is its new revision", body = Unit),
        (status = 404, description = "No such unit", body = ErrorBody),
        (status = 422, description = "Invalid value", body = ErrorBody),
    ))]
async fn set_availability(
    State(state): State<AppState>,
    caller: Caller,
    Path(text): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (id, _) = visible::<Units>(org(&state)?, &caller, Action::Dispatch, &text).await?;
    let body: AvailabilityBody = json_body(&headers, &body)?;
    let unit = org(&state)?
        .set_availability(&id, body.availability, now_ms())
        .await?;
    Ok(with_etag::<Units>(StatusCode::OK, unit))
}
