//! The inventory's storage: one [`Inventory`] over the command [`Database`].
//!
//! Every query is written once, with `$N` placeholders, and run on the SQLite or the
//! PostgreSQL pool by [`watchpost_command::on_db!`], which expands the same body for both. Values travel as
//! `TEXT`, `BIGINT`, `DOUBLE PRECISION` and `BOOLEAN`, which both backends decode into
//! `String`, `i64`, `f64` and `bool`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use watchpost_command::storage::sql::{
    Conditions, Page, RecordReader, RowRead, begin_write, fetch_optional, like_pattern,
};
use watchpost_command::storage::{Arg, EmbeddedMigration};
use watchpost_command::{Database, bind_args, on_db};

use super::cipher::CredentialCipher;
use super::import::{ImportMode, ImportReport, ImportRow, RowError};
use super::model::{
    Camera, CameraId, CameraInput, Credentials, CredentialsChange, Division, FieldError,
    MAX_CAMERA_NUMBER, Position, SiteCategory, ValidCamera, parse_transport, transport_name,
};
use super::{InventoryError, import};

/// Page size of [`Inventory::list`] when the filter sets none.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest page size of [`Inventory::list`].
pub const MAX_LIMIT: u32 = 1000;

/// The inventory's migrations: (version, description, SQL), in version order. The files
/// live in `devices/migrations/` (`<version>_<description>.sql`, sqlx's naming); a unit
/// test checks that this list and the folder agree. Never edit an applied migration:
/// sqlx stores its checksum and refuses to start when it changes.
pub(crate) const MIGRATIONS: &[EmbeddedMigration] = &[
    (
        2026112901,
        "camera inventory",
        include_str!("../../migrations/2026112901_camera_inventory.sql"),
    ),
    (
        2026112902,
        "camera position index",
        include_str!("../../migrations/2026112902_camera_position_index.sql"),
    ),
    (
        2026112903,
        "camera number",
        include_str!("../../migrations/2026112903_camera_number.sql"),
    ),
];

/// The PostgreSQL advisory lock (`pg_advisory_xact_lock`) that every inventory write
/// choosing or changing a camera number holds until its transaction ends, so that
/// "highest number + 1" is computed and inserted by one writer at a time (the ASCII of
/// `WPNUMBER`). SQLite needs none: its write transactions are `BEGIN IMMEDIATE`.
pub const NUMBER_LOCK: i64 = 0x5750_4E55_4D42_4552;

/// The next free camera number when numbers below [`MAX_CAMERA_NUMBER`] remain above the
/// highest in use: highest + 1 (1 for an empty inventory).
const NEXT_NUMBER: &str = "SELECT CAST(COALESCE(MAX(number), 0) + 1 AS BIGINT) AS n FROM cameras";

/// The lowest free camera number (used once [`MAX_CAMERA_NUMBER`] is taken): 1, or the
/// lowest number in use whose successor is free, plus one. Above
/// [`MAX_CAMERA_NUMBER`] when every number is taken.
const LOWEST_FREE_NUMBER: &str = "SELECT CAST(CASE \
     WHEN NOT EXISTS (SELECT 1 FROM cameras WHERE number = 1) THEN 1 \
     ELSE (SELECT MIN(c.number) + 1 FROM cameras c \
           WHERE NOT EXISTS (SELECT 1 FROM cameras d WHERE d.number = c.number + 1)) \
     END AS BIGINT) AS n";

/// The camera other than `$2` holding number `$1`.
const NUMBER_HOLDER: &str = "SELECT id FROM cameras WHERE number = $1 AND id <> $2";

/// Whether `e` is the unique index `cameras_number` refusing a write.
fn is_number_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            d.is_unique_violation()
                && (d.constraint() == Some("cameras_number")
                    || d.message().contains("cameras.number"))
        }
        _ => false,
    }
}

/// The columns a [`Camera`] is read from.
const SELECT: &str = "SELECT id, number, name, category, enterprise_id, district, street, lon, lat, \
     vendor, model, firmware, onvif_url, main_url, sub_url, transport, \
     credentials IS NOT NULL AS credentials_set, tags, enabled, created_ms, updated_ms, \
     revision FROM cameras";

