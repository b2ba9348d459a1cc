//! The organisation's storage: one [`Organisation`] over the command [`Database`].
//!
//! Every query is written once, with `$N` placeholders, and run on the SQLite or the
//! PostgreSQL pool by [`on_db!`](crate::on_db), which expands the same body for both.
//! Values travel as `TEXT`, `BIGINT`, `DOUBLE PRECISION` and `BOOLEAN`.
//!
//! Every write is one transaction, and most read before they write (the parent centre, the
//! stored revision). On SQLite they start with `BEGIN IMMEDIATE`, taking the write lock at
//! once and waiting out the busy timeout for another writer; a deferred transaction would
//! fail with "database is locked" (`SQLITE_BUSY_SNAPSHOT`) when it upgrades after another
//! connection wrote. Reads of a record with its children run in one transaction too
//! (`REPEATABLE READ` on PostgreSQL), so they never mix two revisions. Every transaction is
//! committed or rolled back explicitly, except when a statement fails (then sqlx rolls it
//! back as it is dropped).

use std::collections::HashMap;
use std::future::Future;

use serde::{Deserialize, Serialize};

use super::import::{ImportMode, ImportReport, ImportRow, RowError, duplicate_row, row_errors};
use super::model::{
    Availability, CentreId, CentreInput, CentreLevel, CommandCentre, Contact, ContactRole,
    Division, Enterprise, EnterpriseCategory, EnterpriseInput, HazardKind, HazardSource, LedgerId,
    Unit, UnitInput, UnitKind, ValidCentre, ValidEnterprise, ValidUnit, Vocabulary, quote,
};
use super::{CreditCode, Entity, FieldError, OrgError, Position, UnitId, UnixMs, parse_rows};
use crate::storage::sql::{
    Conditions, Page, RecordReader, RowRead, begin_write, fetch_optional, like_pattern,
    placeholders,
};
use crate::storage::{Arg, EmbeddedMigration};
use crate::{Database, bind_args, on_db};

/// Page size of the unit and enterprise lists when the filter sets none.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest page size of the unit and enterprise lists.
pub const MAX_LIMIT: u32 = 1000;

/// The organisation's migrations: (version, description, SQL), in version order. The
/// files live in `command/migrations/` (`<version>_<description>.sql`); a unit test checks
/// that this list and its files agree. Versions are twelve digits, `YYYYMMDDNNNN`, with
/// `NN01` for this module. Never edit an applied migration: sqlx stores its checksum and
/// refuses to start when it changes.
pub(crate) const MIGRATIONS: &[EmbeddedMigration] = &[(
    202611290101,
    "organisation",
    include_str!("../../migrations/202611290101_organisation.sql"),
)];

const SELECT_CENTRE: &str = "SELECT id, name, level, district, street, parent_id, phone, lon, \
     lat, created_ms, updated_ms, revision FROM org_centres";
const SELECT_UNIT: &str = "SELECT id, name, kind, centre_id, availability, availability_ms, \
     phone, members, skills, plate, lon, lat, created_ms, updated_ms, revision FROM org_units";
const SELECT_ENTERPRISE: &str = "SELECT ledger_id, name, credit_code, category, address, \
     district, street, lon, lat, created_ms, updated_ms, revision FROM org_enterprises";
/// Centres in hierarchy order: the city, then districts, then streets, each by id.
const CENTRE_ORDER: &str =
    " ORDER BY CASE level WHEN 'city' THEN 0 WHEN 'district' THEN 1 ELSE 2 END, id";

/// Which command centres [`Organisation::list_centres`] returns; every set field must
/// match. Deserializes from a query string; unknown keys are errors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, deny_unknown_fields)]
pub struct CentreFilter {
    /// Level.
    pub level: Option<CentreLevel>,
    /// District, exact.
    pub district: Option<String>,
    /// Direct children of this centre.
    pub parent_id: Option<CentreId>,
}

/// Which units [`Organisation::list_units`] returns; every set field must match.
/// Deserializes from a query string; unknown keys are errors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, deny_unknown_fields)]
pub struct UnitFilter {
    /// Units of this centre.
    pub centre_id: Option<CentreId>,
    /// Units of the centres responsible for this district (its district centre and its
    /// street offices), exact.
    pub district: Option<String>,
    /// Kind.
    pub kind: Option<UnitKind>,
    /// Availability.
    pub availability: Option<Availability>,
    /// Substring of the name, id or skills (case-insensitive for ASCII letters).
    pub q: Option<String>,
    /// Page size, 0 to [`MAX_LIMIT`]; default [`DEFAULT_LIMIT`].
    pub limit: Option<u32>,
    /// Units to skip (ordered by id); default 0.
    pub offset: Option<u64>,
}

/// One page of [`Organisation::list_units`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UnitPage {
    /// The units of this page, ordered by id.
    pub items: Vec<Unit>,
    /// How many units match the filter in all.
    pub total: u64,
}

/// Which enterprises [`Organisation::list_enterprises`] returns; every set field must
/// match. Deserializes from a query string; unknown keys are errors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, deny_unknown_fields)]
pub struct EnterpriseFilter {
    /// District, exact.
    pub district: Option<String>,
    /// Street, exact.
    pub street: Option<String>,
    /// Category.
    pub category: Option<EnterpriseCategory>,
    /// Unified social credit code, exact (case-insensitive).
    pub credit_code: Option<String>,
    /// `true`: enterprises with at least one major hazard source; `false`: without.
    pub major_hazard: Option<bool>,
    /// Substring of the name, ledger id, credit code or address (case-insensitive for
    /// ASCII letters).
    pub q: Option<String>,
    /// Page size, 0 to [`MAX_LIMIT`]; default [`DEFAULT_LIMIT`].
    pub limit: Option<u32>,
    /// Enterprises to skip (ordered by ledger id); default 0.
    pub offset: Option<u64>,
}

/// One page of [`Organisation::list_enterprises`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EnterprisePage {
    /// The enterprises of this page, ordered by ledger id, with their hazard sources and
    /// contacts.
    pub items: Vec<Enterprise>,
    /// How many enterprises match the filter in all.
    pub total: u64,
}

/// The organisation store: command centres, units and the enterprise ledger. Cheap to
/// clone (a pool handle); `Debug` shows the database's redacted URL.
#[derive(Debug, Clone)]
pub struct Organisation {
    db: Database,
}

/// What a write did, for imports.
enum Outcome {
    Created(String),
    Updated(String),
    Skipped(String),
}

/// The result of an update after the row was found: written, or the stored revision when
/// it was not the expected one.
enum Updated<T> {
    Done(T),
    Missing,
    Revision(i64),
}

/// Reads one record's columns (its id from `id_column`), turning every failure into
/// [`OrgError::Corrupt`].
fn reader<'r>(
    row: &'r dyn RowRead,
    entity: Entity,
    id_column: &'static str,
) -> Result<RecordReader<'r, OrgError>, OrgError> {
    RecordReader::new(row, id_column, move |id, column, reason| {
        OrgError::Corrupt {
            entity,
            id: id.to_owned(),
            column,
            reason,
        }
    })
}

/// The organisation's columns of a record.
trait OrgColumns {
    /// A column holding a vocabulary name.
    fn vocabulary<T: Vocabulary>(&self, c: &'static str) -> Result<T, OrgError>;
    /// `lon` and `lat`: a position when both are set.
    fn position(&self) -> Result<Option<Position>, OrgError>;
    /// `created_ms`, `updated_ms` and `revision`.
    fn meta(&self) -> Result<(UnixMs, UnixMs, i64), OrgError>;
}

impl OrgColumns for RecordReader<'_, OrgError> {
    fn vocabulary<T: Vocabulary>(&self, c: &'static str) -> Result<T, OrgError> {
        self.parsed(c, T::parse_name)
    }
    fn position(&self) -> Result<Option<Position>, OrgError> {
        Ok(match (self.opt_real("lon")?, self.opt_real("lat")?) {
            (Some(lon), Some(lat)) => Some(Position { lon, lat }),
            _ => None,
        })
    }
    fn meta(&self) -> Result<(UnixMs, UnixMs, i64), OrgError> {
        Ok((
            self.int("created_ms")?,
            self.int("updated_ms")?,
            self.int("revision")?,
        ))
    }
}

fn centre_from_row(row: &dyn RowRead) -> Result<CommandCentre, OrgError> {
    let r = reader(row, Entity::Centre, "id")?;
    let (created_ms, updated_ms, revision) = r.meta()?;
    Ok(CommandCentre {
        id: r.parsed("id", CentreId::parse)?,
        name: r.text("name")?,
        level: r.vocabulary("level")?,
        district: r.opt_text("district")?,
        street: r.opt_text("street")?,
        parent_id: r.opt_parsed("parent_id", CentreId::parse)?,
        phone: r.opt_text("phone")?,
        position: r.position()?,
        created_ms,
        updated_ms,
        revision,
    })
}

