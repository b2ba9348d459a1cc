//! The command database: one [`Database`] handle over SQLite or PostgreSQL.
//!
//! SQLite is opened for durability, not speed: WAL journal, `synchronous=FULL` (WAL with
//! `NORMAL` can lose acknowledged commits on power loss), foreign keys on, and a busy
//! timeout so concurrent writers wait instead of failing.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use watchpost_config::SecretUrl;

pub mod sql;
#[cfg(feature = "testing")]
pub mod testing;

/// How long a connection attempt (or a wait for a free pooled connection) may take.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long SQLite waits for a lock held by another writer.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A storage failure, with the database named by its redacted URL.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The URL is not one this build can open.
    #[error("unsupported database URL {url}: expected sqlite: or postgres://")]
    UnsupportedUrl {
        /// Redacted URL.
        url: String,
    },
    /// The SQLite file's directory could not be created.
    #[error("cannot create the directory for {url}: {source}")]
    CreateDir {
        /// Redacted URL.
        url: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// Connecting or querying failed.
    #[error("database {url}: {source}")]
    Sqlx {
        /// Redacted URL.
        url: String,
        /// The driver's error.
        source: sqlx::Error,
    },
}

/// An open connection pool to the command database.
#[derive(Debug, Clone)]
pub enum Database {
    /// Embedded SQLite file (single node).
    Sqlite {
        /// The pool.
        pool: SqlitePool,
        /// Redacted URL, for errors and logs.
        url: String,
    },
    /// PostgreSQL (several nodes).
    Postgres {
        /// The pool.
        pool: PgPool,
        /// Redacted URL, for errors and logs.
        url: String,
    },
}

impl Database {
    /// Opens the database at `url`, creating an SQLite file (and its directory) if missing.
    ///
    /// Fails within [`ACQUIRE_TIMEOUT`] if the server does not answer.
    pub async fn connect(url: &SecretUrl) -> Result<Database, StorageError> {
        let redacted = url.redacted();
        let text = url.expose();
        let sqlx_err = |source| StorageError::Sqlx {
            url: redacted.clone(),
            source,
        };
        if text.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(text)
                .map_err(sqlx_err)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT);
            if let Some(dir) = options.get_filename().parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir).map_err(|source| StorageError::CreateDir {
                    url: redacted.clone(),
                    source,
                })?;
            }
            let pool = SqlitePoolOptions::new()
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .max_connections(8)
                .connect_with(options)
                .await
                .map_err(sqlx_err)?;
            Ok(Database::Sqlite {
                pool,
                url: redacted,
            })
        } else if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .max_connections(16)
                .connect(text)
                .await
                .map_err(sqlx_err)?;
            Ok(Database::Postgres {
                pool,
                url: redacted,
            })
        } else {
            Err(StorageError::UnsupportedUrl { url: redacted })
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Database::Sqlite { .. } => "sqlite",
            Database::Postgres { .. } => "postgres",
        }
    }

    /// The URL with its password redacted.
    pub fn redacted_url(&self) -> &str {
        match self {
            Database::Sqlite { url, .. } | Database::Postgres { url, .. } => url,
        }
    }

    /// Runs a trivial query: the database answers and a connection can be had.
    pub async fn ping(&self) -> Result<(), StorageError> {
        let result = match self {
            Database::Sqlite { pool, .. } => sqlx::query("SELECT 1").execute(pool).await.map(drop),
            Database::Postgres { pool, .. } => {
                sqlx::query("SELECT 1").execute(pool).await.map(drop)
            }
        };
        result.map_err(|source| StorageError::Sqlx {
            url: self.redacted_url().to_owned(),
            source,
        })
    }

    /// Closes every pooled connection; waits for borrowed ones to come back.
    pub async fn close(&self) {
        match self {
            Database::Sqlite { pool, .. } => pool.close().await,
            Database::Postgres { pool, .. } => pool.close().await,
        }
    }
}

/// Expands `$body` once per backend, with `$pool` bound to that backend's pool (a
/// `&SqlitePool` or a `&PgPool`): a query written once with `$N` placeholders (SQLite
/// accepts them) runs on either.
///
/// ```no_run
/// # async fn f(db: watchpost_command::Database) -> Result<(), sqlx::Error> {
/// let n: i64 = watchpost_command::on_db!(&db, pool => {
///     sqlx::query_scalar("SELECT 1").fetch_one(pool).await
/// })?;
/// # let _ = n; Ok(()) }
/// ```
#[macro_export]
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::Database::Sqlite { pool: $pool, .. } => $body,
            $crate::Database::Postgres { pool: $pool, .. } => $body,
        }
    };
}

/// Binds `$args` (an iterator of [`Arg`]) to `$query` in order.
#[macro_export]
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                $crate::storage::Arg::Text(v) => query.bind(v),
                $crate::storage::Arg::Real(v) => query.bind(v),
                $crate::storage::Arg::Bool(v) => query.bind(v),
                $crate::storage::Arg::Int(v) => query.bind(v),
                $crate::storage::Arg::OptInt(v) => query.bind(v),
            };
        }
        query
    }};
}

/// A bound value, in the types both backends share (`TEXT`, `DOUBLE PRECISION`,
/// `BOOLEAN`, `BIGINT`).
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// Text, or `NULL`.
    Text(Option<String>),
    /// A float, or `NULL`.
    Real(Option<f64>),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// An integer, or `NULL`.
    OptInt(Option<i64>),
}

/// One embedded migration: version, description, SQL. A module's list lives next to its
/// `migrations/` folder (`<version>_<description>.sql`, sqlx's naming) and is applied by
/// [`migrate`].
pub type EmbeddedMigration = (i64, &'static str, &'static str);

#[derive(Debug)]
struct Embedded(&'static [EmbeddedMigration]);

impl<'s> sqlx::migrate::MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> futures_util::future::BoxFuture<
        's,
        Result<Vec<sqlx::migrate::Migration>, sqlx::error::BoxDynError>,
    > {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|&(version, description, sql)| {
                    sqlx::migrate::Migration::new(
                        version,
                        std::borrow::Cow::Borrowed(description),
                        sqlx::migrate::MigrationType::Simple,
                        std::borrow::Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// Applies `migrations` (embedded in the binary, so no files are read at run time) that
/// are not applied yet, in version order, each in its own transaction.
///
/// Several modules keep their schemas in this one database and share sqlx's
/// `_sqlx_migrations` table: each migrator ignores the versions it does not know
/// (`ignore_missing`), so module versions must never collide — the devices crate uses ten
/// digits (`YYYYMMDDNN`), the command module twelve (`YYYYMMDDNNNN`). An applied migration
/// must never be edited: sqlx checks its checksum and refuses to start.
pub async fn migrate(
    db: &Database,
    migrations: &'static [EmbeddedMigration],
) -> Result<(), sqlx::migrate::MigrateError> {
    let mut migrator = sqlx::migrate::Migrator::new(Embedded(migrations)).await?;
    migrator.set_ignore_missing(true);
    on_db!(db, pool => migrator.run(pool).await)
}