/// Which cameras [`Inventory::list`] returns. Every set field must match (AND); unset
/// fields match everything. Deserializes from a query string
/// (`?district=North&tag=night&limit=50`); unknown keys are errors.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, deny_unknown_fields)]
pub struct CameraFilter {
    /// District, exact.
    pub district: Option<String>,
    /// Street, exact.
    pub street: Option<String>,
    /// Site category.
    pub category: Option<SiteCategory>,
    /// Enterprise id, exact.
    pub enterprise_id: Option<String>,
    /// Cameras carrying this tag.
    pub tag: Option<String>,
    /// Enabled or disabled cameras.
    pub enabled: Option<bool>,
    /// Substring of the name (case-insensitive for ASCII letters) or of the id.
    pub q: Option<String>,
    /// Bounding box, WGS-84 degrees (all four or none): only cameras with a position
    /// inside it, edges included.
    pub min_lon: Option<f64>,
    /// See [`CameraFilter::min_lon`].
    pub min_lat: Option<f64>,
    /// See [`CameraFilter::min_lon`].
    pub max_lon: Option<f64>,
    /// See [`CameraFilter::min_lon`].
    pub max_lat: Option<f64>,
    /// Page size, 0 to [`MAX_LIMIT`]; default [`DEFAULT_LIMIT`].
    pub limit: Option<u32>,
    /// Cameras to skip (ordered by id); default 0.
    pub offset: Option<u64>,
}

/// The filter's bounding box `[min_lon, min_lat, max_lon, max_lat]`, if it has one; all
/// four bounds or none, finite, in range, minimum not above maximum.
fn bounding_box(filter: &CameraFilter) -> Result<Option<[f64; 4]>, InventoryError> {
    let named = [
        ("min_lon", filter.min_lon, 180.0),
        ("min_lat", filter.min_lat, 90.0),
        ("max_lon", filter.max_lon, 180.0),
        ("max_lat", filter.max_lat, 90.0),
    ];
    if named.iter().all(|(_, v, _)| v.is_none()) {
        return Ok(None);
    }
    let mut errors = Vec::new();
    let mut values = [0.0; 4];
    for (i, (field, value, limit)) in named.into_iter().enumerate() {
        match value {
            None => errors.push(FieldError::new(
                field,
                "a bounding box needs min_lon, min_lat, max_lon and max_lat",
            )),
            Some(v) if !v.is_finite() || v.abs() > limit => errors.push(FieldError::new(
                field,
                format!("must be between -{limit} and {limit} degrees"),
            )),
            Some(v) => values[i] = v,
        }
    }
    if errors.is_empty() {
        if values[0] > values[2] {
            errors.push(FieldError::new("min_lon", "must not be above max_lon"));
        }
        if values[1] > values[3] {
            errors.push(FieldError::new("min_lat", "must not be above max_lat"));
        }
    }
    if errors.is_empty() {
        Ok(Some(values))
    } else {
        Err(InventoryError::Invalid { errors })
    }
}

/// One page of [`Inventory::list`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CameraPage {
    /// The cameras of this page, ordered by id.
    pub items: Vec<Camera>,
    /// How many cameras match the filter in all.
    pub total: u64,
}

/// The camera inventory. Cheap to clone (a pool handle and a key); `Debug` shows the
/// database's redacted URL, never the key.
#[derive(Clone)]
pub struct Inventory {
    db: Database,
    cipher: CredentialCipher,
}

impl std::fmt::Debug for Inventory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inventory")
            .field("database", &self.db.redacted_url())
            .field("cipher", &self.cipher)
            .finish()
    }
}

/// The written form of a [`ValidCamera`]'s columns, in `INSERT` order (after `id`).
fn data_args(v: &ValidCamera) -> Vec<Arg> {
    vec![
        Arg::Text(Some(v.name.clone())),
        Arg::Text(Some(v.category.as_str().to_owned())),
        Arg::Text(v.enterprise_id.clone()),
        Arg::Text(Some(v.division.district.clone())),
        Arg::Text(v.division.street.clone()),
        Arg::Real(v.position.map(|p| p.lon)),
        Arg::Real(v.position.map(|p| p.lat)),
        Arg::Text(v.vendor.clone()),
        Arg::Text(v.model.clone()),
        Arg::Text(v.firmware.clone()),
        Arg::Text(v.onvif_url.clone()),
        Arg::Text(v.main_url.clone()),
        Arg::Text(v.sub_url.clone()),
        Arg::Text(Some(transport_name(v.transport).to_owned())),
        Arg::Text(Some(tags_json(&v.tags))),
        Arg::Bool(v.enabled),
    ]
}