fn unit_from_row(row: &dyn RowRead) -> Result<Unit, OrgError> {
    let r = reader(row, Entity::Unit, "id")?;
    let (created_ms, updated_ms, revision) = r.meta()?;
    Ok(Unit {
        id: r.parsed("id", UnitId::parse)?,
        name: r.text("name")?,
        kind: r.vocabulary("kind")?,
        centre_id: r.parsed("centre_id", CentreId::parse)?,
        availability: r.vocabulary("availability")?,
        availability_ms: r.int("availability_ms")?,
        phone: r.opt_text("phone")?,
        members: r.opt_int("members")?,
        skills: r.json("skills")?,
        plate: r.opt_text("plate")?,
        position: r.position()?,
        created_ms,
        updated_ms,
        revision,
    })
}

/// An enterprise without its children (filled in by [`attach_children`]).
fn enterprise_from_row(row: &impl RowRead) -> Result<Enterprise, OrgError> {
    let r = reader(row, Entity::Enterprise, "ledger_id")?;
    let (created_ms, updated_ms, revision) = r.meta()?;
    Ok(Enterprise {
        ledger_id: r.parsed("ledger_id", LedgerId::parse)?,
        name: r.text("name")?,
        credit_code: r.parsed("credit_code", CreditCode::parse)?,
        category: r.vocabulary("category")?,
        address: r.text("address")?,
        division: Division {
            district: r.text("district")?,
            street: r.opt_text("street")?,
        },
        position: r.position()?,
        hazard_sources: Vec::new(),
        contacts: Vec::new(),
        created_ms,
        updated_ms,
        revision,
    })
}

fn hazard_from_row(row: &impl RowRead) -> Result<(String, HazardSource), OrgError> {
    let r = reader(row, Entity::Enterprise, "ledger_id")?;
    Ok((
        r.id().to_owned(),
        HazardSource {
            id: r.text("id")?,
            name: r.text("name")?,
            kind: r.vocabulary::<HazardKind>("kind")?,
            substance: r.opt_text("substance")?,
            quantity: r.opt_real("quantity")?,
            unit: r.opt_text("unit")?,
            major_hazard: r.boolean("major_hazard")?,
        },
    ))
}

fn contact_from_row(row: &impl RowRead) -> Result<(String, Contact), OrgError> {
    let r = reader(row, Entity::Enterprise, "ledger_id")?;
    Ok((
        r.id().to_owned(),
        Contact {
            name: r.text("name")?,
            role: r.vocabulary::<ContactRole>("role")?,
            phone: r.text("phone")?,
        },
    ))
}

/// Puts each hazard source and contact under its enterprise (rows come in `seq` order).
fn attach_children(
    enterprises: &mut [Enterprise],
    hazards: Vec<(String, HazardSource)>,
    contacts: Vec<(String, Contact)>,
) {
    let index: HashMap<String, usize> = enterprises
        .iter()
        .enumerate()
        .map(|(i, e)| (e.ledger_id.to_string(), i))
        .collect();
    for (ledger_id, h) in hazards {
        if let Some(&i) = index.get(&ledger_id) {
            enterprises[i].hazard_sources.push(h);
        }
    }
    for (ledger_id, c) in contacts {
        if let Some(&i) = index.get(&ledger_id) {
            enterprises[i].contacts.push(c);
        }
    }
}

fn opt_text(v: &Option<String>) -> Arg {
    Arg::Text(v.clone())
}

fn text(v: &str) -> Arg {
    Arg::Text(Some(v.to_owned()))
}

/// `"3 units (a, b, c)"`, listing at most five ids.
fn describe(count: usize, what: &str, ids: &[String]) -> String {
    let mut shown: Vec<&str> = ids.iter().take(5).map(String::as_str).collect();
    if ids.len() > 5 {
        shown.push("…");
    }
    format!("{count} {what} ({})", shown.join(", "))
}

/// Page size and offset of a filter, or the `limit` error.
fn page(limit: Option<u32>, offset: Option<u64>, entity: Entity) -> Result<Page, OrgError> {
    Page::new(limit, offset, DEFAULT_LIMIT, MAX_LIMIT).map_err(|reason| OrgError::Invalid {
        entity,
        id: None,
        errors: vec![FieldError::new("limit", reason)],
    })
}

impl Organisation {
    /// Opens the store on `db`, creating or upgrading its tables (the embedded migration
    /// `202611290101_organisation.sql`; other modules' versions in the shared
    /// `_sqlx_migrations` table are left alone).
    pub async fn open(db: Database) -> Result<Organisation, OrgError> {
        crate::storage::migrate(&db, MIGRATIONS)
            .await
            .map_err(|source| OrgError::Migrate {
                url: db.redacted_url().to_owned(),
                source,
            })?;
        Ok(Organisation { db })
    }

    /// The database handle.
    pub fn database(&self) -> &Database {
        &self.db
    }

    fn db_err(&self, action: impl Into<String>) -> impl FnOnce(sqlx::Error) -> OrgError {
        let url = self.db.redacted_url().to_owned();
        let action = action.into();
        move |source| OrgError::Database {
            action,
            url,
            source,
        }
    }