/// The data columns, in [`data_args`] order.
const DATA_COLUMNS: [&str; 16] = [
    "name",
    "category",
    "enterprise_id",
    "district",
    "street",
    "lon",
    "lat",
    "vendor",
    "model",
    "firmware",
    "onvif_url",
    "main_url",
    "sub_url",
    "transport",
    "tags",
    "enabled",
];

fn tags_json(tags: &[String]) -> String {
    // A list of strings always serializes.
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".to_owned())
}

impl Inventory {
    /// Opens the inventory on `db`, creating or upgrading its tables (see the module
    /// documentation on migrations).
    pub async fn open(db: Database, cipher: CredentialCipher) -> Result<Inventory, InventoryError> {
        let url = db.redacted_url().to_owned();
        let migrate_err = |source| InventoryError::Migrate {
            url: url.clone(),
            source,
        };
        watchpost_command::storage::migrate(&db, MIGRATIONS)
            .await
            .map_err(migrate_err)?;
        Ok(Inventory { db, cipher })
    }

    /// The database handle.
    pub fn database(&self) -> &Database {
        &self.db
    }

    fn db_err(&self, action: impl Into<String>) -> impl FnOnce(sqlx::Error) -> InventoryError {
        let url = self.db.redacted_url().to_owned();
        let action = action.into();
        move |source| InventoryError::Database {
            action,
            url,
            source,
        }
    }

    /// The statement taking [`NUMBER_LOCK`] on PostgreSQL; `None` on SQLite, whose write
    /// transactions already exclude each other.
    fn number_lock(&self) -> Option<&'static str> {
        match self.db {
            Database::Sqlite { .. } => None,
            Database::Postgres { .. } => Some("SELECT pg_advisory_xact_lock($1)"),
        }
    }

    /// Creates a camera at time `now_ms` (Unix milliseconds), with revision 1.
    ///
    /// The id is generated when the input has none; so is the number (see the module
    /// documentation, *Camera numbers*). Errors: [`InventoryError::Invalid`] (every field
    /// problem; `number` when every number is taken), [`InventoryError::Conflict`] when
    /// the id exists, [`InventoryError::NumberTaken`] when another camera has the number.
    pub async fn create(&self, input: CameraInput, now_ms: i64) -> Result<Camera, InventoryError> {
        let valid = input
            .validate()
            .map_err(|errors| InventoryError::Invalid { errors })?;
        self.create_valid(valid, now_ms).await
    }

    async fn create_valid(
        &self,
        valid: ValidCamera,
        now_ms: i64,
    ) -> Result<Camera, InventoryError> {
        let generated = valid.id.is_none();
        // A generated id colliding (48 random bits) is retried with a fresh one; so is an
        // assigned number that a writer outside the inventory's locking took first.
        let mut attempts = 0;
        loop {
            let id = match &valid.id {
                Some(id) => id.clone(),
                None => CameraId::generate()?,
            };
            match self.insert(&id, &valid, now_ms).await {
                Err(InventoryError::Conflict { .. }) if generated && attempts < 3 => {
                    attempts += 1;
                }
                Err(InventoryError::NumberTaken { holder: None, .. })
                    if valid.number.is_none() && attempts < 3 =>
                {
                    attempts += 1;
                }
                Ok(camera) => {
                    tracing::info!(camera = %camera.id, "camera created");
                    tracing::debug!(camera = %camera.id, input = ?valid, "camera created");
                    return Ok(camera);
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn insert(
        &self,
        id: &CameraId,
        valid: &ValidCamera,
        now_ms: i64,
    ) -> Result<Camera, InventoryError> {
        let sealed = match &valid.credentials {
            CredentialsChange::Set(c) => Some(self.cipher.seal(id, c)?),
            CredentialsChange::Keep | CredentialsChange::Clear => None,
        };
        let credentials_set = sealed.is_some();
        let mut args = vec![Arg::Text(Some(id.to_string()))];
        args.extend(data_args(valid));
        args.extend([
            Arg::Text(sealed),
            Arg::Int(now_ms),
            Arg::Int(now_ms),
            Arg::Int(1),
        ]);
        let columns = format!(
            "id, {}, credentials, created_ms, updated_ms, revision, number",
            DATA_COLUMNS.join(", ")
        );
        let placeholders: Vec<String> = (1..=args.len() + 1).map(|i| format!("${i}")).collect();
        let sql = format!(
            "INSERT INTO cameras ({columns}) VALUES ({}) ON CONFLICT (id) DO NOTHING",
            placeholders.join(", ")
        );
        let action = format!("creating camera {id}");
        let lock = self.number_lock();
        let (inserted, number) = on_db!(&self.db, pool => {
            let mut tx = pool
                .begin_with(begin_write(&self.db))
                .await
                .map_err(self.db_err(&action))?;
            if let Some(lock) = lock {
                sqlx::query(lock)
                    .bind(NUMBER_LOCK)
                    .execute(&mut *tx)
                    .await
                    .map_err(self.db_err(&action))?;
            }
            let number = match valid.number {
                Some(number) => {
                    let holder = sqlx::query(NUMBER_HOLDER)
                        .bind(i64::from(number))
                        .bind(id.as_str())
                        .fetch_optional(&mut *tx)
                        .await
                        .and_then(|row| row.map(|r| r.text("id")).transpose())
                        .map_err(self.db_err(&action))?;
                    if let Some(holder) = holder {
                        return Err(InventoryError::NumberTaken {
                            number,
                            holder: CameraId::parse(&holder).ok(),
                        });
                    }
                    number
                }
                None => {
                    let mut next = sqlx::query(NEXT_NUMBER)
                        .fetch_one(&mut *tx)
                        .await
                        .and_then(|row| row.int("n"))
                        .map_err(self.db_err(&action))?;
                    if next > i64::from(MAX_CAMERA_NUMBER) {
                        next = sqlx::query(LOWEST_FREE_NUMBER)
                            .fetch_one(&mut *tx)
                            .await
                            .and_then(|row| row.int("n"))
                            .map_err(self.db_err(&action))?;
                    }
                    match u32::try_from(next) {
                        Ok(n) if (1..=MAX_CAMERA_NUMBER).contains(&n) => n,
                        _ => {
                            return Err(InventoryError::Invalid {
                                errors: vec![FieldError::new(
                                    "number",
                                    format!(
                                        "every camera number from 1 to {MAX_CAMERA_NUMBER} is \
                                         in use: free one by deleting or renumbering a camera"
                                    ),
                                )],
                            });
                        }
                    }
                }
            };
            let done = match bind_args!(sqlx::query(&sql), args)
                .bind(i64::from(number))
                .execute(&mut *tx)
                .await
            {
                Err(e) if is_number_violation(&e) => {
                    return Err(InventoryError::NumberTaken {
                        number,
                        holder: None,
                    });
                }
                done => done.map_err(self.db_err(&action))?,
            };
            if done.rows_affected() == 1 {
                for tag in &valid.tags {
                    sqlx::query("INSERT INTO camera_tags (camera_id, tag) VALUES ($1, $2)")
                        .bind(id.as_str())
                        .bind(tag.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(self.db_err(&action))?;
                }
                tx.commit().await.map_err(self.db_err(&action))?;
                (true, number)
            } else {
                (false, number)
            }
        });
        if !inserted {
            return Err(InventoryError::Conflict { id: id.clone() });
        }
        Ok(Camera {
            id: id.clone(),
            number,
            name: valid.name.clone(),
            category: valid.category,
            enterprise_id: valid.enterprise_id.clone(),
            division: valid.division.clone(),
            position: valid.position,
            vendor: valid.vendor.clone(),
            model: valid.model.clone(),
            firmware: valid.firmware.clone(),
            onvif_url: valid.onvif_url.clone(),
            main_url: valid.main_url.clone(),
            sub_url: valid.sub_url.clone(),
            transport: valid.transport,
            credentials_set,
            tags: valid.tags.clone(),
            enabled: valid.enabled,
            created_ms: now_ms,
            updated_ms: now_ms,
            revision: 1,
        })
    }

    /// The camera with this id, or [`InventoryError::NotFound`].
    pub async fn get(&self, id: &CameraId) -> Result<Camera, InventoryError> {
        let sql = format!("{SELECT} WHERE id = $1");
        let action = format!("reading camera {id}");
        let camera = fetch_optional(
            &self.db,
            &sql,
            vec![Arg::Text(Some(id.as_str().to_owned()))],
            camera_from_row,
            self.db_err(&action),
        )
        .await?;
        camera.ok_or_else(|| InventoryError::NotFound { id: id.clone() })
    }

    /// The cameras matching `filter`, ordered by id, one page at a time, with the total.
    ///
    /// A `limit` above [`MAX_LIMIT`] is an [`InventoryError::Invalid`] naming `limit`.
    pub async fn list(&self, filter: &CameraFilter) -> Result<CameraPage, InventoryError> {
        let page =
            Page::new(filter.limit, filter.offset, DEFAULT_LIMIT, MAX_LIMIT).map_err(|reason| {
                InventoryError::Invalid {
                    errors: vec![FieldError::new("limit", reason)],
                }
            })?;

        let mut w = Conditions::default();
        if let Some([min_lon, min_lat, max_lon, max_lat]) = bounding_box(filter)? {
            w.add("lon >= ?", Arg::Real(Some(min_lon)));
            w.add("lon <= ?", Arg::Real(Some(max_lon)));
            w.add("lat >= ?", Arg::Real(Some(min_lat)));
            w.add("lat <= ?", Arg::Real(Some(max_lat)));
        }
        if let Some(d) = &filter.district {
            w.add("district = ?", Arg::Text(Some(d.clone())));
        }
        if let Some(s) = &filter.street {
            w.add("street = ?", Arg::Text(Some(s.clone())));
        }
        if let Some(c) = filter.category {
            w.add("category = ?", Arg::Text(Some(c.as_str().to_owned())));
        }
        if let Some(e) = &filter.enterprise_id {
            w.add("enterprise_id = ?", Arg::Text(Some(e.clone())));
        }
        if let Some(t) = &filter.tag {
            w.add(
                "EXISTS (SELECT 1 FROM camera_tags t WHERE t.camera_id = cameras.id AND t.tag = ?)",
                Arg::Text(Some(t.trim().to_owned())),
            );
        }
        if let Some(e) = filter.enabled {
            w.add("enabled = ?", Arg::Bool(e));
        }
        if let Some(pattern) = like_pattern(filter.q.as_deref()) {
            w.add(
                "(LOWER(name) LIKE ? ESCAPE '\\' OR id LIKE ? ESCAPE '\\')",
                Arg::Text(Some(pattern)),
            );
        }
        let count_sql = format!("SELECT COUNT(*) AS n FROM cameras{}", w.sql());
        let (page_sql, page_args) =
            page.apply(&format!("{SELECT}{} ORDER BY id", w.sql()), w.args());
        let args = w.args().to_vec();

        let action = "listing cameras";
        let (total, items) = on_db!(&self.db, pool => {
            let total: i64 = bind_args!(sqlx::query(&count_sql), args)
                .fetch_one(pool)
                .await
                .and_then(|row| row.int("n"))
                .map_err(self.db_err(action))?;
            let rows = bind_args!(sqlx::query(&page_sql), page_args)
                .fetch_all(pool)
                .await
                .map_err(self.db_err(action))?;
            let items = rows.iter().map(|r| camera_from_row(r)).collect::<Result<Vec<_>, _>>()?;
            (total, items)
        });
        Ok(CameraPage {
            items,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    /// Replaces camera `id` with `input` at time `now_ms` and bumps its revision.
    ///
    /// Credentials follow `input.credentials` (absent: kept; see [`CredentialsChange`]);
    /// the number follows `input.number` (absent: kept; another camera's:
    /// [`InventoryError::NumberTaken`]).
    /// `input.id` must be absent or equal to `id`: a camera's id never changes. With
    /// `expected_revision`, the update happens only if the stored revision equals it
    /// ([`InventoryError::PreconditionFailed`] otherwise). Errors also:
    /// [`InventoryError::Invalid`], [`InventoryError::NotFound`].
    pub async fn update(
        &self,
        id: &CameraId,
        input: CameraInput,
        now_ms: i64,
        expected_revision: Option<i64>,
    ) -> Result<Camera, InventoryError> {
        let mut result = input.validate();
        if let Some(given) = input.id.as_deref().map(str::trim).filter(|s| !s.is_empty())
            && given != id.as_str()
        {
            let error = FieldError::new(
                "id",
                format!(
                    "does not match the camera being updated ({id}): a camera's id never changes"
                ),
            );
            match &mut result {
                Ok(_) => result = Err(vec![error]),
                Err(errors) => errors.insert(0, error),
            }
        }
        let valid = result.map_err(|errors| InventoryError::Invalid { errors })?;
        let camera = self
            .update_valid(id, &valid, now_ms, expected_revision)
            .await?;
        tracing::info!(camera = %id, revision = camera.revision, "camera updated");
        tracing::debug!(camera = %id, input = ?valid, "camera updated");
        Ok(camera)
    }

    async fn update_valid(
        &self,
        id: &CameraId,
        valid: &ValidCamera,
        now_ms: i64,
        expected_revision: Option<i64>,
    ) -> Result<Camera, InventoryError> {
        let mut args = vec![Arg::Text(Some(id.to_string()))];
        args.extend(data_args(valid));
        let mut sets: Vec<String> = DATA_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", i + 2))
            .collect();
        match &valid.credentials {
            CredentialsChange::Keep => {}
            CredentialsChange::Clear => {
                args.push(Arg::Text(None));
                sets.push(format!("credentials = ${}", args.len()));
            }
            CredentialsChange::Set(c) => {
                args.push(Arg::Text(Some(self.cipher.seal(id, c)?)));
                sets.push(format!("credentials = ${}", args.len()));
            }
        }
        if let Some(number) = valid.number {
            args.push(Arg::Int(i64::from(number)));
            sets.push(format!("number = ${}", args.len()));
        }
        args.push(Arg::Int(now_ms));
        sets.push(format!("updated_ms = ${}", args.len()));
        sets.push("revision = revision + 1".to_owned());
        let mut sql = format!("UPDATE cameras SET {} WHERE id = $1", sets.join(", "));
        if let Some(revision) = expected_revision {
            args.push(Arg::Int(revision));
            sql.push_str(&format!(" AND revision = ${}", args.len()));
        }
        let select = format!("{SELECT} WHERE id = $1");
        let action = format!("updating camera {id}");

        enum Outcome {
            Updated(Box<Camera>),
            Missing,
            Revision(i64),
        }
        let lock = self.number_lock().filter(|_| valid.number.is_some());
        let outcome = on_db!(&self.db, pool => {
            let mut tx = pool
                .begin_with(begin_write(&self.db))
                .await
                .map_err(self.db_err(&action))?;
            if let Some(number) = valid.number {
                if let Some(lock) = lock {
                    sqlx::query(lock)
                        .bind(NUMBER_LOCK)
                        .execute(&mut *tx)
                        .await
                        .map_err(self.db_err(&action))?;
                }
                let holder = sqlx::query(NUMBER_HOLDER)
                    .bind(i64::from(number))
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .and_then(|row| row.map(|r| r.text("id")).transpose())
                    .map_err(self.db_err(&action))?;
                if let Some(holder) = holder {
                    return Err(InventoryError::NumberTaken {
                        number,
                        holder: CameraId::parse(&holder).ok(),
                    });
                }
            }
            let done = match bind_args!(sqlx::query(&sql), args)
                .execute(&mut *tx)
                .await
            {
                Err(e) if is_number_violation(&e) => {
                    return Err(InventoryError::NumberTaken {
                        number: valid.number.unwrap_or_default(),
                        holder: None,
                    });
                }
                done => done.map_err(self.db_err(&action))?,
            };
            if done.rows_affected() == 0 {
                let row = sqlx::query("SELECT revision FROM cameras WHERE id = $1")
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(self.db_err(&action))?;
                match row {
                    None => Outcome::Missing,
                    Some(row) => Outcome::Revision(
                        row.int("revision").map_err(self.db_err(&action))?,
                    ),
                }
            } else {
                sqlx::query("DELETE FROM camera_tags WHERE camera_id = $1")
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(self.db_err(&action))?;
                for tag in &valid.tags {
                    sqlx::query("INSERT INTO camera_tags (camera_id, tag) VALUES ($1, $2)")
                        .bind(id.as_str())
                        .bind(tag.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(self.db_err(&action))?;
                }
                let row = sqlx::query(&select)
                    .bind(id.as_str())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(self.db_err(&action))?;
                let camera = camera_from_row(&row)?;
                tx.commit().await.map_err(self.db_err(&action))?;
                Outcome::Updated(Box::new(camera))
            }
        });
        match outcome {
            Outcome::Updated(camera) => Ok(*camera),
            Outcome::Missing => Err(InventoryError::NotFound { id: id.clone() }),
            Outcome::Revision(actual) => Err(InventoryError::PreconditionFailed {
                id: id.clone(),
                expected: expected_revision.unwrap_or(actual),
                actual,
            }),
        }
    }

    /// Deletes camera `id` (and its tags and credentials), or [`InventoryError::NotFound`].
    pub async fn delete(&self, id: &CameraId) -> Result<(), InventoryError> {
        let action = format!("deleting camera {id}");
        let deleted = on_db!(&self.db, pool => {
            let mut tx = pool
                .begin_with(begin_write(&self.db))
                .await
                .map_err(self.db_err(&action))?;
            sqlx::query("DELETE FROM camera_tags WHERE camera_id = $1")
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(self.db_err(&action))?;
            let done = sqlx::query("DELETE FROM cameras WHERE id = $1")
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(self.db_err(&action))?;
            tx.commit().await.map_err(self.db_err(&action))?;
            done.rows_affected() > 0
        });
        if deleted {
            tracing::info!(camera = %id, "camera deleted");
            Ok(())
        } else {
            Err(InventoryError::NotFound { id: id.clone() })
        }
    }

    /// The camera's credentials, decrypted, or `None` when none are stored. For the code
    /// that dials the camera (stream hub, ONVIF client) only: never put them in an answer
    /// or a log. Errors: [`InventoryError::NotFound`], [`InventoryError::Decrypt`] (wrong
    /// key, or a value copied from another camera).
    pub async fn credentials(&self, id: &CameraId) -> Result<Option<Credentials>, InventoryError> {
        let action = format!("reading the credentials of camera {id}");
        let sealed: Option<Option<String>> = on_db!(&self.db, pool => {
            let row = sqlx::query("SELECT credentials FROM cameras WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(pool)
                .await
                .map_err(self.db_err(&action))?;
            match row {
                None => None,
                Some(row) => Some(row.opt_text("credentials").map_err(self.db_err(&action))?),
            }
        });
        match sealed {
            None => Err(InventoryError::NotFound { id: id.clone() }),
            Some(None) => Ok(None),
            Some(Some(sealed)) => self.cipher.open(id, &sealed).map(Some),
        }
    }

    /// Every enabled camera, ordered by id (what the stream hub serves).
    pub async fn all_enabled(&self) -> Result<Vec<Camera>, InventoryError> {
        let sql = format!("{SELECT} WHERE enabled = $1 ORDER BY id");
        on_db!(&self.db, pool => {
            let rows = sqlx::query(&sql)
                .bind(true)
                .fetch_all(pool)
                .await
                .map_err(self.db_err("listing enabled cameras"))?;
            rows.iter().map(|r| camera_from_row(r)).collect()
        })
    }

    /// Writes each row in its own transaction, so that a bad row never stops the good
    /// ones, and reports what happened to each.
    ///
    /// [`ImportMode::Create`]: a row whose id exists is an error. [`ImportMode::Upsert`]:
    /// it replaces that camera (credentials as [`Inventory::update`] treats them). Rows
    /// without id always create a camera with a generated id. An id that appears twice in
    /// `rows` is an error on the second row (naming the first). Errors are in line order.
    pub async fn import(
        &self,
        rows: Vec<ImportRow>,
        mode: ImportMode,
        now_ms: i64,
    ) -> ImportReport {
        let mut report = ImportReport::default();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for row in rows {
            let line = row.line;
            let format = row.format;
            if let Some(id) = row
                .input
                .id
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                if let Some(first) = seen.get(id) {
                    report.errors.push(RowError {
                        line,
                        field: Some("id".to_owned()),
                        reason: format!(
                            "camera id {} is also on line {first}: import each camera once",
                            super::model::quote(id)
                        ),
                    });
                    continue;
                }
                seen.insert(id.to_owned(), line);
            }
            match self.import_one(row.input, mode, now_ms).await {
                Ok((camera, false)) => report.created.push(camera.id),
                Ok((camera, true)) => report.updated.push(camera.id),
                Err(err) => report
                    .errors
                    .extend(import::row_errors(line, format, mode, err)),
            }
        }
        report.errors.sort_by_key(|e| e.line);
        tracing::info!(
            created = report.created.len(),
            updated = report.updated.len(),
            errors = report.errors.len(),
            "camera import"
        );
        report
    }

    /// One import row: the camera and whether it was an update.
    async fn import_one(
        &self,
        input: CameraInput,
        mode: ImportMode,
        now_ms: i64,
    ) -> Result<(Camera, bool), InventoryError> {
        let valid = input
            .validate()
            .map_err(|errors| InventoryError::Invalid { errors })?;
        match (mode, valid.id.clone()) {
            (ImportMode::Upsert, Some(id)) => match self.insert(&id, &valid, now_ms).await {
                Ok(camera) => Ok((camera, false)),
                Err(InventoryError::Conflict { .. }) => self
                    .update_valid(&id, &valid, now_ms, None)
                    .await
                    .map(|c| (c, true)),
                Err(e) => Err(e),
            },
            _ => self.create_valid(valid, now_ms).await.map(|c| (c, false)),
        }
    }

    /// [`parse_csv`](super::parse_csv) and [`Inventory::import`] in one: the report holds
    /// the rows that could not be read as well as those that could not be written.
    pub async fn import_csv(&self, text: &str, mode: ImportMode, now_ms: i64) -> ImportReport {
        let (rows, errors) = super::parse_csv(text);
        self.import_with(rows, errors, mode, now_ms).await
    }

    /// [`parse_json`](super::parse_json) and [`Inventory::import`] in one. Fails only
    /// when the text is not a JSON array ([`InventoryError::JsonSyntax`]).
    pub async fn import_json(
        &self,
        text: &str,
        mode: ImportMode,
        now_ms: i64,
    ) -> Result<ImportReport, InventoryError> {
        let (rows, errors) = super::parse_json(text)?;
        Ok(self.import_with(rows, errors, mode, now_ms).await)
    }

    async fn import_with(
        &self,
        rows: Vec<ImportRow>,
        errors: Vec<RowError>,
        mode: ImportMode,
        now_ms: i64,
    ) -> ImportReport {
        let mut report = self.import(rows, mode, now_ms).await;
        report.errors.extend(errors);
        report.errors.sort_by_key(|e| e.line);
        report
    }
}

/// Reads a [`Camera`] from a row selected with [`SELECT`], on either backend.
fn camera_from_row(row: &dyn RowRead) -> Result<Camera, InventoryError> {
    let r = RecordReader::new(row, "id", |id, column, reason| InventoryError::Corrupt {
        id: id.to_owned(),
        column,
        reason,
    })?;
    let id = r.parsed("id", CameraId::parse)?;
    let category = r.parsed("category", |c| c.parse::<SiteCategory>())?;
    let transport = r.parsed("transport", |t| {
        parse_transport(t).ok_or_else(|| "not tcp or udp".to_owned())
    })?;
    let position = match (r.opt_real("lon")?, r.opt_real("lat")?) {
        (Some(lon), Some(lat)) => Some(Position { lon, lat }),
        _ => None,
    };
    let tags: Vec<String> = r.json("tags")?;
    let number = match r.opt_int("number")? {
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_CAMERA_NUMBER).contains(n))
            .ok_or_else(|| {
                r.corrupt(
                    "number",
                    format!("{n} is not a camera number (1 to {MAX_CAMERA_NUMBER})"),
                )
            })?,
        None => {
            return Err(r.corrupt(
                "number",
                "missing (written by a version without camera numbers?)".to_owned(),
            ));
        }
    };
    Ok(Camera {
        id,
        number,
        name: r.text("name")?,
        category,
        enterprise_id: r.opt_text("enterprise_id")?,
        division: Division {
            district: r.text("district")?,
            street: r.opt_text("street")?,
        },
        position,
        vendor: r.opt_text("vendor")?,
        model: r.opt_text("model")?,
        firmware: r.opt_text("firmware")?,
        onvif_url: r.opt_text("onvif_url")?,
        main_url: r.opt_text("main_url")?,
        sub_url: r.opt_text("sub_url")?,
        transport,
        credentials_set: r.boolean("credentials_set")?,
        tags,
        enabled: r.boolean("enabled")?,
        created_ms: r.int("created_ms")?,
        updated_ms: r.int("updated_ms")?,
        revision: r.int("revision")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `.sql` file under `devices/migrations/` is embedded, in version order, with
    /// the version and description its name gives.
    #[test]
    fn embedded_migrations_match_the_folder() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<(i64, String, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .map(|p| {
                let stem = p.file_stem().unwrap().to_str().unwrap().to_owned();
                let (version, description) = stem.split_once('_').unwrap();
                (
                    version.parse().unwrap(),
                    description.replace('_', " "),
                    std::fs::read_to_string(&p).unwrap(),
                )
            })
            .collect();
        files.sort();
        let embedded: Vec<(i64, String, String)> = MIGRATIONS
            .iter()
            .map(|&(v, d, s)| (v, d.to_owned(), s.to_owned()))
            .collect();
        assert_eq!(embedded, files);
        for (version, _, _) in &files {
            assert_eq!(
                version.to_string().len(),
                10,
                "devices versions are YYYYMMDDNN"
            );
        }
    }
}