    /// The statement that starts a write transaction: `BEGIN IMMEDIATE` on SQLite (see
    /// [`begin_write`]).
    fn begin_write(&self) -> &'static str {
        begin_write(&self.db)
    }

    /// The statement that starts a read transaction: one snapshot for every statement in
    /// it (SQLite's deferred transactions read one snapshot in WAL mode; PostgreSQL needs
    /// `REPEATABLE READ`).
    fn begin_read(&self) -> &'static str {
        match self.db {
            Database::Sqlite { .. } => "BEGIN",
            Database::Postgres { .. } => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        }
    }

    // -----------------------------------------------------------------------------------
    // Command centres

    /// Creates a command centre at `now_ms` (Unix ms), revision 1.
    ///
    /// Errors: [`OrgError::Invalid`] (every field problem; a parent that is missing, of
    /// the wrong level, or — for a street centre — of another district, named as
    /// `parent_id`), [`OrgError::Conflict`] when the id exists or another centre holds the
    /// same place (the city, the district, the district and street).
    pub async fn create_centre(
        &self,
        input: CentreInput,
        now_ms: UnixMs,
    ) -> Result<CommandCentre, OrgError> {
        let valid = input.validate(None).map_err(|errors| OrgError::Invalid {
            entity: Entity::Centre,
            id: input.id.clone(),
            errors,
        })?;
        self.insert_centre(&valid, now_ms)
            .await?
            .ok_or_else(|| OrgError::Conflict {
                entity: Entity::Centre,
                id: valid.id.to_string(),
                reason: "already exists".to_owned(),
            })
    }

    /// Inserts a centre; `None` when its id exists.
    async fn insert_centre(
        &self,
        valid: &ValidCentre,
        now_ms: UnixMs,
    ) -> Result<Option<CommandCentre>, OrgError> {
        let id = &valid.id;
        let action = format!("creating command centre {id}");
        let args = vec![
            text(id.as_str()),
            text(&valid.name),
            text(valid.level.as_str()),
            opt_text(&valid.district),
            opt_text(&valid.street),
            Arg::Text(valid.parent_id.as_ref().map(ToString::to_string)),
            text(&valid.scope()),
            opt_text(&valid.phone),
            Arg::Real(valid.position.map(|p| p.lon)),
            Arg::Real(valid.position.map(|p| p.lat)),
            Arg::Int(now_ms),
            Arg::Int(now_ms),
            Arg::Int(1),
        ];
        let sql = format!(
            "INSERT INTO org_centres (id, name, level, district, street, parent_id, scope, \
             phone, lon, lat, created_ms, updated_ms, revision) VALUES ({}) \
             ON CONFLICT (id) DO NOTHING",
            placeholders(1, args.len())
        );
        let inserted = on_db!(&self.db, pool => {
            let mut tx = pool
                .begin_with(self.begin_write())
                .await
                .map_err(self.db_err(&action))?;
            // The place first: a second centre for the same district is a conflict even
            // when its parent is also wrong.
            let holder: Option<String> =
                sqlx::query_scalar("SELECT id FROM org_centres WHERE scope = $1 AND id <> $2")
                    .bind(valid.scope())
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(self.db_err(&action))?;
            if let Some(holder) = holder {
                tx.rollback().await.map_err(self.db_err(&action))?;
                return Err(scope_conflict(valid, &holder));
            }
            let parent: Option<(String, Option<String>)> = match &valid.parent_id {
                None => None,
                Some(parent_id) => {
                    let row = sqlx::query("SELECT level, district FROM org_centres WHERE id = $1")
                        .bind(parent_id.as_str())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(self.db_err(&action))?;
                    match row {
                        None => None,
                        Some(row) => Some((
                            row.text("level").map_err(self.db_err(&action))?,
                            row.opt_text("district").map_err(self.db_err(&action))?,
                        )),
                    }
                }
            };
            if let Err(err) = check_parent(valid, parent) {
                tx.rollback().await.map_err(self.db_err(&action))?;
                return Err(err);
            }
            let done = bind_args!(sqlx::query(&sql), args)
                .execute(&mut *tx)
                .await
                .map_err(self.db_err(&action))?;
            // Also when nothing was inserted: end the transaction now, not at drop.
            tx.commit().await.map_err(self.db_err(&action))?;
            done.rows_affected() == 1
        });
        if !inserted {
            return Ok(None);
        }
        tracing::info!(centre = %id, level = %valid.level, "command centre created");
        Ok(Some(CommandCentre {
            id: id.clone(),
            name: valid.name.clone(),
            level: valid.level,
            district: valid.district.clone(),
            street: valid.street.clone(),
            parent_id: valid.parent_id.clone(),
            phone: valid.phone.clone(),
            position: valid.position,
            created_ms: now_ms,
            updated_ms: now_ms,
            revision: 1,
        }))
    }

    /// The command centre with this id, or [`OrgError::NotFound`].
    pub async fn get_centre(&self, id: &CentreId) -> Result<CommandCentre, OrgError> {
        let sql = format!("{SELECT_CENTRE} WHERE id = $1");
        let action = format!("reading command centre {id}");
        let centre = fetch_optional(
            &self.db,
            &sql,
            vec![Arg::Text(Some(id.to_string()))],
            centre_from_row,
            self.db_err(&action),
        )
        .await?;
        centre.ok_or_else(|| OrgError::NotFound {
            entity: Entity::Centre,
            id: id.to_string(),
        })
    }

    /// The command centres matching `filter`: the city centre, then district centres,
    /// then street centres, each ordered by id.
    pub async fn list_centres(
        &self,
        filter: &CentreFilter,
    ) -> Result<Vec<CommandCentre>, OrgError> {
        let mut w = Conditions::default();
        if let Some(level) = filter.level {
            w.add("level = ?", text(level.as_str()));
        }
        if let Some(d) = &filter.district {
            w.add("district = ?", text(d));
        }
        if let Some(p) = &filter.parent_id {
            w.add("parent_id = ?", text(p.as_str()));
        }
        let sql = format!("{SELECT_CENTRE}{}{CENTRE_ORDER}", w.sql());
        on_db!(&self.db, pool => {
            let rows = bind_args!(sqlx::query(&sql), w.args().to_vec())
                .fetch_all(pool)
                .await
                .map_err(self.db_err("listing command centres"))?;
            rows.iter().map(|r| centre_from_row(r)).collect()
        })
    }

    /// Replaces command centre `id` with `input` at `now_ms` and bumps its revision.
    ///
    /// With `expected_revision`, only if the stored revision equals it
    /// ([`OrgError::PreconditionFailed`] otherwise). The hierarchy is checked as on
    /// create; in addition a centre with child centres keeps its level and district
    /// ([`OrgError::Invalid`] naming `level` or `district`). Errors also
    /// [`OrgError::NotFound`], [`OrgError::Conflict`].
    pub async fn update_centre(
        &self,
        id: &CentreId,
        input: CentreInput,
        now_ms: UnixMs,
        expected_revision: Option<i64>,
    ) -> Result<CommandCentre, OrgError> {
        let valid = input
            .validate(Some(id.as_str()))
            .map_err(|errors| OrgError::Invalid {
                entity: Entity::Centre,
                id: Some(id.to_string()),
                errors,
            })?;
        self.update_centre_valid(&valid, now_ms, expected_revision)
            .await
    }

    async fn update_centre_valid(
        &self,
        valid: &ValidCentre,
        now_ms: UnixMs,
        expected_revision: Option<i64>,
    ) -> Result<CommandCentre, OrgError> {
        let id = &valid.id;
        let action = format!("updating command centre {id}");
        let args = vec![
            text(id.as_str()),
            text(&valid.name),
            text(valid.level.as_str()),
            opt_text(&valid.district),
            opt_text(&valid.street),
            Arg::Text(valid.parent_id.as_ref().map(ToString::to_string)),
            text(&valid.scope()),
            opt_text(&valid.phone),
            Arg::Real(valid.position.map(|p| p.lon)),
            Arg::Real(valid.position.map(|p| p.lat)),
            Arg::Int(now_ms),
        ];
        let sql = "UPDATE org_centres SET name = $2, level = $3, district = $4, street = $5, \
                   parent_id = $6, scope = $7, phone = $8, lon = $9, lat = $10, \
                   updated_ms = $11, revision = revision + 1 WHERE id = $1";
        let select = format!("{SELECT_CENTRE} WHERE id = $1");
        let outcome = on_db!(&self.db, pool => {
            let mut tx = pool
                .begin_with(self.begin_write())
                .await
                .map_err(self.db_err(&action))?;
            let current = sqlx::query("SELECT level, district, revision FROM org_centres WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(self.db_err(&action))?;
            match current {
                None => {
                    tx.rollback().await.map_err(self.db_err(&action))?;
                    Updated::Missing
                }
                Some(current) => {
                    let revision = current.int("revision").map_err(self.db_err(&action))?;
                    if expected_revision.is_some_and(|e| e != revision) {
                        tx.rollback().await.map_err(self.db_err(&action))?;
                        Updated::Revision(revision)
                    } else {
                        let level = current.text("level").map_err(self.db_err(&action))?;
                        let district = current.opt_text("district").map_err(self.db_err(&action))?;
                        let holder: Option<String> = sqlx::query_scalar(
                            "SELECT id FROM org_centres WHERE scope = $1 AND id <> $2",
                        )
                        .bind(valid.scope())
                        .bind(id.as_str())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(self.db_err(&action))?;
                        if let Some(holder) = holder {
                            tx.rollback().await.map_err(self.db_err(&action))?;
                            return Err(scope_conflict(valid, &holder));
                        }
                        let parent: Option<(String, Option<String>)> = match &valid.parent_id {
                            None => None,
                            Some(parent_id) => {
                                let row = sqlx::query(
                                    "SELECT level, district FROM org_centres WHERE id = $1",
                                )
                                .bind(parent_id.as_str())
                                .fetch_optional(&mut *tx)
                                .await
                                .map_err(self.db_err(&action))?;
                                match row {
                                    None => None,
                                    Some(row) => Some((
                                        row.text("level").map_err(self.db_err(&action))?,
                                        row.opt_text("district").map_err(self.db_err(&action))?,
                                    )),
                                }
                            }
                        };
                        if let Err(err) = check_parent(valid, parent) {
                            tx.rollback().await.map_err(self.db_err(&action))?;
                            return Err(err);
                        }
                        if level != valid.level.as_str() || district != valid.district {
                            let children: Vec<String> = sqlx::query_scalar(
                                "SELECT id FROM org_centres WHERE parent_id = $1 ORDER BY id",
                            )
                            .bind(id.as_str())
                            .fetch_all(&mut *tx)
                            .await
                            .map_err(self.db_err(&action))?;
                            if !children.is_empty() {
                                tx.rollback().await.map_err(self.db_err(&action))?;
                                let field = if level != valid.level.as_str() {
                                    "level"
                                } else {
                                    "district"
                                };
                                return Err(OrgError::Invalid {
                                    entity: Entity::Centre,
                                    id: Some(id.to_string()),
                                    errors: vec![FieldError::new(
                                        field,
                                        format!(
                                            "{id} has {}: a centre with child centres keeps its \
                                             level and district",
                                            describe(children.len(), "child centres", &children)
                                        ),
                                    )],
                                });
                            }
                        }
                        bind_args!(sqlx::query(sql), args)
                            .execute(&mut *tx)
                            .await
                            .map_err(self.db_err(&action))?;
                        let row = sqlx::query(&select)
                            .bind(id.as_str())
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(self.db_err(&action))?;
                        let centre = centre_from_row(&row)?;
                        tx.commit().await.map_err(self.db_err(&action))?;
                        Updated::Done(centre)
                    }
                }
            }
        });
        self.updated(Entity::Centre, id.as_str(), outcome, expected_revision)
    }

    /// Deletes command centre `id`. Refused with [`OrgError::InUse`] while child centres
    /// or units refer to it; [`OrgError::NotFound`] when there is none.
    pub async fn delete_centre(&self, id: &CentreId) -> Result<(), OrgError> {
        let action = format!("deleting command centre {id}");
        let deleted = on_db!(&self.db, pool => {
            let mut tx = pool
                .begin_with(self.begin_write())
                .await
                .map_err(self.db_err(&action))?;
            let children: Vec<String> =
                sqlx::query_scalar("SELECT id FROM org_centres WHERE parent_id = $1 ORDER BY id")
                    .bind(id.as_str())
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(self.db_err(&action))?;
            let units: Vec<String> =
                sqlx::query_scalar("SELECT id FROM org_units WHERE centre_id = $1 ORDER BY id")
                    .bind(id.as_str())
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(self.db_err(&action))?;
            if !children.is_empty() || !units.is_empty() {
                let mut by = Vec::new();
                if !children.is_empty() {
                    by.push(describe(children.len(), "child centres", &children));
                }
                if !units.is_empty() {
                    by.push(describe(units.len(), "units", &units));
                }
                tx.rollback().await.map_err(self.db_err(&action))?;
                return Err(OrgError::InUse {
                    entity: Entity::Centre,
                    id: id.to_string(),
                    by: by.join(" and "),
                });
            }
            let done = sqlx::query("DELETE FROM org_centres WHERE id = $1")
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(self.db_err(&action))?;
            tx.commit().await.map_err(self.db_err(&action))?;
            done.rows_affected() > 0
        });
        if deleted {
            tracing::info!(centre = %id, "command centre deleted");
            Ok(())
        } else {
            Err(OrgError::NotFound {
                entity: Entity::Centre,
                id: id.to_string(),
            })
        }
    }

    /// Writes each row in its own transaction, in file order (so a file lists the city
    /// before the districts before the streets), and reports what happened to each.
    /// An id that appears twice is an error on the second row.
    pub async fn import_centres(
        &self,
        rows: Vec<ImportRow<CentreInput>>,
        mode: ImportMode,
        now_ms: UnixMs,
    ) -> ImportReport {
        self.import_rows(rows, mode, now_ms).await
    }

    /// [`parse_rows`] and [`Organisation::import_centres`] in one; fails only when the
    /// text is not a JSON array ([`OrgError::JsonSyntax`] naming `what`).
    pub async fn import_centres_json(
        &self,
        text: &str,
        what: &str,
        mode: ImportMode,
        now_ms: UnixMs,
    ) -> Result<ImportReport, OrgError> {
        self.import_json::<CentreInput>(text, what, mode, now_ms)
            .await
    }

    // -----------------------------------------------------------------------------------
    // Units

    /// Creates a unit at `now_ms`, revision 1; its availability (default `available`)
    /// dates from `now_ms`.
    ///
    /// Errors: [`OrgError::Invalid`] (every field problem; a missing centre named as
    /// `centre_id`), [`OrgError::Conflict`] when the id exists.
    pub async fn create_unit(&self, input: UnitInput, now_ms: UnixMs) -> Result<Unit, OrgError> {
        let valid = input.validate(None).map_err(|errors| OrgError::Invalid {
            entity: Entity::Unit,
            id: input.id.clone(),
            errors,
        })?;
        self.insert_unit(&valid, now_ms)
            .await?
            .ok_or_else(|| OrgError::Conflict {
                entity: Entity::Unit,
                id: valid.id.to_string(),
                reason: "already exists".to_owned(),
            })
    }

    async fn insert_unit(
        &self,
        valid: &ValidUnit,
        now_ms: UnixMs,
    ) -> Result<Option<Unit>, OrgError> {
        let id = &valid.id;
        let action = format!("creating unit {id}");
        let availability = valid.availability.unwrap_or(Availability::Available);
        let args = vec![
            text(id.as_str()),
            text(&valid.name),
            text(valid.kind.as_str()),
            text(valid.centre_id.as_str()),
            text(availability.as_str()),
            Arg::Int(now_ms),
            opt_text(&valid.phone),
            Arg::OptInt(valid.members),
            text(&skills_json(&valid.skills)),
            opt_text(&valid.plate),
            Arg::Real(valid.position.map(|p| p.lon)),
            Arg::Real(valid.position.map(|p| p.lat)),
            Arg::Int(now_ms),
            Arg::Int(now_ms),
            Arg::Int(1),
        ];
        let sql = format!(
            "INSERT INTO org_units (id, name, kind, centre_id, availability, availability_ms, \
             phone, members, skills, plate, lon, lat, created_ms, updated_ms, revision) \
             VALUES ({}) ON CONFLICT (id) DO NOTHING",
            placeholders(1, args.len())
        );
        let inserted = on_db!(&self.db, pool => {
            let mut tx = pool
                .begin_with(self.begin_write())
                .await
                .map_err(self.db_err(&action))?;
            let centre: Option<String> = sqlx::query_scalar("SELECT id FROM org_centres WHERE id = $1")
                .bind(valid.centre_id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(self.db_err(&action))?;
            if centre.is_none() {
                tx.rollback().await.map_err(self.db_err(&action))?;
                return Err(missing_centre(valid));
            }
            let done = bind_args!(sqlx::query(&sql), args)
                .execute(&mut *tx)
                .await
                .map_err(self.db_err(&action))?;
            // Also when nothing was inserted: end the transaction now, not at drop.
            tx.commit().await.map_err(self.db_err(&action))?;
            done.rows_affected() == 1
        });
        if !inserted {
            return Ok(None);
        }
        tracing::info!(unit = %id, kind = %valid.kind, "unit created");
        Ok(Some(Unit {
            id: id.clone(),
            name: valid.name.clone(),
            kind: valid.kind,
            centre_id: valid.centre_id.clone(),
            availability,
            availability_ms: now_ms,
            phone: valid.phone.clone(),
            members: valid.members,
            skills: valid.skills.clone(),
            plate: valid.plate.clone(),
            position: valid.position,
            created_ms: now_ms,
            updated_ms: now_ms,
            revision: 1,
        }))
    }

    /// The unit with this id, or [`OrgError::NotFound`].
    pub async fn get_unit(&self, id: &UnitId) -> Result<Unit, OrgError> {
        let sql = format!("{SELECT_UNIT} WHERE id = $1");
        let action = format!("reading unit {id}");
        let unit = fetch_optional(
            &self.db,
            &sql,
            vec![Arg::Text(Some(id.to_string()))],
            unit_from_row,
            self.db_err(&action),
        )
        .await?;
        unit.ok_or_else(|| OrgError::NotFound {
            entity: Entity::Unit,
            id: id.to_string(),
        })
    }

    /// The units matching `filter`, ordered by id, one page at a time, with the total.
    /// A `limit` above [`MAX_LIMIT`] is an [`OrgError::Invalid`] naming `limit`.
    pub async fn list_units(&self, filter: &UnitFilter) -> Result<UnitPage, OrgError> {
        let page = page(filter.limit, filter.offset, Entity::Unit)?;
        let mut w = Conditions::default();
        if let Some(c) = &filter.centre_id {
            w.add("centre_id = ?", text(c.as_str()));
        }
        if let Some(d) = &filter.district {
            w.add(
                "centre_id IN (SELECT id FROM org_centres WHERE district = ?)",
                text(d),
            );
        }
        if let Some(k) = filter.kind {
            w.add("kind = ?", text(k.as_str()));
        }
        if let Some(a) = filter.availability {
            w.add("availability = ?", text(a.as_str()));
        }
        if let Some(pattern) = like_pattern(filter.q.as_deref()) {
            w.add(
                "(LOWER(name) LIKE ? ESCAPE '\\' OR LOWER(id) LIKE ? ESCAPE '\\' \
                 OR LOWER(skills) LIKE ? ESCAPE '\\')",
                Arg::Text(Some(pattern)),
            );
        }
        let count_sql = format!("SELECT COUNT(*) AS n FROM org_units{}", w.sql());
        let (page_sql, page_args) =
            page.apply(&format!("{SELECT_UNIT}{} ORDER BY id", w.sql()), w.args());
        let action = "listing units";
        let (total, items) = on_db!(&self.db, pool => {
            let mut tx = pool
                .begin_with(self.begin_read())
                .await
                .map_err(self.db_err(action))?;
            let total = bind_args!(sqlx::query(&count_sql), w.args().to_vec())
                .fetch_one(&mut *tx)
                .await
                .and_then(|row| row.int("n"))
                .map_err(self.db_err(action))?;
            let rows = bind_args!(sqlx::query(&page_sql), page_args)
                .fetch_all(&mut *tx)
                .await
                .map_err(self.db_err(action))?;
            tx.commit().await.map_err(self.db_err(action))?;
            let items = rows.iter().map(|r| unit_from_row(r)).collect::<Result<Vec<_>, _>>()?;
            (total, items)
        });
        Ok(UnitPage {
            items,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    /// Replaces unit `id` with `input` at `now_ms` and bumps its revision. An absent
    /// `availability` keeps the stored one; a changed one dates from `now_ms`.
    /// `expected_revision` and errors as for [`Organisation::update_centre`] (a missing
    /// centre is [`OrgError::Invalid`] naming `centre_id`).
    pub async fn update_unit(
        &self,
        id: &UnitId,
        input: UnitInput,
        now_ms: UnixMs,
        expected_revision: Option<i64>,
    ) -> Result<Unit, OrgError> {
        let valid = input
            .validate(Some(id.as_str()))
            .map_err(|errors| OrgError::Invalid {
                entity: Entity::Unit,
                id: Some(id.to_string()),
                errors,
            })?;
        self.update_unit_valid(&valid, now_ms, expected_revision)
            .await
    }

    async fn update_unit_valid(
        &self,
        valid: &ValidUnit,
        now_ms: UnixMs,
        expected_revision: Option<i64>,
    ) -> Result<Unit, OrgError> {
        let id = &valid.id;
        let action = format!("updating unit {id}");
        let select = format!("{SELECT_UNIT} WHERE id = $1");
        // The availability changes (and its time with it) only when given and different.
        let sql = "UPDATE org_units SET name = $2, kind = $3, centre_id = $4, \
                   availability_ms = CASE WHEN availability = $5 THEN availability_ms ELSE $6 END, \
                   availability = $5, phone = $7, members = $8, skills = $9, plate = $10, \
                   lon = $11, lat = $12, updated_ms = $6, revision = revision + 1 WHERE id = $1";
        let outcome = on_db!(&self.db, pool => {
            let mut tx = pool
                .begin_with(self.begin_write())
                .await
                .map_err(self.db_err(&action))?;
            let current = sqlx::query("SELECT availability, revision FROM org_units WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(self.db_err(&action))?;
            match current {
                None => {
                    tx.rollback().await.map_err(self.db_err(&action))?;
                    Updated::Missing
                }
                Some(current) => {
                    let revision = current.int("revision").map_err(self.db_err(&action))?;
                    if expected_revision.is_some_and(|e| e != revision) {
                        tx.rollback().await.map_err(self.db_err(&action))?;
                        Updated::Revision(revision)
                    } else {
                        let stored = current.text("availability").map_err(self.db_err(&action))?;
                        let availability = valid
                            .availability
                            .map(|a| a.as_str().to_owned())
                            .unwrap_or(stored);
                        let centre: Option<String> =
                            sqlx::query_scalar("SELECT id FROM org_centres WHERE id = $1")
                                .bind(valid.centre_id.as_str())
                                .fetch_optional(&mut *tx)
                                .await
                                .map_err(self.db_err(&action))?;
                        if centre.is_none() {
                            tx.rollback().await.map_err(self.db_err(&action))?;
                            return Err(missing_centre(valid));
                        }
                        let args = vec![
                            text(id.as_str()),
                            text(&valid.name),
                            text(valid.kind.as_str()),
                            text(valid.centre_id.as_str()),
                            Arg::Text(Some(availability)),
                            Arg::Int(now_ms),
                            opt_text(&valid.phone),
                            Arg::OptInt(valid.members),
                            text(&skills_json(&valid.skills)),
                            opt_text(&valid.plate),
                            Arg::Real(valid.position.map(|p| p.lon)),
                            Arg::Real(valid.position.map(|p| p.lat)),
                        ];
                        bind_args!(sqlx::query(sql), args)
                            .execute(&mut *tx)
                            .await
                            .map_err(self.db_err(&action))?;
                        let row = sqlx::query(&select)
                            .bind(id.as_str())
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(self.db_err(&action))?;
                        let unit = unit_from_row(&row)?;
                        tx.commit().await.map_err(self.db_err(&action))?;
                        Updated::Done(unit)
                    }
                }
            }
        });
        self.updated(Entity::Unit, id.as_str(), outcome, expected_revision)
    }

    /// Sets unit `id`'s availability at `now_ms` (dispatch: `dispatched` when a task is
    /// created, `available` when it is released). When it changes, `availability_ms`
    /// becomes `now_ms` and the revision is bumped; setting the current value changes
    /// nothing. Returns the unit; [`OrgError::NotFound`] when there is none.
    pub async fn set_availability(
        &self,
        id: &UnitId,
        availability: Availability,
        now_ms: UnixMs,
    ) -> Result<Unit, OrgError> {
        let action = format!("setting the availability of unit {id} to {availability}");
        let select = format!("{SELECT_UNIT} WHERE id = $1");
        let unit = on_db!(&self.db, pool => {
            let mut tx = pool
                .begin_with(self.begin_write())
                .await
                .map_err(self.db_err(&action))?;
            let done = sqlx::query(
                "UPDATE org_units SET availability = $2, availability_ms = $3, updated_ms = $3, \
                 revision = revision + 1 WHERE id = $1 AND availability <> $2",
            )
            .bind(id.as_str())
            .bind(availability.as_str())
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(self.db_err(&action))?;
            let row = sqlx::query(&select)
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(self.db_err(&action))?;
            tx.commit().await.map_err(self.db_err(&action))?;
            if done.rows_affected() > 0 {
                tracing::info!(unit = %id, %availability, "unit availability changed");
            }
            row.as_ref().map(|r| unit_from_row(r)).transpose()?
        });
        unit.ok_or_else(|| OrgError::NotFound {
            entity: Entity::Unit,
            id: id.to_string(),
        })
    }

    /// Deletes unit `id`, or [`OrgError::NotFound`].
    pub async fn delete_unit(&self, id: &UnitId) -> Result<(), OrgError> {
        let action = format!("deleting unit {id}");
        let deleted = on_db!(&self.db, pool => {
            sqlx::query("DELETE FROM org_units WHERE id = $1")
                .bind(id.as_str())
                .execute(pool)
                .await
                .map_err(self.db_err(&action))?
                .rows_affected()
                > 0
        });
        if deleted {
            tracing::info!(unit = %id, "unit deleted");
            Ok(())
        } else {
            Err(OrgError::NotFound {
                entity: Entity::Unit,
                id: id.to_string(),
            })
        }
    }

    /// Writes each row in its own transaction and reports what happened to each (see
    /// [`ImportMode`]; in upsert mode a row without `availability` keeps the stored one).
    pub async fn import_units(
        &self,
        rows: Vec<ImportRow<UnitInput>>,
        mode: ImportMode,
        now_ms: UnixMs,
    ) -> ImportReport {
        self.import_rows(rows, mode, now_ms).await
    }

    /// [`parse_rows`] and [`Organisation::import_units`] in one; fails only when the text
    /// is not a JSON array.
    pub async fn import_units_json(
        &self,
        text: &str,
        what: &str,
        mode: ImportMode,
        now_ms: UnixMs,
    ) -> Result<ImportReport, OrgError> {
        self.import_json::<UnitInput>(text, what, mode, now_ms)
            .await
    }

    // -----------------------------------------------------------------------------------
    // Enterprises

    /// Creates an enterprise with its hazard sources and contacts at `now_ms`, revision 1,
    /// in one transaction: if any row fails, nothing is written.
    ///
    /// Errors: [`OrgError::Invalid`] (every field problem), [`OrgError::Conflict`] when
    /// the ledger id exists.
    pub async fn create_enterprise(
        &self,
        input: EnterpriseInput,
        now_ms: UnixMs,
    ) -> Result<Enterprise, OrgError> {
        let valid = input.validate(None).map_err(|errors| OrgError::Invalid {
            entity: Entity::Enterprise,
            id: input.ledger_id.clone(),
            errors,
        })?;
        self.insert_enterprise(&valid, now_ms)
            .await?
            .ok_or_else(|| OrgError::Conflict {
                entity: Entity::Enterprise,
                id: valid.ledger_id.to_string(),
                reason: "already exists".to_owned(),
            })
    }

    async fn insert_enterprise(
        &self,
        valid: &ValidEnterprise,
        now_ms: UnixMs,
    ) -> Result<Option<Enterprise>, OrgError> {
        let id = &valid.ledger_id;
        let action = format!("creating enterprise {id}");
        let mut args = vec![text(id.as_str())];
        args.extend(enterprise_args(valid));
        args.extend([Arg::Int(now_ms), Arg::Int(now_ms), Arg::Int(1)]);
        let sql = format!(
            "INSERT INTO org_enterprises (ledger_id, name, credit_code, category, address, \
             district, street, lon, lat, created_ms, updated_ms, revision) VALUES ({}) \
             ON CONFLICT (ledger_id) DO NOTHING",
            placeholders(1, args.len())
        );
        let inserted = on_db!(&self.db, pool => {
            let mut tx = pool
                .begin_with(self.begin_write())
                .await
                .map_err(self.db_err(&action))?;
            let done = bind_args!(sqlx::query(&sql), args)
                .execute(&mut *tx)
                .await
                .map_err(self.db_err(&action))?;
            let inserted = done.rows_affected() == 1;
            if inserted {
                // A failing child leaves the transaction unfinished: dropped, it rolls
                // the enterprise back.
                for (sql, args) in children_inserts(valid) {
                    bind_args!(sqlx::query(sql), args)
                        .execute(&mut *tx)
                        .await
                        .map_err(self.db_err(&action))?;
                }
            }
            tx.commit().await.map_err(self.db_err(&action))?;
            inserted
        });
        if !inserted {
            return Ok(None);
        }
        tracing::info!(enterprise = %id, category = %valid.category, "enterprise created");
        Ok(Some(Enterprise {
            ledger_id: id.clone(),
            name: valid.name.clone(),
            credit_code: valid.credit_code.clone(),
            category: valid.category,
            address: valid.address.clone(),
            division: valid.division.clone(),
            position: valid.position,
            hazard_sources: valid.hazard_sources.clone(),
            contacts: valid.contacts.clone(),
            created_ms: now_ms,
            updated_ms: now_ms,
            revision: 1,
        }))
    }

    /// The enterprise with this ledger id, with its hazard sources and contacts, or
    /// [`OrgError::NotFound`].
    pub async fn get_enterprise(&self, ledger_id: &LedgerId) -> Result<Enterprise, OrgError> {
        let sql = format!("{SELECT_ENTERPRISE} WHERE ledger_id = $1");
        let action = format!("reading enterprise {ledger_id}");
        let mut found = self
            .read_enterprises(&action, &sql, vec![text(ledger_id.as_str())])
            .await?;
        found.pop().ok_or_else(|| OrgError::NotFound {
            entity: Entity::Enterprise,
            id: ledger_id.to_string(),
        })
    }

    /// Runs `sql` (a [`SELECT_ENTERPRISE`] with `args`) and reads the children of the
    /// enterprises it returns, in one transaction.
    async fn read_enterprises(
        &self,
        action: &str,
        sql: &str,
        args: Vec<Arg>,
    ) -> Result<Vec<Enterprise>, OrgError> {
        on_db!(&self.db, pool => {
            let mut tx = pool
                .begin_with(self.begin_read())
                .await
                .map_err(self.db_err(action))?;
            let rows = bind_args!(sqlx::query(sql), args)
                .fetch_all(&mut *tx)
                .await
                .map_err(self.db_err(action))?;
            let mut enterprises = rows
                .iter()
                .map(enterprise_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            if !enterprises.is_empty() {
                let ids: Vec<Arg> = enterprises.iter().map(|e| text(e.ledger_id.as_str())).collect();
                let list = placeholders(1, ids.len());
                let hazards_sql = format!(
                    "SELECT ledger_id, id, name, kind, substance, quantity, unit, major_hazard \
                     FROM org_hazard_sources WHERE ledger_id IN ({list}) ORDER BY ledger_id, seq"
                );
                let contacts_sql = format!(
                    "SELECT ledger_id, name, role, phone FROM org_contacts \
                     WHERE ledger_id IN ({list}) ORDER BY ledger_id, seq"
                );
                let hazards = bind_args!(sqlx::query(&hazards_sql), ids.clone())
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(self.db_err(action))?;
                let contacts = bind_args!(sqlx::query(&contacts_sql), ids)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(self.db_err(action))?;
                let hazards = hazards.iter().map(hazard_from_row).collect::<Result<Vec<_>, _>>()?;
                let contacts = contacts.iter().map(contact_from_row).collect::<Result<Vec<_>, _>>()?;
                attach_children(&mut enterprises, hazards, contacts);
            }
            tx.commit().await.map_err(self.db_err(action))?;
            Ok(enterprises)
        })
    }

    /// The enterprises matching `filter`, ordered by ledger id, with their hazard sources
    /// and contacts, one page at a time, with the total. A `limit` above [`MAX_LIMIT`] is
    /// an [`OrgError::Invalid`] naming `limit`.
    pub async fn list_enterprises(
        &self,
        filter: &EnterpriseFilter,
    ) -> Result<EnterprisePage, OrgError> {
        let page = page(filter.limit, filter.offset, Entity::Enterprise)?;
        let mut w = Conditions::default();
        if let Some(d) = &filter.district {
            w.add("district = ?", text(d));
        }
        if let Some(s) = &filter.street {
            w.add("street = ?", text(s));
        }
        if let Some(c) = filter.category {
            w.add("category = ?", text(c.as_str()));
        }
        if let Some(code) = &filter.credit_code {
            w.add("credit_code = ?", text(&code.trim().to_ascii_uppercase()));
        }
        if let Some(major) = filter.major_hazard {
            let exists = "EXISTS (SELECT 1 FROM org_hazard_sources h \
                 WHERE h.ledger_id = org_enterprises.ledger_id AND h.major_hazard = ?)";
            let clause = if major {
                exists.to_owned()
            } else {
                format!("NOT {exists}")
            };
            w.add(&clause, Arg::Bool(true));
        }
        if let Some(pattern) = like_pattern(filter.q.as_deref()) {
            w.add(
                "(LOWER(name) LIKE ? ESCAPE '\\' OR LOWER(ledger_id) LIKE ? ESCAPE '\\' \
                 OR LOWER(credit_code) LIKE ? ESCAPE '\\' OR LOWER(address) LIKE ? ESCAPE '\\')",
                Arg::Text(Some(pattern)),
            );
        }
        let count_sql = format!("SELECT COUNT(*) AS n FROM org_enterprises{}", w.sql());
        let (page_sql, page_args) = page.apply(
            &format!("{SELECT_ENTERPRISE}{} ORDER BY ledger_id", w.sql()),
            w.args(),
        );
        let action = "listing enterprises";
        // The count and the page are two reads: a write between them can make the total
        // differ from a later page by that write, as in any paged list.
        let total = on_db!(&self.db, pool => {
            bind_args!(sqlx::query(&count_sql), w.args().to_vec())
                .fetch_one(pool)
                .await
                .and_then(|row| row.int("n"))
                .map_err(self.db_err(action))?
        });
        let items = self.read_enterprises(action, &page_sql, page_args).await?;
        Ok(EnterprisePage {
            items,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    /// Replaces enterprise `ledger_id` — its hazard sources and contacts included — with
    /// `input` at `now_ms` and bumps its revision, in one transaction.
    /// `expected_revision` and errors as for [`Organisation::update_centre`].
    pub async fn update_enterprise(
        &self,
        ledger_id: &LedgerId,
        input: EnterpriseInput,
        now_ms: UnixMs,
        expected_revision: Option<i64>,
    ) -> Result<Enterprise, OrgError> {
        let valid =
            input
                .validate(Some(ledger_id.as_str()))
                .map_err(|errors| OrgError::Invalid {
                    entity: Entity::Enterprise,
                    id: Some(ledger_id.to_string()),
                    errors,
                })?;
        self.update_enterprise_valid(&valid, now_ms, expected_revision)
            .await
    }

    async fn update_enterprise_valid(
        &self,
        valid: &ValidEnterprise,
        now_ms: UnixMs,
        expected_revision: Option<i64>,
    ) -> Result<Enterprise, OrgError> {
        let id = &valid.ledger_id;
        let action = format!("updating enterprise {id}");
        let mut args = vec![text(id.as_str())];
        args.extend(enterprise_args(valid));
        args.push(Arg::Int(now_ms));
        let mut sql = "UPDATE org_enterprises SET name = $2, credit_code = $3, category = $4, \
                       address = $5, district = $6, street = $7, lon = $8, lat = $9, \
                       updated_ms = $10, revision = revision + 1 WHERE ledger_id = $1"
            .to_owned();
        if let Some(revision) = expected_revision {
            args.push(Arg::Int(revision));
            sql.push_str(&format!(" AND revision = ${}", args.len()));
        }
        let select = format!("{SELECT_ENTERPRISE} WHERE ledger_id = $1");
        let outcome = on_db!(&self.db, pool => {
            let mut tx = pool
                .begin_with(self.begin_write())
                .await
                .map_err(self.db_err(&action))?;
            let done = bind_args!(sqlx::query(&sql), args)
                .execute(&mut *tx)
                .await
                .map_err(self.db_err(&action))?;
            if done.rows_affected() == 0 {
                let revision: Option<i64> =
                    sqlx::query_scalar("SELECT revision FROM org_enterprises WHERE ledger_id = $1")
                        .bind(id.as_str())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(self.db_err(&action))?;
                tx.rollback().await.map_err(self.db_err(&action))?;
                match revision {
                    None => Updated::Missing,
                    Some(revision) => Updated::Revision(revision),
                }
            } else {
                for table in ["org_hazard_sources", "org_contacts"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE ledger_id = $1"))
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(self.db_err(&action))?;
                }
                for (sql, args) in children_inserts(valid) {
                    bind_args!(sqlx::query(sql), args)
                        .execute(&mut *tx)
                        .await
                        .map_err(self.db_err(&action))?;
                }
                let row = sqlx::query(&select)
                    .bind(id.as_str())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(self.db_err(&action))?;
                let mut enterprise = enterprise_from_row(&row)?;
                tx.commit().await.map_err(self.db_err(&action))?;
                enterprise.hazard_sources = valid.hazard_sources.clone();
                enterprise.contacts = valid.contacts.clone();
                Updated::Done(enterprise)
            }
        });
        self.updated(Entity::Enterprise, id.as_str(), outcome, expected_revision)
    }

    /// Deletes enterprise `ledger_id` with its hazard sources and contacts, or
    /// [`OrgError::NotFound`].
    pub async fn delete_enterprise(&self, ledger_id: &LedgerId) -> Result<(), OrgError> {
        let action = format!("deleting enterprise {ledger_id}");
        let deleted = on_db!(&self.db, pool => {
            let mut tx = pool
                .begin_with(self.begin_write())
                .await
                .map_err(self.db_err(&action))?;
            for table in ["org_hazard_sources", "org_contacts"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE ledger_id = $1"))
                    .bind(ledger_id.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(self.db_err(&action))?;
            }
            let done = sqlx::query("DELETE FROM org_enterprises WHERE ledger_id = $1")
                .bind(ledger_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(self.db_err(&action))?;
            tx.commit().await.map_err(self.db_err(&action))?;
            done.rows_affected() > 0
        });
        if deleted {
            tracing::info!(enterprise = %ledger_id, "enterprise deleted");
            Ok(())
        } else {
            Err(OrgError::NotFound {
                entity: Entity::Enterprise,
                id: ledger_id.to_string(),
            })
        }
    }

    /// The ledger import: writes each enterprise (with its children) in its own
    /// transaction, so a bad row never stops the good ones and a failing row leaves
    /// nothing behind, and reports what happened to each row (see [`ImportMode`]). A
    /// ledger id that appears twice is an error on the second row.
    pub async fn import_enterprises(
        &self,
        rows: Vec<ImportRow<EnterpriseInput>>,
        mode: ImportMode,
        now_ms: UnixMs,
    ) -> ImportReport {
        self.import_rows(rows, mode, now_ms).await
    }

    /// [`parse_rows`] and [`Organisation::import_enterprises`] in one: the ledger import of
    /// a JSON array of [`EnterpriseInput`]s. Fails only when the text is not a JSON array.
    pub async fn import_enterprises_json(
        &self,
        text: &str,
        what: &str,
        mode: ImportMode,
        now_ms: UnixMs,
    ) -> Result<ImportReport, OrgError> {
        self.import_json::<EnterpriseInput>(text, what, mode, now_ms)
            .await
    }

    /// The imports of every kind of record: each row in its own transaction, in order,
    /// an id seen twice an error on its second row; a new id is inserted, an existing one
    /// is an error, skipped or updated as `mode` says.
    async fn import_rows<T: Importable>(
        &self,
        rows: Vec<ImportRow<T>>,
        mode: ImportMode,
        now_ms: UnixMs,
    ) -> ImportReport {
        let rows = rows
            .into_iter()
            .map(|r| (r.line, r.input.row_id(), r.input))
            .collect();
        let mut report = ImportReport::default();
        for (line, input) in dedupe(T::ENTITY, T::ID_FIELD, rows, &mut report) {
            let result = self.import_one(input, mode, now_ms).await;
            record(&mut report, line, T::ID_FIELD, result);
        }
        finish(T::ENTITY, report)
    }

    async fn import_one<T: Importable>(
        &self,
        input: T,
        mode: ImportMode,
        now_ms: UnixMs,
    ) -> Result<Outcome, OrgError> {
        let valid = input.check().map_err(|errors| OrgError::Invalid {
            entity: T::ENTITY,
            id: input.row_id(),
            errors,
        })?;
        let id = T::id_of(&valid);
        match (T::insert(self, &valid, now_ms).await?, mode) {
            (true, _) => Ok(Outcome::Created(id)),
            (false, ImportMode::Skip) => Ok(Outcome::Skipped(id)),
            (false, ImportMode::Upsert) => T::update(self, &valid, now_ms)
                .await
                .map(|()| Outcome::Updated(id)),
            (false, ImportMode::Create) => Err(OrgError::Conflict {
                entity: T::ENTITY,
                id,
                reason: "already exists".to_owned(),
            }),
        }
    }

    /// [`parse_rows`] and [`Organisation::import_rows`] in one; fails only when the text
    /// is not a JSON array ([`OrgError::JsonSyntax`] naming `what`).
    async fn import_json<T: Importable + serde::de::DeserializeOwned>(
        &self,
        text: &str,
        what: &str,
        mode: ImportMode,
        now_ms: UnixMs,
    ) -> Result<ImportReport, OrgError> {
        let (rows, errors) = parse_rows::<T>(text, what)?;
        Ok(merge(self.import_rows(rows, mode, now_ms).await, errors))
    }

    // -----------------------------------------------------------------------------------
    // Shared

    fn updated<T>(
        &self,
        entity: Entity,
        id: &str,
        outcome: Updated<T>,
        expected_revision: Option<i64>,
    ) -> Result<T, OrgError> {
        match outcome {
            Updated::Done(record) => {
                tracing::info!(%entity, id, "updated");
                Ok(record)
            }
            Updated::Missing => Err(OrgError::NotFound {
                entity,
                id: id.to_owned(),
            }),
            Updated::Revision(actual) => Err(OrgError::PreconditionFailed {
                entity,
                id: id.to_owned(),
                expected: expected_revision.unwrap_or(actual),
                actual,
            }),
        }
    }
}

/// What the generic import ([`Organisation::import_rows`]) needs of one kind of record.
trait Importable: Send + Sized {
    /// The record once checked.
    type Valid: Send + Sync;
    /// Which kind of record it is, for errors and logs.
    const ENTITY: Entity;
    /// The row's id field (`id`, `ledger_id`).
    const ID_FIELD: &'static str;
    /// The id the row gives, if any.
    fn row_id(&self) -> Option<String>;
    /// Every problem of the row at once.
    fn check(&self) -> Result<Self::Valid, Vec<FieldError>>;
    /// The checked record's id.
    fn id_of(valid: &Self::Valid) -> String;
    /// Inserts the record; `false` when its id exists already (nothing written).
    fn insert(
        org: &Organisation,
        valid: &Self::Valid,
        now_ms: UnixMs,
    ) -> impl Future<Output = Result<bool, OrgError>> + Send;
    /// Replaces the stored record (any revision).
    fn update(
        org: &Organisation,
        valid: &Self::Valid,
        now_ms: UnixMs,
    ) -> impl Future<Output = Result<(), OrgError>> + Send;
}

impl Importable for CentreInput {
    type Valid = ValidCentre;
    const ENTITY: Entity = Entity::Centre;
    const ID_FIELD: &'static str = "id";
    fn row_id(&self) -> Option<String> {
        self.id.clone()
    }
    fn check(&self) -> Result<ValidCentre, Vec<FieldError>> {
        self.validate(None)
    }
    fn id_of(valid: &ValidCentre) -> String {
        valid.id.to_string()
    }
    async fn insert(
        org: &Organisation,
        valid: &ValidCentre,
        now_ms: UnixMs,
    ) -> Result<bool, OrgError> {
        Ok(org.insert_centre(valid, now_ms).await?.is_some())
    }
    async fn update(
        org: &Organisation,
        valid: &ValidCentre,
        now_ms: UnixMs,
    ) -> Result<(), OrgError> {
        org.update_centre_valid(valid, now_ms, None).await.map(drop)
    }
}

impl Importable for UnitInput {
    type Valid = ValidUnit;
    const ENTITY: Entity = Entity::Unit;
    const ID_FIELD: &'static str = "id";
    fn row_id(&self) -> Option<String> {
        self.id.clone()
    }
    fn check(&self) -> Result<ValidUnit, Vec<FieldError>> {
        self.validate(None)
    }
    fn id_of(valid: &ValidUnit) -> String {
        valid.id.to_string()
    }
    async fn insert(
        org: &Organisation,
        valid: &ValidUnit,
        now_ms: UnixMs,
    ) -> Result<bool, OrgError> {
        Ok(org.insert_unit(valid, now_ms).await?.is_some())
    }
    async fn update(org: &Organisation, valid: &ValidUnit, now_ms: UnixMs) -> Result<(), OrgError> {
        org.update_unit_valid(valid, now_ms, None).await.map(drop)
    }
}

impl Importable for EnterpriseInput {
    type Valid = ValidEnterprise;
    const ENTITY: Entity = Entity::Enterprise;
    const ID_FIELD: &'static str = "ledger_id";
    fn row_id(&self) -> Option<String> {
        self.ledger_id.clone()
    }
    fn check(&self) -> Result<ValidEnterprise, Vec<FieldError>> {
        self.validate(None)
    }
    fn id_of(valid: &ValidEnterprise) -> String {
        valid.ledger_id.to_string()
    }
    async fn insert(
        org: &Organisation,
        valid: &ValidEnterprise,
        now_ms: UnixMs,
    ) -> Result<bool, OrgError> {
        Ok(org.insert_enterprise(valid, now_ms).await?.is_some())
    }
    async fn update(
        org: &Organisation,
        valid: &ValidEnterprise,
        now_ms: UnixMs,
    ) -> Result<(), OrgError> {
        org.update_enterprise_valid(valid, now_ms, None)
            .await
            .map(drop)
    }
}

/// Drops the rows whose id appeared on an earlier line (an error on each such row) and
/// returns the others, with their lines.
fn dedupe<T>(
    entity: Entity,
    id_field: &str,
    rows: Vec<(usize, Option<String>, T)>,
    report: &mut ImportReport,
) -> Vec<(usize, T)> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for (line, id, input) in rows {
        if let Some(id) = id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            if let Some(&first) = seen.get(id) {
                report
                    .errors
                    .push(duplicate_row(line, id_field, entity, id, first));
                continue;
            }
            seen.insert(id.to_owned(), line);
        }
        out.push((line, input));
    }
    out
}

/// Records what happened to one row.
fn record(
    report: &mut ImportReport,
    line: usize,
    id_field: &str,
    result: Result<Outcome, OrgError>,
) {
    match result {
        Ok(Outcome::Created(id)) => report.created.push(id),
        Ok(Outcome::Updated(id)) => report.updated.push(id),
        Ok(Outcome::Skipped(id)) => report.skipped.push(id),
        Err(err) => report.errors.extend(row_errors(line, id_field, err)),
    }
}

/// Sorts the errors by line and logs the counts.
fn finish(entity: Entity, mut report: ImportReport) -> ImportReport {
    report.errors.sort_by_key(|e| e.line);
    tracing::info!(
        entity = %entity,
        created = report.created.len(),
        updated = report.updated.len(),
        skipped = report.skipped.len(),
        errors = report.errors.len(),
        "organisation import"
    );
    report
}

/// Adds the errors of rows that could not be read to a write report, in line order.
fn merge(mut report: ImportReport, errors: Vec<RowError>) -> ImportReport {
    report.errors.extend(errors);
    report.errors.sort_by_key(|e| e.line);
    report
}

fn skills_json(skills: &[String]) -> String {
    // A list of strings always serializes.
    serde_json::to_string(skills).unwrap_or_else(|_| "[]".to_owned())
}

/// The columns of an enterprise after `ledger_id`, up to `lat`.
fn enterprise_args(v: &ValidEnterprise) -> Vec<Arg> {
    vec![
        text(&v.name),
        text(v.credit_code.as_str()),
        text(v.category.as_str()),
        text(&v.address),
        text(&v.division.district),
        opt_text(&v.division.street),
        Arg::Real(v.position.map(|p| p.lon)),
        Arg::Real(v.position.map(|p| p.lat)),
    ]
}

/// The `INSERT`s of an enterprise's hazard sources and contacts, in input order.
fn children_inserts(v: &ValidEnterprise) -> Vec<(&'static str, Vec<Arg>)> {
    let id = v.ledger_id.as_str();
    let mut out = Vec::with_capacity(v.hazard_sources.len() + v.contacts.len());
    for (seq, h) in (0i64..).zip(&v.hazard_sources) {
        out.push((
            "INSERT INTO org_hazard_sources (ledger_id, id, seq, name, kind, substance, \
             quantity, unit, major_hazard) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            vec![
                text(id),
                text(&h.id),
                Arg::Int(seq),
                text(&h.name),
                text(h.kind.as_str()),
                opt_text(&h.substance),
                Arg::Real(h.quantity),
                opt_text(&h.unit),
                Arg::Bool(h.major_hazard),
            ],
        ));
    }
    for (seq, c) in (0i64..).zip(&v.contacts) {
        out.push((
            "INSERT INTO org_contacts (ledger_id, seq, name, role, phone) \
             VALUES ($1, $2, $3, $4, $5)",
            vec![
                text(id),
                Arg::Int(seq),
                text(&c.name),
                text(c.role.as_str()),
                text(&c.phone),
            ],
        ));
    }
    out
}

/// Checks a centre's parent, read as (level, district) — `None` when missing — against the
/// hierarchy rules.
fn check_parent(
    valid: &ValidCentre,
    parent: Option<(String, Option<String>)>,
) -> Result<(), OrgError> {
    let (Some(parent_id), Some(expected)) = (&valid.parent_id, valid.level.parent()) else {
        return Ok(());
    };
    let reason = match parent {
        None => Some(format!("no command centre {}", quote(parent_id.as_str()))),
        Some((level, _)) if level != expected.as_str() => Some(format!(
            "{parent_id} is a {level} centre: a {} centre's parent is a {expected} centre",
            valid.level
        )),
        Some((_, district)) if valid.level == CentreLevel::Street && district != valid.district => {
            Some(format!(
                "{parent_id} is the centre of {}, not of {}: a street centre's parent is the \
                 centre of its district",
                district.as_deref().unwrap_or("no district"),
                valid.district.as_deref().unwrap_or("no district"),
            ))
        }
        Some(_) => None,
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(OrgError::Invalid {
            entity: Entity::Centre,
            id: Some(valid.id.to_string()),
            errors: vec![FieldError::new("parent_id", reason)],
        }),
    }
}

fn scope_conflict(valid: &ValidCentre, holder: &str) -> OrgError {
    let place = match valid.level {
        CentreLevel::City => "the city centre".to_owned(),
        CentreLevel::District => format!(
            "the centre of district {}",
            valid.district.as_deref().unwrap_or("")
        ),
        CentreLevel::Street => format!(
            "the centre of street {} in {}",
            valid.street.as_deref().unwrap_or(""),
            valid.district.as_deref().unwrap_or("")
        ),
    };
    OrgError::Conflict {
        entity: Entity::Centre,
        id: valid.id.to_string(),
        reason: format!("{place} is {holder} already: one centre per place"),
    }
}

fn missing_centre(valid: &ValidUnit) -> OrgError {
    OrgError::Invalid {
        entity: Entity::Unit,
        id: Some(valid.id.to_string()),
        errors: vec![FieldError::new(
            "centre_id",
            format!("no command centre {}", quote(valid.centre_id.as_str())),
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This module's `.sql` files under `command/migrations/` (versions `YYYYMMDD01NN`) are
    /// embedded, in version order, with the version and description their names give.
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
                assert_eq!(
                    version.len(),
                    12,
                    "command versions are YYYYMMDDNNNN: {stem}"
                );
                (
                    version.parse().unwrap(),
                    description.replace('_', " "),
                    std::fs::read_to_string(&p).unwrap(),
                )
            })
            .filter(|(v, _, _)| v % 10_000 / 100 == 1)
            .collect();
        files.sort();
        let embedded: Vec<(i64, String, String)> = MIGRATIONS
            .iter()
            .map(|&(v, d, s)| (v, d.to_owned(), s.to_owned()))
            .collect();
        assert_eq!(embedded, files);
    }

    #[test]
    fn helpers() {
        assert_eq!(like_pattern(Some(" Gas ")).as_deref(), Some("%gas%"));
        let ids: Vec<String> = (1..=7).map(|i| format!("u{i}")).collect();
        assert_eq!(
            describe(7, "units", &ids),
            "7 units (u1, u2, u3, u4, u5, …)"
        );
        let mut w = Conditions::default();
        w.add("a = ?", Arg::Int(1));
        w.add("(b = ? OR c = ?)", Arg::Int(2));
        assert_eq!(w.sql(), " WHERE a = $1 AND (b = $2 OR c = $2)");
    }
}
